/**
 * CHK-3 no duplicates: no replica displays one message id more than once (duplicated or replayed
 * updates must be idempotent).
 */
import type { History } from '../history.js';
import { finalReplicas, noFinalRead } from './finalReplicas.js';
import { verdict, type Evidence, type Verdict } from './verdict.js';

export const checkNoDuplicates = (h: History): Verdict => {
  const replicas = finalReplicas(h);
  if (!replicas) return noFinalRead('CHK-3');
  const violations: Evidence[] = [];
  for (const r of replicas) {
    const positions = new Map<string, number[]>();
    r.displayed.forEach((m, i) => {
      const p = positions.get(m.id);
      if (p) p.push(i + 1);
      else positions.set(m.id, [i + 1]);
    });
    for (const [id, p] of positions) {
      if (p.length < 2) continue;
      violations.push({
        text: `${r.client} shows ${id} ${p.length} times (positions ${p.join(', ')})`,
        clients: [r.client],
        msgIds: [id],
      });
    }
  }
  const summary =
    violations.length === 0
      ? `no id appears twice on any of ${replicas.length} replicas`
      : `${violations.length} duplicated id(s) displayed`;
  return verdict('CHK-3', summary, violations);
};
