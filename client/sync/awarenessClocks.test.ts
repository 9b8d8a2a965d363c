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
import { WebsocketProvider } from 'y-websocket';
import { encodeAwareness, MessageType } from '../../shared/protocol.js';
import { startRelay, type RelayProcess } from '../../relay/testing/relayProcess.js';
import { waitFor } from '../../shared/testing/waitFor.js';
import {
  announceAfresh,
  keepPresenceAcrossReconnects,
  ownStateToSend,
  type AwarenessChanges,
} from './awarenessClocks.js';
import { WS } from '../testing/relaySessions.js';

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

  it('PRES-7: after its own socket closed, a provider takes the states the relay sends on joining, at the clocks it had seen', async () => {
    const room = freshRoom();
    const bob = person('Bob');
    const b = await link(room, new awarenessProtocol.Awareness(new Y.Doc()));
    announce(b, bob); // and Bob never changes his state again

    /** Alice on a stock provider; with PRES-7 or without. */
    const alice = (withRule: boolean) => {
      const awareness = person('Alice');
      const provider = new WebsocketProvider(relay.wsUrl, room, awareness.doc, {
        WebSocketPolyfill: WS,
        awareness,
        disableBc: true,
      });
      const stop = withRule ? keepPresenceAcrossReconnects(provider, awareness) : () => undefined;
      return { awareness, provider, stop };
    };
    /** Drops the socket and waits until the provider is back and has the relay's join frames. */
    const reconnect = async (a: ReturnType<typeof alice>): Promise<void> => {
      a.provider.ws!.close();
      await waitFor(() => !a.provider.wsconnected, 'closed');
      await waitFor(() => a.provider.wsconnected, 'connected again');
      // Someone new announces after the rejoin: once Alice has them, the join frames were handled.
      const marker = person('marker');
      announce(b, marker);
      await waitFor(() => a.awareness.getStates().has(marker.clientID), 'the marker');
    };

    const stock = alice(false);
    await waitFor(() => stock.awareness.getStates().has(bob.clientID), 'stock sees Bob');
    await reconnect(stock);
    expect(stock.awareness.getStates().has(bob.clientID)).toBe(false);
    stock.provider.destroy();

    const kept = alice(true);
    await waitFor(() => kept.awareness.getStates().has(bob.clientID), 'Alice sees Bob');
    await reconnect(kept);
    expect(kept.awareness.getStates().get(bob.clientID)).toEqual({ user: { name: 'Bob' } });
    kept.stop();
    kept.provider.destroy();
    await close(b);
  });

  it('PRES-7: a session on a new socket answers the removal of its state when the relay drops its old one', async () => {
    const room = freshRoom();
    const alice = person('Alice');
    const bob = person('Bob');
    const a = await link(room, alice);
    const old = await link(room, new awarenessProtocol.Awareness(new Y.Doc()));
    announce(old, bob);
    await waitFor(() => alice.getStates().has(bob.clientID), 'Alice sees Bob');
    // Bob is back on a new socket while the relay still holds the old one (a Wi-Fi switch).
    const fresh = await link(room, bob);
    const sent: string[] = [];
    bob.on('update', (changes: AwarenessChanges, origin: unknown) => {
      const send = ownStateToSend(changes, origin === 'relay', bob);
      if (send) {
        sent.push(origin === 'relay' ? 'answer' : 'own');
        announce(fresh, bob, [...send.added, ...send.updated, ...send.removed]);
      }
    });
    announceAfresh(bob);
    let removals = 0;
    alice.on('change', ({ removed }: AwarenessChanges) => {
      if (removed.includes(bob.clientID)) removals++;
    });
    await close(old); // the relay removes Bob's state, which that socket owned (AWR-4)
    await waitFor(() => removals > 0, 'Alice saw Bob removed');
    await waitFor(() => alice.getStates().has(bob.clientID), 'Alice sees Bob again');
    expect(sent).toEqual(['own', 'answer']);
    await Promise.all([close(a), close(fresh)]);
  });
});
