/**
 * Per-client sets of clock ranges: which structs (or deletions) of each Yjs client a replica
 * holds, including gaps. The relay keeps one for the structs it accepted, one for those on
 * disk, and derives from them its state vector and its acks.
 *
 * Invariant: each client's ranges are sorted, disjoint and non-adjacent (adjacent ones merge).
 * `contiguous(client)` is the end of the range that starts at clock 0 — the only clock a state
 * vector may claim (SYNC-3: never over-claim past a gap).
 */
export class ClockRanges {
  /** client → flat [start0, end0, start1, end1, …] (end exclusive). */
  private readonly byClient = new Map<number, number[]>();

  /** Adds [clock, clock + length). Returns true when something new was added. */
  add(client: number, clock: number, length: number): boolean {
    if (length <= 0) return false;
    const end = clock + length;
    const list = this.byClient.get(client);
    if (!list) {
      this.byClient.set(client, [clock, end]);
      return true;
    }
    // Fast path: appending at or after the last range (the common case for a live client).
    const lastEnd = list[list.length - 1]!;
    if (clock > lastEnd) {
      list.push(clock, end);
      return true;
    }
    if (clock === lastEnd || (clock >= list[list.length - 2]! && clock <= lastEnd)) {
      if (end <= lastEnd) return false;
      list[list.length - 1] = end;
      return true;
    }
    // General case: replace the held ranges that overlap or touch [clock, end) by their union,
    // found by binary search, in one splice (a loop over the whole list per range made a delete
    // set of 20,000 ranges below a held one cost 6 s of the relay's event loop).
    const first = this.firstEndingAtOrAfter(list, clock);
    const last = this.lastStartingAtOrBefore(list, end);
    if (first > last) {
      list.splice(first * 2, 0, clock, end);
      return true;
    }
    if (first === last && list[first * 2]! <= clock && list[first * 2 + 1]! >= end) return false;
    const s = Math.min(clock, list[first * 2]!);
    const e = Math.max(end, list[last * 2 + 1]!);
    list.splice(first * 2, (last - first + 1) * 2, s, e);
    return true;
  }

  /**
   * Adds ranges of one client in ascending clock order (as an update lists them): one merge pass
   * over what is held, O(held + added), instead of one splice per range (O(held × added) when they
   * all fall below a held range).
   */
  addAll(client: number, ranges: readonly { readonly clock: number; readonly length: number }[]): void {
    const list = this.byClient.get(client);
    const sorted = ranges.every((r, i) => i === 0 || r.clock >= ranges[i - 1]!.clock);
    // A few ranges, or all past what is held: splices and appends, without copying the list.
    if (!list || ranges.length < 8 || !sorted || ranges[0]!.clock > list[list.length - 1]!) {
      for (const r of ranges) this.add(client, r.clock, r.length);
      return;
    }
    const out: number[] = [];
    const push = (a: number, b: number): void => {
      if (b <= a) return;
      if (out.length > 0 && a <= out[out.length - 1]!) out[out.length - 1] = Math.max(out[out.length - 1]!, b);
      else out.push(a, b);
    };
    let i = 0;
    let j = 0;
    while (i < list.length || j < ranges.length) {
      if (j >= ranges.length || (i < list.length && list[i]! <= ranges[j]!.clock)) {
        push(list[i]!, list[i + 1]!);
        i += 2;
      } else {
        push(ranges[j]!.clock, ranges[j]!.clock + ranges[j]!.length);
        j++;
      }
    }
    this.byClient.set(client, out);
  }

  /** `addAll` for runs of several clients, each client's runs together and ascending (as in an update). */
  addRuns(runs: readonly { readonly client: number; readonly clock: number; readonly length: number }[]): void {
    let from = 0;
    for (let i = 1; i <= runs.length; i++) {
      if (i < runs.length && runs[i]!.client === runs[from]!.client) continue;
      this.addAll(runs[from]!.client, runs.slice(from, i));
      from = i;
    }
  }

  /** Index of the first range of `list` whose end is at or after `clock` (list.length / 2 if none). */
  private firstEndingAtOrAfter(list: readonly number[], clock: number): number {
    let lo = 0;
    let hi = list.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid * 2 + 1]! < clock) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the last range of `list` starting at or before `clock` (−1 if none). */
  private lastStartingAtOrBefore(list: readonly number[], clock: number): number {
    let lo = 0;
    let hi = list.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid * 2]! <= clock) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** True when every clock in [clock, clock + length) is held (always for an empty range). */
  covers(client: number, clock: number, length: number): boolean {
    if (length <= 0) return true;
    const list = this.byClient.get(client);
    if (!list) return false;
    const end = clock + length;
    // Binary search for the last range starting at or before `clock`.
    let lo = 0;
    let hi = list.length / 2 - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid * 2]! <= clock) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found >= 0 && list[found * 2 + 1]! >= end;
  }

  /**
   * True when some clock in [clock, clock + length) is held, past a gap too (DEDUPE-2: a held
   * clock is never taken again, whoever re-sends it).
   */
  overlaps(client: number, clock: number, length: number): boolean {
    const list = this.byClient.get(client);
    if (!list || length <= 0) return false;
    const i = this.firstEndingAtOrAfter(list, clock + 1);
    return i < list.length / 2 && list[i * 2]! < clock + length;
  }

  /**
   * DEDUPE-3: how many held ranges past a gap (every range but the one starting at clock 0, the
   * contiguous prefix) hold some clock in [clock, clock + length): the ranges `missing` walks, and
   * `withoutHeldV1` cuts around, for such a run. Two binary searches, O(log ranges), whatever the
   * count: it prices a cut before it is made.
   */
  heldPastPrefix(client: number, clock: number, length: number): number {
    const list = this.byClient.get(client);
    if (!list || length <= 0) return 0;
    // Ranges [first, last] are those ending after `clock` and starting before `clock + length`.
    const first = Math.max(this.firstEndingAtOrAfter(list, clock + 1), list[0] === 0 ? 1 : 0);
    const last = this.lastStartingAtOrBefore(list, clock + length - 1);
    return Math.max(0, last - first + 1);
  }

  /**
   * The parts of [clock, clock + length) that are not held, as sorted [start, end) pairs: the
   * whole range when nothing of it is held, none when all of it is.
   */
  missing(client: number, clock: number, length: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const end = clock + length;
    if (length <= 0) return out;
    let at = clock;
    const list = this.byClient.get(client);
    if (list) {
      for (let i = this.firstEndingAtOrAfter(list, clock + 1); i < list.length / 2 && list[i * 2]! < end; i++) {
        if (list[i * 2]! > at) out.push([at, list[i * 2]!]);
        at = Math.max(at, list[i * 2 + 1]!);
      }
    }
    if (at < end) out.push([at, end]);
    return out;
  }

  /** End of the range starting at 0 (0 when clock 0 is missing). */
  contiguous(client: number): number {
    const list = this.byClient.get(client);
    return list && list[0] === 0 ? list[1]! : 0;
  }

  /** The conservative state vector: every client with contiguous(client) > 0. */
  stateVector(): Map<number, number> {
    const sv = new Map<number, number>();
    for (const [client, list] of this.byClient) if (list[0] === 0) sv.set(client, list[1]!);
    return sv;
  }

  clients(): IterableIterator<number> {
    return this.byClient.keys();
  }

  /** The ranges of one client as [start, end) pairs (a copy). */
  ranges(client: number): Array<[number, number]> {
    const list = this.byClient.get(client) ?? [];
    const out: Array<[number, number]> = [];
    for (let i = 0; i < list.length; i += 2) out.push([list[i]!, list[i + 1]!]);
    return out;
  }
}
