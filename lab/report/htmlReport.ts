/**
 * The experiment's self-contained HTML report: one file, no external assets, no script (a
 * Content-Security-Policy forbids any), charts as inline SVG. Sections (each an element id):
 * `summary`, `verdicts`, `replicas`, `anomalies`, `causality`, `slis`, `latency`, `divergence`, `spacetime`,
 * `timeline`.
 *
 * Every string taken from the history — scenario name, options, client names, ids, message text,
 * evidence, step labels — is escaped (escapeHtml): untrusted text is never HTML.
 */
import type { History, HistoryEvent } from '../history.js';
import { describeFaults } from '../../shared/lab/faults.js';
import type { CheckReport } from '../checkers/runCheckers.js';
import type { Slis } from '../sli.js';
import { divergenceChart } from './divergenceChart.js';
import { divergenceWindows } from './divergenceWindows.js';
import { escapeHtml } from './escapeHtml.js';
import { runIntervals } from './intervals.js';
import { latencyChart } from './latencyChart.js';
import { spaceTimeDiagram, type SpaceTimeOptions } from './spaceTimeDiagram.js';
import { formatMs } from './formatMs.js';
import { num } from './svg.js';
import { sloActual } from './sloActual.js';

export interface HtmlReportOptions {
  readonly spaceTime?: SpaceTimeOptions;
  /** Extra plain-text lines from the runner for the summary section (e.g. how quiesce went); escaped. */
  readonly notes?: readonly string[];
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:16px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.ok{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
.muted{color:#57606a}ul.evidence{margin:4px 0 0;padding-left:18px}code{font-size:12px}
svg text{font-size:11px;fill:#57606a}.axis,.tick,.lane{stroke:#8c959f;stroke-width:1}.grid{stroke:#eaeef2}
.dot{fill:#0969da;fill-opacity:.55}.pline{stroke:#bf8700;stroke-dasharray:4 3}.plabel{fill:#9a6700}.note{font-style:italic}
.partitioned{fill:#afb8c1;fill-opacity:.55}.crashed{fill:#424a53;fill-opacity:.6}.relaydown{fill:#ffd8b5;fill-opacity:.6}
.band{fill-opacity:.25}.diverged{fill:#cf222e;fill-opacity:.8}.msg{stroke:#0969da;stroke-opacity:.6}.arrowhead{fill:#0969da}.send{fill:#1b1f24}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:-2px}
`;

const mark = (ok: boolean): string => (ok ? '<span class="ok">✔ pass</span>' : '<span class="fail">✘ FAIL</span>');

/** The result is the checkers' (a failed checker is exit code 1); the SLO verdict is reported beside it. */
const header = (h: History, checks: CheckReport, slis: Slis, notes: readonly string[]): string => {
  const opts = Object.entries(h.options)
    .map(([k, v]) => `${escapeHtml(k)}=${escapeHtml(String(v))}`)
    .join(', ');
  return `<section id="summary"><h1>Experiment: ${escapeHtml(h.scenario.name)}</h1>
<p class="muted">seed ${escapeHtml(String(h.seed))} · ${h.clients.length} clients · started ${escapeHtml(h.startedAt)}${h.scenario.file ? ` · file ${escapeHtml(h.scenario.file)}` : ''}${opts ? ` · ${opts}` : ''}</p>
<p>Result: ${mark(checks.ok)} ${checks.ok ? '— every checker passed' : '— a checker failed'}${slis.slo ? (slis.slo.ok ? '; the SLO held' : '; <span class="fail">the SLO was not met</span>') : ''}</p>
${notes.map((n) => `<p>${escapeHtml(n)}</p>`).join('')}
<p class="muted">Clients: ${h.clients.map((c) => `${escapeHtml(c.id)} (${escapeHtml(c.name)})`).join(', ')}</p></section>`;
};

const verdicts = (checks: CheckReport): string => {
  const rows = checks.verdicts
    .map((v) => {
      const ev =
        v.evidence.length === 0
          ? ''
          : `<ul class="evidence">${v.evidence.map((e) => `<li>${escapeHtml(e.text)}</li>`).join('')}${v.evidenceTotal > v.evidence.length ? `<li class="muted">… and ${v.evidenceTotal - v.evidence.length} more</li>` : ''}</ul>`;
      return `<tr><td>${escapeHtml(v.rule)}</td><td>${escapeHtml(v.name)}</td><td>${mark(v.ok)}</td><td>${escapeHtml(v.summary)}${ev}</td></tr>`;
    })
    .join('');
  return `<section id="verdicts"><h2>Checkers</h2><table><thead><tr><th>Rule</th><th>Checker</th><th>Verdict</th><th>Evidence</th></tr></thead><tbody>${rows}</tbody></table></section>`;
};

const replicas = (h: History): string => {
  if (!h.final)
    return '<section id="replicas"><h2>Final replicas</h2><p class="fail">The run ended before the final read.</p></section>';
  const rows = h.final.replicas
    .map((r) => {
      const sv = Object.values(r.stateVector);
      const total = sv.reduce((a, b) => a + b, 0);
      return `<tr><td>${escapeHtml(r.client)}</td><td>${r.displayed.length}</td><td><code>${escapeHtml(r.contentHash)}</code></td><td>${sv.length} Yjs clients, clocks sum to ${total}</td></tr>`;
    })
    .join('');
  return `<section id="replicas"><h2>Final replicas</h2><p class="muted">Read at ${formatMs(h.final.t)}, after the final heal.</p><table><thead><tr><th>Client</th><th>Messages shown</th><th>Content hash</th><th>State vector</th></tr></thead><tbody>${rows}</tbody></table></section>`;
};

/** Counted examples (CHK-6, CHK-7) as an evidence list; nothing when there are none. */
const examplesList = (examples: readonly { readonly text: string }[]): string =>
  examples.length === 0
    ? ''
    : `<ul class="evidence">${examples.map((e) => `<li>${escapeHtml(e.text)}</li>`).join('')}</ul>`;

const anomalies = (checks: CheckReport): string => {
  const a = checks.wallClock;
  return `<section id="anomalies"><h2>What the wall-clock order would have got wrong</h2>
<p>Of ${a.messages} messages, ordering by the senders' wall clocks instead of the HLC would have shown <strong>${a.replyBeforeParent}</strong> replies before the message they answer and put <strong>${a.pairsOrderedDifferently}</strong> pairs of messages the other way round.</p>${examplesList(a.examples)}</section>`;
};

/** CHK-7: what the shown (HLC) order itself got wrong about causality. */
const shownBeforeSeen = (checks: CheckReport): string => {
  const s = checks.shownBeforeSeen;
  return `<section id="causality"><h2>What the shown order got wrong</h2>
<p>The HLC order itself (what the app shows) put <strong>${s.count}</strong> messages before a message their sender had already seen (${s.stampedBelow} were stamped below a message their sender had seen). The HLC prevents this unless two senders' clocks are more than 60 s apart: a replica then refuses a timestamp that far ahead of its own clock (HLC-3), so its next message is stamped earlier.</p>${examplesList(s.examples)}</section>`;
};

const slisSection = (slis: Slis): string => {
  const l = slis.latency;
  const heals =
    slis.heals.length === 0
      ? '<p class="muted">No heals in this run.</p>'
      : `<table><thead><tr><th>Heal at</th><th>Clients</th><th>Converged after</th></tr></thead><tbody>${slis.heals
          .map(
            (x) =>
              `<tr><td>${formatMs(x.t)}</td><td>${escapeHtml(x.clients.join(', '))}</td><td>${x.ms === null ? '<span class="fail">not converged</span>' : formatMs(x.ms)}</td></tr>`,
          )
          .join('')}</tbody></table>`;
  const av = slis.availability;
  const slo =
    slis.slo === null
      ? '<p class="muted">The scenario declares no SLO.</p>'
      : `<table><thead><tr><th>SLO target</th><th>Limit</th><th>Measured</th><th>Verdict</th></tr></thead><tbody>${slis.slo.checks
          .map(
            (c) =>
              `<tr><td>${escapeHtml(c.name)}</td><td>${num(c.target)}</td><td>${sloActual(c, slis.latency, num)}</td><td>${mark(c.ok)}</td></tr>`,
          )
          .join('')}</tbody></table>`;
  return `<section id="slis"><h2>Service-level indicators</h2>
<table><thead><tr><th>Delivery latency</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>samples</th><th>never delivered</th></tr></thead>
<tbody><tr><td>send → shown on another client</td><td>${formatMs(l.p50)}</td><td>${formatMs(l.p95)}</td><td>${formatMs(l.p99)}</td><td>${formatMs(l.max)}</td><td>${l.count}</td><td${l.undelivered > 0 ? ' class="fail"' : ''}>${l.undelivered}</td></tr></tbody></table>
<h3>Time to converge after each heal</h3>${heals}
<h3>Sending while partitioned</h3><p>${av.ratio === null ? 'No client tried to send while partitioned.' : `${av.succeeded} of ${av.attempted} sends accepted locally (${num(av.ratio * 100)} %).`}</p>
<h3>SLO</h3>${slo}</section>`;
};

type TimelineEvent = Exclude<HistoryEvent, { kind: 'send' | 'deliver' | 'ack' | 'sample' }>;

/**
 * A timeline row's words. A crash or restart event says what happened, apart from the step that
 * asked for it ("relay restart started"): a restart takes seconds, and both used to read alike.
 */
const timelineText = (e: TimelineEvent): string => {
  switch (e.kind) {
    case 'step':
      return e.label;
    case 'partition':
    case 'heal':
      return `${e.kind} ${e.clients.join(', ')}`;
    case 'faults':
      return `faults ${e.client}: ${describeFaults(e.config).join(', ') || 'none'}`;
    case 'send-refused':
      return `send refused on ${e.client}: ${e.reason}`;
    case 'relay-crash':
      return 'relay down (killed)';
    case 'relay-restart':
      return 'relay restart done: relay up';
    case 'client-crash':
      return `${e.client} down (crashed)`;
    case 'client-restart':
      return `client-restart ${e.client} done`;
  }
};

/**
 * One row per scenario step. The runner records a step's label, then what it applied
 * (`partition`, `heal`, `faults`: runExperiment.ts), with no send in between: those effects are
 * the step itself, so they are folded into its row rather than listed again in other words a few
 * ms later; a faults config that is not "none" adds what the label does not say (which faults,
 * per client). The final heal's clearing of faults and heal are its own doing too. An effect with
 * no step of its own (a history recorded otherwise: after a send, or before any step) keeps a row;
 * crashes and restarts keep theirs (EXP-7: what happened, apart from the step that asked for it).
 */
const timelineRows = (events: readonly HistoryEvent[]): Array<{ t: number; text: string }> => {
  const rows: Array<{ t: number; text: string }> = [];
  let step: { row: { t: number; text: string }; faults: string[] } | null = null;
  const close = (): void => {
    if (step && step.faults.length > 0) step.row.text += ` (${step.faults.join('; ')})`;
    step = null;
  };
  for (const e of events) {
    if (e.kind === 'send') close();
    if (e.kind === 'send' || e.kind === 'deliver' || e.kind === 'ack' || e.kind === 'sample') continue;
    if (step && (e.kind === 'partition' || e.kind === 'heal' || e.kind === 'faults')) {
      if (e.kind === 'faults') {
        const words = describeFaults(e.config);
        // "none" (cleared) is what the step's own label says (clear-faults, final heal).
        if (words.length > 0) step.faults.push(`${e.client}: ${words.join(', ')}`);
      }
      continue;
    }
    const row = { t: e.t, text: timelineText(e) };
    rows.push(row);
    if (e.kind === 'step') {
      close();
      step = { row, faults: [] };
    } else if (e.kind === 'send-refused') close();
  }
  close();
  return rows;
};

const timeline = (h: History): string => {
  const rows = timelineRows(h.events)
    .map((r) => `<tr><td>${formatMs(r.t)}</td><td>${escapeHtml(r.text)}</td></tr>`)
    .join('');
  return `<section id="timeline"><h2>Timeline</h2>${rows ? `<table><tbody>${rows}</tbody></table>` : '<p class="muted">No scenario steps recorded.</p>'}</section>`;
};

export const renderHtmlReport = (h: History, checks: CheckReport, slis: Slis, opts: HtmlReportOptions = {}): string => {
  const iv = runIntervals(h);
  const windows = divergenceWindows(h);
  const legend = `<p class="legend muted"><span style="background:#afb8c1"></span>partitioned<span style="background:#424a53"></span>crashed<span style="background:#ffd8b5"></span>relay down<span style="background:#cf222e"></span>diverged: unlike the content most clients showed (with none ahead of the others, a tie: every client)</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Converge lab: ${escapeHtml(h.scenario.name)} (seed ${escapeHtml(String(h.seed))})</title>
<style>${STYLE}</style></head><body>
${header(h, checks, slis, opts.notes ?? [])}
${verdicts(checks)}
${replicas(h)}
${anomalies(checks)}
${shownBeforeSeen(checks)}
${slisSection(slis)}
<section id="latency"><h2>Delivery latency over time</h2>${latencyChart(slis.latency, iv)}</section>
<section id="divergence"><h2>Divergence windows</h2>${legend}${divergenceChart(h, windows, iv)}
<p class="muted">${windows.length === 0 ? 'No client ever differed from the content most clients showed in the samples.' : `${windows.length} windows in which a client's content differed from the content most clients showed. Where no content was shown by more clients than every other (after a relay crash each client may hold its own), none is taken as the right one and every client counts as diverged, unless the tie includes what most showed just before.`}</p></section>
<section id="spacetime"><h2>Space-time diagram</h2>${legend}${spaceTimeDiagram(h, iv, opts.spaceTime)}
<p class="muted">Each dot is a send; each arrow is that message appearing on another client. Hover for ids, text and latency.</p></section>
${timeline(h)}
</body></html>
`;
};
