/**
 * What every checker returns: pass or fail, and evidence a student can read to see why.
 *
 * Evidence is capped (EVIDENCE_LIMIT items) so a badly broken run still gives a readable report;
 * `evidenceTotal` says how many there were. Every id and client in the evidence is data from the
 * history (untrusted in the report: escaped there).
 */
export const RULES = {
  'CHK-1': 'convergence',
  'CHK-2': 'no acked message lost',
  'CHK-3': 'no duplicates',
  'CHK-4': 'causal order',
  'CHK-5': 'id uniqueness',
} as const;

export type RuleId = keyof typeof RULES;

export interface Evidence {
  /** One plain sentence, e.g. "c2 does not show m7 (acked by c0 at 1200 ms)". */
  readonly text: string;
  /** The clients involved (runner names). */
  readonly clients: readonly string[];
  /** The message ids involved. */
  readonly msgIds: readonly string[];
}

export interface Verdict {
  readonly rule: RuleId;
  /** The rule's name (RULES[rule]). */
  readonly name: string;
  readonly ok: boolean;
  /** One line: what was checked and the outcome, e.g. "4 replicas identical (120 messages)". */
  readonly summary: string;
  /** The first EVIDENCE_LIMIT violations ([] when ok). */
  readonly evidence: readonly Evidence[];
  /** How many violations there were in all. */
  readonly evidenceTotal: number;
}

export const EVIDENCE_LIMIT = 20;

/** Builds a verdict from all violations found (ok when there are none). */
export const verdict = (rule: RuleId, summary: string, violations: readonly Evidence[]): Verdict => ({
  rule,
  name: RULES[rule],
  ok: violations.length === 0,
  summary,
  evidence: violations.slice(0, EVIDENCE_LIMIT),
  evidenceTotal: violations.length,
});

/** Short list for evidence sentences: "m1, m2, m3 and 4 more". */
export const listIds = (ids: readonly string[], max = 5): string =>
  ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')} and ${ids.length - max} more`;
