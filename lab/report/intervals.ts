/**
 * When each client was partitioned or crashed, and when the relay was down, as intervals over the
 * run (for shading the report's charts). An interval still open at the end closes at `end`.
 */
import type { History } from '../history.js';

export interface Interval {
  readonly from: number;
  readonly to: number;
}

export interface RunIntervals {
  /** The run's end: the final read, else the last event (0 for an empty history). */
  readonly end: number;
  readonly partitioned: ReadonlyMap<string, readonly Interval[]>;
  readonly crashed: ReadonlyMap<string, readonly Interval[]>;
  readonly relayDown: readonly Interval[];
}

export const runEnd = (h: History): number => Math.max(h.final?.t ?? 0, h.events.at(-1)?.t ?? 0);

/** Tracks open intervals per key. */
class Opener {
  readonly open = new Map<string, number>();
  readonly done = new Map<string, Interval[]>();
  start(key: string, t: number): void {
    if (!this.open.has(key)) this.open.set(key, t);
  }
  stop(key: string, t: number): void {
    const from = this.open.get(key);
    if (from === undefined) return;
    this.open.delete(key);
    const list = this.done.get(key) ?? [];
    list.push({ from, to: t });
    this.done.set(key, list);
  }
  close(end: number): Map<string, Interval[]> {
    for (const k of [...this.open.keys()]) this.stop(k, end);
    return this.done;
  }
}

const RELAY = 'relay';

export const runIntervals = (h: History): RunIntervals => {
  const end = runEnd(h);
  const part = new Opener();
  const crash = new Opener();
  const relay = new Opener();
  for (const e of h.events) {
    if (e.kind === 'partition') for (const c of e.clients) part.start(c, e.t);
    else if (e.kind === 'heal') for (const c of e.clients) part.stop(c, e.t);
    else if (e.kind === 'faults') {
      if (e.config.partitioned) part.start(e.client, e.t);
      else part.stop(e.client, e.t);
    } else if (e.kind === 'client-crash') crash.start(e.client, e.t);
    else if (e.kind === 'client-restart') crash.stop(e.client, e.t);
    else if (e.kind === 'relay-crash') relay.start(RELAY, e.t);
    else if (e.kind === 'relay-restart') relay.stop(RELAY, e.t);
  }
  return {
    end,
    partitioned: part.close(end),
    crashed: crash.close(end),
    relayDown: relay.close(end).get(RELAY) ?? [],
  };
};
