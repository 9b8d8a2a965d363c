/**
 * STATE-4: which of this session's own edits are in the local store yet.
 *
 * A message typed here is first only in memory (the Y.Doc); the append that puts it in the
 * store completes a moment later. Until then closing the page loses it, so the UI must not call
 * it 'pending' (kept on this device, sent when online): it is 'storing'.
 *
 * The session reports every Yjs client id it makes local transactions with (`track`; a session
 * has one per replica, and yjs picks a new one when a remote update reuses it) and every write it
 * issues (`issue`), with each tracked client's clock at that moment. Writes are taken in the order
 * they were issued, whatever order their outcomes arrive in, and a successful write proves the
 * clocks it captured only when nothing issued before it failed since the last full write:
 *
 * - an append holds one update; the appends before it hold the rest, so a run of successes
 *   from the session's start (the doc was loaded from the store) stores everything up to the
 *   clocks captured by the last of them;
 * - after a failure, later appends lack what the failed one held; only a full write (the whole
 *   doc, STORE-C1's heal) proves its clocks again.
 *
 * Invariant: `holds(id)` is true only when the struct `id` of a tracked client is in the store
 * (never over-claims). Ids of untracked clients are held: this session did not make them here
 * (they were loaded from the store, arrived from elsewhere, or survived a rebuild from the store).
 */
export class LocalWrites {
  private queue: Write[] = [];
  /** A write failed and no full write succeeded since. */
  private broken = false;
  private readonly tracked = new Set<number>();
  /** Per tracked client: its structs below this clock are stored. */
  private readonly stored = new Map<number, number>();

  /** This session made a local transaction as Yjs client `client`. */
  track(client: number): void {
    this.tracked.add(client);
  }

  /**
   * A write issued now: `full` when it holds the whole doc. `clockOf` gives a client's clock in
   * the doc now. Returns the callback to call with its outcome, which says whether what is
   * known to be stored grew.
   */
  issue(clockOf: (client: number) => number, full: boolean): (ok: boolean) => boolean {
    const clocks = new Map<number, number>();
    for (const client of this.tracked) clocks.set(client, clockOf(client));
    const write: Write = { clocks, full, outcome: null };
    this.queue.push(write);
    return (ok) => {
      write.outcome = ok ? 'ok' : 'failed';
      return this.drain();
    };
  }

  /** Whether struct `id` is in the store (see the invariant above); null ids have nothing to store. */
  holds(id: { readonly client: number; readonly clock: number } | null): boolean {
    if (id === null || !this.tracked.has(id.client)) return true;
    return (this.stored.get(id.client) ?? 0) > id.clock;
  }

  /**
   * LEAVE-1: whether a write failed and no full write succeeded since, and a tracked client's
   * clock in the doc (`clockOf`) passes both what is stored and `keptElsewhere` (the relay's
   * acks): structs that are only in memory, not because a write is still under way.
   */
  failedToKeep(clockOf: (client: number) => number, keptElsewhere: (client: number) => number): boolean {
    if (!this.broken && !this.queue.some((w) => w.outcome === 'failed')) return false;
    for (const client of this.tracked) {
      const clock = clockOf(client);
      if (clock > (this.stored.get(client) ?? 0) && clock > keptElsewhere(client)) return true;
    }
    return false;
  }

  /**
   * REBUILD-1: the doc was rebuilt from the store, so everything it shows is stored. Writes
   * still in flight from the old doc no longer count.
   */
  reset(): void {
    this.queue = [];
    this.broken = false;
    this.tracked.clear();
    this.stored.clear();
  }

  private drain(): boolean {
    let grew = false;
    while (this.queue.length > 0 && this.queue[0]!.outcome !== null) {
      const write = this.queue.shift()!;
      if (write.outcome === 'failed') {
        this.broken = true;
        continue;
      }
      if (this.broken && !write.full) continue;
      this.broken = false;
      for (const [client, clock] of write.clocks) {
        if (clock > (this.stored.get(client) ?? 0)) {
          this.stored.set(client, clock);
          grew = true;
        }
      }
    }
    return grew;
  }
}

interface Write {
  readonly clocks: ReadonlyMap<number, number>;
  readonly full: boolean;
  outcome: 'ok' | 'failed' | null;
}
