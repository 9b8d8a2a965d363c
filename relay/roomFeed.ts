/**
 * One room's ordered feed on the Redis backplane (REDIS-4): turns live pub/sub messages, which
 * may be lost, and reads of the durable log into one delivery in seq order with no gap. Pure
 * (no Redis): relay/redisBackplane.ts gives it a way to read the log; tests drive it directly.
 *
 * Invariants:
 * - Delivered seqs strictly increase; `lastSeq` is the highest delivered (or the start position).
 * - A live message is delivered only if its seq is exactly `lastSeq + 1`. Anything past that
 *   means messages were lost: the feed reads the log (`readLog(lastSeq)`), delivers what it
 *   returns and sets `lastSeq` to the log's `next` as of that read — every seq up to `next` is
 *   in that read, since an update is in the log before its message is sent. A queued message is
 *   never delivered across a gap, so a message that overtook a read (its predecessor's message
 *   lost, the read's snapshot taken before the predecessor was written) leads to another read,
 *   never to a skip.
 * - A message still past `lastSeq + 1` after a read that began after it arrived belongs to a
 *   timeline Redis no longer has (a failover to a replica that missed it): dropped, reported.
 * - A log whose `next` is below `lastSeq` was rewound the same way: the feed goes back to `next`
 *   so the entries the new timeline gives those seqs are delivered (DEDUPE-1/2 absorb repeats).
 * - One drain at a time; a failed read leaves the feed behind, and the next `push`, `check` or
 *   `markBehind` tries again.
 */
import type { BackplaneEntry } from './backplane.js';

/** What a read of the log returned: entries after the position asked for, and `next` then. */
export interface LogRead {
  readonly next: number;
  /** Seq order; compacted ranges as segments (seqLo < seq). */
  readonly entries: readonly BackplaneEntry[];
}

export interface RoomFeedHooks {
  readonly readLog: (after: number) => Promise<LogRead>;
  readonly deliver: (entry: BackplaneEntry) => void;
  /** A message or position that only a rewound log explains (for logs and tests). */
  readonly rewound: (detail: { readonly lastSeq: number; readonly next?: number; readonly dropped?: number }) => void;
  readonly readFailed: (err: unknown) => void;
}

interface Queued {
  readonly entry: BackplaneEntry;
  /** Arrival number: compared with the number current when a read began. */
  readonly arrival: number;
}

export class RoomFeed {
  private last: number;
  private readonly queue: Queued[] = [];
  private arrivals = 0;
  private behind = true;
  /** The log's `next` at the previous check, when it was past `lastSeq` then (see `check`). */
  private seenAhead: number | null = null;
  private draining = false;
  private closed = false;

  constructor(
    after: number,
    private readonly hooks: RoomFeedHooks,
  ) {
    this.last = after;
  }

  get lastSeq(): number {
    return this.last;
  }

  /** Whether a drain is running or work is waiting (the heartbeat check skips busy feeds). */
  get busy(): boolean {
    return this.draining || this.behind || this.queue.length > 0;
  }

  /** A live message. */
  push(entry: BackplaneEntry): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.queue.push({ entry, arrival: this.arrivals++ });
    return this.drain();
  }

  /** The log may hold entries no message will announce (after a reconnect, or at the start). */
  markBehind(): Promise<void> {
    this.behind = true;
    return this.drain();
  }

  /**
   * The heartbeat's look at the log's `next`, read while the feed stood at `lastSeqThen`. Ignored
   * if the feed moved or got busy since: a newer delivery may legitimately be past that `next`.
   * An entry past `lastSeq` is read from the log only if it was already past at the previous
   * check: its live message may still be on its way (behind a replica's WAIT, REDIS-9, or the
   * cluster bus), and read from the log it would arrive without its origin.
   */
  check(next: number, lastSeqThen: number): Promise<void> {
    if (this.busy || this.closed || this.last !== lastSeqThen) return Promise.resolve();
    if (next < this.last) {
      this.hooks.rewound({ lastSeq: this.last, next });
      this.last = next;
      this.behind = true;
      this.seenAhead = null;
    } else if (next > this.last) {
      if (this.seenAhead !== null && this.seenAhead > this.last) this.behind = true;
      this.seenAhead = next;
    } else this.seenAhead = null;
    return this.drain();
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  /** Runs until the queue is empty and the feed is not behind, or a read fails. */
  drain(): Promise<void> {
    if (this.draining || this.closed) return Promise.resolve();
    this.draining = true;
    return this.run().finally(() => (this.draining = false));
  }

  private async run(): Promise<void> {
    // Messages that arrived before this number were queued when the latest read began.
    let readBegan = -1;
    while (!this.closed) {
      if (this.behind) {
        readBegan = this.arrivals;
        let read: LogRead;
        try {
          read = await this.hooks.readLog(this.last);
        } catch (err) {
          this.hooks.readFailed(err);
          return;
        }
        if (this.closed) return;
        this.behind = false;
        if (read.next < this.last) {
          this.hooks.rewound({ lastSeq: this.last, next: read.next });
          this.last = read.next;
          this.behind = true;
          continue;
        }
        for (const e of read.entries) this.deliverEntry(e);
        this.last = Math.max(this.last, read.next);
        continue;
      }
      const head = this.queue[0];
      if (!head) return;
      if (head.entry.seq <= this.last) {
        this.queue.shift();
        continue;
      }
      if (head.entry.seq === this.last + 1) {
        this.queue.shift();
        this.deliverEntry(head.entry);
        continue;
      }
      if (head.arrival < readBegan) {
        // The log, read after this message arrived, does not reach its seq.
        this.queue.shift();
        this.hooks.rewound({ lastSeq: this.last, dropped: head.entry.seq });
        continue;
      }
      this.behind = true;
    }
  }

  private deliverEntry(entry: BackplaneEntry): void {
    if (entry.seq <= this.last) return;
    this.last = entry.seq;
    this.hooks.deliver(entry);
  }
}
