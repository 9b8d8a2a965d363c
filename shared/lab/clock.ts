/**
 * LAB-3: a wall clock with an adjustable offset. The session reads time only through it, so a
 * skew applied in the lab moves the session's wall clock, its HLC's physical part and the
 * `wall` field of the messages it sends, exactly as a wrong system clock would.
 */
export class SkewableClock {
  /** Offset added to the base clock, ms (negative = behind). */
  skewMs = 0;

  constructor(readonly base: () => number = Date.now) {}

  now(): number {
    return this.base() + this.skewMs;
  }
}
