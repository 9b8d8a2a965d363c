/**
 * The runner's one-line progress display while an experiment runs (written with '\r', so no
 * newline and at most `width` characters). Example:
 * `[ 12.0/60.0 s ██░░░░░░░░░░  20%] 28/30 online · 120 sent · 3400 delivered · unknown: 2 unreachable · partition c0,c1`
 * The step label comes last, so a narrow terminal cuts it rather than the counts.
 *
 * The agreement part uses the class view's verdict words (LAB-UI-1), because the same caveat
 * holds: nothing is known of what an unreachable client holds. "converged" only when every
 * client is reachable and they all agree; "not converged" as soon as two reachable ones differ
 * (known now, whatever the others hold); otherwise "unknown: n unreachable" — also when nobody
 * is reachable (relay down), where fewer than two states among the reachable says nothing.
 */
import type { ClientSample } from '../history.js';
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
  /** What the last sample showed; null before the first. */
  readonly states: SampledStates | null;
}

export interface SampledStates {
  /** Distinct states (content hash and state-vector total) among the reachable clients. */
  readonly distinct: number;
  /** Clients not reachable: not online, or dropping every frame. */
  readonly unreachable: number;
}

/**
 * One sample's states. Reachable as in the class view (LAB-UI-1): online and not `cutOff`
 * (dropping every frame; a partitioned client is not online). Same state: same content hash and
 * state-vector total.
 */
export const sampledStates = (samples: readonly (ClientSample & { readonly cutOff: boolean })[]): SampledStates => {
  const reachable = samples.filter((x) => x.online && !x.cutOff);
  return {
    distinct: new Set(reachable.map((x) => `${x.contentHash}/${x.svTotal}`)).size,
    unreachable: samples.length - reachable.length,
  };
};

const verdict = (s: SampledStates): string =>
  s.distinct >= 2
    ? `not converged (${s.distinct} states)`
    : s.unreachable > 0
      ? `unknown: ${s.unreachable} unreachable`
      : 'converged';

const BAR = 12;

export const formatProgress = (p: Progress, width = 120): string => {
  const frac = p.totalMs > 0 ? Math.min(1, Math.max(0, p.elapsedMs / p.totalMs)) : 0;
  const filled = Math.round(frac * BAR);
  const secs = (ms: number): string => (Math.max(0, ms) / 1000).toFixed(1);
  const head =
    p.totalMs > 0
      ? `[${secs(p.elapsedMs).padStart(5)}/${secs(p.totalMs)} s ${'█'.repeat(filled)}${'░'.repeat(BAR - filled)} ${String(Math.round(frac * 100)).padStart(3)}%]`
      : `[${secs(p.elapsedMs).padStart(5)} s]`;
  const states = p.states === null ? '' : ` · ${verdict(p.states)}`;
  const line = `${head} ${p.online}/${p.clients} online · ${p.sent} sent · ${p.delivered} delivered${states}${p.step ? ` · ${terminalText(p.step)}` : ''}`;
  const chars = [...line];
  return chars.length <= width ? line : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
};
