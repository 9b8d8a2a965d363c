/**
 * Log lines an untrusted party can cause at will (a refused upgrade costs the sender one request;
 * a close, one reconnect) are throttled per key: at most `limit` lines per `windowMs`; the first
 * line after that says how many were left out (`suppressed`). The counts stay in the metrics
 * either way. Memory: one entry per key, and the keys are a closed set (events and their reasons).
 */
export class LogThrottle {
  private readonly windows = new Map<string, { start: number; lines: number; suppressed: number }>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** null: leave this line out; else log it, with `suppressed` lines left out before it (0: none). */
  allow(key: string): { suppressed: number } | null {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      const suppressed = w?.suppressed ?? 0;
      w = { start: now, lines: 0, suppressed: 0 };
      this.windows.set(key, w);
      w.lines++;
      return { suppressed };
    }
    if (w.lines < this.limit) {
      w.lines++;
      return { suppressed: 0 };
    }
    w.suppressed++;
    return null;
  }
}
