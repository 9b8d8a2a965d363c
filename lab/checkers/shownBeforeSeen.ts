/**
 * CHK-7: what the app's own order (HLC, ORD-1) got wrong about causality, counted, not judged.
 *
 * A message stamped below the greatest message its sender's replica displayed names that one
 * (CHAT-8 `after`): the sender had seen it, so a replica that shows the message before it breaks
 * causality. The HLC prevents this (HLC-1: a timestamp is above every one it has seen) except when
 * two senders' clocks are more than 60 s apart: the later sender's replica refuses the earlier
 * message's timestamp (HLC-3) and stamps its own message earlier. That trade is deliberate (one
 * fast clock cannot drag every replica into the future), so the count is reported for the
 * student, never a failure. A reply whose `after` is its parent is CHK-4's business (ORD-2 puts
 * it after its parent), not counted here.
 *
 * Read from the final replicas (they all show the same order when CHK-1 passes); a message counts
 * once however many replicas show it early.
 */
import type { History } from '../history.js';
import { EXAMPLE_LIMIT } from './wallClockAnomalies.js';
import type { Evidence } from './verdict.js';

export interface ShownBeforeSeen {
  /** How many displayed messages were stamped below one their sender displayed (carry `after`). */
  readonly stampedBelow: number;
  /** How many of them some final replica shows before that message. */
  readonly count: number;
  /** Up to EXAMPLE_LIMIT examples. */
  readonly examples: readonly Evidence[];
}

export const countShownBeforeSeen = (h: History): ShownBeforeSeen => {
  const sender = new Map<string, string>();
  for (const e of h.events) if (e.kind === 'send' && !sender.has(e.msgId)) sender.set(e.msgId, e.client);
  const who = (id: string): string => (sender.has(id) ? `${id} from ${sender.get(id)}` : id);
  const stampedBelow = new Set<string>();
  const early = new Set<string>();
  const examples: Evidence[] = [];
  for (const r of h.final?.replicas ?? []) {
    const position = new Map<string, number>();
    r.displayed.forEach((m, i) => {
      if (!position.has(m.id)) position.set(m.id, i + 1);
    });
    r.displayed.forEach((m, i) => {
      if (m.after === null || m.after === m.replyTo || m.after === m.id) return;
      stampedBelow.add(m.id);
      const seen = position.get(m.after);
      if (seen === undefined || seen < i + 1 || early.has(m.id)) return;
      early.add(m.id);
      if (examples.length < EXAMPLE_LIMIT) {
        examples.push({
          text: `${r.client} shows ${who(m.id)} at position ${i + 1}, before ${who(m.after)} at position ${seen}, which its sender had already seen`,
          clients: [r.client, sender.get(m.id), sender.get(m.after)].filter((c): c is string => c !== undefined),
          msgIds: [m.id, m.after],
        });
      }
    });
  }
  return { stampedBelow: stampedBelow.size, count: early.size, examples };
};
