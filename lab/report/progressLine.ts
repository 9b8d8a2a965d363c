/**
 * The runner's one-line progress display while an experiment runs (written with '\r', so no
 * newline and at most `width` characters). Example:
 * `[ 12.0/60.0 s ██░░░░░░░░░░  20%] 28/30 online · 120 sent · 3400 delivered · 2 states · partition c0,c1`
 * The step label comes last, so a narrow terminal cuts it rather than the counts.
 */
import { terminalText } from './terminalText.js';

export interface Progress {
  readonly elapsedMs: number;
  /** The scenario's planned duration; 0 when unknown. */
  readonly totalMs: number;
  /** The current scenario step's label, if any. */
  readonly step: string | null;
  readonly clients: number;
  readonly online: number;
  readonly sent: number;
  readonly delivered: number;
  /** Distinct content hashes among online clients at the last sample (1 = converged); null before the first. */
  readonly distinctStates: number | null;
}

const BAR = 12;

export const formatProgress = (p: Progress, width = 120): string => {
  const frac = p.totalMs > 0 ? Math.min(1, Math.max(0, p.elapsedMs / p.totalMs)) : 0;
  const filled = Math.round(frac * BAR);
  const secs = (ms: number): string => (Math.max(0, ms) / 1000).toFixed(1);
  const head =
    p.totalMs > 0
      ? `[${secs(p.elapsedMs).padStart(5)}/${secs(p.totalMs)} s ${'█'.repeat(filled)}${'░'.repeat(BAR - filled)} ${String(Math.round(frac * 100)).padStart(3)}%]`
      : `[${secs(p.elapsedMs).padStart(5)} s]`;
  const states =
    p.distinctStates === null ? '' : p.distinctStates <= 1 ? ' · converged' : ` · ${p.distinctStates} states`;
  const line = `${head} ${p.online}/${p.clients} online · ${p.sent} sent · ${p.delivered} delivered${states}${p.step ? ` · ${terminalText(p.step)}` : ''}`;
  const chars = [...line];
  return chars.length <= width ? line : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
};
