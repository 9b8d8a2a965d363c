/**
 * Every checker on crafted histories: a good one passes, each way of breaking its rule fails with
 * evidence naming the ids and clients involved. Tests are named after the rule ids in
 * docs/lab/checkers.md.
 */
import { describe, expect, it } from 'vitest';
import type { History } from '../history.js';
import { compareHlc } from '../../shared/chat/hlc.js';
import { Prng } from '../../shared/testing/prng.js';
import { checkAckedNotLost } from './ackedNotLost.js';
import { checkCausalOrder } from './causalOrder.js';
import { checkConvergence } from './convergence.js';
import { fm, history, replica, send } from './historyFixtures.js';
import { checkIdUniqueness } from './idUniqueness.js';
import { checkNoDuplicates } from './noDuplicates.js';
import { runCheckers } from './runCheckers.js';
import { EVIDENCE_LIMIT, type Verdict } from './verdict.js';
import { countShownBeforeSeen } from './shownBeforeSeen.js';
import { countWallClockAnomalies } from './wallClockAnomalies.js';

interface Case {
  readonly name: string;
  readonly h: History;
  readonly ok: boolean;
  /** Substrings that must all appear in the evidence (when failing). */
  readonly says?: readonly string[];
  /** The verdict's summary line, exactly (when given). */
  readonly summary?: string;
  /** Clients the evidence must name. */
  readonly clients?: readonly string[];
}

const m1 = fm('m1', 100);
const m2 = fm('m2', 200);
const m3 = fm('m3', 300, { replyTo: 'm1' });
const good = [m1, m2, m3];
const c3 = ['c0', 'c1', 'c2'];
const goodHistory = history(
  c3,
  [send(100, 'c0', 'm1'), send(200, 'c1', 'm2'), send(300, 'c2', 'm3', { replyTo: 'm1' })],
  [replica('c0', good), replica('c1', good), replica('c2', good)],
);

const expectVerdict = (v: Verdict, c: Case): void => {
  const all = v.evidence.map((e) => e.text).join('\n');
  expect(v.ok, `${c.name}: ${v.summary}\n${all}`).toBe(c.ok);
  if (c.ok) {
    expect(v.evidence).toEqual([]);
    return;
  }
  expect(v.evidence.length).toBeGreaterThan(0);
  for (const s of c.says ?? []) expect(all).toContain(s);
  if (c.summary !== undefined) expect(v.summary).toBe(c.summary);
  const named = new Set(v.evidence.flatMap((e) => e.clients));
  for (const cl of c.clients ?? []) expect(named).toContain(cl);
};

describe('CHK-1 convergence: all replicas identical after the final heal', () => {
  const cases: Case[] = [
    { name: 'identical replicas pass', h: goodHistory, ok: true },
    {
      name: 'a replica missing a message fails, naming it and the message',
      h: history(c3, [], [replica('c0', good), replica('c1', good), replica('c2', [m1, m3], { hash: 'h1' })]),
      ok: false,
      says: ['c2 differs from the majority (c0, c1)', 'missing 1 message(s): m2', 'hash h1 instead of h0'],
      clients: ['c2'],
    },
    {
      name: 'the same messages in another order fail',
      h: history(c3, [], [replica('c0', good), replica('c1', good), replica('c2', [m2, m1, m3])]),
      ok: false,
      says: ['order differs from position 1: m2 instead of m1'],
      clients: ['c2'],
    },
    {
      name: 'a different content hash alone fails',
      h: history(c3, [], [replica('c0', good), replica('c1', good, { hash: 'hX' }), replica('c2', good)]),
      ok: false,
      says: ['c1 differs', 'hash hX instead of h0'],
      clients: ['c1'],
    },
    {
      name: 'a different state vector alone fails',
      h: history(c3, [], [replica('c0', good), replica('c1', good), replica('c2', good, { sv: { '1': 3, '7': 1 } })]),
      ok: false,
      says: ['state vector differs (7: 1 vs -)'],
      clients: ['c2'],
    },
    {
      name: 'a client without a final replica fails',
      h: history(c3, [], [replica('c0', good), replica('c1', good)]),
      ok: false,
      says: ['c2 has no final replica'],
      clients: ['c2'],
    },
    {
      name: 'a run without a final read fails',
      h: history(c3, [], null),
      ok: false,
      says: ['before the final heal'],
    },
    {
      name: 'without a majority the reference is called the largest group',
      h: history(
        ['c0', 'c1', 'c2', 'c3', 'c4'],
        [],
        [
          replica('c0', [m1]),
          replica('c1', [m1]),
          replica('c2', [m2], { hash: 'h1' }),
          replica('c3', [m2], { hash: 'h2' }),
          replica('c4', [m2], { hash: 'h3' }),
        ],
      ),
      ok: false,
      summary: '3 of 5 replicas differ from the largest group',
      says: [
        'c2 differs from the largest group (c0, c1): hash h1 instead of h0; missing 1 message(s): m1; 1 extra message(s): m2',
      ],
      clients: ['c2', 'c3', 'c4'],
    },
    {
      // A group of one is no group: it read "the largest group (c0)", which students took for the truth.
      name: 'when no two replicas are alike the first is named as only what the others are compared with',
      h: history(['c0', 'c1'], [], [replica('c0', [m1]), replica('c1', [m2], { hash: 'h1' })]),
      ok: false,
      summary: "no two of the 2 replicas are identical (each is compared with c0's)",
      says: [
        'c1 differs from the first replica (c0): hash h1 instead of h0; missing 1 message(s): m1; 1 extra message(s): m2',
      ],
      clients: ['c1'],
    },
  ];
  it.each(cases)('CHK-1: $name', (c) => expectVerdict(checkConvergence(c.h), c));
});

describe('CHK-2 no acked message lost', () => {
  const ack = (t: number, client: string, msgId: string) => ({ t, kind: 'ack' as const, client, msgId });
  const cases: Case[] = [
    {
      name: 'acked messages on every replica pass',
      h: history(c3, [send(100, 'c0', 'm1'), ack(150, 'c0', 'm1')], goodHistory.final!.replicas),
      ok: true,
    },
    {
      name: 'an acked message missing on one replica fails, naming the message, who acked it and where it is missing',
      h: history(
        c3,
        [send(100, 'c0', 'm2'), ack(180, 'c0', 'm2')],
        [replica('c0', good), replica('c1', [m1, m3]), replica('c2', good)],
      ),
      ok: false,
      says: ['m2 (acked to c0 at 180 ms) is missing on c1'],
      clients: ['c0', 'c1'],
    },
    {
      name: 'an acked message missing everywhere fails',
      h: history(
        c3,
        [send(100, 'c0', 'm9'), ack(180, 'c0', 'm9')],
        [replica('c0', good), replica('c1', good), replica('c2', good)],
      ),
      ok: false,
      says: ['m9', 'missing on c0, c1, c2'],
    },
    {
      name: 'a message never acked may be missing (not this rule)',
      h: history(c3, [send(100, 'c0', 'm9')], [replica('c0', good), replica('c1', good), replica('c2', good)]),
      ok: true,
    },
    { name: 'a run without a final read fails', h: history(c3, [ack(1, 'c0', 'm1')], null), ok: false },
  ];
  it.each(cases)('CHK-2: $name', (c) => expectVerdict(checkAckedNotLost(c.h), c));
});

describe('CHK-3 no duplicates', () => {
  const cases: Case[] = [
    { name: 'distinct ids pass', h: goodHistory, ok: true },
    {
      name: 'an id shown twice fails, naming the client and positions',
      h: history(c3, [], [replica('c0', good), replica('c1', [m1, m2, m1, m3]), replica('c2', good)]),
      ok: false,
      says: ['c1 shows m1 2 times (positions 1, 3)'],
      clients: ['c1'],
    },
    { name: 'a run without a final read fails', h: history(c3, [], null), ok: false },
  ];
  it.each(cases)('CHK-3: $name', (c) => expectVerdict(checkNoDuplicates(c.h), c));
});

describe('CHK-4 causal order: a reply after its parent on every replica', () => {
  const early = fm('m3', 50, { replyTo: 'm1' });
  const cases: Case[] = [
    { name: 'replies after their parents pass', h: goodHistory, ok: true },
    {
      name: 'a reply shown before its parent fails',
      h: history(c3, [], [replica('c0', good), replica('c1', [early, m1, m2]), replica('c2', good)]),
      ok: false,
      says: ['c1 shows reply m3 at position 1, before the message it answers, m1, at position 2'],
      clients: ['c1'],
    },
    {
      name: 'a reply shown without its parent fails',
      h: history(c3, [], [replica('c0', good), replica('c1', good), replica('c2', [m2, m3])]),
      ok: false,
      says: ['c2 shows reply m3 but not the message it answers, m1'],
      clients: ['c2'],
    },
    {
      name: 'a message naming itself as parent is ignored (the model never shows it as a reply)',
      h: history(['c0'], [], [replica('c0', [fm('m5', 1, { replyTo: 'm5' })])]),
      ok: true,
    },
    { name: 'a run without a final read fails', h: history(c3, [], null), ok: false },
  ];
  it.each(cases)('CHK-4: $name', (c) => expectVerdict(checkCausalOrder(c.h), c));
});

describe('CHK-5 id uniqueness: no two distinct sends with one id', () => {
  const cases: Case[] = [
    { name: 'distinct ids pass', h: goodHistory, ok: true },
    {
      name: 'two sends given one id fail, naming both senders',
      h: history(c3, [send(100, 'c0', 'm1'), send(130, 'c2', 'm1')], goodHistory.final!.replicas),
      ok: false,
      says: ['m1 was given to 2 sends: by c0 at 100 ms, by c2 at 130 ms'],
      clients: ['c0', 'c2'],
    },
    {
      name: 'replicas holding different records under one id fail (what an overwritten collision leaves)',
      h: history(
        c3,
        [],
        [replica('c0', good), replica('c1', [m1, fm('m2', 250, { author: 'a9' }), m3]), replica('c2', good)],
      ),
      ok: false,
      says: ['m2 names 2 different messages', 'author a9'],
      clients: ['c0', 'c1', 'c2'],
    },
  ];
  it.each(cases)('CHK-5: $name', (c) => expectVerdict(checkIdUniqueness(c.h), c));
});

describe('CHK-7 messages shown before one their sender had seen are counted, never a failure', () => {
  it('CHK-7: a message shown before the one its sender displayed last is counted once, with evidence', () => {
    // c1 saw m1 and wrote m2; c1's clock was 2 min behind, so m2 is shown first on both replicas.
    const shown = [fm('m2', 500, { after: 'm1' }), fm('m1', 120_500)];
    const h = history(
      ['c0', 'c1'],
      [send(100, 'c0', 'm1', { wall: 120_500 }), send(150, 'c1', 'm2', { wall: 500 })],
      [replica('c0', shown), replica('c1', shown)],
    );
    const s = countShownBeforeSeen(h);
    expect(s).toMatchObject({ stampedBelow: 1, count: 1 });
    expect(s.examples.map((e) => e.text)).toEqual([
      'c0 shows m2 from c1 at position 1, before m1 from c0 at position 2, which its sender had already seen',
    ]);
    expect(runCheckers(h).ok).toBe(true);
  });

  it('CHK-7: a message after what its sender saw, a reply whose `after` is its parent, and no context count nothing', () => {
    const h = history(
      ['c0'],
      [],
      [
        replica('c0', [
          fm('m1', 1),
          fm('m2', 2, { after: 'm1' }),
          fm('m4', 3, { replyTo: 'm3', after: 'm3' }),
          fm('m3', 4, { after: 'm2' }),
        ]),
      ],
    );
    expect(countShownBeforeSeen(h)).toEqual({ stampedBelow: 2, count: 0, examples: [] });
  });
});

describe('CHK-6 wall-clock anomalies are counted, never a failure', () => {
  it('CHK-6: a reply from a slow clock counts as reply-before-parent and one inverted pair', () => {
    // c1's clock is 1 s behind: its reply has an earlier wall clock, but the HLC (which observed
    // m1) puts it after m1.
    const h = history(
      ['c0', 'c1'],
      [send(100, 'c0', 'm1', { wall: 1000 }), send(150, 'c1', 'm2', { replyTo: 'm1', wall: 500, hlcWall: 1001 })],
      null,
    );
    const a = countWallClockAnomalies(h);
    expect(a).toMatchObject({ messages: 2, replyBeforeParent: 1, pairsOrderedDifferently: 1 });
    expect(a.examples.map((e) => e.text).join('\n')).toContain(
      'reply m2 from c1 has a wall clock 500 ms earlier than its parent m1 from c0',
    );
    expect(a.examples.map((e) => e.text)).toContain(
      'm1 from c0 comes before m2 from c1 by HLC, but its wall clock is 500 ms later',
    );
  });

  it('CHK-6: equal wall clocks are never an anomaly, whatever the tie-break', () => {
    const h = history(
      ['c0', 'c1'],
      [
        send(1, 'c1', 'ma', { wall: 500, hlcWall: 500 }),
        send(2, 'c0', 'mb', { replyTo: 'ma', wall: 500, hlcWall: 501 }),
      ],
      null,
    );
    expect(countWallClockAnomalies(h)).toMatchObject({
      replyBeforeParent: 0,
      pairsOrderedDifferently: 0,
      examples: [],
    });
  });

  it('CHK-6: agreeing clocks give zero anomalies', () => {
    expect(countWallClockAnomalies(goodHistory)).toMatchObject({ replyBeforeParent: 0, pairsOrderedDifferently: 0 });
  });

  it('CHK-6: the inverted-pair count equals a brute-force count on random skews (seeded)', () => {
    for (const seed of [1, 2, 3, 42]) {
      const prng = new Prng(seed);
      const events = Array.from({ length: 60 }, (_, i) =>
        send(i * 10, `c${prng.int(0, 3)}`, `m${i}`, { wall: prng.int(0, 200), hlcWall: prng.int(0, 200) }),
      );
      const h = history(['c0', 'c1', 'c2', 'c3'], events, null);
      const ms = events.map((e) => e as Extract<typeof e, { kind: 'send' }>);
      const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
      let brute = 0;
      for (const a of ms) {
        for (const b of ms) {
          const hlcFirst = (compareHlc(a.hlc, b.hlc) || byId(a.msgId, b.msgId)) < 0;
          const wallAfter = a.wall > b.wall;
          if (hlcFirst && wallAfter) brute++;
        }
      }
      expect(countWallClockAnomalies(h).pairsOrderedDifferently, `seed ${seed}`).toBe(brute);
    }
  });
});

describe('runCheckers', () => {
  it('passes a good history and fails when any rule fails', () => {
    expect(runCheckers(goodHistory).ok).toBe(true);
    const bad = history(c3, goodHistory.events, [replica('c0', good), replica('c1', good), replica('c2', [m1, m2])]);
    const r = runCheckers(bad);
    expect(r.ok).toBe(false);
    expect(r.verdicts.filter((v) => !v.ok).map((v) => v.rule)).toEqual(['CHK-1']);
  });

  it(`caps evidence at ${EVIDENCE_LIMIT} items and says how many there were`, () => {
    const many = Array.from({ length: 30 }, (_, i) => fm(`m${i}`, i));
    const v = checkNoDuplicates(history(['c0'], [], [replica('c0', [...many, ...many])]));
    expect(v.evidence).toHaveLength(EVIDENCE_LIMIT);
    expect(v.evidenceTotal).toBe(30);
  });
});
