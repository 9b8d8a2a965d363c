/**
 * Divergence windows: from the state samples, the stretches of time in which a client's content
 * hash differs from the majority's (the hash most clients show at that sample). On a tie the
 * reference stays the previous sample's majority if it is one of the tied hashes; otherwise (three
 * clients each with their own content after a relay crash, a fresh 2/2 split) there is none and
 * every client counts as diverged: picking one of the tied hashes would draw that client as the
 * one that was right. A crashed client (null hash) has no state to compare, so it is not counted
 * as diverged. A window opens at the first differing sample and closes at the first agreeing one
 * (or at the last sample, `open: true`).
 */
import type { History } from '../history.js';

export interface DivergenceWindow {
  readonly client: string;
  readonly from: number;
  readonly to: number;
  /** Still diverged at the last sample. */
  readonly open: boolean;
}

export const divergenceWindows = (h: History): DivergenceWindow[] => {
  const out: DivergenceWindow[] = [];
  const openSince = new Map<string, number>();
  let lastT = 0;
  let previous: string | null = null;
  for (const e of h.events) {
    if (e.kind !== 'sample') continue;
    lastT = e.t;
    const counts = new Map<string, number>();
    for (const s of e.clients)
      if (s.contentHash !== null) counts.set(s.contentHash, (counts.get(s.contentHash) ?? 0) + 1);
    const best = Math.max(0, ...counts.values());
    const tied = [...counts].filter(([, n]) => n === best).map(([hash]) => hash);
    const majority: string | null =
      tied.length === 1 ? tied[0]! : previous !== null && tied.includes(previous) ? previous : null;
    previous = majority;
    for (const s of e.clients) {
      const diverged = s.contentHash !== null && s.contentHash !== majority;
      const since = openSince.get(s.client);
      if (diverged && since === undefined) openSince.set(s.client, e.t);
      if (!diverged && since !== undefined) {
        out.push({ client: s.client, from: since, to: e.t, open: false });
        openSince.delete(s.client);
      }
    }
  }
  for (const [client, from] of openSince) out.push({ client, from, to: lastT, open: true });
  return out.sort((a, b) => a.from - b.from || (a.client < b.client ? -1 : 1));
};
