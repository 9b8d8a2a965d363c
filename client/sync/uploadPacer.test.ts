/**
 * UP-2: the pacer, on a fake clock, against a model of the relay's allowance that does what
 * relay/relay.ts does with a frame when it arrives (its byte and message buckets,
 * relay/tokenBucket.ts, charged the frame's length and CLIENT_CHARGE_BYTES per Yjs client), and
 * answers every SyncStep1 (UP-6). The real relay is in ./uploadPacing.test.ts.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  CLIENT_CHARGE_BYTES,
  encodeStateVector,
  encodeSyncStep1,
  encodeSyncUpdate,
  type PublishedLimits,
} from '../../shared/protocol.js';
import {
  ANSWER_WAIT_MS,
  PACE_RATE_SHARE,
  PROGRESS_AFTER_MS,
  RelayAllowance,
  UploadPacer,
  Uploads,
  type PacerClock,
  type PacerSocket,
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

/**
 * `n` frames of `bytes` bytes each (at least 3), naming `clients` Yjs clients each: an Update's
 * first two bytes (never taken for a SyncStep1), then one numbering them.
 */
const frames = (n: number, bytes: number, clients = 1): Array<{ frame: Uint8Array; clients: number }> =>
  Array.from({ length: n }, (_, i) => {
    const frame = new Uint8Array(bytes);
    frame.set([0, 2, i % 256]);
    return { frame, clients };
  });

/** Whether `frame` is a SyncStep1 (outer 0, inner 0): the pacer's probe or the session's (UP-6). */
const isSyncStep1 = (frame: Uint8Array): boolean => frame[0] === 0 && frame[1] === 0;

/** The doc's state vector the pacer's probes carry: none here. */
const noClients = (): Uint8Array => new Uint8Array([0]);

/**
 * A socket to `relay`, recording what was sent. Frames reach the relay in order, at once, or
 * while the link is stalled all at once when it is released (UP-6). The relay answers every
 * SyncStep1 that reaches it a millisecond later, through `answer` (the pacer's or the session's
 * hook, set once it exists), unless the link loses it on the way (the lab's drop, LAB-2).
 */
class Link implements PacerSocket {
  readonly sent: Uint8Array[] = [];
  answer: () => void = () => undefined;
  closed = false;
  /** SyncStep1s lost on the way from now on (the relay never sees them). */
  lose = 0;
  private held: Uint8Array[] | null = null;
  constructor(
    private readonly relay: RelayModel,
    private readonly clock: FakeClock,
    private readonly clientsOf: (f: Uint8Array) => number,
  ) {}

  send(frame: Uint8Array): void {
    this.sent.push(frame);
    if (this.held) this.held.push(frame);
    else this.arrive(frame);
  }

  close(): void {
    this.closed = true;
  }

  stall(): void {
    this.held = [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const frame of held) this.arrive(frame);
  }

  /** What was sent but the pacer's and the session's SyncStep1s. */
  data(): Uint8Array[] {
    return this.sent.filter((f) => !isSyncStep1(f));
  }

  private arrive(frame: Uint8Array): void {
    if (!isSyncStep1(frame)) {
      this.relay.take(frame, this.clientsOf(frame), this.clock.now());
      return;
    }
    if (this.lose > 0) {
      this.lose--;
      return;
    }
    this.relay.take(frame, 0, this.clock.now());
    this.clock.setTimeout(() => this.answer(), 1);
  }
}

/** A pacer on `link`, answered by it. */
const pacerOn = (link: Link, clock: FakeClock, changed: () => void = () => undefined, current = () => true) => {
  const pacer = new UploadPacer(link, limits, current, clock, changed, noClients);
  link.answer = () => pacer.answered();
  return pacer;
};

/** A session's uploads on `link`, answered by it. */
const uploadsOn = (link: Link, clock: FakeClock) => {
  const uploads = new Uploads({
    limits: () => limits,
    isCurrent: () => true,
    changed: () => undefined,
    clock,
    stateVector: noClients,
  });
  link.answer = () => uploads.answered(link);
  return uploads;
};

describe('UP-2 upload pacing', () => {
  it('UP-2: a 4 MiB upload over a 320 KiB burst reaches the relay whole, never over its allowance, at about 80 % of its rate', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const upload = frames(40, 100 * KiB, 40);
    const link = new Link(relay, clock, () => 40);
    const pacer = pacerOn(link, clock);
    const start = clock.now();
    pacer.enqueue(upload);
    expect(link.data().length).toBeGreaterThan(0); // what the burst allows goes at once
    expect(link.data().length).toBeLessThan(upload.length);
    clock.run();
    expect(relay.refused).toBe(0);
    // All of it, in order (compared by identity: a deep compare of 4 MiB takes seconds).
    expect(link.data().length).toBe(upload.length);
    expect(link.data().every((f, i) => f === upload[i]!.frame)).toBe(true);
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
    const link = new Link(relay, clock, () => 1);
    const pacer = pacerOn(link, clock);
    pacer.enqueue(upload);
    clock.run();
    expect(relay.refused).toBe(0);
    expect(link.data()).toHaveLength(600);
  });

  it("UP-3: the user's edits, over 16 KiB too, go at once while an upload waits, spend the reserve, and nothing overdraws", () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const link = new Link(relay, clock, () => 1);
    const uploads = uploadsOn(link, clock);
    uploads.update(link, bigUpdate(2 * 1024 * KiB)); // an import: its pieces are queued
    expect(uploads.queuedBytes()).toBeGreaterThan(0);
    // Edits typed during the upload, each of one long message (~20 KiB): sent the moment each is
    // made, not after the queue.
    for (let k = 0; k < 20; k++) {
      clock.run(clock.now() + 250);
      const edit = localEdit(20 * KiB);
      const count = link.data().length;
      uploads.live(link, edit);
      expect(link.data().length).toBe(count + 1);
      expect(carries(link.data()[count]!, edit)).toBe(true);
    }
    expect(uploads.queuedBytes()).toBeGreaterThan(0);
    clock.run();
    expect(uploads.queuedBytes()).toBe(0);
    expect(relay.refused).toBe(0);
  });

  it('UP-3: a run of edits worth more than the reserve waits for the refill, still ahead of the queue, and nothing overdraws', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const link = new Link(relay, clock, () => 1);
    const uploads = uploadsOn(link, clock);
    uploads.update(link, bigUpdate(2 * 1024 * KiB));
    const before = link.data().length;
    // 40 edits of 12 KiB at once (a script pasting messages): 480 KiB, over the whole 320 KiB burst.
    const edits = Array.from({ length: 40 }, () => localEdit(12 * KiB));
    for (const edit of edits) uploads.live(link, edit);
    expect(link.data().length - before).toBeGreaterThan(0);
    expect(link.data().length - before).toBeLessThan(edits.length);
    clock.run();
    expect(relay.refused).toBe(0);
    // Every edit went before the rest of the upload, in the order made.
    const sentEdits = link.data().slice(before, before + edits.length);
    expect(sentEdits.every((f, i) => carries(f, edits[i]!))).toBe(true);
    expect(link.data().length).toBeGreaterThan(before + edits.length);
  });

  it('UP-4: a resync every 100 ms behind a slow upload replaces its queued remainder: the queue stays within twice the backlog', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const link = new Link(relay, clock, () => 1);
    const uploads = uploadsOn(link, clock);
    const backlog = bigUpdate(1024 * KiB);
    uploads.step2(link, backlog); // the answer to the relay's SyncStep1
    let most = 0;
    // Nothing is acked meanwhile (the worst case): each resync is the whole backlog again. The
    // backlog alone takes over 4 s at this rate.
    for (let k = 0; k < 30; k++) {
      clock.run(clock.now() + 100);
      uploads.resync(link, backlog);
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
    const link = new Link(relay, clock, () => 1);
    let changes = 0;
    let current = true;
    const pacer = pacerOn(
      link,
      clock,
      () => changes++,
      () => current,
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
    const link = new Link(relay, clock, () => 1);
    let current = true;
    const pacer = pacerOn(
      link,
      clock,
      () => undefined,
      () => current,
    );
    pacer.enqueue(frames(20, 100 * KiB));
    const sentBefore = link.sent.length;
    expect(pacer.pending()).toBeGreaterThan(0);
    current = false; // a reconnect: the provider has another socket now
    clock.run();
    expect(link.sent.length).toBe(sentBefore);
    expect(pacer.pending()).toBe(0);
    expect(pacer.progress()).toBeNull();
    pacer.sendLive(frames(1, 10));
    pacer.enqueue(frames(2, 10));
    expect(link.sent.length).toBe(sentBefore);
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
      stateVector: noClients,
    });
    const wsA = new Link(new RelayModel(limits, clock.now()), clock, () => 1);
    const wsB = new Link(new RelayModel(limits, clock.now()), clock, () => 1);
    wsA.answer = () => uploads.answered(wsA);
    wsB.answer = () => uploads.answered(wsB);
    // A 2 MiB update of one client: 2 pieces with UP-1's defaults, more with these limits.
    const big = bigUpdate(2 * 1024 * KiB);
    currentWs = wsA;
    uploads.update(wsA, big); // limits unknown: as before UP-2, all at once, no timer
    expect(wsA.sent.length).toBeGreaterThanOrEqual(2);
    expect(clock.pending).toBe(0);
    known = limits;
    wsA.sent.length = 0;
    uploads.update(wsA, big);
    expect(wsA.data().length).toBeGreaterThan(0);
    expect(uploads.queuedBytes()).toBeGreaterThan(0); // the rest waits
    const sentOnA = wsA.sent.length;
    currentWs = wsB; // failover
    uploads.step2(wsB, big);
    expect(wsB.sent.length).toBeGreaterThan(0);
    clock.run();
    expect(wsA.sent.length).toBe(sentOnA); // nothing more on the old socket
    // The answer to the relay's SyncStep1 ends with the SyncStep2 (outer 0, inner 1), after its Updates.
    const b = wsB.data();
    expect([b[b.length - 1]![0], b[b.length - 1]![1]]).toEqual([0, 1]);
    for (const f of b.slice(0, -1)) expect([f[0], f[1]]).toEqual([0, 2]);
  });

  it('UP-2: progress is shown only for an upload expected to take over 3 s: bytes sent of the total, time left, then gone', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const link = new Link(relay, clock, () => 1);
    let changes = 0;
    const pacer = pacerOn(link, clock, () => changes++);
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
    const wait = (cost: number): number => model.waitMs(cost, clock.now(), 'reserve', 0);
    /** A frame sent and at once known received. */
    const charge = (cost: number): void => {
      model.sent(cost);
      model.received(cost, 1, clock.now());
    };
    // The whole burst but its reserve may go at once; a larger frame (a struct that cannot be
    // split) waits for a full bucket.
    expect(wait(limits.byteBurst * 0.75)).toBe(0);
    expect(wait(limits.byteBurst)).toBe(0);
    charge(1);
    expect(wait(limits.byteBurst * 0.75 - 1)).toBe(0);
    expect(wait(limits.byteBurst * 0.75)).toBeGreaterThan(0);
    charge(limits.byteBurst);
    // One byte below empty (it may go below: a frame over the burst): that byte, 100 KiB and the
    // reserve at 160 KiB/s.
    expect(wait(100 * KiB)).toBe(
      Math.ceil(((1 + 100 * KiB + limits.byteBurst * 0.25) / (limits.maxBytesPerSecond * 0.8)) * 1000),
    );
    // An hour later it is full again, not fuller: one byte spent makes 3/4 of the burst wait.
    clock.t += 3_600_000;
    charge(1);
    expect(wait(limits.byteBurst * 0.75 - 1)).toBe(0);
    expect(wait(limits.byteBurst * 0.75)).toBeGreaterThan(0);
  });

  it('UP-6: the model holds what is in flight beside a frame, and charges it when the relay answers: the refill counts from the answer', () => {
    const clock = new FakeClock();
    const model = new RelayAllowance(limits, clock.now());
    const wait = (cost: number): number => model.waitMs(cost, clock.now(), 'nothing', 0);
    model.sent(200 * KiB);
    expect(wait(120 * KiB)).toBe(0); // 320 KiB in all: the burst
    expect(wait(120 * KiB + 1)).toBe(Infinity); // no refill gets there: the bucket is full
    // However long the relay takes to answer, what is in flight may still arrive with what
    // follows: the refill meanwhile is not counted.
    clock.t += 10_000;
    expect(wait(120 * KiB + 1)).toBe(Infinity);
    // Answered: charged as if it arrived now, and refilled from now on.
    model.received(200 * KiB, 1, clock.now());
    expect(wait(120 * KiB)).toBe(0);
    expect(wait(150 * KiB)).toBe(Math.ceil(((30 * KiB) / (limits.maxBytesPerSecond * 0.8)) * 1000));
    // Each frame costs a message too: a full message burst in flight holds the next frame as well.
    for (let i = 0; i < limits.messageBurst; i++) model.sent(0);
    expect(wait(1)).toBe(Infinity);
    model.received(0, limits.messageBurst, clock.now());
    expect(wait(1)).toBeGreaterThan(0);
    expect(wait(1)).toBeLessThan(Infinity);
  });

  it('UP-6: a link stalled mid-upload releases what it held all at once, and the relay is never overdrawn: what the model cannot vouch for waits', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const link = new Link(relay, clock, () => 40);
    const pacer = pacerOn(link, clock);
    const upload = frames(40, 100 * KiB, 40); // over 20 s at this rate
    pacer.enqueue(upload);
    clock.run(clock.now() + 5000);
    const before = link.data().length;
    expect(before).toBeGreaterThan(0);
    // The relay stops reading for 20 s (its event loop stalled, the link held): the model refills
    // meanwhile, but nothing is answered.
    link.stall();
    clock.run(clock.now() + 20_000);
    const duringStall = link.data().length - before;
    expect(duringStall).toBeGreaterThan(0);
    expect(pacer.heldForRelay()).toBe(true);
    expect(pacer.pending()).toBeGreaterThan(0);
    // Everything sent meanwhile arrives at once (before UP-6: 20 s of sending at the model's pace,
    // most of it over the burst: the relay closed the socket).
    link.release();
    expect(relay.refused).toBe(0);
    clock.run();
    expect(relay.refused).toBe(0);
    expect(link.closed).toBe(false);
    expect(link.data().length).toBe(upload.length);
    expect(link.data().every((f, i) => f === upload[i]!.frame)).toBe(true);
  });

  it("UP-6: the relay's n-th SyncStep2 on a socket answers its n-th SyncStep1: the provider's own frees nothing, the session's count as probes", () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const link = new Link(relay, clock, () => 1);
    const uploads = uploadsOn(link, clock);
    link.answer = () => undefined; // the answers come by hand here
    uploads.opened(link); // y-websocket's SyncStep1 goes next: owed an answer
    uploads.update(link, bigUpdate(1024 * KiB));
    expect(uploads.heldForRelay()).toBe(true);
    const probes = (): number => link.sent.filter(isSyncStep1).length;
    expect(probes()).toBe(1); // the pacer's, after the pieces the model held
    const sent = link.sent.length;
    clock.run(clock.now() + ANSWER_WAIT_MS / 2);
    expect(link.sent.length).toBe(sent); // the refill alone frees nothing
    uploads.answered(link); // the answer to the provider's SyncStep1
    clock.run(clock.now() + ANSWER_WAIT_MS / 2);
    expect(link.sent.length).toBe(sent);
    // A re-check of the session's (STATE-2) goes with the user's edits: there is room for it.
    uploads.syncStep1(link, noClients());
    expect(link.sent.length).toBe(sent + 1);
    uploads.answered(link); // the probe's: the pieces before it reached the relay
    expect(uploads.heldForRelay()).toBe(false);
    clock.run(clock.now() + 1000);
    expect(link.data().length).toBeGreaterThan(sent - 1);
    // From here every answer comes: the rest goes, and nothing overdraws.
    link.answer = () => uploads.answered(link);
    uploads.answered(link); // the re-check's
    clock.run();
    expect(uploads.queuedBytes()).toBe(0);
    expect(relay.refused).toBe(0);
  });

  it("UP-6: the session's SyncStep1 waits with the user's edits while the model is full, and a newer one replaces it there", () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const link = new Link(relay, clock, () => 1);
    const pacer = pacerOn(link, clock);
    link.answer = () => undefined; // the answers come by hand here
    // Small edits, more than the relay's message burst: the model is full once they and a probe went.
    pacer.sendLive(frames(limits.messageBurst, 10));
    expect(pacer.heldForRelay()).toBe(true);
    const older = encodeStateVector(new Map([[7, 1]]));
    const newer = encodeStateVector(new Map([[7, 2]]));
    const queued = pacer.queuedBytes();
    pacer.ask(encodeSyncStep1(older));
    pacer.ask(encodeSyncStep1(newer));
    expect(pacer.queuedBytes()).toBe(queued + encodeSyncStep1(newer).length);
    link.answer = () => pacer.answered();
    pacer.answered(); // the probe's
    clock.run();
    expect(pacer.pending()).toBe(0);
    const asked = link.sent.filter(isSyncStep1).map((f) => Buffer.from(f));
    expect(asked.some((f) => f.equals(encodeSyncStep1(newer)))).toBe(true);
    expect(asked.some((f) => f.equals(encodeSyncStep1(older)))).toBe(false);
    expect(relay.refused).toBe(0);
  });

  it('UP-6: an answer lost on the way (the lab drops a frame): another probe after ANSWER_WAIT_MS, and the upload goes on', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const link = new Link(relay, clock, () => 1);
    const pacer = pacerOn(link, clock);
    link.lose = 1;
    const upload = frames(10, 100 * KiB);
    pacer.enqueue(upload);
    expect(link.sent.filter(isSyncStep1)).toHaveLength(1);
    clock.run(clock.now() + ANSWER_WAIT_MS - 1);
    expect(link.sent.filter(isSyncStep1)).toHaveLength(1);
    clock.run(clock.now() + 1);
    expect(link.sent.filter(isSyncStep1)).toHaveLength(2);
    clock.run();
    expect(link.data().length).toBe(upload.length);
    expect(relay.refused).toBe(0);
    expect(link.closed).toBe(false);
  });

  it('UP-6: with no answer and no room for another probe, the pacer closes the socket (the provider reconnects) instead of waiting for ever', () => {
    const clock = new FakeClock();
    const relay = new RelayModel(limits, clock.now());
    const link = new Link(relay, clock, () => 1);
    let changes = 0;
    const pacer = pacerOn(link, clock, () => changes++);
    link.lose = Number.POSITIVE_INFINITY;
    // Small edits, more than the relay's message burst: each leaves room for one probe, which
    // goes once the model is full, and is lost.
    pacer.sendLive(frames(2 * limits.messageBurst, 10));
    expect(link.sent).toHaveLength(limits.messageBurst);
    expect(link.sent.filter(isSyncStep1)).toHaveLength(1);
    expect(pacer.heldForRelay()).toBe(true);
    clock.run(clock.now() + ANSWER_WAIT_MS - 1);
    expect(link.closed).toBe(false);
    clock.run();
    expect(link.closed).toBe(true);
    expect(link.sent).toHaveLength(limits.messageBurst);
    expect(pacer.pending()).toBe(0);
    expect(changes).toBe(1); // UP-5: a queue that waited tells it is gone
    expect(relay.refused).toBe(0);
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
