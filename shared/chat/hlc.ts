/**
 * Hybrid logical clock (Kulkarni et al. 2014) for message timestamps.
 *
 * A timestamp is (wall ms, counter, node). `tick()` for a local event and `observe()` for a
 * remote timestamp keep HLC-1: a timestamp issued after observing t is greater than t — so a
 * reply always sorts after what it answers, whatever the wall clocks say — and HLC-2: the wall
 * part never lags the local physical clock.
 *
 * HLC-3 (drift bound, "not trusted blindly"): a remote timestamp more than `maxDriftMs` ahead of
 * the local physical clock is not merged into this clock, so one fast clock cannot drag every
 * replica into the future; `observe` reports it so the UI can flag the sender.
 *
 * Encoded as a fixed-width string whose lexicographic order is the HLC order.
 */
export interface Hlc {
  readonly wall: number;
  readonly counter: number;
  readonly node: string;
}

export const MAX_DRIFT_MS = 60_000;

/**
 * HLC-4: a message is flagged "clock ahead" only beyond this. NTP keeps clocks within tens of
 * milliseconds of each other, and a message arrives later than it was stamped, so an HLC a few
 * hundred ms ahead is ordinary drift, not a clock to warn about; a second is not.
 */
export const CLOCK_AHEAD_TOLERANCE_MS = 1000;

const WALL_DIGITS = 15;
const COUNTER_DIGITS = 6;

export const encodeHlc = (t: Hlc): string =>
  `${String(t.wall).padStart(WALL_DIGITS, '0')}.${String(t.counter).padStart(COUNTER_DIGITS, '0')}.${t.node}`;

const HLC_PATTERN = /^(\d{15})\.(\d{6})\.([A-Za-z0-9_-]{1,64})$/;

/** Parses an encoded HLC; null when malformed (data from other replicas is untrusted). */
export const decodeHlc = (s: unknown): Hlc | null => {
  if (typeof s !== 'string') return null;
  const m = HLC_PATTERN.exec(s);
  if (!m) return null;
  return { wall: Number(m[1]), counter: Number(m[2]), node: m[3]! };
};

export const compareHlc = (a: Hlc, b: Hlc): number =>
  a.wall - b.wall || a.counter - b.counter || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0);

export class HybridClock {
  private wall = 0;
  private counter = 0;

  constructor(
    readonly node: string,
    /** The physical clock (the lab's clock skew is applied here). */
    private readonly physicalNow: () => number,
    private readonly maxDriftMs = MAX_DRIFT_MS,
  ) {}

  /** A timestamp for a local event (HLC-1, HLC-2). */
  tick(): Hlc {
    const pt = Math.floor(this.physicalNow());
    if (pt > this.wall) {
      this.wall = pt;
      this.counter = 0;
    } else this.counter++;
    return { wall: this.wall, counter: this.counter, node: this.node };
  }

  /**
   * Merges a remote timestamp (HLC-1) unless it is too far ahead (HLC-3). Returns how far ahead
   * of the local physical clock it was, in ms (0 when not ahead).
   */
  observe(remote: Hlc): { aheadMs: number; merged: boolean } {
    const pt = Math.floor(this.physicalNow());
    const aheadMs = Math.max(0, remote.wall - pt);
    if (aheadMs > this.maxDriftMs) return { aheadMs, merged: false };
    if (remote.wall > this.wall) {
      this.wall = remote.wall;
      this.counter = remote.counter;
    } else if (remote.wall === this.wall && remote.counter > this.counter) this.counter = remote.counter;
    return { aheadMs, merged: true };
  }

  /** The latest timestamp issued or merged. */
  peek(): Hlc {
    return { wall: this.wall, counter: this.counter, node: this.node };
  }
}
