/**
 * CHK-1 convergence: after the final heal and quiesce every client's replica is identical — the
 * same displayed order (ids, first to last), the same content hash and the same state vector —
 * and every client has a final replica.
 *
 * The reference is the majority: replicas are grouped by what they show, the biggest group (ties:
 * the one with the earliest client) is the reference — called "the majority" only when it is more
 * than half of the clients, else "the largest group", or "the first replica" when no two are
 * alike (it is then no group, only what the others are compared with) — and each other replica gets evidence saying
 * how it differs from it (hash, missing and extra ids, first position where the order differs,
 * state-vector entries).
 */
import type { FinalReplica, History } from '../history.js';
import { finalReplicas, noFinalRead } from './finalReplicas.js';
import { listIds, verdict, type Evidence, type Verdict } from './verdict.js';

const svKey = (sv: Readonly<Record<string, number>>): string =>
  Object.keys(sv)
    .sort()
    .map((k) => `${k}:${sv[k]}`)
    .join(',');

const signature = (r: FinalReplica): string =>
  `${r.contentHash}|${svKey(r.stateVector)}|${r.displayed.map((m) => m.id).join(',')}`;

/** How `r` differs from `ref`, in words, and the ids present in only one of them. */
const differences = (r: FinalReplica, ref: FinalReplica): { words: string[]; ids: string[] } => {
  const out: string[] = [];
  if (r.contentHash !== ref.contentHash) out.push(`hash ${r.contentHash} instead of ${ref.contentHash}`);
  const mine = r.displayed.map((m) => m.id);
  const theirs = ref.displayed.map((m) => m.id);
  const mineSet = new Set(mine);
  const theirSet = new Set(theirs);
  const missing = theirs.filter((id) => !mineSet.has(id));
  const extra = mine.filter((id) => !theirSet.has(id));
  if (missing.length > 0) out.push(`missing ${missing.length} message(s): ${listIds(missing)}`);
  if (extra.length > 0) out.push(`${extra.length} extra message(s): ${listIds(extra)}`);
  if (missing.length === 0 && extra.length === 0) {
    const i = mine.findIndex((id, k) => id !== theirs[k]);
    if (i >= 0 || mine.length !== theirs.length) {
      const at = i >= 0 ? i : Math.min(mine.length, theirs.length);
      out.push(`order differs from position ${at + 1}: ${mine[at] ?? '(end)'} instead of ${theirs[at] ?? '(end)'}`);
    }
  }
  const keys = [...new Set([...Object.keys(r.stateVector), ...Object.keys(ref.stateVector)])].sort();
  const svDiff = keys
    .filter((k) => r.stateVector[k] !== ref.stateVector[k])
    .map((k) => `${k}: ${r.stateVector[k] ?? '-'} vs ${ref.stateVector[k] ?? '-'}`);
  if (svDiff.length > 0) out.push(`state vector differs (${listIds(svDiff, 3)})`);
  return { words: out, ids: [...missing, ...extra] };
};

export const checkConvergence = (h: History): Verdict => {
  const replicas = finalReplicas(h);
  if (!replicas) return noFinalRead('CHK-1');
  const violations: Evidence[] = [];
  const present = new Set(replicas.map((r) => r.client));
  for (const c of h.clients) {
    if (!present.has(c.id)) violations.push({ text: `${c.id} has no final replica`, clients: [c.id], msgIds: [] });
  }
  const groups = new Map<string, FinalReplica[]>();
  for (const r of replicas) {
    const k = signature(r);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  // Map iteration is insertion order, so on a tie the group seen first (earliest client) wins.
  let majority: FinalReplica[] = [];
  for (const g of groups.values()) if (g.length > majority.length) majority = g;
  const ref = majority[0];
  // No two replicas alike: the first client's is no "group" and no truth, only what the rest is compared with.
  const noneAlike = majority.length === 1 && groups.size > 1;
  const refName =
    majority.length * 2 > h.clients.length ? 'the majority' : noneAlike ? 'the first replica' : 'the largest group';
  if (ref) {
    for (const g of groups.values()) {
      if (g === majority) continue;
      for (const r of g) {
        const d = differences(r, ref);
        violations.push({
          text: `${r.client} differs from ${refName} (${listIds(majority.map((m) => m.client))}): ${d.words.join('; ')}`,
          clients: [r.client, ref.client],
          msgIds: d.ids.slice(0, 20),
        });
      }
    }
  }
  const summary =
    violations.length === 0
      ? `${replicas.length} replicas identical: ${ref?.displayed.length ?? 0} messages, hash ${ref?.contentHash ?? '-'}`
      : noneAlike
        ? `no two of the ${replicas.length} replicas are identical (each is compared with ${ref!.client}'s)${
            present.size < h.clients.length ? `, and ${h.clients.length - present.size} client(s) have none` : ''
          }`
        : `${replicas.length - majority.length + (h.clients.length - present.size)} of ${h.clients.length} replicas differ from ${refName}`;
  return verdict('CHK-1', summary, violations);
};
