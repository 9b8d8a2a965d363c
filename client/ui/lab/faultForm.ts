/**
 * LAB-UI-9: the Lab panel's fault form — its fields as typed, in the units they are labelled in,
 * and reading them into a FaultConfig. A refusal names the field as labelled and the range in
 * that field's unit, never the config's internal path or unit (the skew is typed in seconds).
 */
import { MAX_LATENCY_MS, MAX_SKEW_MS, validateFaultConfig, type FaultConfig } from '../../../shared/lab/faults.js';

export interface FaultForm {
  upFixed: string;
  upJitter: string;
  downFixed: string;
  downJitter: string;
  drop: string;
  duplicate: string;
  reorder: string;
  skewS: string;
}

export type FaultField = keyof FaultForm;

export const toFaultForm = (c: FaultConfig): FaultForm => ({
  upFixed: String(c.up.fixedMs),
  upJitter: String(c.up.jitterMs),
  downFixed: String(c.down.fixedMs),
  downJitter: String(c.down.jitterMs),
  drop: String(c.dropPct),
  duplicate: String(c.duplicatePct),
  reorder: String(c.reorderPct),
  skewS: String(c.skewMs / 1000),
});

interface FieldSpec {
  readonly key: FaultField;
  readonly label: string;
  /** As shown after the label. */
  readonly unit: 'ms' | '%' | 's';
  readonly min: number;
  readonly max: number;
  /** Said in the note on which way "up" and "down" go. */
  readonly link?: true;
}

/**
 * Each label fits one line of the grid's narrowest column (9.5rem): which way "up" and "down" go is
 * said once, in a note the four link fields are described by, not in their labels.
 */
export const FAULT_FIELDS: readonly FieldSpec[] = [
  { key: 'upFixed', label: 'Latency up', unit: 'ms', min: 0, max: MAX_LATENCY_MS, link: true },
  { key: 'upJitter', label: 'Jitter up', unit: 'ms', min: 0, max: MAX_LATENCY_MS, link: true },
  { key: 'downFixed', label: 'Latency down', unit: 'ms', min: 0, max: MAX_LATENCY_MS, link: true },
  { key: 'downJitter', label: 'Jitter down', unit: 'ms', min: 0, max: MAX_LATENCY_MS, link: true },
  { key: 'drop', label: 'Drop', unit: '%', min: 0, max: 100 },
  { key: 'duplicate', label: 'Duplicate', unit: '%', min: 0, max: 100 },
  { key: 'reorder', label: 'Reorder', unit: '%', min: 0, max: 100 },
  { key: 'skewS', label: 'Clock skew', unit: 's', min: -MAX_SKEW_MS / 1000, max: MAX_SKEW_MS / 1000 },
];

const UNIT_WORDS = { ms: 'a number of milliseconds', '%': 'a percentage', s: 'a number of seconds' } as const;

const count = new Intl.NumberFormat('en');

/** "Latency up: a number of milliseconds from 0 to 60,000". */
export const fieldRule = (f: FieldSpec): string =>
  `${f.label}: ${UNIT_WORDS[f.unit]} from ${count.format(f.min)} to ${count.format(f.max)}`;

export type FaultFormResult =
  | { readonly ok: true; readonly config: FaultConfig }
  | { readonly ok: false; readonly field: FaultField; readonly message: string };

/** The form as a FaultConfig (an empty field is 0), or the first field out of its range. */
export const readFaultForm = (form: FaultForm, partitioned: boolean): FaultFormResult => {
  const v = {} as Record<FaultField, number>;
  for (const f of FAULT_FIELDS) {
    const text = form[f.key].trim();
    const n = text === '' ? 0 : Number(text);
    if (!Number.isFinite(n) || n < f.min || n > f.max) return { ok: false, field: f.key, message: fieldRule(f) };
    v[f.key] = n;
  }
  return {
    ok: true,
    config: validateFaultConfig({
      partitioned,
      up: { fixedMs: v.upFixed, jitterMs: v.upJitter },
      down: { fixedMs: v.downFixed, jitterMs: v.downJitter },
      dropPct: v.drop,
      duplicatePct: v.duplicate,
      reorderPct: v.reorder,
      skewMs: Math.round(v.skewS * 1000),
    }),
  };
};
