/**
 * The one-screen terminal summary printed when an experiment ends: each checker ✔/✘ with its
 * summary and (when failing) the first pieces of evidence, the counted checkers (CHK-6, CHK-7), the SLIs,
 * the SLO verdict, the runner's notes, the overall result (the checkers') and where the files are. Text from the history is stripped
 * of control characters (terminalText); colour only when asked for.
 */
import type { History } from '../history.js';
import type { CheckReport } from '../checkers/runCheckers.js';
import type { Slis } from '../sli.js';
import { formatMs } from './formatMs.js';
import { num } from './svg.js';
import { sloActual } from './sloActual.js';
import { terminalText } from './terminalText.js';

export interface SummaryOptions {
  /** Where the result JSON and HTML report were written. */
  readonly files?: { readonly json?: string; readonly html?: string };
  /** ANSI colours (green ✔, red ✘); default false. */
  readonly color?: boolean;
  /** Evidence lines under each failing checker; default 3, fewer when many fail (one screen in all). */
  readonly evidenceLines?: number;
  /** Extra lines from the runner (e.g. how quiesce went), printed before the result. */
  readonly notes?: readonly string[];
}

const EVIDENCE_BUDGET = 6;

export const formatSummary = (h: History, checks: CheckReport, slis: Slis, opts: SummaryOptions = {}): string => {
  const paint = (code: number, s: string): string => (opts.color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const good = (s: string): string => paint(32, s);
  const bad = (s: string): string => paint(31, s);
  const t = terminalText;
  const failing = checks.verdicts.filter((v) => !v.ok).length;
  // About EVIDENCE_BUDGET evidence lines in all, so five failing checkers still fit one screen.
  const perVerdict = opts.evidenceLines ?? Math.max(1, Math.min(3, Math.floor(EVIDENCE_BUDGET / Math.max(1, failing))));
  const lines: string[] = [];
  const end = Math.max(h.final?.t ?? 0, h.events.at(-1)?.t ?? 0);
  lines.push(`Experiment ${t(h.scenario.name)} · seed ${h.seed} · ${h.clients.length} clients · ${num(end / 1000)} s`);
  for (const v of checks.verdicts) {
    lines.push(`${v.ok ? good('✔') : bad('✘')} ${v.rule} ${v.name}: ${t(v.summary)}`);
    if (v.ok) continue;
    for (const e of v.evidence.slice(0, perVerdict)) lines.push(`    ${t(e.text)}`);
    if (v.evidenceTotal > perVerdict) lines.push(`    … and ${v.evidenceTotal - perVerdict} more (see the report)`);
  }
  // The counted checkers (never ✔/✘) carry their rule ids too: the exercises name them (docs/lab/).
  const a = checks.wallClock;
  lines.push(
    `  CHK-6 wall-clock anomalies (counted): wall-clock order would have shown ${a.replyBeforeParent} replies before their parent and ${a.pairsOrderedDifferently} pairs out of HLC order (${a.messages} messages)`,
  );
  const s = checks.shownBeforeSeen;
  lines.push(
    `  CHK-7 shown before seen (counted): shown order put ${s.count} messages before one their sender had already seen${s.stampedBelow > 0 ? ` (${s.stampedBelow} stamped below what their sender had seen: clocks more than 60 s apart, HLC-3)` : ''}`,
  );
  const l = slis.latency;
  lines.push(
    `  Delivery latency p50 ${formatMs(l.p50)} · p95 ${formatMs(l.p95)} · p99 ${formatMs(l.p99)} · max ${formatMs(l.max)} (${l.count} samples${l.undelivered > 0 ? bad(`; ${l.undelivered} never delivered`) : ''})`,
  );
  if (slis.heals.length > 0) {
    const heals = slis.heals.map((x) => (x.ms === null ? bad('never') : formatMs(x.ms)));
    lines.push(
      `  Converged after heals: ${heals.slice(0, 8).join(', ')}${heals.length > 8 ? `, … (${heals.length} heals)` : ''}`,
    );
  }
  const av = slis.availability;
  if (av.ratio !== null) {
    lines.push(`  Sending while partitioned: ${av.succeeded}/${av.attempted} accepted (${num(av.ratio * 100)} %)`);
  }
  if (slis.slo) {
    const parts = slis.slo.checks.map(
      (c) =>
        `${c.name} ${c.name === 'partitionedSendAvailability' ? '≥' : '≤'} ${num(c.target)}: ${sloActual(c, slis.latency, num)} ${c.ok ? good('✔') : bad('✘')}`,
    );
    lines.push(`${slis.slo.ok ? good('✔') : bad('✘')} SLO ${parts.join(' · ')}`);
  }
  for (const n of opts.notes ?? []) lines.push(`  ${t(n)}`);
  // The result is the checkers' (exit code 1 when one fails); the SLO verdict is reported beside it.
  const slo = slis.slo === null ? '' : slis.slo.ok ? '; the SLO held' : '; the SLO was not met';
  lines.push(
    failing === 0 ? good(`PASS: every checker passed${slo}`) : bad(`FAIL: ${failing} checker(s) failed${slo}`),
  );
  if (opts.files?.json) lines.push(`  Result: ${t(opts.files.json)}`);
  if (opts.files?.html) lines.push(`  Report: ${t(opts.files.html)}`);
  return lines.join('\n');
};
