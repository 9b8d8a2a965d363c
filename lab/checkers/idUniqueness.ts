/**
 * CHK-5 id uniqueness: no two distinct sends got the same message id (ID-1: ids are 128 random
 * bits, so without coordination they still never collide).
 *
 * Two ways a collision shows: two `send` events with one id (whoever sent them), or final replicas
 * holding one id with different records (author, HLC, wall clock or reply-to differ), which is what
 * a collision leaves behind when one record overwrote the other.
 */
import type { FinalMessage, History } from '../history.js';
import { encodeHlc } from '../../shared/chat/hlc.js';
import { listIds, verdict, type Evidence, type Verdict } from './verdict.js';

const recordKey = (m: FinalMessage): string => `${m.authorId}|${encodeHlc(m.hlc)}|${m.wall}|${m.replyTo ?? ''}`;

export const checkIdUniqueness = (h: History): Verdict => {
  const violations: Evidence[] = [];
  const sends = new Map<string, { client: string; t: number }[]>();
  for (const e of h.events) {
    if (e.kind !== 'send') continue;
    const s = sends.get(e.msgId);
    if (s) s.push({ client: e.client, t: e.t });
    else sends.set(e.msgId, [{ client: e.client, t: e.t }]);
  }
  for (const [id, s] of sends) {
    if (s.length < 2) continue;
    violations.push({
      text: `${id} was given to ${s.length} sends: ${s.map((x) => `by ${x.client} at ${Math.round(x.t)} ms`).join(', ')}`,
      clients: [...new Set(s.map((x) => x.client))],
      msgIds: [id],
    });
  }
  const reported = new Set(violations.flatMap((v) => v.msgIds));
  // id → record key → clients holding that version.
  const versions = new Map<string, Map<string, string[]>>();
  for (const r of h.final?.replicas ?? []) {
    for (const m of r.displayed) {
      let v = versions.get(m.id);
      if (!v) versions.set(m.id, (v = new Map<string, string[]>()));
      const k = recordKey(m);
      const holders = v.get(k);
      if (!holders) v.set(k, [r.client]);
      else if (!holders.includes(r.client)) holders.push(r.client);
    }
  }
  for (const [id, v] of versions) {
    if (v.size < 2 || reported.has(id)) continue;
    const parts = [...v].map(([k, clients]) => {
      const [author, hlc] = k.split('|');
      return `${listIds(clients)} see author ${author}, hlc ${hlc}`;
    });
    violations.push({
      text: `${id} names ${v.size} different messages: ${parts.join('; ')}`,
      clients: [...new Set([...v.values()].flat())],
      msgIds: [id],
    });
  }
  const summary =
    violations.length === 0
      ? `${sends.size} sends, ${sends.size} distinct ids`
      : `${violations.length} id(s) name more than one message`;
  return verdict('CHK-5', summary, violations);
};
