/** Percentiles, medians and Markdown tables for the benchmark report. */

/** The p-quantile (0..1) of `values` by the nearest-rank method; NaN when empty. */
export const percentile = (sorted: Float64Array | readonly number[], p: number): number => {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i]!;
};

export const sortedCopy = (values: readonly number[]): Float64Array => Float64Array.from(values).sort();

export const median = (values: readonly number[]): number => percentile(sortedCopy(values), 0.5);

/** A growable list of samples (latencies in ms). */
export class Samples {
  private data = new Float64Array(1024);
  private n = 0;
  push(v: number): void {
    if (this.n === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = v;
  }
  get count(): number {
    return this.n;
  }
  summary(): { count: number; p50: number; p99: number; max: number } {
    const s = this.data.slice(0, this.n).sort();
    return { count: this.n, p50: percentile(s, 0.5), p99: percentile(s, 0.99), max: percentile(s, 1) };
  }
}

/** Fixed-point formatting that shows '–' for missing values. */
export const fmt = (v: number | null | undefined, digits = 1): string =>
  v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits);

export const fmtInt = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '–' : Math.round(v).toLocaleString('en-US');

export const fmtBytes = (v: number): string =>
  v >= 1024 * 1024 ? `${(v / 1024 / 1024).toFixed(2)} MiB` : v >= 1024 ? `${(v / 1024).toFixed(1)} KiB` : `${v} B`;

/** A ratio converge / reference, e.g. "0.42×". */
export const ratio = (converge: number, reference: number): string =>
  Number.isFinite(converge) && Number.isFinite(reference) && reference > 0
    ? `${(converge / reference).toFixed(2)}×`
    : '–';

/** A GitHub-flavoured Markdown table. */
export const table = (headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(headers), sep, ...rows.map(line)].join('\n');
};
