/**
 * RoomFeed (REDIS-4): a gap-free, ordered delivery from live messages that may be lost and reads
 * of the log. Driven directly, with reads that resolve when the test says so, to pin the
 * interleavings a real Redis produces only now and then.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../shared/testing/waitFor.js';
import type { BackplaneEntry } from './backplane.js';
import { RoomFeed, type LogRead } from './roomFeed.js';

const entry = (seq: number, seqLo = seq): BackplaneEntry => ({
  room: 'r',
  seq,
  seqLo,
  origin: seqLo === seq ? 'relay-a' : '',
  update: Uint8Array.of(seq),
});

/** A feed whose log reads wait for `answer`, recording what it delivers and reports. */
const harness = (after = 0) => {
  const reads: { after: number; answer: (r: LogRead) => void; fail: (e: Error) => void }[] = [];
  const delivered: BackplaneEntry[] = [];
  const rewound: unknown[] = [];
  const failures: unknown[] = [];
  const feed = new RoomFeed(after, {
    readLog: (from) =>
      new Promise<LogRead>((resolve, reject) => reads.push({ after: from, answer: resolve, fail: reject })),
    deliver: (e) => delivered.push(e),
    rewound: (d) => rewound.push(d),
    readFailed: (e) => failures.push(e),
  });
  const log = (next: number, ...seqs: number[]): LogRead => ({ next, entries: seqs.map((s) => entry(s)) });
  return { feed, reads, delivered, rewound, failures, log, seqs: () => delivered.map((e) => e.seq) };
};

describe('RoomFeed', () => {
  it('REDIS-4: reads the log first, then delivers live messages in seq order, each once', async () => {
    const h = harness();
    const started = h.feed.markBehind();
    void h.feed.push(entry(3)); // arrives during the first read, which already holds it
    h.reads[0]!.answer(h.log(3, 1, 2, 3));
    await started;
    await h.feed.push(entry(4));
    await h.feed.push(entry(4));
    expect(h.seqs()).toEqual([1, 2, 3, 4]);
    expect(h.reads).toHaveLength(1);
  });

  it('REDIS-4: a live message past a gap makes the feed read the log; nothing is skipped', async () => {
    const h = harness(5);
    const first = h.feed.markBehind();
    h.reads[0]!.answer(h.log(5));
    await first;
    const gap = h.feed.push(entry(8)); // the messages of 6 and 7 were lost
    expect(h.reads[1]!.after).toBe(5);
    h.reads[1]!.answer(h.log(8, 6, 7, 8));
    await gap;
    expect(h.seqs()).toEqual([6, 7, 8]);
  });

  it('REDIS-4 regression (review of the cluster change): a message that overtook a log read never skips the entry before it', async () => {
    // The read's snapshot is taken before entry 1 is written; entry 1's message is lost; entry
    // 2's message arrives before the read's reply is handled. Delivering 2 "because a read just
    // happened" would skip 1 for good (the next read starts after 2).
    const h = harness();
    const drained = h.feed.markBehind();
    void h.feed.push(entry(2));
    h.reads[0]!.answer(h.log(0));
    await waitFor(() => h.reads.length === 2, 'a second read');
    expect(h.seqs()).toEqual([]);
    h.reads[1]!.answer(h.log(2, 1, 2));
    await drained;
    expect(h.seqs()).toEqual([1, 2]);
    expect(h.rewound).toEqual([]);
  });

  it('REDIS-4: a message the log does not reach, read after it arrived, belongs to a lost timeline and is dropped', async () => {
    const h = harness(10);
    const first = h.feed.markBehind();
    h.reads[0]!.answer(h.log(10));
    await first;
    const pushed = h.feed.push(entry(12));
    h.reads[1]!.answer(h.log(10)); // read after 12 arrived: the log has nothing past 10
    await pushed;
    expect(h.seqs()).toEqual([]);
    expect(h.rewound).toEqual([{ lastSeq: 10, dropped: 12 }]);
    await h.feed.push(entry(11)); // the new timeline goes on from 10
    expect(h.seqs()).toEqual([11]);
  });

  it('REDIS-4: the heartbeat check reads the log when next was past lastSeq at two checks in a row (a lost last message)', async () => {
    const h = harness(3);
    const first = h.feed.markBehind();
    h.reads[0]!.answer(h.log(3));
    await first;
    await h.feed.check(4, 3); // entry 4's message may be on its way
    expect(h.reads).toHaveLength(1);
    const checked = h.feed.check(4, 3); // still missing: lost
    h.reads[1]!.answer(h.log(4, 4));
    await checked;
    expect(h.seqs()).toEqual([4]);
  });

  it('REDIS-4: an entry whose live message arrives after the first check is delivered live, with its origin', async () => {
    const h = harness(3);
    const first = h.feed.markBehind();
    h.reads[0]!.answer(h.log(3));
    await first;
    await h.feed.check(4, 3);
    await h.feed.push({ ...entry(4), origin: 'relay-b' });
    await h.feed.check(4, 4);
    expect(h.reads).toHaveLength(1);
    expect(h.delivered.map((e) => [e.seq, e.origin])).toEqual([[4, 'relay-b']]);
  });

  it('REDIS-4: a log rewound below lastSeq (failover to a replica that missed writes) is followed from there', async () => {
    const h = harness(7);
    const first = h.feed.markBehind();
    h.reads[0]!.answer(h.log(7));
    await first;
    const checked = h.feed.check(5, 7);
    expect(h.rewound).toEqual([{ lastSeq: 7, next: 5 }]);
    expect(h.reads[1]!.after).toBe(5);
    h.reads[1]!.answer(h.log(6, 6));
    await checked;
    // Seq 6 of the new timeline is delivered although seq 6 of the old one was.
    expect(h.seqs()).toEqual([6]);
    expect(h.feed.lastSeq).toBe(6);
  });

  it('REDIS-4: a check read before the feed moved on is ignored (no false rewind)', async () => {
    const h = harness(0);
    const first = h.feed.markBehind();
    h.reads[0]!.answer(h.log(0));
    await first;
    await h.feed.push(entry(1));
    await h.feed.check(0, 0); // GET next answered 0 before entry 1 was delivered
    expect(h.rewound).toEqual([]);
    expect(h.reads).toHaveLength(1);
    expect(h.seqs()).toEqual([1]);
  });

  it('REDIS-4: a failed read leaves the feed behind; the next drain reads again', async () => {
    const h = harness();
    const first = h.feed.markBehind();
    h.reads[0]!.fail(new Error('redis away'));
    await first;
    expect(h.failures).toHaveLength(1);
    expect(h.feed.busy).toBe(true);
    const again = h.feed.drain();
    h.reads[1]!.answer(h.log(1, 1));
    await again;
    expect(h.seqs()).toEqual([1]);
    expect(h.feed.busy).toBe(false);
  });

  it('REDIS-4: a compacted segment reaching past lastSeq is delivered, later entries follow', async () => {
    const h = harness(2);
    const first = h.feed.markBehind();
    h.reads[0]!.answer({ next: 6, entries: [entry(5, 1), entry(6)] });
    await first;
    await h.feed.push(entry(7));
    expect(h.delivered.map((e) => [e.seqLo, e.seq])).toEqual([
      [1, 5],
      [6, 6],
      [7, 7],
    ]);
  });

  it('a closed feed delivers nothing more', async () => {
    const h = harness();
    const first = h.feed.markBehind();
    h.feed.close();
    h.reads[0]!.answer(h.log(1, 1));
    await first;
    await h.feed.push(entry(2));
    expect(h.seqs()).toEqual([]);
  });
});
