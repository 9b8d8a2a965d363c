/**
 * NET-3 client failover against real relays: two relay processes on one real Redis (scale-out
 * mode), RoomSessions whose transport knows both relay origins. Killing the relay a session is
 * connected to moves it to the other one; its pending message becomes saved there and nothing
 * acked before the kill is lost.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { newId } from '../../shared/ids.js';
import { waitFor } from '../../shared/testing/waitFor.js';
import { startScaleOut, type ScaleOut } from '../../relay/testing/scaleOut.js';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import type { Identity } from '../identity.js';
import { RoomSession } from '../sync/roomSession.js';
import { Transport, relayOrigins, withOrigin } from './transport.js';

const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));
const person = (name: string): Identity => ({ id: newId(randomBytes), name });
const WS = WebSocket as unknown as typeof globalThis.WebSocket;

let bed: ScaleOut | undefined;
const sessions: RoomSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  await bed?.cleanup();
  bed = undefined;
});

describe('NET-3 relay lists', () => {
  it('withOrigin swaps the origin and keeps the path and query', () => {
    expect(withOrigin('ws://a:1/sync/room?x=1', 'wss://b.example.org')).toBe('wss://b.example.org/sync/room?x=1');
  });

  it('the first attempt goes to a random relay, every later one to the next; no list = the URL as given', async () => {
    const urls: string[] = [];
    class Recorder {
      readyState = 0;
      onclose: ((e: { code: number; reason: string; wasClean: boolean }) => void) | null = null;
      constructor(url: string) {
        urls.push(url);
        // Unreachable: fail at once.
        queueMicrotask(() => this.onclose?.({ code: 1006, reason: '', wasClean: false }));
      }
      close(): void {}
    }
    const Impl = Recorder as unknown as typeof globalThis.WebSocket;
    let relays: string[] = [];
    const t = new Transport({
      WebSocketImpl: Impl,
      jitterBaseMs: 1,
      jitterMaxMs: 1,
      random: () => 0.5,
      relays: () => relays,
    });
    const attempt = async (): Promise<void> => {
      const s = new t.WebSocket('ws://page:1/sync/room?x=1');
      await waitFor(() => s.readyState === s.CLOSED, 'attempt failed');
    };
    await attempt();
    relays = ['ws://a:1', 'ws://b:2', 'wss://c'];
    for (let i = 0; i < 4; i++) await attempt();
    expect(urls).toEqual([
      'ws://page:1/sync/room?x=1',
      'ws://b:2/sync/room?x=1', // floor(0.5 × 3) = 1
      'wss://c/sync/room?x=1',
      'ws://a:1/sync/room?x=1',
      'ws://b:2/sync/room?x=1',
    ]);
  });

  it('relayOrigins keeps only ws/wss origins', () => {
    expect(relayOrigins(['ws://a:1', 'wss://b', 'http://c', 'ws://d/path', 7, 'javascript:x'])).toEqual([
      'ws://a:1',
      'wss://b',
    ]);
    expect(relayOrigins({ relays: [] })).toEqual([]);
  });
});

describe('NET-3 failover between relays on one Redis', () => {
  it('a session whose relay is killed moves to the other relay; pending → saved, nothing acked lost', async () => {
    bed = await startScaleOut({ relays: 2 });
    const origins = bed.relays.map((r) => `ws://127.0.0.1:${r!.port}`);
    const room = `failover-${process.pid}`;
    /** `start` in [0, 1) picks the first relay (NET-3 starts at a random index). */
    const open = async (name: string, start: number): Promise<RoomSession> => {
      const s = await RoomSession.open({
        room,
        relayUrl: `${origins[0]!}/sync`,
        identity: person(name),
        store: new MemoryRoomUpdateStore(),
        persistent: false,
        WebSocketImpl: WS,
        randomBytes,
        crossTab: false,
        transport: new Transport({
          WebSocketImpl: WS,
          jitterBaseMs: 20,
          jitterMaxMs: 100,
          random: () => start,
          relays: () => origins,
        }),
      });
      sessions.push(s);
      return s;
    };
    const alice = await open('Alice', 0); // relay 0
    const bob = await open('Bob', 0.99); // relay 1
    const online = (s: RoomSession): Promise<void> =>
      waitFor(() => s.view().connection.status === 'online', `${s.identity.name} online`);
    await online(alice);
    await online(bob);
    const saved = (s: RoomSession, text: string): boolean =>
      s.view().messages.some((m) => m.own && m.text === text && (m.state === 'saved' || m.state === 'seen'));
    alice.send('before the kill');
    await waitFor(() => saved(alice, 'before the kill'), 'saved before the kill');

    const connections = async (i: number): Promise<number> =>
      ((await (await fetch(bed!.relays[i]!.url + '/healthz')).json()) as { connections: number }).connections;
    expect([await connections(0), await connections(1)]).toEqual([1, 1]);
    await bed.killRelay(0);
    alice.send('after the kill');
    await waitFor(() => saved(alice, 'after the kill'), { timeout: 20_000, message: 'saved through the other relay' });
    await online(alice);
    expect(await connections(1)).toBe(2);
    await waitFor(
      () => ['before the kill', 'after the kill'].every((t) => bob.view().messages.some((m) => m.text === t)),
      { timeout: 20_000, message: 'Bob sees both messages' },
    );
    // A newcomer reads everything from the surviving relay.
    const carol = await open('Carol', 0);
    await waitFor(() => carol.view().messages.length === 2, 'Carol loads both messages');
  });
});
