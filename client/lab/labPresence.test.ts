import { describe, expect, it } from 'vitest';
import { NO_FAULTS } from '../../shared/lab/faults.js';
import { Prng, seedFromEnv } from '../../shared/testing/prng.js';
import { MAX_SV_SUMMARY, parseLabPresence, sameLabPresence } from './labPresence.js';

const USER = { id: '0123456789abcdefghijklmnop', name: 'Ada' };
const LAB = {
  faults: { partitioned: true, skewMs: 300_000 },
  svSummary: '12:4 77:9',
  svTotal: 13,
  hash: '0badf00d',
  pending: 2,
  at: 1,
};

describe('LAB-UI-2: parseLabPresence reads the untrusted `lab` awareness field', () => {
  it('reads a valid state, filling omitted fault fields from NO_FAULTS', () => {
    const p = parseLabPresence(42, { user: USER, typing: false, sv: [], lab: LAB });
    expect(p).toEqual({
      clientId: 42,
      userId: USER.id,
      name: 'Ada',
      faults: { ...NO_FAULTS, partitioned: true, skewMs: 300_000 },
      svSummary: '12:4 77:9',
      svTotal: 13,
      hash: '0badf00d',
      pending: 2,
      at: 1,
      tab: null,
    });
    expect(parseLabPresence(42, { user: USER, lab: { ...LAB, tab: '0a1b' } })?.tab).toBe('0a1b');
  });

  it('ignores states that are not lab participants or have a malformed field', () => {
    const bad: unknown[] = [
      null,
      'lab',
      { lab: LAB }, // no user
      { user: { id: 'not-an-id', name: 'x' }, lab: LAB },
      { user: USER }, // no lab (e.g. an old client, or the class view)
      { user: USER, lab: [] },
      { user: USER, lab: { ...LAB, faults: { dropPct: 101 } } },
      { user: USER, lab: { ...LAB, faults: { bogus: 1 } } },
      { user: USER, lab: { ...LAB, faults: undefined } },
      { user: USER, lab: { ...LAB, hash: 'XYZ' } },
      { user: USER, lab: { ...LAB, hash: '<img src=x>' } },
      { user: USER, lab: { ...LAB, hash: '0'.repeat(17) } },
      { user: USER, lab: { ...LAB, svTotal: -1 } },
      { user: USER, lab: { ...LAB, svTotal: 1.5 } },
      { user: USER, lab: { ...LAB, pending: '2' } },
      { user: USER, lab: { ...LAB, at: Number.NaN } },
      { user: USER, lab: { ...LAB, svSummary: 5 } },
      { user: USER, lab: { ...LAB, tab: 7 } },
      { user: USER, lab: { ...LAB, tab: 'f'.repeat(33) } },
    ];
    for (const s of bad) expect(parseLabPresence(1, s), JSON.stringify(s)).toBeNull();
    expect(parseLabPresence(-1, { user: USER, lab: LAB })).toBeNull();
  });

  it('cuts a long summary and replaces control characters (the text is shown as text, never as HTML)', () => {
    const p = parseLabPresence(1, { user: USER, lab: { ...LAB, svSummary: 'a\u0000b\nc' + 'x'.repeat(500) } });
    expect(p?.svSummary.length).toBe(MAX_SV_SUMMARY);
    expect(p?.svSummary.startsWith('a b c')).toBe(true);
  });

  it('never throws on random junk (seeded)', () => {
    const seed = seedFromEnv();
    const rng = new Prng(seed);
    const junk = (depth: number): unknown => {
      switch (rng.int(0, 7)) {
        case 0:
          return null;
        case 1:
          return rng.int(-5, 5) * (rng.bool() ? 1 : 0.5);
        case 2:
          return rng.pick(['', 'x', '0badf00d', USER.id]);
        case 3:
          return rng.bool();
        case 4:
          return depth > 3 ? [] : Array.from({ length: rng.int(0, 3) }, () => junk(depth + 1));
        default: {
          if (depth > 3) return {};
          const o: Record<string, unknown> = {};
          for (const k of ['user', 'lab', 'faults', 'hash', 'svTotal', 'pending', 'at', 'svSummary', 'id', 'name']) {
            if (rng.bool(0.4)) o[k] = junk(depth + 1);
          }
          return o;
        }
      }
    };
    for (let i = 0; i < 2000; i++) {
      const s = rng.bool(0.3) ? { user: USER, lab: { ...LAB, ...(junk(1) as object) } } : junk(0);
      expect(() => parseLabPresence(rng.int(-1, 9), s), `seed ${seed}`).not.toThrow();
    }
  });

  it('sameLabPresence ignores only the publication time', () => {
    const a = parseLabPresence(1, { user: USER, lab: LAB })!;
    expect(sameLabPresence(a, parseLabPresence(1, { user: USER, lab: { ...LAB, at: 99 } })!)).toBe(true);
    expect(sameLabPresence(a, parseLabPresence(1, { user: USER, lab: { ...LAB, hash: '1' } })!)).toBe(false);
    const healed = { ...LAB, faults: { skewMs: 300_000 } };
    expect(sameLabPresence(a, parseLabPresence(1, { user: USER, lab: healed })!)).toBe(false);
  });
});
