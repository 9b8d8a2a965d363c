/**
 * What ordering by the senders' wall clocks would have got wrong (the app orders by HLC, ORD-1):
 * counted, not judged — skewed clocks make these happen, and the HLC is what keeps them off the
 * screen.
 *
 * - replyBeforeParent: replies whose parent has a later wall clock, so a wall-clock order would
 *   show the answer before the question;
 * - pairsOrderedDifferently: pairs of messages whose wall clocks say the opposite of the HLC order
 *   (an inversion count). Equal wall clocks never count: the wall clock does not order them, so
 *   any tie-break would be an artefact, not an anomaly.
 *
 * The messages are every `send` in the history plus any message only seen in the final replicas.
 */
import type { History } from '../history.js';
import { compareHlc, type Hlc } from '../../shared/chat/hlc.js';
import type { Evidence } from './verdict.js';

export interface WallClockAnomalies {
  /** How many messages were compared. */
  readonly messages: number;
  readonly replyBeforeParent: number;
  readonly pairsOrderedDifferently: number;
  /** Up to EXAMPLE_LIMIT examples of each kind, replies first. */
  readonly examples: readonly Evidence[];
}

export const EXAMPLE_LIMIT = 5;

interface Msg {
  readonly id: string;
  readonly hlc: Hlc;
  readonly wall: number;
  readonly replyTo: string | null;
  readonly client: string | null;
}

/** "m1 from c0" (just the id when the sender is unknown). */
const who = (m: Msg): string => (m.client === null ? m.id : `${m.id} from ${m.client}`);

/** A positive clock difference in the unit a student reads best: "250 ms", "4.5 s", "3 min". */
const gap = (ms: number): string =>
  ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 60_000)} min`;

const byId = (a: Msg, b: Msg): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Inversions of `xs` (pairs i < j with xs[i] > xs[j], ties not counted) by merge sort, O(n log n); sorts `xs` in place. */
const inversions = (xs: number[]): number => {
  if (xs.length < 2) return 0;
  const mid = xs.length >> 1;
  const left = xs.slice(0, mid);
  const right = xs.slice(mid);
  let count = inversions(left) + inversions(right);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < left.length && j < right.length) {
    if (left[i]! <= right[j]!) xs[k++] = left[i++]!;
    else {
      xs[k++] = right[j++]!;
      count += left.length - i;
    }
  }
  while (i < left.length) xs[k++] = left[i++]!;
  while (j < right.length) xs[k++] = right[j++]!;
  return count;
};

export const countWallClockAnomalies = (h: History): WallClockAnomalies => {
  const msgs = new Map<string, Msg>();
  for (const e of h.events) {
    if (e.kind === 'send' && !msgs.has(e.msgId)) {
      msgs.set(e.msgId, { id: e.msgId, hlc: e.hlc, wall: e.wall, replyTo: e.replyTo, client: e.client });
    }
  }
  for (const r of h.final?.replicas ?? []) {
    for (const m of r.displayed) if (!msgs.has(m.id)) msgs.set(m.id, { ...m, client: null });
  }
  const all = [...msgs.values()];
  const byHlc = [...all].sort((a, b) => compareHlc(a.hlc, b.hlc) || byId(a, b));

  const examples: Evidence[] = [];
  let replyBeforeParent = 0;
  for (const m of all) {
    if (m.replyTo === null || m.replyTo === m.id) continue;
    const parent = msgs.get(m.replyTo);
    if (!parent || parent.wall <= m.wall) continue;
    replyBeforeParent++;
    if (examples.length < EXAMPLE_LIMIT) {
      examples.push({
        text: `reply ${who(m)} has a wall clock ${gap(parent.wall - m.wall)} earlier than its parent ${who(parent)}: a wall-clock order shows the answer first`,
        clients: [m.client, parent.client].filter((c): c is string => c !== null),
        msgIds: [m.id, parent.id],
      });
    }
  }
  const walls = byHlc.map((m) => m.wall);
  const pairExamples: Evidence[] = [];
  for (let i = 1; i < byHlc.length && pairExamples.length < EXAMPLE_LIMIT; i++) {
    const a = byHlc[i - 1]!;
    const b = byHlc[i]!;
    if (a.wall <= b.wall) continue;
    pairExamples.push({
      text: `${who(a)} comes before ${who(b)} by HLC, but its wall clock is ${gap(a.wall - b.wall)} later`,
      clients: [a.client, b.client].filter((c): c is string => c !== null),
      msgIds: [a.id, b.id],
    });
  }
  return {
    messages: all.length,
    replyBeforeParent,
    pairsOrderedDifferently: inversions(walls),
    examples: [...examples, ...pairExamples],
  };
};
