/**
 * CHK-4 causal order: on every final replica, a reply is displayed after the message it answers
 * (and the message it answers is displayed at all: a reply can only be sent to a message its
 * sender had, so a replica that has the reply must have the parent too).
 */
import type { History } from '../history.js';
import { finalReplicas, noFinalRead } from './finalReplicas.js';
import { verdict, type Evidence, type Verdict } from './verdict.js';

export const checkCausalOrder = (h: History): Verdict => {
  const replicas = finalReplicas(h);
  if (!replicas) return noFinalRead('CHK-4');
  const violations: Evidence[] = [];
  const replies = new Set<string>();
  for (const r of replicas) {
    const position = new Map<string, number>();
    r.displayed.forEach((m, i) => {
      if (!position.has(m.id)) position.set(m.id, i + 1);
    });
    r.displayed.forEach((m, i) => {
      if (m.replyTo === null || m.replyTo === m.id) return;
      replies.add(m.id);
      const p = position.get(m.replyTo);
      if (p === undefined) {
        violations.push({
          text: `${r.client} shows reply ${m.id} but not the message it answers, ${m.replyTo}`,
          clients: [r.client],
          msgIds: [m.id, m.replyTo],
        });
      } else if (p > i + 1) {
        violations.push({
          text: `${r.client} shows reply ${m.id} at position ${i + 1}, before the message it answers, ${m.replyTo}, at position ${p}`,
          clients: [r.client],
          msgIds: [m.id, m.replyTo],
        });
      }
    });
  }
  const summary =
    violations.length === 0
      ? `${replies.size} replies are after their parent on all ${replicas.length} replicas`
      : `${violations.length} reply placement(s) break causal order`;
  return verdict('CHK-4', summary, violations);
};
