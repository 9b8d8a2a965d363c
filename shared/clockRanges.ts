/**
 * Per-client sets of clock ranges: which structs (or deletions) of each Yjs client a replica
 * holds, including gaps. The relay keeps one for the structs it accepted, one for those on
 * disk, and derives from them its state vector and its acks.
 *
 * Invariant: each client's ranges are sorted, disjoint and non-adjacent (adjacent ones merge).
 * `contiguous(client)` is the end of the range that starts at clock 0 — the only clock a state
 * vector may claim (SV-1: never over-claim past a gap).
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
    if (this.covers(client, clock, length)) return false;
    // General case: merge into the sorted list.
    const out: number[] = [];
    let s = clock;
    let e = end;
    let placed = false;
    for (let i = 0; i < list.length; i += 2) {
      const a = list[i]!;
      const b = list[i + 1]!;
      if (b < s) out.push(a, b);
      else if (a > e) {
        if (!placed) {
          out.push(s, e);
          placed = true;
        }
        out.push(a, b);
      } else {
        s = Math.min(s, a);
        e = Math.max(e, b);
      }
    }
    if (!placed) out.push(s, e);
    this.byClient.set(client, out);
    return true;
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
