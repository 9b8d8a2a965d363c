import { describe, expect, it } from 'vitest';
import { NO_FAULTS } from '../../shared/lab/faults.js';
import { Limits } from '../../shared/protocol.js';
import {
  CutOffPeers,
  MAX_CUT_OFF_PEERS,
  MAX_REPORT_BYTES,
  parseCutOffReports,
  REPORTERS_PER_PEER,
  type CutOffPeerWire,
} from './cutOffPeers.js';
import { CUT_OFF_FORGET_MS, parseLabPresence } from './labPresence.js';

const userId = (n: number): string => `u${String(n).padStart(25, '0')}`;

const state = (user: number, faults: Partial<typeof NO_FAULTS> = {}, svTotal = 10): unknown => ({
  user: { id: userId(user), name: `Student ${user}` },
  typing: false,
  sv: [],
  lab: { faults: { ...NO_FAULTS, ...faults }, svSummary: `${user}:1`, svTotal, hash: 'aaaa0001', pending: 1, at: 500 },
});

const SELF = 100;

/** A participant (client SELF) that watched clients 1 and 2 (users 1 and 2) arrive. */
const watching = (): { peers: CutOffPeers; states: Map<number, unknown> } => {
  const states = new Map<number, unknown>([
    [SELF, state(100)],
    [1, state(1)],
    [2, state(2)],
  ]);
  const peers = new CutOffPeers(SELF);
  peers.seed(states);
  return { peers, states };
};

const update = (peers: CutOffPeers, states: Map<number, unknown>, id: number, s: unknown, now: number): void => {
  const added = !states.has(id);
  states.set(id, s);
  peers.change({ added: added ? [id] : [], updated: added ? [] : [id], removed: [] }, states, now);
};

const remove = (peers: CutOffPeers, states: Map<number, unknown>, id: number, now: number): void => {
  states.delete(id);
  peers.change({ added: [], updated: [], removed: [id] }, states, now);
};

describe('LAB-9: a participant reports the peers it saw leave while cut off', () => {
  it('LAB-9 reports a peer removed after announcing its partition, with its last state and when it left', () => {
    const { peers, states } = watching();
    update(peers, states, 2, state(2, { partitioned: true }, 12), 900);
    remove(peers, states, 2, 1000);
    expect(peers.list(1500)).toEqual<CutOffPeerWire[]>([
      {
        id: 2,
        user: { id: userId(2), name: 'Student 2' },
        lab: {
          faults: { ...NO_FAULTS, partitioned: true },
          svSummary: '2:1',
          svTotal: 12,
          hash: 'aaaa0001',
          pending: 1,
          at: 500,
        },
        left: 1000,
      },
    ]);
  });

  it('LAB-9 reports one that left dropping every frame, not one that merely left or lost some frames', () => {
    const { peers, states } = watching();
    update(peers, states, 1, state(1, { dropPct: 50 }), 900);
    update(peers, states, 2, state(2, { dropPct: 100 }), 900);
    remove(peers, states, 1, 1000);
    remove(peers, states, 2, 1000);
    expect(peers.list(1000).map((p) => p.id)).toEqual([2]);
  });

  it('LAB-9 forgets a peer CUT_OFF_FORGET_MS after it left, as a class view stops counting one', () => {
    const { peers, states } = watching();
    update(peers, states, 2, state(2, { partitioned: true }), 900);
    remove(peers, states, 2, 1000);
    expect(peers.list(1000 + CUT_OFF_FORGET_MS - 1)).toHaveLength(1);
    expect(peers.list(1000 + CUT_OFF_FORGET_MS)).toEqual([]);
  });

  it('LAB-9 stops reporting a peer when it is back, or when a new tab of its user appears (a reload)', () => {
    const { peers, states } = watching();
    for (const id of [1, 2]) update(peers, states, id, state(id, { partitioned: true }), 900);
    remove(peers, states, 1, 1000);
    remove(peers, states, 2, 1000);
    update(peers, states, 1, state(1), 2000); // the partition lifted: the same client is back
    expect(peers.list(2000).map((p) => p.id)).toEqual([2]);
    update(peers, states, 7, state(2), 3000); // user 2 reloaded: a new client id
    expect(peers.list(3000)).toEqual([]);
  });

  it('LAB-14 a tab opened beside one that left cut off does not clear its report; a reload of that tab does', () => {
    const inTab = (s: unknown, tab: string): unknown => {
      const o = s as { lab: object };
      return { ...o, lab: { ...o.lab, tab } };
    };
    const { peers, states } = watching();
    update(peers, states, 1, inTab(state(1, { partitioned: true }), 'aa'), 900);
    remove(peers, states, 1, 1000);
    update(peers, states, 7, inTab(state(1), 'bb'), 2000); // a second tab of user 1, the first still open
    expect(peers.list(2000).map((p) => [p.id, p.lab.tab])).toEqual([[1, 'aa']]);
    update(peers, states, 8, inTab(state(1), 'aa'), 3000); // the first tab reloaded
    expect(peers.list(3000)).toEqual([]);
  });

  it('LAB-9 a known client of the same user coming back (after this session reconnected) does not clear the report', () => {
    const states = new Map<number, unknown>([
      [SELF, state(100)],
      [1, state(1, { partitioned: true })],
      [3, state(1)], // user 1's second tab
    ]);
    const peers = new CutOffPeers(SELF);
    peers.seed(states);
    remove(peers, states, 1, 1000);
    // This session's own socket closed and reopened: the provider dropped and re-added the others.
    remove(peers, states, 3, 1500);
    update(peers, states, 3, state(1), 2000);
    expect(peers.list(2000).map((p) => p.id)).toEqual([1]);
  });

  it(`LAB-11 only the ${REPORTERS_PER_PEER} lowest-id witnesses report a peer; the next takes over when one leaves or is cut off`, () => {
    // This participant (100) and members 1, 2, 3 saw member 4 leave partitioned; member 5 was partitioned too.
    const states = new Map<number, unknown>([[SELF, state(100)]]);
    const peers = new CutOffPeers(SELF);
    peers.seed(states);
    for (const id of [1, 2, 3]) update(peers, states, id, state(id), 0);
    update(peers, states, 4, state(4, { partitioned: true }), 0);
    update(peers, states, 5, state(5, { dropPct: 100 }), 0);
    remove(peers, states, 4, 1000);
    // Members 1 and 2 report it: not every member.
    expect(peers.list(1000)).toEqual([]);
    // A member that came later (0, the lowest id) did not see it leave: it takes no reporter's place.
    update(peers, states, 0, state(0), 1100);
    remove(peers, states, 1, 1200);
    expect(peers.list(1200)).toEqual([]); // 2 and 3 report it now
    // A reporter cut off itself cannot reach a view: the next witness, this participant, reports it.
    update(peers, states, 2, state(2, { partitioned: true }), 1300);
    expect(peers.list(1300).map((p) => p.id)).toEqual([4]);
    // Its partition lifted, member 2 reports it again, and this participant no longer does.
    update(peers, states, 2, state(2), 1400);
    expect(peers.list(1400)).toEqual([]);
    remove(peers, states, 3, 1500);
    expect(peers.list(1500).map((p) => p.id)).toEqual([4]);
  });

  it('LAB-11 a member cut off when the peer left is no witness: it saw nothing, and takes no reporter slot', () => {
    const states = new Map<number, unknown>([[SELF, state(100)]]);
    const peers = new CutOffPeers(SELF);
    peers.seed(states);
    update(peers, states, 1, state(1, { partitioned: true }), 0);
    update(peers, states, 2, state(2, { dropPct: 100 }), 0);
    update(peers, states, 4, state(4, { partitioned: true }), 0);
    remove(peers, states, 4, 1000);
    // Members 1 and 2 were cut off: they reconnect later, but did not see 4 leave.
    update(peers, states, 1, state(1), 2000);
    update(peers, states, 2, state(2), 2000);
    expect(peers.list(2000).map((p) => p.id)).toEqual([4]);
  });

  it(`LAB-9 lists at most ${MAX_CUT_OFF_PEERS}, the latest to leave first, and never itself`, () => {
    const states = new Map<number, unknown>();
    const peers = new CutOffPeers(SELF);
    for (let id = 1; id <= MAX_CUT_OFF_PEERS + 4; id++) update(peers, states, id, state(id, { partitioned: true }), 0);
    update(peers, states, SELF, state(100, { partitioned: true }), 0);
    for (let id = 1; id <= MAX_CUT_OFF_PEERS + 4; id++) remove(peers, states, id, id * 10);
    remove(peers, states, SELF, 1000);
    const ids = peers.list(1000).map((p) => p.id);
    expect(ids).toHaveLength(MAX_CUT_OFF_PEERS);
    expect(ids[0]).toBe(MAX_CUT_OFF_PEERS + 4);
    expect(ids.at(-1)).toBe(5);
    expect(ids).not.toContain(SELF);
  });
});

it('LAB-9 a report stays within MAX_REPORT_BYTES whatever the peers published, so the reporter is never refused (AWR-1)', () => {
  const states = new Map<number, unknown>();
  const peers = new CutOffPeers(SELF);
  // Crafted peers: the longest names and summaries the parser lets through, in characters that
  // JSON text makes largest (a lone surrogate is 6 bytes there, '€' 3, '"' 2).
  for (const [i, ch] of ['\ud800', '€', '"', '\udfff'].entries()) {
    for (let k = 0; k < 8; k++) {
      const id = i * 8 + k + 1;
      const s = state(id, { partitioned: true }) as { user: { id: string; name: string }; lab: { svSummary: string } };
      s.user.name = ch.repeat(64);
      s.lab.svSummary = ch.repeat(500);
      update(peers, states, id, s, 0);
      remove(peers, states, id, id);
    }
  }
  const list = peers.list(100);
  expect(list.length).toBeGreaterThan(0);
  expect(new TextEncoder().encode(JSON.stringify(list)).byteLength).toBeLessThanOrEqual(MAX_REPORT_BYTES);
  const whole = { ...(state(SELF) as object), lab: { ...(state(SELF) as { lab: object }).lab, cutOffPeers: list } };
  expect(new TextEncoder().encode(JSON.stringify(whole)).byteLength).toBeLessThan(Limits.maxAwarenessStateBytes / 2);
});

describe('LAB-UI-8: reading reports (untrusted awareness)', () => {
  const reporterState = (cutOffPeers: unknown, at = 5000): Record<string, unknown> => {
    const s = state(9) as { lab: Record<string, unknown> };
    return { ...s, lab: { ...s.lab, at, cutOffPeers } };
  };
  const entry = (id: number, left: number): unknown => {
    const s = state(id, { partitioned: true }) as { user: unknown; lab: unknown };
    return { id, user: s.user, lab: s.lab, left };
  };
  const read = (raw: Record<string, unknown>, clientId = 9): ReturnType<typeof parseCutOffReports> =>
    parseCutOffReports(raw, parseLabPresence(clientId, raw)!);

  it('reads each valid entry with how long the peer had been away when the report was published (reporter clock)', () => {
    const reports = read(reporterState([entry(1, 2000), entry(2, 6000)]));
    expect(reports.map((r) => [r.state.clientId, r.state.name, r.state.faults.partitioned, r.awayMs])).toEqual([
      [1, 'Student 1', true, 3000],
      [2, 'Student 2', true, 0], // a `left` after the reporter's `at` is no time at all
    ]);
  });

  it('skips malformed entries and the reporter itself, and reads no field (an older client) as none', () => {
    const bad = [
      null,
      'x',
      { ...(entry(3, 1) as object), left: 'soon' },
      { ...(entry(4, 1) as object), id: -4 },
      { ...(entry(5, 1) as object), lab: { hash: '<b>' } },
      { ...(entry(6, 1) as object), user: { id: 'short', name: 'x' } },
      entry(9, 1),
    ];
    expect(read(reporterState([...bad, entry(1, 1)])).map((r) => r.state.clientId)).toEqual([1]);
    expect(read(reporterState('junk'))).toEqual([]);
    expect(read(state(9) as Record<string, unknown>)).toEqual([]);
  });

  it(`reads at most ${MAX_CUT_OFF_PEERS} entries of one report`, () => {
    const many = Array.from({ length: 40 }, (_, i) => entry(i + 10, 1));
    expect(read(reporterState(many))).toHaveLength(MAX_CUT_OFF_PEERS);
  });
});
