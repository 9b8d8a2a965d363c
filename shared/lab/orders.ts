/**
 * LAB-5: the three orders of a room's messages side by side — by HLC (what the app shows, ORD-1
 * and ORD-2), by the sender's wall clock, and by local arrival — and the anomalies the other two
 * would show:
 * - `reply-before-parent`: in that order a reply comes before the message it answers;
 * - `before-what-sender-saw`: a message comes before the one its sender's replica displayed last
 *   when sending it (CHAT-8 `after`): its sender had seen that one, so this order breaks causality.
 *   Checked in the displayed order too: the HLC keeps it off the screen (HLC-1) unless a clock was
 *   skewed by more than HLC-3's 60 s, and then this is how a student sees it happen. Not repeated
 *   for a reply whose `after` is its parent (that is `reply-before-parent`);
 * - `position-differs`: the message is out of place relative to the displayed order. The set is
 *   minimal: every message outside one longest run the two orders agree on (a longest increasing
 *   subsequence), so one late message counts once, not once per message it jumped over. Never in
 *   the displayed order, which is the reference.
 */
import type { ChatMessage } from '../chat/chatRoom.js';

export interface OrderedEntry {
  readonly id: string;
  readonly authorName: string;
  readonly text: string;
  readonly replyTo: string | null;
  /** Position in the displayed order (0-based). */
  readonly hlcOrder: number;
  /** Position when sorted by the sender's wall clock (ties by id). */
  readonly wallOrder: number;
  /** Position among the messages with a known arrival, by arrival; null when unknown. */
  readonly arrivalOrder: number | null;
}

export type OrderName = 'hlc' | 'wall' | 'arrival';

export interface OrderAnomaly {
  readonly id: string;
  readonly kind: 'reply-before-parent' | 'before-what-sender-saw' | 'position-differs';
  readonly order: OrderName;
}

/** Indices (into `xs`) of one longest strictly increasing subsequence; O(n log n). */
export const longestIncreasing = (xs: readonly number[]): Set<number> => {
  const tails: number[] = []; // tails[k] = index of the smallest tail of a run of length k + 1
  const prev = new Array<number>(xs.length).fill(-1);
  for (let i = 0; i < xs.length; i++) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (xs[tails[mid]!]! < xs[i]!) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tails[lo - 1]!;
    tails[lo] = i;
  }
  const out = new Set<number>();
  for (let i = tails.length > 0 ? tails[tails.length - 1]! : -1; i >= 0; i = prev[i]!) out.add(i);
  return out;
};

/**
 * `messages` in display order; `arrival` maps a message id to its local arrival index (any
 * increasing numbers). Rows are in display order.
 */
export const compareOrders = (
  messages: readonly ChatMessage[],
  arrival: ReadonlyMap<string, number>,
): { rows: OrderedEntry[]; anomalies: OrderAnomaly[] } => {
  const byWall = messages
    .map((m, i) => ({ m, i }))
    .sort((a, b) => a.m.wall - b.m.wall || (a.m.id < b.m.id ? -1 : a.m.id > b.m.id ? 1 : 0));
  const wallPos = new Map<string, number>();
  byWall.forEach((x, k) => wallPos.set(x.m.id, k));
  const arrived = messages
    .map((m, i) => ({ m, i, a: arrival.get(m.id) }))
    .filter((x): x is { m: ChatMessage; i: number; a: number } => x.a !== undefined)
    .sort((x, y) => x.a - y.a || x.i - y.i);
  const arrivalPos = new Map<string, number>();
  arrived.forEach((x, k) => arrivalPos.set(x.m.id, k));

  const rows = messages.map((m, i): OrderedEntry => ({
    id: m.id,
    authorName: m.authorName,
    text: m.text,
    replyTo: m.replyTo,
    hlcOrder: i,
    wallOrder: wallPos.get(m.id)!,
    arrivalOrder: arrivalPos.get(m.id) ?? null,
  }));

  const anomalies: OrderAnomaly[] = [];
  const check = (
    order: OrderName,
    sequence: readonly { m: ChatMessage; i: number }[],
    pos: Map<string, number>,
  ): void => {
    const keep = order === 'hlc' ? null : longestIncreasing(sequence.map((x) => x.i));
    sequence.forEach((x, k) => {
      const parent = x.m.replyTo !== null ? pos.get(x.m.replyTo) : undefined;
      if (parent !== undefined && parent > k) anomalies.push({ id: x.m.id, kind: 'reply-before-parent', order });
      const seen = x.m.after !== null && x.m.after !== x.m.replyTo ? pos.get(x.m.after) : undefined;
      if (seen !== undefined && seen > k) anomalies.push({ id: x.m.id, kind: 'before-what-sender-saw', order });
      if (keep && !keep.has(k)) anomalies.push({ id: x.m.id, kind: 'position-differs', order });
    });
  };
  const shownPos = new Map(messages.map((m, i) => [m.id, i]));
  check(
    'hlc',
    messages.map((m, i) => ({ m, i })),
    shownPos,
  );
  check('wall', byWall, wallPos);
  check('arrival', arrived, arrivalPos);
  return { rows, anomalies };
};
