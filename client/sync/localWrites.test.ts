import { describe, expect, it } from 'vitest';
import { LocalWrites } from './localWrites.js';

/** A doc's clocks as the session reads them when it issues a write. */
const clocks =
  (m: Record<number, number>) =>
  (client: number): number =>
    m[client] ?? 0;

describe('STATE-4: LocalWrites', () => {
  it('holds what a successful write captured, and only below the captured clock', () => {
    const w = new LocalWrites();
    w.track(7);
    const settle = w.issue(clocks({ 7: 3 }), false);
    expect(w.holds({ client: 7, clock: 0 })).toBe(false);
    expect(settle(true)).toBe(true);
    expect(w.holds({ client: 7, clock: 2 })).toBe(true);
    expect(w.holds({ client: 7, clock: 3 })).toBe(false);
  });

  it('takes outcomes in the order the writes were issued, whatever order they arrive in', () => {
    const w = new LocalWrites();
    w.track(1);
    const first = w.issue(clocks({ 1: 1 }), false);
    const second = w.issue(clocks({ 1: 2 }), false);
    expect(second(true)).toBe(false); // the first is still in flight: nothing proven yet
    expect(w.holds({ client: 1, clock: 0 })).toBe(false);
    expect(first(true)).toBe(true);
    expect(w.holds({ client: 1, clock: 1 })).toBe(true);
  });

  it('after a failed write, later appends prove nothing until a full write succeeds', () => {
    const w = new LocalWrites();
    w.track(1);
    w.issue(clocks({ 1: 1 }), false)(false);
    expect(w.issue(clocks({ 1: 2 }), false)(true)).toBe(false);
    expect(w.holds({ client: 1, clock: 0 })).toBe(false);
    expect(w.issue(clocks({ 1: 2 }), true)(true)).toBe(true);
    expect(w.holds({ client: 1, clock: 1 })).toBe(true);
    // Working again: an append after the full write counts.
    expect(w.issue(clocks({ 1: 3 }), false)(true)).toBe(true);
    expect(w.holds({ client: 1, clock: 2 })).toBe(true);
  });

  it('a failed full write leaves it broken', () => {
    const w = new LocalWrites();
    w.track(1);
    w.issue(clocks({ 1: 1 }), false)(false);
    w.issue(clocks({ 1: 1 }), true)(false);
    expect(w.issue(clocks({ 1: 2 }), false)(true)).toBe(false);
    expect(w.holds({ client: 1, clock: 0 })).toBe(false);
  });

  it('every client id the session made edits with counts (yjs can change it); others are held', () => {
    const w = new LocalWrites();
    w.track(1);
    w.track(2);
    w.issue(clocks({ 1: 4, 2: 1 }), false)(true);
    expect(w.holds({ client: 1, clock: 3 })).toBe(true);
    expect(w.holds({ client: 2, clock: 0 })).toBe(true);
    expect(w.holds({ client: 2, clock: 1 })).toBe(false);
    // Not made here (loaded from the store, another tab), or no struct at all.
    expect(w.holds({ client: 99, clock: 1e6 })).toBe(true);
    expect(w.holds(null)).toBe(true);
  });

  it('REBUILD-1: after a reset, writes of the old doc still in flight count for nothing, and nothing is tracked', () => {
    const w = new LocalWrites();
    w.track(1);
    const old = w.issue(clocks({ 1: 5 }), false);
    w.reset();
    expect(old(true)).toBe(false);
    expect(w.holds({ client: 1, clock: 4 })).toBe(true); // untracked: the rebuilt doc came from the store
    w.track(2);
    expect(w.holds({ client: 2, clock: 0 })).toBe(false);
  });
});
