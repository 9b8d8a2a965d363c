/**
 * The `lab` field of a participant's awareness state, read for the class view.
 *
 *     { user: { id, name }, ..., lab: { faults, svSummary, svTotal, hash, pending, at } }
 *
 * LAB-UI-2: awareness states are untrusted (any client can publish anything the relay's AWR-1
 * accepts). A state is a lab participant only when `user` is a valid presence (./../sync/
 * presence.ts) and every `lab` field validates: `faults` passes `validateFaultConfig`, `hash` is
 * 1–16 hex digits, `svTotal` and `pending` are non-negative safe integers, `at` is finite, and
 * `svSummary` is a string (cut to `MAX_SV_SUMMARY` characters, control characters replaced), and
 * `tab`, when present, is 1–32 hex digits (LAB-14).
 * Anything else is ignored, never thrown on. Text is only ever rendered as text.
 */
import { cutOff, validateFaultConfig, type FaultConfig } from '../../shared/lab/faults.js';
import { parsePresence } from '../sync/presence.js';

export const MAX_SV_SUMMARY = 160;
/** LAB-UI-1: how long a participant that went offline still counts (as unreachable). */
export const FORGET_MS = 120_000;
/**
 * LAB-UI-1: how long one that left cut off (partitioned, or dropping every frame) still counts; LAB-9:
 * how long a participant reports it. A partition exercise lasts minutes: with `FORGET_MS` the view
 * said "Converged" two minutes into a partition, the student still cut off and behind.
 */
export const CUT_OFF_FORGET_MS = 10 * 60_000;

/** How long a participant whose last state was `s` still counts once offline (LAB-UI-1). */
export const forgetAfterMs = (s: LabPresence): number => (cutOff(s.faults) ? CUT_OFF_FORGET_MS : FORGET_MS);

export interface LabPresence {
  /** The awareness client id (one per open room session: a tab). */
  readonly clientId: number;
  readonly userId: string;
  readonly name: string;
  readonly faults: FaultConfig;
  readonly svSummary: string;
  readonly svTotal: number;
  readonly hash: string;
  readonly pending: number;
  /** The publisher's own (possibly skewed) clock when it published: shown, never compared with ours. */
  readonly at: number;
  /** LAB-14: its browser tab's id, the same across the tab's reloads; null when not published. */
  readonly tab: string | null;
}

const HASH_PATTERN = /^[0-9a-f]{1,16}$/;
const TAB_PATTERN = /^[0-9a-f]{1,32}$/;

const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

// eslint-disable-next-line no-control-regex -- replacing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** A validated lab participant, or null when `state` is not one (LAB-UI-2). */
export const parseLabPresence = (clientId: number, state: unknown): LabPresence | null => {
  if (!Number.isSafeInteger(clientId) || clientId < 0) return null;
  const presence = parsePresence(state);
  if (!presence) return null;
  const lab = (state as { lab?: unknown }).lab;
  if (typeof lab !== 'object' || lab === null || Array.isArray(lab)) return null;
  const l = lab as Record<string, unknown>;
  let faults: FaultConfig;
  try {
    faults = validateFaultConfig(l.faults);
  } catch {
    return null;
  }
  if (typeof l.hash !== 'string' || !HASH_PATTERN.test(l.hash)) return null;
  if (!isCount(l.svTotal) || !isCount(l.pending)) return null;
  if (typeof l.at !== 'number' || !Number.isFinite(l.at)) return null;
  if (typeof l.svSummary !== 'string') return null;
  if (l.tab !== undefined && (typeof l.tab !== 'string' || !TAB_PATTERN.test(l.tab))) return null;
  return {
    clientId,
    userId: presence.userId,
    name: presence.name || 'Unnamed',
    faults,
    svSummary: l.svSummary.slice(0, MAX_SV_SUMMARY).replace(CONTROL, ' '),
    svTotal: l.svTotal,
    hash: l.hash,
    pending: l.pending,
    at: l.at,
    tab: typeof l.tab === 'string' ? l.tab : null,
  };
};

/**
 * Same published lab state, ignoring `at` (republished without changes it would re-render every
 * row): the class view keeps the old object, so unchanged rows do not re-render.
 */
export const sameLabPresence = (a: LabPresence, b: LabPresence): boolean =>
  a.clientId === b.clientId &&
  a.userId === b.userId &&
  a.name === b.name &&
  a.svSummary === b.svSummary &&
  a.svTotal === b.svTotal &&
  a.hash === b.hash &&
  a.pending === b.pending &&
  a.tab === b.tab &&
  JSON.stringify(a.faults) === JSON.stringify(b.faults);
