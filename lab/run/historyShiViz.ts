/**
 * LAB-6 for a whole experiment: the recorded sends and deliveries of every client as one ShiViz
 * log (hosts are the runner's client names; a delivery to another client is a receive of that
 * send). Written next to the report as `shiviz.log`.
 */
import { toShiViz, VectorClocks, type LabEvent } from '../../shared/lab/shiviz.js';
import type { History } from '../history.js';

export const historyToShiViz = (h: History): string => {
  const vcs = new VectorClocks();
  const senders = new Map<string, { client: string; text: string }>();
  const out: LabEvent[] = [];
  for (const e of h.events) {
    if (e.kind === 'send') {
      senders.set(e.msgId, { client: e.client, text: e.text });
      out.push({
        t: e.t,
        host: e.client,
        kind: 'send',
        text: `${e.text} (${e.msgId})`,
        vc: vcs.send(e.client, e.msgId),
      });
    } else if (e.kind === 'deliver') {
      const s = senders.get(e.msgId);
      if (!s || s.client === e.client) continue;
      out.push({
        t: e.t,
        host: e.client,
        kind: 'receive',
        text: `${s.text} (${e.msgId})`,
        vc: vcs.receive(e.client, e.msgId),
      });
    }
  }
  return toShiViz(out);
};
