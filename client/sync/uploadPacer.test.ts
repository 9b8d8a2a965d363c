/**
 * UP-2: the pacer, on a fake clock, against a model of the relay's allowance that does what
 * relay/relay.ts does with a frame (its byte and message buckets, relay/tokenBucket.ts, charged
 * the frame's length and CLIENT_CHARGE_BYTES per Yjs client). The real relay is in
 * relay/integration/pacing.test.ts.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CLIENT_CHARGE_BYTES, encodeSyncUpdate, type PublishedLimits } from '../../shared/protocol.js';
import {
  PACE_RATE_SHARE,
  PROGRESS_AFTER_MS,
  RelayAllowance,
  UploadPacer,
  Uploads,
  type PacerClock,
  type UploadProgress,
} from './uploadPacer.js';

class FakeClock implements PacerClock {
  t = 1000;
  private next = 0;
  private readonly timers = new Map<number, { at: number; run: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(run: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, run });
    return id;
  }
  clearTimeout(timer: unknown): void {
    this.timers.delete(timer as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Runs timers in time order until none is left (or `until`). */
  run(until = Number.POSITIVE_INFINITY): void {
    for (;;) {
      let first: [number, { at: number; run: () => void }] | null = null;
      for (const e of this.timers) if (!first || e[1].at < first[1].at) first = e;
      if (!first || first[1].at > until) break;
      this.timers.delete(first[0]);
      this.t = Math.max(this.t, first[1].at);
      first[1].run();
    }
    if (until !== Number.POSITIVE_INFINITY) this.t = Math.max(this.t, until);
  }
}

/** The relay's side: a token bucket as relay/tokenBucket.ts, per connection, bytes and messages. */
class RelayModel {
  private bytes: number;
  private msgs: number;
  private last: number;
  refused = 0;
  received = 0;
  constructor(
    private readonly limits: PublishedLimits,
    now: number,
  ) {
    this.bytes = limits.byteBurst;
    this.msgs = limits.messageBurst;
    this.last = now;
  }
  /** A frame arrives at `now`: true when accepted (else the relay would close with rate-limited). */
  take(frame: Uint8Array, clients: number, now: number): boolean {
    const dt = (now - this.last) / 1000;
    this.last = now;
    this.bytes = Math.min(this.limits.byteBurst, this.bytes + dt * this.limits.maxBytesPerSecond);
    this.msgs = Math.min(this.limits.messageBurst, this.msgs + dt * this.limits.maxMessagesPerSecond);
    const cost = frame.length + clients * CLIENT_CHARGE_BYTES;
    if (this.bytes < cost || this.msgs < 1) {
      this.refused++;
      return false;
    }
    this.bytes -= cost;
    this.msgs -= 1;
    this.received++;
    return true;
  }
}

const KiB = 1024;
const limits: PublishedLimits = {
  maxBytesPerSecond: 200 * KiB,
  byteBurst: 320 * KiB,
  maxMessagesPerSecond: 50,
  messageBurst: 100,
  maxFrameBytes: 200 * KiB,
  maxClientsPerUpdate: 400,
  maxStructBytes: 1_048_512,
};

/** `n` frames of `bytes` bytes each, naming `clients` Yjs clients each; the first byte numbers them. */
const frames = (n: number, bytes: number, clients = 1): Array<{ frame: Uint8Array; clients: number }> =>
  Array.from({ length: n }, (_, i) => {
    const frame = new Uint8Array(bytes);
    frame[0] = i % 256;
    return { frame, clients };
  });

/** A socket whose frames reach `relay` at once, recording what was sent. */
const socketTo = (relay: RelayModel, clock: FakeClock, clientsOf: (f: Uint8Array) => number) => {
  const sent: Uint8Array[] = [];
  return {
    sent,
    send(frame: Uint8Array): void {
      sent.push(frame);
      relay.take(frame, clientsOf(frame), clock.now());
    },
  };
};

describe('UP-2 upload pacing', () => {
  it('UP-2: a 4 MiB upload over a 320 KiB burst reaches the relay whole, never over its allowance, at about 80 % of its rate', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const upload = frames(40, 100 * KiB, 40);
    const socket = socketTo(relay, clock, () => 40);
    const pacer = new UploadPacer(
      socket,
      limits,
      () => true,
      clock,
      () => undefined,
    );
    const start = clock.now();
    pacer.enqueue(upload);
    expect(socket.sent.length).toBeGreaterThan(0); // what the burst allows goes at once
    expect(socket.sent.length).toBeLessThan(upload.length);
    clock.run();
    expect(relay.refused).toBe(0);
    // All of it, in order (compared by identity: a deep compare of 4 MiB takes seconds).
    expect(socket.sent.length).toBe(upload.length);
    expect(socket.sent.every((f, i) => f === upload[i]!.frame)).toBe(true);
    expect(pacer.pending()).toBe(0);
    // Paced, not stalled: the cost beyond the burst at 80 % of the rate, give or take a frame.
    const cost = upload.reduce((n, f) => n + f.frame.length + f.clients * CLIENT_CHARGE_BYTES, 0);
    const expectedMs = ((cost - limits.byteBurst * 0.75) / (limits.maxBytesPerSecond * PACE_RATE_SHARE)) * 1000;
    const frameMs = ((100 * KiB + 40 * CLIENT_CHARGE_BYTES) / (limits.maxBytesPerSecond * PACE_RATE_SHARE)) * 1000;
    expect(clock.now() - start).toBeGreaterThan(expectedMs - frameMs);
    expect(clock.now() - start).toBeLessThan(expectedMs + frameMs);
  });

  it('UP-2: the same upload sent at once (UP-1 alone) is over the allowance: the relay would close it', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    for (const f of frames(40, 100 * KiB, 40)) relay.take(f.frame, f.clients, clock.now());
    expect(relay.refused).toBeGreaterThan(0);
  });

  it("UP-2: many small pieces are paced by the relay's message allowance too", () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const upload = frames(600, 100, 1);
    const socket = socketTo(relay, clock, () => 1);
    const pacer = new UploadPacer(
      socket,
      limits,
      () => true,
      clock,
      () => undefined,
    );
    pacer.enqueue(upload);
    clock.run();
    expect(relay.refused).toBe(0);
    expect(socket.sent).toHaveLength(600);
  });

  it("UP-3: the user's edits, over 16 KiB too, go at once while an upload waits, spend the reserve, and nothing overdraws", () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const socket = socketTo(relay, clock, () => 1);
    const uploads = new Uploads({ limits: () => limits, isCurrent: () => true, changed: () => undefined, clock });
    uploads.update(socket, bigUpdate(2 * 1024 * KiB)); // an import: its pieces are queued
    expect(uploads.queuedBytes()).toBeGreaterThan(0);
    // Edits typed during the upload, each of one long message (~20 KiB): sent the moment each is
    // made, not after the queue.
    for (let k = 0; k < 20; k++) {
      clock.run(clock.now() + 250);
      const edit = localEdit(20 * KiB);
      const count = socket.sent.length;
      uploads.live(socket, edit);
      expect(socket.sent.length).toBe(count + 1);
      expect(carries(socket.sent[socket.sent.length - 1]!, edit)).toBe(true);
    }
    expect(uploads.queuedBytes()).toBeGreaterThan(0);
    clock.run();
    expect(uploads.queuedBytes()).toBe(0);
    expect(relay.refused).toBe(0);
  });

  it('UP-3: a run of edits worth more than the reserve waits for the refill, still ahead of the queue, and nothing overdraws', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const socket = socketTo(relay, clock, () => 1);
    const uploads = new Uploads({ limits: () => limits, isCurrent: () => true, changed: () => undefined, clock });
    uploads.update(socket, bigUpdate(2 * 1024 * KiB));
    const before = socket.sent.length;
    // 40 edits of 12 KiB at once (a script pasting messages): 480 KiB, over the whole 320 KiB burst.
    const edits = Array.from({ length: 40 }, () => localEdit(12 * KiB));
    for (const edit of edits) uploads.live(socket, edit);
    expect(socket.sent.length - before).toBeGreaterThan(0);
    expect(socket.sent.length - before).toBeLessThan(edits.length);
    clock.run();
    expect(relay.refused).toBe(0);
    // Every edit went before the rest of the upload, in the order made.
    const sentEdits = socket.sent.slice(before, before + edits.length);
    expect(sentEdits.every((f, i) => carries(f, edits[i]!))).toBe(true);
    expect(socket.sent.length).toBeGreaterThan(before + edits.length);
  });

  it('UP-4: a resync every 100 ms behind a slow upload replaces its queued remainder: the queue stays within twice the backlog', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const socket = socketTo(relay, clock, () => 1);
    const uploads = new Uploads({ limits: () => limits, isCurrent: () => true, changed: () => undefined, clock });
    const backlog = bigUpdate(1024 * KiB);
    uploads.step2(socket, backlog); // the answer to the relay's SyncStep1
    let most = 0;
    // Nothing is acked meanwhile (the worst case): each resync is the whole backlog again. The
    // backlog alone takes over 4 s at this rate.
    for (let k = 0; k < 30; k++) {
      clock.run(clock.now() + 100);
      uploads.resync(socket, backlog);
      most = Math.max(most, uploads.queuedBytes());
    }
    expect(most).toBeLessThanOrEqual(2 * backlog.length);
    clock.run();
    expect(uploads.queuedBytes()).toBe(0);
    expect(relay.refused).toBe(0);
  });

  it('UP-5: a queue that had to wait tells when it is empty, and when it is dropped', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const socket = socketTo(relay, clock, () => 1);
    let changes = 0;
    let current = true;
    const pacer = new UploadPacer(
      socket,
      limits,
      () => current,
      clock,
      () => changes++,
    );
    // Within 3 s: no progress shown, so no change for the pieces; but one once it is empty.
    pacer.enqueue(frames(4, 100 * KiB));
    expect(pacer.pending()).toBeGreaterThan(0);
    expect(pacer.progress()).toBeNull();
    expect(changes).toBe(0);
    clock.run();
    expect(pacer.pending()).toBe(0);
    expect(changes).toBe(1);
    // A queue sent at once was never seen waiting: no change.
    clock.run(clock.now() + 10_000);
    pacer.enqueue(frames(1, 10));
    expect(changes).toBe(1);
    pacer.enqueue(frames(4, 100 * KiB));
    current = false;
    clock.run();
    expect(pacer.pending()).toBe(0);
    expect(changes).toBe(2);
  });

  it('UP-2: when the socket is no longer current, what is queued is dropped and nothing more goes on it', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const socket = socketTo(relay, clock, () => 1);
    let current = true;
    const pacer = new UploadPacer(
      socket,
      limits,
      () => current,
      clock,
      () => undefined,
    );
    pacer.enqueue(frames(20, 100 * KiB));
    const sentBefore = socket.sent.length;
    expect(pacer.pending()).toBeGreaterThan(0);
    current = false; // a reconnect: the provider has another socket now
    clock.run();
    expect(socket.sent.length).toBe(sentBefore);
    expect(pacer.pending()).toBe(0);
    expect(pacer.progress()).toBeNull();
    pacer.sendLive(frames(1, 10));
    pacer.enqueue(frames(2, 10));
    expect(socket.sent.length).toBe(sentBefore);
  });

  it('UP-2: Uploads starts a fresh pacer on a new socket and stops the old one; unknown limits send everything at once', () => {
    const clock = new FakeClock();
    let known: PublishedLimits | null = null;
    let currentWs: object | null = null;
    const uploads = new Uploads({
      limits: () => known,
      isCurrent: (ws) => ws === currentWs,
      changed: () => undefined,
      clock,
    });
    const a: Uint8Array[] = [];
    const b: Uint8Array[] = [];
    const wsA = { send: (f: Uint8Array) => a.push(f) };
    const wsB = { send: (f: Uint8Array) => b.push(f) };
    // A 2 MiB update of one client: 2 pieces with UP-1's defaults, more with these limits.
    const big = bigUpdate(2 * 1024 * KiB);
    currentWs = wsA;
    uploads.update(wsA, big); // limits unknown: as before UP-2, all at once, no timer
    expect(a.length).toBeGreaterThanOrEqual(2);
    expect(clock.pending).toBe(0);
    known = limits;
    a.length = 0;
    uploads.update(wsA, big);
    expect(a.length).toBeGreaterThan(0);
    expect(clock.pending).toBe(1); // the rest waits
    const sentOnA = a.length;
    currentWs = wsB; // failover
    uploads.step2(wsB, big);
    expect(b.length).toBeGreaterThan(0);
    clock.run();
    expect(a.length).toBe(sentOnA); // nothing more on the old socket
    // The answer to the relay's SyncStep1 ends with the SyncStep2 (outer 0, inner 1), after its Updates.
    expect([b[b.length - 1]![0], b[b.length - 1]![1]]).toEqual([0, 1]);
    for (const f of b.slice(0, -1)) expect([f[0], f[1]]).toEqual([0, 2]);
  });

  it('UP-2: progress is shown only for an upload expected to take over 3 s: bytes sent of the total, time left, then gone', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const socket = socketTo(relay, clock, () => 1);
    let changes = 0;
    const pacer = new UploadPacer(
      socket,
      limits,
      () => true,
      clock,
      () => changes++,
    );
    // ~300 KiB: within the burst's reach in under 3 s, no progress.
    pacer.enqueue(frames(3, 100 * KiB));
    expect(pacer.progress()).toBeNull();
    clock.run();
    expect(pacer.progress()).toBeNull();
    // ~2 MiB more at 160 KiB/s: shown.
    pacer.enqueue(frames(20, 100 * KiB));
    const first = pacer.progress() as UploadProgress;
    expect(first).not.toBeNull();
    expect(first.totalBytes).toBe(20 * 100 * KiB);
    expect(first.remainingMs).toBeGreaterThan(PROGRESS_AFTER_MS);
    expect(first.bytesPerSecond).toBe(limits.maxBytesPerSecond);
    const seen: UploadProgress[] = [first];
    while (pacer.pending() > 0) {
      clock.run(clock.now() + 500);
      const p = pacer.progress();
      if (p) seen.push(p);
    }
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.sentBytes).toBeGreaterThanOrEqual(seen[i - 1]!.sentBytes);
      expect(seen[i]!.remainingMs).toBeLessThanOrEqual(seen[i - 1]!.remainingMs);
      expect(seen[i]!.sentBytes).toBeLessThan(seen[i]!.totalBytes);
    }
    expect(pacer.progress()).toBeNull();
    expect(changes).toBeGreaterThan(seen.length / 2);
    expect(relay.refused).toBe(0);
  });

  it('UP-2: the model starts full and refills at 80 % of the rate, never above the burst', () => {
    const clock = new FakeClock();
    const model = new RelayAllowance(limits, clock.now());
    // The whole burst but its reserve may go at once; a larger frame (a struct that cannot be
    // split) waits for a full bucket.
    expect(model.waitMs(limits.byteBurst * 0.75, clock.now())).toBe(0);
    expect(model.waitMs(limits.byteBurst, clock.now())).toBe(0);
    model.charge(1, clock.now());
    expect(model.waitMs(limits.byteBurst * 0.75 - 1, clock.now())).toBe(0);
    expect(model.waitMs(limits.byteBurst * 0.75, clock.now())).toBeGreaterThan(0);
    model.charge(limits.byteBurst, clock.now());
    // One byte below empty (it may go below: frames sent without waiting): that byte, 100 KiB and
    // the reserve at 160 KiB/s.
    const ms = model.waitMs(100 * KiB, clock.now());
    expect(ms).toBe(Math.ceil(((1 + 100 * KiB + limits.byteBurst * 0.25) / (limits.maxBytesPerSecond * 0.8)) * 1000));
    // An hour later it is full again, not fuller: one byte spent makes 3/4 of the burst wait.
    clock.t += 3_600_000;
    model.charge(1, clock.now());
    expect(model.waitMs(limits.byteBurst * 0.75 - 1, clock.now())).toBe(0);
    expect(model.waitMs(limits.byteBurst * 0.75, clock.now())).toBeGreaterThan(0);
  });
});

/** An update of one Yjs client holding about `bytes` bytes, in many structs (so it can be split). */
const bigUpdate = (bytes: number): Uint8Array => {
  const doc = new Y.Doc();
  const map = doc.getMap('m');
  for (let i = 0; i < bytes / 4000; i++) map.set(`k${i}`, 'x'.repeat(4000));
  return Y.encodeStateAsUpdate(doc);
};

/** A local edit's update: one Yjs struct holding a string of `bytes` bytes. */
const localEdit = (bytes: number): Uint8Array => {
  const doc = new Y.Doc();
  let update: Uint8Array | null = null;
  doc.on('update', (u: Uint8Array) => (update = u));
  doc.getMap('m').set('text', 'x'.repeat(bytes));
  return update!;
};

/** Whether `frame` is the Update frame of `update` (compared as buffers: a deep compare of KiBs is slow). */
const carries = (frame: Uint8Array, update: Uint8Array): boolean => Buffer.from(frame).equals(encodeSyncUpdate(update));
