import { describe, expect, it } from 'vitest';
import { Prng, seedFromEnv } from '../../shared/testing/prng.js';
import { shortClientId, summariseStateVector } from '../sync/labHooks.js';
import { MAX_SV_SUMMARY } from './labPresence.js';
import { parseSvSummary, sameSvRow, svMatrix, type SvSummaryInput } from './svMatrix.js';

/** A participant whose own client id (1, 2, ...) owns no column of these tests unless given. */
let nextId = 1;
const counted = (svSummary: string, more: Partial<SvSummaryInput> = {}): SvSummaryInput => ({
  svSummary,
  counted: true,
  clientId: nextId++,
  name: 'P',
  ...more,
});

describe('LAB-UI-7: the class view aligns the published state-vector summaries in columns', () => {
  it('reads what the publisher writes: top clocks by client, and whether entries were left out', () => {
    const sv = new Map([
      [0x1234abcd, 12],
      [0x0000_0007, 3],
    ]);
    expect(parseSvSummary(summariseStateVector(sv))).toEqual({
      clocks: new Map([
        ['abcd', 12],
        ['0007', 3],
      ]),
      complete: true,
      bound: null,
    });
    const big = new Map(Array.from({ length: 9 }, (_, i) => [0x1000 + i, 100 - i] as const));
    const parsed = parseSvSummary(summariseStateVector(big));
    expect(parsed.clocks.size).toBe(6);
    expect(parsed.complete).toBe(false);
  });

  it('puts the same client in the same column whatever its place in each summary', () => {
    const m = svMatrix([counted('aaaa:9 bbbb:4'), counted('bbbb:7 aaaa:2'), counted('aaaa:9 bbbb:7')]);
    expect(m.columns).toEqual([
      { client: 'aaaa', max: 9, owners: [] },
      { client: 'bbbb', max: 7, owners: [] },
    ]);
    expect(m.rows).toEqual([
      [
        { clock: 9, behind: 0, exact: true },
        { clock: 4, behind: 3, exact: true },
      ],
      [
        { clock: 2, behind: 7, exact: true },
        { clock: 7, behind: 0, exact: true },
      ],
      [
        { clock: 9, behind: 0, exact: true },
        { clock: 7, behind: 0, exact: true },
      ],
    ]);
    expect(m.hidden).toBe(0);
  });

  it('a client left out of a complete summary is 0, left out of a summary with "+n" it is unknown', () => {
    const m = svMatrix([counted('aaaa:5 cccc:1'), counted('aaaa:5'), counted('aaaa:5 +2'), counted('')]);
    expect(m.rows.map((r) => r[1])).toEqual([
      { clock: 1, behind: 0, exact: true },
      { clock: 0, behind: 1, exact: true },
      null,
      { clock: 0, behind: 1, exact: true },
    ]);
  });

  it('a client left out of a summary with "+n" has at most its smallest clock: behind by at least the rest', () => {
    // A named its 6 largest; P did not name aaaa, so P holds at most 10 of its 100.
    const a = 'aaaa:100 bbbb:50 cccc:40 dddd:30 eeee:25 ffff:20 +1';
    const p = 'bbbb:50 cccc:40 dddd:30 eeee:25 ffff:20 1111:10 +1';
    expect(parseSvSummary(p).bound).toBe(10);
    const m = svMatrix([counted(a), counted(p)]);
    expect(m.columns[0]).toEqual({ client: 'aaaa', max: 100, owners: [] });
    expect(m.rows[1]![0]).toEqual({ clock: 10, behind: 90, exact: false });
    // 1111 (max 10) left out of A's summary, whose smallest is 20: it may hold all of it.
    const at1111 = m.columns.findIndex((c) => c.client === '1111');
    expect(m.rows[0]![at1111]).toBeNull();
    // A token not ours to read leaves the bound open.
    expect(parseSvSummary('bbbb:50 1111:10 what? +1').bound).toBeNull();
  });

  it('drops the last token of a summary cut at its limit (it may be cut short)', () => {
    const full = Array.from({ length: 20 }, (_, i) => `${(0x1000 + i).toString(16)}:123456789`).join(' ');
    const cut = full.slice(0, MAX_SV_SUMMARY);
    const parsed = parseSvSummary(cut);
    expect([...parsed.clocks.values()].every((k) => k === 123456789)).toBe(true);
    expect(parsed.complete).toBe(false);
    expect(parsed.bound).toBe(123456789);
  });

  it('orders columns by the largest clock, then id, and counts the clients beyond the cap', () => {
    const m = svMatrix([counted('0003:5 0001:5 0002:9'), counted('0004:1 0005:2')], 3);
    expect(m.columns.map((c) => c.client)).toEqual(['0002', '0001', '0003']);
    expect(m.hidden).toBe(2);
    expect(m.rows[1]).toEqual([
      { clock: 0, behind: 9, exact: true },
      { clock: 0, behind: 5, exact: true },
      { clock: 0, behind: 5, exact: true },
    ]);
  });

  it('only counted participants make columns and maxima; the others are still aligned', () => {
    const m = svMatrix([counted('aaaa:3'), counted('aaaa:8 dddd:4', { counted: false })]);
    expect(m.columns).toEqual([{ client: 'aaaa', max: 3, owners: [] }]);
    expect(m.rows[1]).toEqual([{ clock: 8, behind: 0, exact: true }]);
  });

  it('ignores tokens that do not parse, and no longer treats what is left out as 0 (LAB-UI-2)', () => {
    const junk =
      '<b>aaaa:1</b> AAAA:2 aaaa:-1 aaaa:1.5 aaaa:99999999999999999 aaaa:9999999999999999 abc:1 bbbb:2 bbbb:6 :: +';
    expect(parseSvSummary(junk)).toEqual({ clocks: new Map([['bbbb', 6]]), complete: false, bound: null });
    // A summary cut at its limit may have lost entries.
    const cut = Array.from({ length: 40 }, (_, i) => `${String(1000 + i)}:1`)
      .join(' ')
      .slice(0, MAX_SV_SUMMARY);
    expect(parseSvSummary(cut).complete).toBe(false);
  });

  it('never throws on random summaries, and every cell is a clock at most its column max away (seeded)', () => {
    const seed = seedFromEnv();
    const rng = new Prng(seed);
    const alphabet = ['a', 'f', '0', '9', ':', ' ', '+', '-', '\u00a0', 'é', '<'];
    const token = (): string =>
      rng.bool(0.5)
        ? `${rng.pick(['aaaa', 'bbbb', 'cccc', '0001'])}:${rng.int(0, 50)}`
        : Array.from({ length: rng.int(0, 8) }, () => rng.pick(alphabet)).join('');
    for (let i = 0; i < 500; i++) {
      const ps = Array.from({ length: rng.int(0, 5) }, () =>
        counted(Array.from({ length: rng.int(0, 8) }, token).join(rng.pick([' ', '  '])), {
          counted: rng.bool(0.8),
          clientId: rng.pick([0xaaaa, 0xbbbb, 0x10001]),
        }),
      );
      const m = svMatrix(ps, 3);
      expect(m.rows.length, `seed ${seed}`).toBe(ps.length);
      m.rows.forEach((row, r) => {
        expect(row.length, `seed ${seed}`).toBe(m.columns.length);
        row.forEach((cell, c) => {
          if (cell === null) return;
          if (ps[r]!.counted) expect(cell.clock + cell.behind, `seed ${seed}`).toBe(m.columns[c]!.max);
        });
      });
    }
  });

  it('sameSvRow compares cells by value', () => {
    const a = svMatrix([counted('aaaa:3 +1'), counted('bbbb:1 aaaa:2')]);
    const b = svMatrix([counted('aaaa:3 +1'), counted('bbbb:1 aaaa:2')]);
    expect(sameSvRow(a.rows[0]!, b.rows[0]!)).toBe(true);
    expect(sameSvRow(a.rows[1]!, b.rows[1]!)).toBe(true);
    expect(sameSvRow(a.rows[0]!, a.rows[1]!)).toBe(false);
    const c = svMatrix([counted('aaaa:4'), counted('bbbb:1 aaaa:2')]);
    expect(sameSvRow(a.rows[1]!, c.rows[1]!)).toBe(false);
  });

  it('a column names the participants writing with that client (their awareness id is their Yjs client id); a gone tab owns none', () => {
    const alice = 0x1234abcd;
    const bob = 0x0000_0007;
    const summary = summariseStateVector(
      new Map([
        [alice, 12],
        [bob, 3],
        [0x0999_5555, 1], // a tab that has gone
      ]),
    );
    const m = svMatrix([
      counted(summary, { clientId: alice, name: 'Alice' }),
      counted(summary, { clientId: bob, name: 'Bob', counted: false }),
    ]);
    expect(m.columns.map((c) => [c.client, c.owners])).toEqual([
      [shortClientId(alice), ['Alice']],
      [shortClientId(bob), ['Bob']],
      ['5555', []],
    ]);
    // Ids that end alike share a column, and it names both.
    const twins = svMatrix([
      counted('abcd:2', { clientId: 0x1111abcd, name: 'Ann' }),
      counted('abcd:2', { clientId: 0x2222abcd, name: 'Ben' }),
    ]);
    expect(twins.columns[0]!.owners).toEqual(['Ann', 'Ben']);
  });
});
