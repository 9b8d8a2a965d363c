/**
 * UP-2 against the real relay (a child process with a small byte rate and burst, real `ws`): a
 * session that read the relay's `/config.json` uploads a room written offline, and an imported
 * room file, without ever being closed for rate, also when its socket changes mid-upload; the
 * relay's own count of rate-limited closes stays at zero. Without the limits (an older relay),
 * roomSession.test.ts shows the same upload finishing over several rate-limited connections.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEXT_LIMIT } from '../../shared/chat/chatRoom.js';
import { CLIENT_CHARGE_BYTES, CloseReason, Limits } from '../../shared/protocol.js';
import { waitFor } from '../../shared/testing/waitFor.js';
import { startRelay, type RelayProcess } from '../../relay/testing/relayProcess.js';
import { person, randomBytes, WS } from '../testing/relaySessions.js';
import { fetchRelayConfig, type RelayConfig } from '../net/relayConfig.js';
import { Transport } from '../net/transport.js';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import { catchUpRoom } from './catchUp.js';
import { refreshRooms } from './backgroundRefresh.js';
import { RoomSession, type RoomSessionOptions } from './roomSession.js';
import { describeRetryableClose } from './status.js';

const MiB = 1024 * 1024;
/** Frames the client's pieces fit in; the smallest burst RATE-1 allows for them; a slow rate. */
const MAX_FRAME_BYTES = 1.25 * MiB;
const BYTE_BURST = MAX_FRAME_BYTES + Limits.maxUploadClientsPerFrame * CLIENT_CHARGE_BYTES;
const MAX_BYTES_PER_SEC = 768 * 1024;

let relay: RelayProcess;
let config: RelayConfig;
beforeAll(async () => {
  relay = await startRelay({
    env: {
      MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
      MAX_CLIENTS_PER_UPDATE: String(Limits.maxUploadClientsPerFrame),
      BYTE_BURST: String(BYTE_BURST),
      MAX_BYTES_PER_SEC: String(MAX_BYTES_PER_SEC),
    },
  });
  config = await fetchRelayConfig(relay.url);
});
afterAll(async () => {
  await relay.cleanup();
});

// Each test's sessions end with it: every live provider holds a process 'exit' listener (y-websocket).
const sessions: RoomSession[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.destroy();
});

let rooms = 0;
const freshRoom = (): string => `pacing-${process.pid}-${rooms++}`;

const open = async (room: string, name: string, extra: Partial<RoomSessionOptions> = {}): Promise<RoomSession> => {
  const s = await RoomSession.open({
    room,
    relayUrl: relay.wsUrl,
    identity: person(name),
    store: new MemoryRoomUpdateStore(),
    persistent: false,
    randomBytes,
    crossTab: false,
    transport: new Transport({ WebSocketImpl: WS, jitterBaseMs: 20, jitterMaxMs: 100 }),
    relayLimits: () => config.limits,
    ...extra,
  });
  sessions.push(s);
  return s;
};

/** The relay's count of connections it closed for rate, since it started. */
const rateLimitedCloses = async (): Promise<number> => {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const series = `converge_closes_total{reason="${CloseReason.RateLimited.reason}"}`;
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

/** A room file of Carol's: `count` messages of `TEXT_LIMIT` characters (about 4 KB each), written with no relay. */
const carolsFile = async (room: string, count: number): Promise<Uint8Array> => {
  const carol = await open(room, 'Carol', { relayUrl: 'ws://127.0.0.1:9/sync', relayLimits: () => null });
  for (let i = 0; i < count; i++) carol.send(`${i} `.padEnd(TEXT_LIMIT, '.'));
  return carol.exportUpdates();
};

/** Records whether the session ever showed upload progress (UP-2's banner). */
const watchProgress = (s: RoomSession): { shown: boolean; sentBefore: number[] } => {
  const seen = { shown: false, sentBefore: [] as number[] };
  s.subscribe(() => {
    const p = s.view().connection.upload;
    if (!p) return;
    seen.shown = true;
    seen.sentBefore.push(p.sentBytes);
  });
  return seen;
};

describe('UP-2 with the real relay', () => {
  it('UP-2: the relay publishes its per-connection limits in /config.json, and the client reads them', () => {
    expect(config.limits).toEqual({
      maxBytesPerSecond: MAX_BYTES_PER_SEC,
      byteBurst: BYTE_BURST,
      maxMessagesPerSecond: 200,
      messageBurst: 1000,
      maxFrameBytes: MAX_FRAME_BYTES,
      maxClientsPerUpdate: Limits.maxUploadClientsPerFrame,
      maxStructBytes: 1_048_512,
    });
  });

  it('UP-2: a room written offline, 3 MB over a 1.5 MiB burst at 768 KiB/s, is uploaded on one connection with no rate-limited close', async () => {
    const closesBefore = await rateLimitedCloses();
    const room = freshRoom();
    const a = await open(room, 'Alice', { offline: true });
    const count = 750; // about 3 MB of text
    for (let i = 0; i < count; i++) a.send(`${i} `.padEnd(TEXT_LIMIT, '.'));
    await a.whenStored();
    const progress = watchProgress(a);
    a.setOffline(false);
    const refusal = (): string | null => a.view().connection.refusal;
    await waitFor(() => a.view().pendingCount === 0 || refusal() !== null, 'every message acked', 60_000);
    expect(refusal()).toBeNull();
    expect(a.view().pendingCount).toBe(0);
    expect(a.view().notices).not.toContain(describeRetryableClose(CloseReason.RateLimited.code));
    expect(a.transport.attempts).toBe(1);
    expect(await rateLimitedCloses()).toBe(closesBefore);
    // It took several seconds at this rate: the session said so while it lasted, then stopped.
    expect(progress.shown).toBe(true);
    expect(a.view().connection.upload).toBeNull();
    const b = await open(room, 'Bob');
    await waitFor(() => b.view().messages.length === count, 'Bob has them all', 30_000);
  });

  it('UP-2: a room file imported online, with the socket cut mid-upload, finishes on the next one with no rate-limited close', async () => {
    const closesBefore = await rateLimitedCloses();
    const room = freshRoom();
    const carol = await open(room, 'Carol', { relayUrl: 'ws://127.0.0.1:9/sync', relayLimits: () => null });
    const count = 750;
    for (let i = 0; i < count; i++) carol.send(`${i} `.padEnd(TEXT_LIMIT, '.'));
    const file = carol.exportUpdates();
    const a = await open(room, 'Alice');
    const b = await open(room, 'Bob');
    await waitFor(() => a.view().connection.status === 'online', 'Alice online');
    const progress = watchProgress(a);
    expect((await a.importFile(file)).newMessages).toBe(count);
    await waitFor(() => (a.view().connection.upload?.sentBytes ?? 0) > 0, 'part of it sent', 30_000);
    // The link drops and comes back: the rest goes on the new socket, paced by a fresh allowance.
    a.transport.partition();
    a.transport.heal();
    const refusal = (): string | null => a.view().connection.refusal;
    await waitFor(() => b.view().messages.length === count || refusal() !== null, 'Bob has them all', 60_000);
    expect(refusal()).toBeNull();
    expect(a.transport.attempts).toBeGreaterThanOrEqual(2);
    expect(a.view().notices).not.toContain(describeRetryableClose(CloseReason.RateLimited.code));
    expect(await rateLimitedCloses()).toBe(closesBefore);
    expect(progress.shown).toBe(true);
  });

  it('UP-3: a message sent while an imported room file is paced reaches the others before the rest of the file', async () => {
    const room = freshRoom();
    const count = 750;
    const file = await carolsFile(room, count);
    const a = await open(room, 'Alice');
    const b = await open(room, 'Bob');
    await waitFor(() => a.synced && b.synced, 'both synced');
    const long = '漢'.repeat(TEXT_LIMIT); // the longest message: 12 KB of UTF-8
    let importedBefore = -1;
    b.subscribe(() => {
      const messages = b.view().messages;
      if (importedBefore < 0 && messages.some((m) => m.text === long)) importedBefore = messages.length - 1;
    });
    expect((await a.importFile(file)).newMessages).toBe(count);
    expect(a.queuedUploadBytes).toBeGreaterThan(0);
    a.send(long);
    await waitFor(() => b.view().messages.length === count + 1, 'Bob has them all', 60_000);
    // The message went ahead of the import's queued pieces: Bob had only part of the file then.
    expect(importedBefore).toBeGreaterThanOrEqual(0);
    expect(importedBefore).toBeLessThan(count);
  });

  it('UP-4: anti-entropy every 100 ms while a 3 MB backlog is paced keeps the queue within twice the backlog, with no rate-limited close', async () => {
    const closesBefore = await rateLimitedCloses();
    const room = freshRoom();
    const a = await open(room, 'Alice', { offline: true });
    const count = 750;
    for (let i = 0; i < count; i++) a.send(`${i} `.padEnd(TEXT_LIMIT, '.'));
    await a.whenStored();
    const backlog = a.exportUpdates().length; // the whole room: the relay has none of it
    let most = 0;
    a.subscribe(() => (most = Math.max(most, a.queuedUploadBytes)));
    a.lab.setAntiEntropyMs(100);
    a.setOffline(false);
    const refusal = (): string | null => a.view().connection.refusal;
    await waitFor(() => a.view().pendingCount === 0 || refusal() !== null, 'every message acked', 60_000);
    a.lab.setAntiEntropyMs(null);
    expect(refusal()).toBeNull();
    // Before UP-4 each resync queued the whole unacked backlog again, behind the rest: ~40 copies.
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2 * backlog);
    expect(a.transport.attempts).toBe(1);
    expect(await rateLimitedCloses()).toBe(closesBefore);
  });

  it("UP-5: the lobby's refresh of a room holding a big import and an un-react made offline ends once its upload queue is sent", async () => {
    const room = freshRoom();
    const alice = person('Alice');
    const store = new MemoryRoomUpdateStore();
    const online = await open(room, 'Alice', { identity: alice, store });
    await waitFor(() => online.synced, 'Alice synced');
    const id = online.send('react to me').id;
    online.react(id, '👍', true);
    await waitFor(() => online.view().pendingCount + online.view().pendingReactionCount === 0, 'saved');
    online.destroy();
    await online.whenStored();
    // Offline, Alice imports Carol's file (no own message: the refresh's acks do not wait for it)
    // and takes her reaction back (a deletion: no ack at all).
    const count = 750;
    const file = await carolsFile(room, count);
    const offline = await open(room, 'Alice', { identity: alice, store, offline: true });
    expect((await offline.importFile(file)).newMessages).toBe(count);
    offline.react(id, '👍', false);
    await offline.whenStored();
    offline.destroy();
    await offline.whenStored();

    const outcomes = await refreshRooms({
      rooms: [room],
      catchUp: (r, timeoutMs) => catchUpRoom({ room: r, relayUrl: relay.wsUrl, store, timeoutMs, WebSocketImpl: WS }),
      open: (r) => open(r, 'Alice', { identity: alice, store, background: true }),
      timeoutMs: 60_000,
    });
    expect([...outcomes]).toEqual([[room, 'synced']]);
    // The session is gone: what the relay has now is all it gets. Before UP-5 the refresh ended at
    // the relay's SyncStep2 (no own message unacked) and dropped the queued rest.
    const b = await open(room, 'Bob');
    const whole = (): boolean =>
      b.view().messages.length === count + 1 && b.view().messages.every((m) => m.reactions.length === 0);
    await waitFor(whole, 'Bob has the file and the un-react', 20_000);
  });

  it('STATE-2: a tab that got a paced import of own messages from another tab (cross-tab) uploads no copy of it while that upload goes on', async () => {
    const room = freshRoom();
    const alice = person('Alice');
    const count = 2000; // about 8 MB: pieces for about 12 s, each waiting for the model’s refill
    const writer = await open(room, 'Alice', {
      identity: alice,
      relayUrl: 'ws://127.0.0.1:9/sync',
      relayLimits: () => null,
    });
    for (let i = 0; i < count; i++) writer.send(`${i} `.padEnd(TEXT_LIMIT, '.'));
    const file = writer.exportUpdates();
    const a = await open(room, 'Alice', { identity: alice, crossTab: true });
    const b = await open(room, 'Alice', { identity: alice, crossTab: true });
    await waitFor(() => a.synced && b.synced, 'both synced');
    const uploadsOf = (s: RoomSession, since: number) =>
      s.lab.traffic.filter((f) => f.t >= since && f.dir === 'out' && (f.kind === 'update' || f.kind === 'sync2'));
    const importedAt = Date.now();
    expect((await a.importFile(file)).newMessages).toBe(count);
    await waitFor(() => b.view().pendingCount === count, 'b has them over BroadcastChannel, pending');
    await waitFor(() => b.view().pendingCount === 0, 'saved in b (its re-checks see a upload them)', 60_000);
    // b's re-checks saw the acks grow while a's pieces waited for the allowance: b sent none of it.
    expect(uploadsOf(a, importedAt).length).toBeGreaterThan(1);
    expect(uploadsOf(b, importedAt)).toEqual([]);
  });
});

describe('UP-6 with the real relay stalled', () => {
  it('UP-6: frames sent into a stopped relay (SIGSTOP) reach it at once when it resumes, and never more than its burst: no rate-limited close', async () => {
    // A relay with a small burst (64 KiB frames, 64 clients: 80 KiB) and a slow rate, so an
    // upload takes many bursts.
    const KiB = 1024;
    const stalled = await startRelay({
      env: {
        MAX_FRAME_BYTES: String(64 * KiB),
        MAX_CLIENTS_PER_UPDATE: '64',
        BYTE_BURST: String(64 * KiB + 64 * CLIENT_CHARGE_BYTES),
        MAX_BYTES_PER_SEC: String(64 * KiB),
      },
    });
    let stopped = false;
    try {
      const limits = (await fetchRelayConfig(stalled.url)).limits!;
      expect(limits.byteBurst).toBe(80 * KiB);
      const closes = async (): Promise<number> => {
        const text = await (await fetch(`${stalled.url}/metrics`)).text();
        const series = `converge_closes_total{reason="${CloseReason.RateLimited.reason}"}`;
        const line = text.split('\n').find((l) => l.startsWith(series + ' '));
        return line === undefined ? 0 : Number(line.slice(series.length + 1));
      };
      const room = freshRoom();
      const count = 100; // about 400 KB: five times the burst
      const file = await carolsFile(room, count);
      const here = { relayUrl: stalled.wsUrl, relayLimits: () => limits };
      const a = await open(room, 'Alice', here);
      const b = await open(room, 'Bob', here);
      await waitFor(() => a.synced && b.synced, 'both synced');
      // The relay's event loop stops (as under heavy load): Alice's socket still takes frames (the
      // kernel's buffers), which all reach the relay at once when it goes on.
      const stoppedAt = Date.now();
      stalled.child.kill('SIGSTOP');
      stopped = true;
      expect((await a.importFile(file)).newMessages).toBe(count);
      const sentSinceStop = (): number =>
        a.lab.traffic.filter((f) => f.dir === 'out' && f.t >= stoppedAt).reduce((n, f) => n + f.bytes, 0);
      // Before UP-6 the pacer went on at its model's pace: more than the relay's whole burst went
      // into the stalled socket. With it, the pacer holds the rest until the relay answers.
      await waitFor(
        () => sentSinceStop() > limits.byteBurst || a.uploadHeldForRelay,
        'more than the burst sent into the stopped relay, or the upload held for its answer',
        30_000,
      );
      const sent = sentSinceStop();
      stalled.child.kill('SIGCONT');
      stopped = false;
      const refusal = (): string | null => a.view().connection.refusal;
      await waitFor(() => b.view().messages.length === count || refusal() !== null, 'Bob has them all', 60_000);
      expect(refusal()).toBeNull();
      expect(await closes()).toBe(0);
      expect(a.transport.attempts).toBe(1);
      expect(a.view().notices).not.toContain(describeRetryableClose(CloseReason.RateLimited.code));
      // What went into the stalled socket was a bunch, within the burst.
      expect(sent).toBeGreaterThan(0);
      expect(sent).toBeLessThanOrEqual(limits.byteBurst);
    } finally {
      if (stopped) stalled.child.kill('SIGCONT');
      await stalled.cleanup();
    }
  });
});
