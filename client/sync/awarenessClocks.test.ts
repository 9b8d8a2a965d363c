/**
 * PRES-7 against the real relay (a child process; AWR-2..4 decide there) over raw sockets, with
 * real y-protocols awareness on the client side, sending and applying exactly what a provider
 * would. Each test also shows the stock behaviour the rule replaces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import { encodeAwareness, MessageType } from '../../shared/protocol.js';
import { startRelay, type RelayProcess } from '../../relay/testing/relayProcess.js';
import { waitFor } from '../../shared/testing/waitFor.js';
import { announceAfresh, forgetRemoteClocks } from './awarenessClocks.js';

let relay: RelayProcess;
beforeAll(async () => {
  relay = await startRelay();
});
afterAll(async () => {
  await relay.cleanup();
});

let rooms = 0;
const freshRoom = (): string => `pres7-${process.pid}-${rooms++}`;

interface Link {
  readonly ws: WebSocket;
  /** Client ids of the awareness entries received so far (applied or not). */
  readonly seen: Set<number>;
}

/** A socket to `room` that applies every awareness frame it receives to `into`, as a provider does. */
const link = async (room: string, into: awarenessProtocol.Awareness): Promise<Link> => {
  const ws = new WebSocket(`${relay.wsUrl}/${room}`);
  const seen = new Set<number>();
  ws.on('message', (data: Buffer) => {
    const d = decoding.createDecoder(new Uint8Array(data));
    if (decoding.readVarUint(d) !== MessageType.Awareness) return;
    const update = decoding.readVarUint8Array(d);
    const u = decoding.createDecoder(update);
    for (let n = decoding.readVarUint(u); n > 0; n--) {
      seen.add(decoding.readVarUint(u));
      decoding.readVarUint(u);
      decoding.readVarString(u);
    }
    awarenessProtocol.applyAwarenessUpdate(into, update, 'relay');
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, seen };
};

const close = async (l: Link): Promise<void> => {
  const closed = new Promise((resolve) => l.ws.once('close', resolve));
  l.ws.close();
  await closed;
};

const announce = (l: Link, a: awarenessProtocol.Awareness, ids = [a.clientID]): void =>
  l.ws.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(a, ids)));

const person = (name: string): awarenessProtocol.Awareness => {
  const a = new awarenessProtocol.Awareness(new Y.Doc());
  a.setLocalState({ user: { name } });
  return a;
};

describe('PRES-7', () => {
  it('PRES-7: a reconnected session announces itself newer than the removal the relay broadcast when its socket closed', async () => {
    const room = freshRoom();
    const alice = person('Alice');
    const bob = person('Bob');
    const marker = person('marker'); // announced after a frame, to know the frame was handled
    const a = await link(room, alice);
    let b = await link(room, new awarenessProtocol.Awareness(new Y.Doc()));
    announce(b, bob);
    await waitFor(() => alice.getStates().has(bob.clientID), 'Alice sees Bob');
    await close(b); // the relay removes Bob at his clock + 1 (AWR-4)
    await waitFor(() => !alice.getStates().has(bob.clientID), 'Alice sees Bob leave');

    b = await link(room, new awarenessProtocol.Awareness(new Y.Doc()));
    // What the stock provider sends on connecting: his old clock, not newer than the removal.
    announce(b, bob);
    announce(b, marker);
    await waitFor(() => a.seen.has(marker.clientID), 'the relay handled the announcement');
    expect(alice.getStates().has(bob.clientID)).toBe(false);

    bob.on('update', ({ added, updated, removed }: Record<string, number[]>) =>
      announce(b, bob, [...added!, ...updated!, ...removed!]),
    );
    announceAfresh(bob);
    await waitFor(() => alice.getStates().has(bob.clientID), 'Alice sees Bob again');
    expect(alice.getStates().get(bob.clientID)).toEqual({ user: { name: 'Bob' } });
    await Promise.all([close(a), close(b)]);
  });

  it('PRES-7: a reconnected session takes the states the relay sends on joining, at the clocks it had seen', async () => {
    const room = freshRoom();
    const alice = person('Alice');
    const bob = person('Bob');
    let a = await link(room, alice);
    const b = await link(room, new awarenessProtocol.Awareness(new Y.Doc()));
    announce(b, bob);
    await waitFor(() => alice.getStates().has(bob.clientID), 'Alice sees Bob');
    // Alice's socket closes: the provider drops the remote states and keeps their clocks.
    await close(a);
    awarenessProtocol.removeAwarenessStates(alice, [bob.clientID], 'provider');

    // Stock: the relay sends Bob's state on joining, at the same clock: ignored.
    a = await link(room, alice);
    await waitFor(() => a.seen.has(bob.clientID), "the relay sent Bob's state");
    expect(alice.getStates().has(bob.clientID)).toBe(false);
    await close(a);

    forgetRemoteClocks(alice);
    expect(alice.meta.has(alice.clientID)).toBe(true); // its own clock is kept
    a = await link(room, alice);
    await waitFor(() => alice.getStates().has(bob.clientID), 'Alice sees Bob again');
    await Promise.all([close(a), close(b)]);
  });
});
