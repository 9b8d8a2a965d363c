/**
 * Polls `cond` every `interval` ms until it holds; rejects after `timeout` ms naming what was
 * awaited. Tests synchronise on conditions, never on fixed sleeps.
 */
export const waitFor = async (
  cond: () => boolean | Promise<boolean>,
  opts: string | { timeout?: number; interval?: number; message?: string } = {},
  timeoutMs?: number,
): Promise<void> => {
  const o = typeof opts === 'string' ? { message: opts, timeout: timeoutMs } : opts;
  const timeout = o.timeout ?? 10_000;
  const interval = o.interval ?? 20;
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline)
      throw new Error(`waitFor timed out after ${timeout} ms: ${o.message ?? cond.toString()}`);
    await new Promise((r) => setTimeout(r, interval));
  }
};

/**
 * Lets `ms` pass. Only for asserting that something does NOT happen within a window (no retry, no
 * message) — the behaviour under test is time passing. Never for waiting until something happens:
 * use waitFor.
 */
export const observeFor = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
