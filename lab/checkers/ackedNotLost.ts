/**
 * CHK-2 no acked message lost: every message the relay acked (an `ack` event for it, to any
 * client) is displayed by every final replica. The relay acks only after fsync, so an acked message
 * must survive relay crashes and client restarts.
 */
import type { History } from '../history.js';
import { finalReplicas, noFinalRead } from './finalReplicas.js';
import { listIds, verdict, type Evidence, type Verdict } from './verdict.js';

export const checkAckedNotLost = (h: History): Verdict => {
  const replicas = finalReplicas(h);
  if (!replicas) return noFinalRead('CHK-2');
  const acked = new Map<string, { client: string; t: number }>();
  for (const e of h.events) {
    if (e.kind === 'ack' && !acked.has(e.msgId)) acked.set(e.msgId, { client: e.client, t: e.t });
  }
  const shown = replicas.map((r) => ({ client: r.client, ids: new Set(r.displayed.map((m) => m.id)) }));
  const violations: Evidence[] = [];
  for (const [msgId, by] of acked) {
    const missingOn = shown.filter((r) => !r.ids.has(msgId)).map((r) => r.client);
    if (missingOn.length === 0) continue;
    violations.push({
      text: `${msgId} (acked to ${by.client} at ${Math.round(by.t)} ms) is missing on ${listIds(missingOn)}`,
      clients: [by.client, ...missingOn],
      msgIds: [msgId],
    });
  }
  const summary =
    violations.length === 0
      ? `all ${acked.size} acked messages are on all ${replicas.length} replicas`
      : `${violations.length} of ${acked.size} acked messages are missing somewhere`;
  return verdict('CHK-2', summary, violations);
};
