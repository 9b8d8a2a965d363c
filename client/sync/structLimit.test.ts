/**
 * STRUCT-1 against the real relay (a child process whose frames carry structs of at most 4032
 * bytes, VAL-10): a message the relay would refuse for good is refused while it is still a draft,
 * and the room keeps syncing. Without the relay's limits the same message is stored, and the relay
 * then refuses the room's upload with the fatal struct-too-large: that device could not sync the
 * room again (found by the exploratory test).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatError, TEXT_STRUCT_OVERHEAD } from '../../shared/chat/chatRoom.js';
import { CloseReason } from '../../shared/protocol.js';
import { waitFor } from '../../shared/testing/waitFor.js';
import { startRelay, type RelayProcess } from '../../relay/testing/relayProcess.js';
import { person, randomBytes, WS } from '../testing/relaySessions.js';
import { fetchRelayConfig, type RelayConfig } from '../net/relayConfig.js';
import { Transport } from '../net/transport.js';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import { RoomSession, type RoomSessionOptions } from './roomSession.js';

let relay: RelayProcess;
let config: RelayConfig;
beforeAll(async () => {
  relay = await startRelay({ env: { MAX_SEND_FRAME_BYTES: '4096', MAX_AWARENESS_STATE_BYTES: '2048' } });
  config = await fetchRelayConfig(relay.url);
});
afterAll(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  await relay.cleanup();
});

const sessions: RoomSession[] = [];
let rooms = 0;
type LimitsSource = Pick<RoomSessionOptions, 'relayLimits' | 'watchRelayLimits'>;
/** A session that reads the relay's published limits (true), none (false), or from `limits`. */
const open = async (limits: boolean | LimitsSource): Promise<RoomSession> => {
  const s = await RoomSession.open({
    room: `struct-${process.pid}-${rooms++}`,
    relayUrl: relay.wsUrl,
    identity: person('Writer'),
    store: new MemoryRoomUpdateStore(),
    persistent: false,
    randomBytes,
    crossTab: false,
    transport: new Transport({ WebSocketImpl: WS, jitterBaseMs: 20, jitterMaxMs: 100 }),
    ...(typeof limits === 'boolean' ? { relayLimits: () => (limits ? config.limits : null) } : limits),
  });
  sessions.push(s);
  await waitFor(() => s.view().connection.status === 'online', 'online');
  return s;
};

/** 3,000 characters (within CHAT-2's 4,000) of 3 bytes each: 9,000 bytes, over the relay's 4,032. */
const LONG = '€'.repeat(3000);

describe('STRUCT-1 with the real relay', () => {
  it('STRUCT-1: the relay publishes the largest struct it passes on', () => {
    expect(config.limits?.maxStructBytes).toBe(4032);
  });

  it('STRUCT-1: a message the relay would refuse for good stays a draft, with the sizes; the room keeps syncing', async () => {
    const s = await open(true);
    let refusal: unknown = null;
    try {
      s.send(LONG);
    } catch (e) {
      refusal = e;
    }
    expect(refusal).toBeInstanceOf(ChatError);
    expect((refusal as ChatError).message).toMatch(
      new RegExp(
        `^This relay passes on messages of at most ${4032 - TEXT_STRUCT_OVERHEAD} bytes; this one takes 9000 `,
      ),
    );
    expect(s.view().messages).toEqual([]);
    // An edit to such a text is refused alike.
    const short = s.send('a short one');
    expect(() => s.edit(short.id, LONG)).toThrow(ChatError);
    await waitFor(() => s.view().pendingCount === 0, 'the short message acked');
    expect(s.view().connection.refusal).toBeNull();
    expect(s.view().messages.map((m) => m.text)).toEqual(['a short one']);
  });

  it('STRUCT-1: the view carries the text byte limit and changes when the limits arrive (a counter shown meanwhile follows)', async () => {
    let known: RelayConfig['limits'] = null;
    const watchers = new Set<() => void>();
    const s = await open({
      relayLimits: () => known,
      watchRelayLimits: (changed) => {
        watchers.add(changed);
        return () => watchers.delete(changed);
      },
    });
    const before = s.view();
    expect(before.connection.textByteLimit).toBeNull();
    let notified = 0;
    s.subscribe(() => notified++);
    known = config.limits;
    for (const w of watchers) w();
    await waitFor(() => notified > 0, 'the view changed');
    expect(s.view()).not.toBe(before);
    expect(s.view().connection.textByteLimit).toBe(4032 - TEXT_STRUCT_OVERHEAD);
  });

  it('STRUCT-1: without the limits the message is stored and the relay refuses the room for good (what it prevents)', async () => {
    const s = await open(false);
    s.send(LONG);
    await waitFor(() => s.view().connection.refusal !== null, 'the relay refuses the upload');
    expect(s.view().connection.refusal).toContain(CloseReason.StructTooLarge.reason);
  });
});

/** A session whose relay limits are unknown until `learn()` (a page started offline, STRUCT-2/3). */
const openUnknowing = async (
  offline: boolean,
  room = `struct-${process.pid}-${rooms++}`,
): Promise<{ s: RoomSession; learn: () => void }> => {
  let known = false;
  const watchers = new Set<() => void>();
  const s = await RoomSession.open({
    room,
    relayUrl: relay.wsUrl,
    identity: person('Writer'),
    store: new MemoryRoomUpdateStore(),
    persistent: false,
    randomBytes,
    crossTab: false,
    offline,
    transport: new Transport({ WebSocketImpl: WS, jitterBaseMs: 20, jitterMaxMs: 100 }),
    relayLimits: () => (known ? config.limits : null),
    watchRelayLimits: (changed) => {
      watchers.add(changed);
      return () => watchers.delete(changed);
    },
  });
  sessions.push(s);
  return {
    s,
    learn: () => {
      known = true;
      for (const w of watchers) w();
    },
  };
};

/** Another device reading `room` from the relay: the texts it shows once `count` messages arrived. */
const readByPeer = async (room: string, count: number): Promise<string[]> => {
  const peer = await RoomSession.open({
    room,
    relayUrl: relay.wsUrl,
    identity: person('Reader'),
    store: new MemoryRoomUpdateStore(),
    persistent: false,
    randomBytes,
    crossTab: false,
    transport: new Transport({ WebSocketImpl: WS, jitterBaseMs: 20, jitterMaxMs: 100 }),
  });
  sessions.push(peer);
  await waitFor(() => peer.view().messages.length === count, `${count} messages at the peer`);
  return peer.view().messages.map((m) => (m.deleted ? '(deleted)' : m.text));
};

describe('STRUCT-4 with the real relay: a device holding a message too large for the relay', () => {
  it('STRUCT-4: written offline, the message is named before anything is sent; deleting it lets the room sync', async () => {
    const { s, learn } = await openUnknowing(true);
    s.send('a short one');
    const long = s.send(LONG); // limits unknown: accepted, as before STRUCT-2 kept them
    learn();
    s.setOffline(false);
    const refusal = s.view().connection.refusal;
    expect(refusal).toMatch(/^Your message “€+…” takes 9000 bytes, more than the 3520 this relay passes on\./);
    expect(s.view().connection.oversized).toEqual([{ id: long.id, text: LONG, bytes: 9000, maxBytes: 3520 }]);
    expect(s.view().connection.status).toBe('offline');
    // The user deletes it (confirmed in the UI) and the room syncs.
    s.remove(long.id);
    s.retry();
    await waitFor(() => s.view().pendingCount === 0 && s.view().connection.status === 'online', 'synced');
    expect(s.view().connection.refusal).toBeNull();
    expect(s.view().connection.oversized).toEqual([]);
    expect(await readByPeer(s.view().room, 2)).toEqual(['a short one', '(deleted)']);
  });

  it('STRUCT-4: refused by the relay before the limits were known, the message is named once they are', async () => {
    const { s, learn } = await openUnknowing(false);
    const long = s.send(LONG);
    await waitFor(() => s.view().connection.refusal !== null, 'the relay refuses the upload');
    expect(s.view().connection.refusal).toContain(CloseReason.StructTooLarge.reason);
    expect(s.view().connection.refusal).toContain('deleting it (copy its text first) lets the room sync');
    expect(s.view().connection.oversized).toEqual([]);
    learn();
    expect(s.view().connection.oversized.map((m) => m.id)).toEqual([long.id]);
    s.remove(long.id);
    s.retry();
    await waitFor(() => s.view().pendingCount === 0 && s.view().connection.status === 'online', 'synced');
    expect(await readByPeer(s.view().room, 1)).toEqual(['(deleted)']);
  });

  it('STRUCT-4: a long edit is a struct of its own: the message is named by it', async () => {
    const { s, learn } = await openUnknowing(true);
    const m = s.send('short');
    s.edit(m.id, LONG);
    s.edit(m.id, 'short again');
    learn();
    s.setOffline(false);
    expect(s.view().connection.oversized).toEqual([{ id: m.id, text: 'short again', bytes: 9000, maxBytes: 3520 }]);
  });
});
