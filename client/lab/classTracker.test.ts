import { describe, expect, it } from 'vitest';
import {
  ClassTracker,
  NOBODY,
  NOBODY_NOW,
  NOT_CONNECTED,
  SETTLE_MS,
  type ClassSnapshot,
  userNames,
} from './classTracker.js';
import { CUT_OFF_FORGET_MS, FORGET_MS } from './labPresence.js';

const userId = (n: number): string => `u${String(n).padStart(25, '0')}`;

interface Lab {
  hash?: string;
  svTotal?: number;
  partitioned?: boolean;
  dropPct?: number;
  pending?: number;
  tab?: string;
}

const state = (n: number, lab: Lab = {}): unknown => ({
  user: { id: userId(n), name: `Student ${n}` },
  typing: false,
  sv: [],
  lab: {
    faults: { partitioned: lab.partitioned ?? false, dropPct: lab.dropPct ?? 0 },
    svSummary: `${n}:1`,
    svTotal: lab.svTotal ?? 10,
    hash: lab.hash ?? 'aaaa0001',
    pending: lab.pending ?? 0,
    at: 0,
    ...(lab.tab !== undefined ? { tab: lab.tab } : {}),
  },
});

const room = (entries: Array<[number, unknown]>): Map<number, unknown> => new Map(entries);

/** A tracker that saw Students 1 and 2 online with the same content at 0 ms. */
const seenTwo = (): ClassTracker => {
  const t = new ClassTracker(0);
  t.observe(
    room([
      [1, state(1)],
      [2, state(2)],
    ]),
    0,
    true,
  );
  return t;
};

/** seenTwo, then Student 2 announced a partition at 500 ms (LAB-7), still present. */
const seenTwoThenPartitioned = (): ClassTracker => {
  const t = seenTwo();
  t.observe(
    room([
      [1, state(1)],
      [2, state(2, { partitioned: true })],
    ]),
    500,
    true,
  );
  return t;
};

const names = (s: ClassSnapshot): string[] =>
  s.participants.map((p) => `${p.state.name}${p.offlineSince === null ? '' : ' (offline)'}`);

describe('LAB-UI-1: the verdict', () => {
  it('LAB-UI-1 unknown (the view): with nobody, and while the class view itself is not connected', () => {
    const t = new ClassTracker(0);
    expect(t.observe(room([]), 0, true).verdict).toEqual({ kind: 'unknown', cause: 'nobody', reason: NOBODY });
    expect(t.observe(room([[1, state(1)]]), 1, false).verdict).toEqual({
      kind: 'unknown',
      cause: 'not-connected',
      reason: NOT_CONNECTED,
    });
  });

  it('LAB-UI-1 converged: every participant reachable with the same hash and SV total', () => {
    const t = new ClassTracker(0);
    const s = t.observe(
      room([
        [1, state(1)],
        [2, state(2)],
      ]),
      0,
      true,
    );
    expect(s.verdict).toEqual({ kind: 'converged' });
  });

  it('LAB-UI-1 not converged: a different hash or SV total among reachable ones; pending alone is not', () => {
    const t = new ClassTracker(0);
    const base: Array<[number, unknown]> = [[1, state(1)]];
    // Held for SETTLE_MS: no longer an update in flight.
    const differ = room([...base, [2, state(2, { hash: 'bbbb0002' })]]);
    t.observe(differ, 0, true);
    expect(t.observe(differ, SETTLE_MS, true).verdict).toEqual({
      kind: 'diverged',
      reasons: ['2 different contents among 2 participants'],
    });
    const ahead = room([...base, [2, state(2, { svTotal: 11 })]]);
    t.observe(ahead, SETTLE_MS + 1, true);
    expect(t.observe(ahead, 2 * SETTLE_MS + 1, true).verdict.kind).toBe('diverged');
    expect(t.observe(room([...base, [2, state(2, { pending: 3 })]]), 2 * SETTLE_MS + 2, true).verdict.kind).toBe(
      'converged',
    );
  });

  it('LAB-UI-1 not converged: two reachable ones differ, whatever an unreachable one last showed', () => {
    const t = new ClassTracker(0);
    const states = room([
      [1, state(1)],
      [2, state(2, { hash: 'bbbb0002', svTotal: 11 })],
      [3, state(3, { partitioned: true })],
    ]);
    t.observe(states, 0, true);
    const s = t.observe(states, SETTLE_MS, true);
    expect(s.verdict).toEqual({
      kind: 'diverged',
      reasons: [
        '2 different contents among the 2 reachable participants',
        'Student 3 is partitioned (last known state shown)',
      ],
    });
  });

  it('LAB-UI-1 unknown, unreachable: a partitioned participant with the same content is neither converged nor not', () => {
    const t = new ClassTracker(0);
    const s = t.observe(
      room([
        [1, state(1)],
        [2, state(2)],
        [3, state(3, { partitioned: true })],
      ]),
      0,
      true,
    );
    expect(s.verdict).toEqual({
      kind: 'unreachable',
      unreachable: 1,
      reasons: [
        'Student 3 is partitioned — last seen with the same content',
        'The 2 reachable participants show the same content. What Student 3 holds now cannot be known until they are back.',
      ],
    });
  });

  it('LAB-UI-1 unknown, unreachable: each one last seen behind, ahead or with different content than the reachable ones', () => {
    const t = new ClassTracker(0);
    const s = t.observe(
      room([
        [1, state(1, { hash: 'aaaa0005', svTotal: 12 })],
        [2, state(2, { partitioned: true, svTotal: 10 })],
        [3, state(3, { partitioned: true, hash: 'aaaa0007', svTotal: 14 })],
        [4, state(4, { partitioned: true, hash: 'aaaa0009', svTotal: 12 })],
      ]),
      0,
      true,
    );
    expect(s.verdict).toEqual({
      kind: 'unreachable',
      unreachable: 3,
      reasons: [
        'Student 2 is partitioned — last seen behind (missing updates the others have)',
        'Student 3 is partitioned — last seen ahead (with updates the others lack)',
        'Student 4 is partitioned — last seen with different content',
        'Only Student 1 is reachable. What the 3 unreachable participants hold now cannot be known until they are back.',
      ],
    });
  });

  it('LAB-UI-1 unknown, unreachable: with nobody reachable there is nothing to compare with', () => {
    const t = new ClassTracker(0);
    t.observe(room([[1, state(1)]]), 0, true);
    const s = t.observe(room([]), 1000, true);
    expect(s.verdict).toEqual({
      kind: 'unreachable',
      unreachable: 1,
      reasons: [
        'Student 1 is offline (last known state shown)',
        'Nobody is reachable. What Student 1 holds now cannot be known until they are back.',
      ],
    });
  });

  it('LAB-UI-1 unknown, unreachable: an offline participant keeps its last state for FORGET_MS, then stops counting', () => {
    const t = seenTwo();
    let s = t.observe(room([[1, state(1)]]), 1000, true);
    expect(names(s)).toEqual(['Student 1', 'Student 2 (offline)']);
    expect(s.participants[1]!.offlineSince).toBe(1000);
    expect(s.participants[1]!.state.hash).toBe('aaaa0001');
    expect(s.verdict.kind).toBe('unreachable');
    expect(s.verdict.kind === 'unreachable' && s.verdict.reasons[0]).toBe(
      'Student 2 is offline — last seen with the same content',
    );
    s = t.observe(room([[1, state(1)]]), 1000 + FORGET_MS, true);
    expect(s.verdict).toEqual({ kind: 'converged' });
    expect(names(s)).toEqual(['Student 1', 'Student 2 (offline)']);
  });

  it('LAB-UI-1 unknown, unreachable: one that left partitioned counts for CUT_OFF_FORGET_MS, not FORGET_MS (a partition lasts minutes)', () => {
    const t = seenTwoThenPartitioned();
    t.observe(room([[1, state(1)]]), 1000, true);
    let s = t.observe(room([[1, state(1, { svTotal: 11, hash: 'bbbb0002' })]]), 1000 + FORGET_MS, true);
    expect(s.verdict.kind === 'unreachable' && s.verdict.reasons[0]).toBe(
      'Student 2 is partitioned — last seen behind (missing updates the others have)',
    );
    s = t.observe(room([[1, state(1, { svTotal: 11, hash: 'bbbb0002' })]]), 1000 + CUT_OFF_FORGET_MS, true);
    expect(s.verdict).toEqual({ kind: 'converged' });
    expect(s.participants[1]).toMatchObject({ counted: false });
  });

  it('LAB-UI-1 unknown (the view): once everybody listed left FORGET_MS ago it says so, not "yet"', () => {
    const t = new ClassTracker(0);
    t.observe(room([[1, state(1)]]), 0, true);
    let s = t.observe(room([]), 1000, true);
    expect(s.verdict.kind).toBe('unreachable');
    s = t.observe(room([]), 1000 + FORGET_MS, true);
    expect(names(s)).toEqual(['Student 1 (offline)']);
    expect(s.verdict).toEqual({ kind: 'unknown', cause: 'nobody', reason: NOBODY_NOW });
  });

  it('LAB-UI-1, LAB-7: a participant that announced its partition and then dropped out is shown as partitioned', () => {
    const t = seenTwoThenPartitioned();
    let s = t.observe(room([[1, state(1)]]), 1000, true);
    expect(s.verdict.kind === 'unreachable' && s.verdict.reasons[0]).toBe(
      'Student 2 is partitioned — last seen with the same content',
    );
    // Student 1 writes meanwhile: Student 2's last state is behind, and the verdict stays unknown.
    s = t.observe(room([[1, state(1, { hash: 'aaaa0002', svTotal: 11 })]]), 2000, true);
    expect(s.verdict).toEqual({
      kind: 'unreachable',
      unreachable: 1,
      reasons: [
        'Student 2 is partitioned — last seen behind (missing updates the others have)',
        'Only Student 1 is reachable. What Student 2 holds now cannot be known until they are back.',
      ],
    });
  });

  it('LAB-UI-1, LAB-7: a participant dropping every frame is out of reach, and its drop going down is a heal', () => {
    const t = seenTwo();
    let s = t.observe(
      room([
        [1, state(1, { hash: 'aaaa0002', svTotal: 11 })],
        [2, state(2, { dropPct: 100 })],
      ]),
      1000,
      true,
    );
    expect(s.verdict.kind === 'unreachable' && s.verdict.reasons[0]).toBe(
      'Student 2 is dropping every frame — last seen behind (missing updates the others have)',
    );
    s = t.observe(
      room([
        [1, state(1, { hash: 'aaaa0002', svTotal: 11 })],
        [2, state(2, { hash: 'aaaa0002', svTotal: 11 })],
      ]),
      3000,
      true,
    );
    expect(s.verdict).toEqual({ kind: 'converged' });
    expect(s.lastHealToConvergeMs).toBe(0);
  });

  it('LAB-UI-1, LAB-7: a last state that came and went between two samples still counts (departed states)', () => {
    const t = seenTwo();
    const s = t.observe(
      room([[1, state(1)]]),
      1000,
      true,
      room([[2, state(2, { partitioned: true, hash: 'bbbb0002' })]]),
    );
    expect(s.verdict.kind === 'unreachable' && s.verdict.reasons[0]).toBe(
      'Student 2 is partitioned — last seen with different content',
    );
    expect(s.participants.find((p) => p.state.name === 'Student 2')!.state.hash).toBe('bbbb0002');
  });

  it('ignores malformed states (the class view publishes none and is not a participant)', () => {
    const t = new ClassTracker(0);
    const s = t.observe(
      room([
        [1, state(1)],
        [2, { user: { id: userId(2), name: 'no lab field' } }],
        [3, null],
        [4, { user: { id: userId(4), name: 'x' }, lab: { hash: 'zz' } }],
      ]),
      0,
      true,
    );
    expect(names(s)).toEqual(['Student 1']);
    expect(s.verdict.kind).toBe('converged');
  });

  it('a reload (new client id, same user) replaces the offline entry', () => {
    const t = new ClassTracker(0);
    t.observe(room([[1, state(1)]]), 0, true);
    t.observe(room([]), 10, true);
    const s = t.observe(room([[7, state(1)]]), 20, true);
    expect(s.participants.map((p) => p.state.clientId)).toEqual([7]);
  });
});

describe('LAB-UI-10: tabs of one user are told apart', () => {
  const labels = (s: ClassSnapshot): string[] =>
    s.participants.map((p) => `${p.label}${p.offlineSince === null ? '' : ' (offline)'}`);

  it('LAB-UI-10 four tabs of one student, one partitioned: rows and verdict name the tab, and count the tabs as tabs', () => {
    const t = new ClassTracker(0);
    const quad = (tab: number, lab: Lab = {}): [number, unknown] => [10 + tab, state(1, lab)];
    const all = (partitioned: boolean): Map<number, unknown> =>
      room([quad(1), quad(2), quad(3, { partitioned }), quad(4), [2, state(2)]]);
    t.observe(all(false), 0, true);
    t.observe(all(true), 500, true);
    const s = t.observe(room([quad(1), quad(2), quad(4), [2, state(2)]]), 1000, true);
    expect(labels(s)).toEqual([
      'Student 1 (tab 1)',
      'Student 1 (tab 2)',
      'Student 1 (tab 4)',
      'Student 2',
      'Student 1 (tab 3) (offline)',
    ]);
    expect(s.verdict).toEqual({
      kind: 'unreachable',
      unreachable: 1,
      reasons: [
        'Student 1 (tab 3) is partitioned — last seen with the same content',
        'The 4 reachable participants (3 of them tabs of Student 1) show the same content. What Student 1 (tab 3) holds now cannot be known until they are back.',
      ],
    });
  });

  it('LAB-UI-10 a tab keeps its number while the view is open; a lone tab goes by its name; a reload takes the number of the tab it replaces', () => {
    const t = new ClassTracker(0);
    const tabs = (...ids: number[]): Map<number, unknown> => room(ids.map((id) => [id, state(1)]));
    const byId = (s: ClassSnapshot): Array<[number, string]> =>
      s.participants.map((p) => [p.state.clientId, `${p.label}${p.offlineSince === null ? '' : ' (offline)'}`]);
    expect(byId(t.observe(tabs(11), 0, true))).toEqual([[11, 'Student 1']]);
    expect(byId(t.observe(tabs(11, 12, 13), 10, true))).toEqual([
      [11, 'Student 1 (tab 1)'],
      [12, 'Student 1 (tab 2)'],
      [13, 'Student 1 (tab 3)'],
    ]);
    // Tab 2 reloads: client 12 leaves, client 14 comes and goes by tab 2's number.
    expect(byId(t.observe(tabs(11, 13), 20, true))).toEqual([
      [11, 'Student 1 (tab 1)'],
      [13, 'Student 1 (tab 3)'],
      [12, 'Student 1 (tab 2) (offline)'],
    ]);
    expect(byId(t.observe(tabs(11, 13, 14), 30, true))).toEqual([
      [11, 'Student 1 (tab 1)'],
      [14, 'Student 1 (tab 2)'],
      [13, 'Student 1 (tab 3)'],
    ]);
    // A tab opened next to them is the fourth; the others keep their numbers when one leaves.
    expect(byId(t.observe(tabs(13, 14, 15), 40, true))).toEqual([
      [14, 'Student 1 (tab 2)'],
      [13, 'Student 1 (tab 3)'],
      [15, 'Student 1 (tab 4)'],
      [11, 'Student 1 (tab 1) (offline)'],
    ]);

    // Another student's lone tab, reloaded: still named alone.
    t.observe(room([[21, state(2)]]), 50, true);
    t.observe(room([]), 60, true);
    const s = t.observe(room([[22, state(2)]]), 70, true);
    expect(s.participants.filter((p) => p.state.userId === userId(2)).map((p) => p.label)).toEqual(['Student 2']);
  });

  it('LAB-14 a tab opened beside a partitioned one is listed with it; a reload of the partitioned tab replaces it', () => {
    const t = new ClassTracker(0);
    const byId = (s: ClassSnapshot): Array<[number, string]> =>
      s.participants.map((p) => [p.state.clientId, `${p.label}${p.offlineSince === null ? '' : ' (offline)'}`]);
    t.observe(room([[11, state(1, { tab: 'aa' })]]), 0, true);
    t.observe(room([[11, state(1, { tab: 'aa', partitioned: true })]]), 500, true);
    t.observe(room([]), 1000, true);
    // A second tab of the student, its first one still open behind its partition.
    const s = t.observe(room([[12, state(1, { tab: 'bb' })]]), 2000, true);
    expect(byId(s)).toEqual([
      [12, 'Student 1 (tab 2)'],
      [11, 'Student 1 (tab 1) (offline)'],
    ]);
    expect(s.verdict.kind === 'unreachable' && s.verdict.reasons[0]).toBe(
      'Student 1 (tab 1) is partitioned — last seen with the same content',
    );
    // The first tab reloads (a reload clears faults): its new session replaces it, by its number.
    const r = t.observe(
      room([
        [12, state(1, { tab: 'bb' })],
        [13, state(1, { tab: 'aa' })],
      ]),
      3000,
      true,
    );
    expect(byId(r)).toEqual([
      [13, 'Student 1 (tab 1)'],
      [12, 'Student 1 (tab 2)'],
    ]);
    expect(r.verdict.kind).toBe('converged');
  });

  it('LAB-UI-10, LAB-UI-8: a tab reported cut off is numbered too, and a report says which tab made it', () => {
    const t = new ClassTracker(0);
    const s = t.observe(
      room([
        [11, reporting(1, [[13, 1, 4000]])],
        [12, state(1)],
      ]),
      10_000,
      true,
    );
    expect(s.participants.map((p) => [p.label, p.reportedBy])).toEqual([
      ['Student 1 (tab 1)', null],
      ['Student 1 (tab 2)', null],
      ['Student 1 (tab 3)', 'Student 1 (tab 1)'],
    ]);
    expect(s.verdict.kind === 'unreachable' && s.verdict.reasons).toEqual([
      'Student 1 (tab 3) is partitioned — last seen with the same content',
      'The 2 reachable participants (both tabs of Student 1) show the same content. What Student 1 (tab 3) holds now cannot be known until they are back.',
    ]);
  });

  it('LAB-UI-10 counts say how many are tabs of one user, several users summed up beyond three', () => {
    const t = new ClassTracker(0);
    const states = room([
      [11, state(1, { hash: 'bbbb0002' })],
      [12, state(1)],
      [21, state(2)],
      [22, state(2)],
      [3, state(3)],
    ]);
    t.observe(states, 0, true);
    const s = t.observe(states, SETTLE_MS, true);
    expect(s.verdict).toEqual({
      kind: 'diverged',
      reasons: ['2 different contents among 5 participants (2 of them tabs of Student 1, 2 of Student 2)'],
    });
    const many = new Map<number, unknown>();
    for (let u = 1; u <= 4; u++)
      for (let tab = 1; tab <= 2; tab++) many.set(u * 10 + tab, state(u, { partitioned: true }));
    many.set(5, state(5));
    const v = new ClassTracker(0).observe(many, 0, true).verdict;
    expect(v.kind === 'unreachable' && v.reasons.at(-1)).toBe(
      'Only Student 5 is reachable. What the 8 unreachable participants (tabs of 4 people) hold now cannot be known until they are back.',
    );
  });
});

describe('LAB-UI-14: namesakes are told apart', () => {
  /** User `id`'s state under `name`. */
  const named = (id: string, name: string, lab: Lab = {}): unknown => ({
    ...(state(1, lab) as object),
    user: { id, name },
  });

  it('LAB-UI-14 two students named alike are named with the end of their user id, in rows, reports and counts', () => {
    const a = 'a'.repeat(22) + 'k3f2';
    const b = 'b'.repeat(22) + '9q0d';
    const t = new ClassTracker(0);
    t.observe(
      room([
        [1, named(a, 'Sam')],
        [2, named(b, 'sam')],
        [3, named(b, 'sam')],
        [4, state(4)],
      ]),
      0,
      true,
    );
    t.observe(
      room([
        [1, named(a, 'Sam', { partitioned: true })],
        [2, named(b, 'sam')],
        [3, named(b, 'sam')],
        [4, state(4)],
      ]),
      500,
      true,
    );
    const s = t.observe(
      room([
        [2, named(b, 'sam')],
        [3, named(b, 'sam')],
        [4, state(4)],
      ]),
      1000,
      true,
    );
    expect(s.participants.map((p) => p.label)).toEqual([
      'sam #9q0d (tab 1)',
      'sam #9q0d (tab 2)',
      'Student 4',
      'Sam #k3f2',
    ]);
    expect(s.verdict.kind === 'unreachable' && s.verdict.reasons).toEqual([
      'Sam #k3f2 is partitioned — last seen with the same content',
      'The 3 reachable participants (2 of them tabs of sam #9q0d) show the same content. What Sam #k3f2 holds now cannot be known until they are back.',
    ]);
  });

  it('LAB-UI-14 ids that end alike are told apart by as much of their end as it takes; a lone name stays as it is', () => {
    const names = userNames(
      new Map([
        ['x'.repeat(20) + 'ab1234', 'Quad'],
        ['y'.repeat(20) + 'ac1234', 'QUAD'],
        ['z'.repeat(26), 'Bea'],
      ]),
    );
    expect([...names.values()]).toEqual(['Quad #b1234', 'QUAD #c1234', 'Bea']);
  });
});

/** Student n's state reporting `peers` (client id → [user, left]) cut off (LAB-9), published at `at` on its clock. */
const reporting = (n: number, peers: Array<[number, number, number]>, at = 10_000, lab: Lab = {}): unknown => {
  const s = state(n, lab) as { lab: object };
  return {
    ...s,
    lab: {
      ...s.lab,
      at,
      cutOffPeers: peers.map(([id, user, left]) => {
        const p = state(user, { partitioned: true }) as { user: unknown; lab: object };
        return { id, user: p.user, lab: p.lab, left };
      }),
    },
  };
};

describe('LAB-UI-8: participants who left cut off before the view opened, as reported (LAB-9)', () => {
  it('LAB-UI-8 a fresh view lists a reported partitioned participant as unreachable, not "Converged"', () => {
    const t = new ClassTracker(50_000);
    const s = t.observe(room([[1, reporting(1, [[2, 2, 4000]])]]), 50_000, true);
    expect(names(s)).toEqual(['Student 1', 'Student 2 (offline)']);
    const p = s.participants[1]!;
    expect(p.reportedBy).toBe('Student 1');
    // Away for at − left = 6 s when the report was published (on the reporter's clock).
    expect(p.offlineSince).toBe(44_000);
    expect(p.counted).toBe(true);
    expect(s.verdict).toMatchObject({ kind: 'unreachable', unreachable: 1 });
    expect(s.verdict.kind === 'unreachable' && s.verdict.reasons[0]).toBe(
      'Student 2 is partitioned — last seen with the same content',
    );
  });

  it('LAB-UI-8 a reported participant coming back is a heal; the verdict converges', () => {
    const t = new ClassTracker(0);
    t.observe(room([[1, reporting(1, [[2, 2, 4000]])]]), 1000, true);
    const s = t.observe(
      room([
        [1, state(1)],
        [2, state(2)],
      ]),
      3000,
      true,
    );
    expect(s.verdict).toEqual({ kind: 'converged' });
    expect(s.participants.map((p) => [p.state.name, p.offlineSince, p.reportedBy])).toEqual([
      ['Student 1', null, null],
      ['Student 2', null, null],
    ]);
    expect(s.lastHealToConvergeMs).toBe(0);
  });

  it('LAB-UI-8 what the view saw itself outranks a report: a present client, or one it saw leave', () => {
    const t = seenTwoThenPartitioned();
    t.observe(room([[1, state(1)]]), 1000, true);
    // Student 1 reports Student 2 (and a present Student 3) with other timings: the view keeps its own.
    const s = t.observe(
      room([
        [
          1,
          reporting(1, [
            [2, 2, 0],
            [3, 3, 0],
          ]),
        ],
        [3, state(3)],
      ]),
      2000,
      true,
    );
    expect(s.participants.map((p) => [p.state.name, p.offlineSince, p.reportedBy])).toEqual([
      ['Student 1', null, null],
      ['Student 3', null, null],
      ['Student 2', 1000, null],
    ]);
  });

  it('LAB-UI-8 an entry is listed only while someone reports it, and a reload outranks a stale report', () => {
    const t = new ClassTracker(0);
    t.observe(room([[1, reporting(1, [[2, 2, 9000]])]]), 1000, true);
    let s = t.observe(room([[1, state(1)]]), 2000, true); // Student 1 no longer reports it (forgotten, LAB-9)
    expect(names(s)).toEqual(['Student 1']);
    expect(s.verdict).toEqual({ kind: 'converged' });

    t.observe(room([[1, reporting(1, [[2, 2, 9000]])]]), 3000, true);
    // Student 2 reloaded (client 7) before Student 1's report caught up: client 2 is gone for good.
    s = t.observe(
      room([
        [1, reporting(1, [[2, 2, 9000]])],
        [7, state(2)],
      ]),
      4000,
      true,
    );
    expect(s.participants.map((p) => p.state.clientId)).toEqual([1, 7]);
    expect(s.verdict).toEqual({ kind: 'converged' });
  });

  it('LAB-UI-8 two reports of one participant: its latest state (its own clock) wins; the time away is capped at CUT_OFF_FORGET_MS', () => {
    const t = new ClassTracker(0);
    const older = reporting(1, [[2, 2, 0]], 10_000);
    const newer = reporting(3, [[2, 2, 0]], CUT_OFF_FORGET_MS * 2) as {
      lab: { cutOffPeers: Array<{ lab: { at: number } }> };
    };
    newer.lab.cutOffPeers[0]!.lab.at = 900;
    const s = t.observe(
      room([
        [1, older],
        [3, newer],
      ]),
      CUT_OFF_FORGET_MS * 3,
      true,
    );
    const p = s.participants.find((x) => x.state.clientId === 2)!;
    expect([p.reportedBy, p.state.at]).toEqual(['Student 3', 900]);
    expect(p.offlineSince).toBe(CUT_OFF_FORGET_MS * 2);
    expect(p.counted).toBe(false);
  });
});

describe('LAB-UI-3: divergence and heal timings', () => {
  it('measures how long a time not converged lasted and how long the last heal took to converge', () => {
    const t = new ClassTracker(0);
    const both = (h2: string): Map<number, unknown> =>
      room([
        [1, state(1, { hash: 'aaaa0002', svTotal: 11 })],
        [2, state(2, { hash: h2, svTotal: h2 === 'aaaa0002' ? 11 : 10 })],
      ]);
    const first = t.observe(
      room([
        [1, state(1)],
        [2, state(2)],
      ]),
      0,
      true,
    );
    // The first verdict this view saw: converged for as long as it has been watching, maybe longer.
    expect(first.verdict.kind).toBe('converged');
    expect(first.sinceWatching).toBe(true);
    // Student 2 is cut off (its awareness disappears); student 1 writes meanwhile.
    t.observe(room([[1, state(1, { hash: 'aaaa0002', svTotal: 11 })]]), 1000, true);
    let s = t.observe(room([[1, state(1, { hash: 'aaaa0002', svTotal: 11 })]]), 5000, true);
    expect(s.verdict.kind).toBe('unreachable');
    expect(s.since).toBe(1000);
    expect(s.sinceWatching).toBe(false);
    // Heal at 6 s: back online with the old content, then caught up at 6.8 s.
    s = t.observe(both('aaaa0001'), 6000, true);
    expect(s.verdict).toEqual({ kind: 'diverged', reasons: ['2 different contents among 2 participants'] });
    s = t.observe(both('aaaa0002'), 6800, true);
    expect(s.verdict).toEqual({ kind: 'converged' });
    expect(s.since).toBe(6800);
    expect(s.lastNotConverged).toEqual({ endedAt: 6800, lastedMs: 5800 });
    expect(s.lastHealToConvergeMs).toBe(800);
  });

  it('LAB-UI-1 unknown, unreachable starts a time not converged: a partition healed with no content change records the heal', () => {
    const t = new ClassTracker(0);
    const two = (partitioned: boolean): Map<number, unknown> =>
      room([
        [1, state(1)],
        [2, state(2, { partitioned })],
      ]);
    t.observe(two(false), 0, true);
    let s = t.observe(two(true), 1000, true);
    expect(s.verdict.kind).toBe('unreachable');
    expect(s.since).toBe(1000);
    s = t.observe(two(false), 4000, true);
    expect(s.verdict).toEqual({ kind: 'converged' });
    expect(s.lastNotConverged).toEqual({ endedAt: 4000, lastedMs: 3000 });
    expect(s.lastHealToConvergeMs).toBe(0);
  });

  it("the view's own unknown (not connected) neither starts nor ends a time not converged", () => {
    const t = new ClassTracker(0);
    const one = room([[1, state(1)]]);
    t.observe(one, 0, true);
    t.observe(one, 1000, false);
    let s = t.observe(one, 2000, true);
    expect(s.verdict).toEqual({ kind: 'converged' });
    expect(s.lastNotConverged).toBeNull();
    t.observe(room([[1, state(1, { partitioned: true })]]), 3000, true);
    t.observe(one, 4000, false);
    s = t.observe(one, 5000, true);
    expect(s.lastNotConverged).toEqual({ endedAt: 5000, lastedMs: 2000 });
  });

  it('a divergence without a heal (two writers racing) records no heal time', () => {
    const t = seenTwo();
    const apart = room([
      [1, state(1, { hash: 'b' })],
      [2, state(2)],
    ]);
    t.observe(apart, 100, true);
    expect(t.observe(apart, 100 + SETTLE_MS, true).verdict.kind).toBe('diverged');
    const s = t.observe(
      room([
        [1, state(1, { hash: 'b' })],
        [2, state(2, { hash: 'b' })],
      ]),
      300 + SETTLE_MS,
      true,
    );
    expect(s.lastNotConverged).toEqual({ endedAt: 300 + SETTLE_MS, lastedMs: 200 });
    expect(s.lastHealToConvergeMs).toBeNull();
  });

  it('chart samples: one per SAMPLE_MS at most unless the verdict changes, and bounded history', () => {
    const t = new ClassTracker(0);
    const two = room([
      [1, state(1)],
      [2, state(2)],
    ]);
    for (let ms = 0; ms <= 10 * 60_000; ms += 250) t.observe(two, ms, true);
    const s = t.observe(
      room([
        [1, state(1)],
        [2, state(2, { hash: 'b' })],
      ]),
      10 * 60_000 + 10,
      true,
    );
    expect(s.samples.at(-1)).toEqual({ t: 10 * 60_000 + 10, kind: 'syncing', distinct: 2 });
    expect(s.samples.at(-2)).toEqual({ t: 10 * 60_000, kind: 'converged', distinct: 1 });
    expect(s.samples.length).toBeLessThanOrEqual(5 * 60 + 3);
    expect(s.samples[0]!.t).toBeGreaterThanOrEqual(5 * 60_000);
  });

  it('LAB-UI-1 unknown, unreachable: chart samples record it as its own kind, apart from the view not connected', () => {
    const t = new ClassTracker(0);
    t.observe(room([[1, state(1)]]), 0, true);
    t.observe(
      room([
        [1, state(1)],
        [2, state(2, { partitioned: true, svTotal: 9 })],
      ]),
      10,
      true,
    );
    const s = t.observe(room([[1, state(1)]]), 20, false);
    expect(s.samples.map((x) => x.kind)).toEqual(['converged', 'unreachable', 'unknown']);
    // The line counts an unreachable participant's last known content.
    expect(s.samples[1]!.distinct).toBe(2);
  });
});

describe('30 participants: an update to one re-creates only that one (rows of the others do not re-render)', () => {
  it('keeps participant objects of unchanged participants', () => {
    const t = new ClassTracker(0);
    const states = new Map<number, unknown>();
    for (let n = 1; n <= 30; n++) states.set(n, state(n));
    const before = t.observe(states, 0, true);
    expect(before.participants).toHaveLength(30);
    expect(before.verdict.kind).toBe('converged');

    // Republished without change (a new `at`): nothing changes, not even the list.
    const again = new Map(states);
    again.set(5, { ...(state(5) as object), lab: { ...(state(5) as { lab: object }).lab, at: 99 } });
    const same = t.observe(again, 100, true);
    expect(same.participants).toBe(before.participants);

    const changed = new Map(states);
    changed.set(17, state(17, { hash: 'cccc0017' }));
    const after = t.observe(changed, 200, true);
    const recreated = after.participants.filter((p, i) => p !== before.participants[i]);
    expect(recreated.map((p) => p.state.name)).toEqual(['Student 17']);
    expect(after.verdict.kind).toBe('syncing');
  });
});

describe('LAB-UI-17: the view cut off itself does not know where anyone is', () => {
  it('LAB-UI-17 nobody is marked offline while the view is not connected: rows keep their last state and reach, marked last known', () => {
    const t = seenTwo();
    // The provider drops every remote state with its socket: both "depart" with the socket.
    const both = room([
      [1, state(1)],
      [2, state(2)],
    ]);
    for (const now of [1000, 4000]) {
      const s = t.observe(room([]), now, false, now === 1000 ? both : new Map());
      expect(s.verdict.kind).toBe('unknown');
      expect(s.participants.map((p) => [p.state.name, p.offlineSince, p.lastKnown, p.counted])).toEqual([
        ['Student 1', null, true, true],
        ['Student 2', null, true, true],
      ]);
    }
    // Back: both were there all along, so nobody healed; one that really left is offline from then.
    const back = t.observe(room([[1, state(1)]]), 5000, true);
    expect(back.participants.map((p) => [p.state.name, p.offlineSince, p.lastKnown])).toEqual([
      ['Student 1', null, false],
      ['Student 2', 5000, false],
    ]);
    expect(t.observe(both, 5100, true).verdict.kind).toBe('converged');
  });

  it('LAB-UI-17, LAB-UI-8 a reported participant stays listed while the view is not connected (nobody can report it then)', () => {
    const reporter = (): unknown => {
      const s = state(1) as { lab: object };
      return {
        ...s,
        lab: {
          ...s.lab,
          cutOffPeers: [
            { id: 7, user: { id: userId(7), name: 'Student 7' }, lab: (state(7) as { lab: object }).lab, left: 0 },
          ],
        },
      };
    };
    const t = new ClassTracker(0);
    expect(t.observe(room([[1, reporter()]]), 0, true).participants.map((p) => p.label)).toEqual([
      'Student 1',
      'Student 7',
    ]);
    const cut = t.observe(room([]), 1000, false, room([[1, reporter()]]));
    expect(cut.participants.map((p) => [p.label, p.lastKnown])).toEqual([
      ['Student 1', true],
      ['Student 7', true],
    ]);
  });
});

describe('LAB-UI-16: a difference still in flight is Converging, not Not converged', () => {
  /** Totals each of two chatting participants has published at `t`: message k (every 500 ms, alternating senders) is published by its sender 300 ms later, by the other 900 ms later (LAB-7's once a second). */
  const chatTotals = (t: number): [number, number] => {
    const totals: [number, number] = [10, 10];
    for (let k = 1; 500 * k <= t; k++) {
      const sender = k % 2;
      if (t >= 500 * k + 300) totals[sender]! += 1;
      if (t >= 500 * k + 900) totals[1 - sender]! += 1;
    }
    return totals;
  };

  it('LAB-UI-16 healthy chat, a message every 500 ms: Converged or Converging…, never Not converged', () => {
    const t = new ClassTracker(0);
    const kinds = new Set<string>();
    for (let now = 0; now <= 30_000; now += 100) {
      const [a, b] = chatTotals(now);
      const s = t.observe(
        room([
          [1, state(1, { svTotal: a, hash: `${a}` })],
          [2, state(2, { svTotal: b, hash: `${b}` })],
        ]),
        now,
        true,
      );
      kinds.add(s.verdict.kind);
    }
    expect([...kinds].sort()).toEqual(['converged', 'syncing']);
  });

  it('LAB-UI-16 one stuck behind while another keeps writing reads Not converged once behind for SETTLE_MS', () => {
    const t = new ClassTracker(0);
    let kind = '';
    for (let now = 0; now <= 500 + SETTLE_MS; now += 100) {
      const a = 10 + Math.floor(now / 500);
      kind = t.observe(
        room([
          [1, state(1, { svTotal: a, hash: `${a}` })],
          [2, state(2)],
        ]),
        now,
        true,
      ).verdict.kind;
      if (now === 500 + SETTLE_MS - 100) expect(kind).toBe('syncing');
    }
    expect(kind).toBe('diverged');
  });

  it('LAB-UI-16 concurrent contents that do not resolve read Not converged after SETTLE_MS; with someone unreachable, Unknown meanwhile', () => {
    const t = new ClassTracker(0);
    const apart = room([
      [1, state(1, { hash: 'aaaa' })],
      [2, state(2, { hash: 'bbbb' })],
    ]);
    expect(t.observe(apart, 0, true).verdict).toEqual({
      kind: 'syncing',
      reasons: [
        '2 different contents among 2 participants, changed in the last 3 s: updates on their way (each publishes its state about once a second)',
      ],
    });
    expect(t.observe(apart, SETTLE_MS - 1, true).verdict.kind).toBe('syncing');
    expect(t.observe(apart, SETTLE_MS, true).verdict.kind).toBe('diverged');

    const u = new ClassTracker(0);
    const withAway = new Map([...apart, [3, state(3, { partitioned: true })]]);
    const v = u.observe(withAway, 0, true).verdict;
    expect(v.kind === 'unreachable' && v.reasons.at(-1)).toBe(
      'The 2 reachable participants are exchanging updates. What Student 3 holds now cannot be known until they are back.',
    );
    expect(u.observe(withAway, SETTLE_MS, true).verdict.kind).toBe('diverged');
  });
});

describe('LAB-UI-3: a time not converged or unknown that is still running', () => {
  it('LAB-UI-3 is given as running from its start, the first one too; the last finished one stays as it was', () => {
    const t = seenTwo();
    const one = room([[1, state(1)]]);
    expect(t.observe(one, 1000, true).notConvergedSince).toBe(1000);
    const back = t.observe(seenTwoStates(), 1154, true);
    expect([back.notConvergedSince, back.lastNotConverged]).toEqual([null, { endedAt: 1154, lastedMs: 154 }]);
    const again = t.observe(one, 1300, true);
    expect([again.notConvergedSince, again.lastNotConverged]).toEqual([1300, { endedAt: 1154, lastedMs: 154 }]);
  });
});

const seenTwoStates = (): Map<number, unknown> =>
  room([
    [1, state(1)],
    [2, state(2)],
  ]);
