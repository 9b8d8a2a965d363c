/**
 * FaultInjector on a real Transport: frames are pushed through the transport's hooks (the seam
 * the sockets use) and the timeline runs on fake timers. The wire behaviour (partition, skew,
 * resync against the real relay) is tested in client/sync/roomSession.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NO_FAULTS, validateFaultConfig } from '../../shared/lab/faults.js';
import { Prng } from '../../shared/testing/prng.js';
import { FaultInjector } from './faultInjector.js';
import { Transport } from './transport.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const setup = (faults: object, random: () => number = new Prng(1).next.bind(new Prng(1))) => {
  const transport = new Transport({ WebSocketImpl: undefined });
  const inj = new FaultInjector(transport, { random, now: () => Date.now() });
  inj.set(validateFaultConfig(faults));
  const got: { out: number[]; in: number[] } = { out: [], in: [] };
  const send = (n: number): void => transport.hooks.outgoing!(new Uint8Array([n]), (d) => got.out.push(d[0]!));
  const recv = (n: number): void => transport.hooks.incoming!(new Uint8Array([n]), (d) => got.in.push(d[0]!));
  return { transport, inj, got, send, recv };
};

describe('LAB-2 fault injection', () => {
  it('with no faults every frame passes at once, in order', () => {
    const { got, send, recv, inj } = setup({});
    for (let i = 0; i < 5; i++) send(i);
    recv(9);
    expect(got).toEqual({ out: [0, 1, 2, 3, 4], in: [9] });
    expect(inj.stats()).toEqual({ droppedIn: 0, droppedOut: 0, duplicated: 0, reordered: 0 });
  });

  it('LAB-1 partition drops everything and partitions the transport; a config without it heals', () => {
    const { got, send, recv, inj, transport } = setup({ partitioned: true });
    expect(transport.isPartitioned).toBe(true);
    send(1);
    recv(2);
    expect(got).toEqual({ out: [], in: [] });
    expect(inj.stats()).toMatchObject({ droppedIn: 1, droppedOut: 1 });
    inj.set(NO_FAULTS);
    expect(transport.isPartitioned).toBe(false);
    send(3);
    expect(got.out).toEqual([3]);
  });

  it('drops and duplicates about the configured share, and the same seed makes the same decisions', () => {
    const run = (seed: number): number[] => {
      const prng = new Prng(seed);
      const { got, send, inj } = setup({ dropPct: 20, duplicatePct: 10 }, () => prng.next());
      for (let i = 0; i < 2000; i++) send(i % 256);
      const s = inj.stats();
      expect(s.droppedOut).toBeGreaterThan(300);
      expect(s.droppedOut).toBeLessThan(500);
      expect(s.duplicated).toBeGreaterThan(100);
      expect(s.duplicated).toBeLessThan(220);
      expect(got.out.length).toBe(2000 - s.droppedOut + s.duplicated);
      return got.out;
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });

  it('reorder delivers a held frame right after the next one, or after the hold time', () => {
    const draws = [0.99, 0.99, 0.0, 0.99, 0.99, 0.99, 0.99, 0.0];
    const random = (): number => draws.shift() ?? 0.99;
    const { got, send, inj } = setup({ reorderPct: 50 }, random);
    send(1); // drop? no (0.99), dup? no (0.99), reorder? yes (0.0): held
    expect(got.out).toEqual([]);
    send(2); // drop? no, dup? no: goes (no reorder draw while one is held), then the held one
    expect(got.out).toEqual([2, 1]);
    send(3); // drop? no, dup? no, reorder? yes (0.0): held, nothing follows
    expect(got.out).toEqual([2, 1]);
    vi.advanceTimersByTime(199);
    expect(got.out).toEqual([2, 1]);
    vi.advanceTimersByTime(1);
    expect(got.out).toEqual([2, 1, 3]);
    expect(inj.stats().reordered).toBe(2);
  });

  it('latency delays each direction by fixed + jitter and keeps each direction in order', () => {
    const prng = new Prng(7);
    const { got, send, recv } = setup({ up: { fixedMs: 100, jitterMs: 400 }, down: { fixedMs: 50 } }, () =>
      prng.next(),
    );
    for (let i = 0; i < 20; i++) send(i);
    recv(1);
    vi.advanceTimersByTime(49);
    expect(got.in).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(got.in).toEqual([1]);
    vi.advanceTimersByTime(49);
    expect(got.out).toEqual([]);
    vi.advanceTimersByTime(500);
    expect(got.out).toEqual([...Array(20).keys()]);
  });

  it('LAB-7: what is sent `unfaulted` goes out at once, past drops, a reorder hold and latency, with no draw; incoming frames and later sends keep their faults', () => {
    let draws = 0;
    const { got, send, recv, inj } = setup(
      { dropPct: 50, reorderPct: 50, up: { fixedMs: 1000 }, down: { fixedMs: 1000 } },
      () => {
        draws++;
        return 0.6; // never dropped (60 ≥ 50), never duplicated, never held for reordering
      },
    );
    send(1); // queued behind the latency
    const before = draws;
    inj.unfaulted(() => {
      send(2);
      recv(3);
    });
    expect(got.out).toEqual([2]);
    expect(draws - before).toBe(3); // the incoming frame's drop, duplicate and reorder draws only
    send(4);
    expect(got).toEqual({ out: [2], in: [] });
    vi.advanceTimersByTime(1000);
    expect(got).toEqual({ out: [2, 1, 4], in: [3] });
    // With every frame dropped, still nothing else passes.
    inj.set(validateFaultConfig({ dropPct: 100 }));
    inj.unfaulted(() => send(5));
    send(6);
    expect(got.out).toEqual([2, 1, 4, 5]);
  });
});
