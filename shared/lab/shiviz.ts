/**
 * LAB-6: an event log in ShiViz's format (https://bestchai.bitbucket.io/shiviz/): the first line
 * is the regular expression ShiViz parses each event with, the second the (empty) delimiter of
 * multiple executions, then the log: two lines per event — the event's description,
 * then `host {"host":n,...}`, its vector timestamp. Paste the whole text into ShiViz ("Try out
 * ShiViz" → "input" → paste) and it draws the space-time diagram.
 *
 * Vector timestamps must be consistent for ShiViz: a host's first event has its own entry 1 and
 * each next event on that host one more, and a receive's timestamp dominates its send's. `toShiViz` does not invent them;
 * the caller (the session's lab log, the experiment runner) computes them, and gives the events
 * in an order where each host's events are in the order of its own entry.
 */
export interface LabEvent {
  /** ms (since the epoch or since the experiment started; only the order matters). */
  readonly t: number;
  readonly host: string;
  readonly kind: 'send' | 'receive' | 'local';
  readonly text: string;
  readonly vc: Readonly<Record<string, number>>;
}

export const SHIVIZ_REGEX = '(?<event>.*)\\n(?<host>\\S*) (?<clock>{.*})';

/** Host names may not contain white space (the regex's `\S*`). */
const hostName = (h: string): string => h.replace(/\s+/g, '_') || '_';

const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ');

export const toShiViz = (events: readonly LabEvent[]): string => {
  const lines = [SHIVIZ_REGEX, ''];
  for (const e of events) {
    const vc: Record<string, number> = {};
    for (const [h, n] of Object.entries(e.vc)) vc[hostName(h)] = n;
    lines.push(`${e.kind} ${oneLine(e.text)}`, `${hostName(e.host)} ${JSON.stringify(vc)}`);
  }
  return lines.join('\n') + '\n';
};

/**
 * Vector clocks for a message log (Fidge/Mattern): `send` ticks the sender's entry and stamps
 * the message; `receive` merges the stamp of that message and ticks the receiver's entry.
 */
export class VectorClocks {
  private readonly clocks = new Map<string, Record<string, number>>();
  private readonly stamps = new Map<string, Readonly<Record<string, number>>>();

  private tick(host: string): Record<string, number> {
    const vc = { ...(this.clocks.get(host) ?? {}) };
    vc[host] = (vc[host] ?? 0) + 1;
    this.clocks.set(host, vc);
    return vc;
  }

  /**
   * Stamps a send; `saw` are messages the sender held by then (LAB-12), merged first like
   * receives. A message not stamped yet is merged as nothing.
   */
  send(host: string, messageId: string, saw: Iterable<string> = []): Readonly<Record<string, number>> {
    for (const id of saw) this.merge(host, id);
    const vc = this.tick(host);
    this.stamps.set(messageId, vc);
    return vc;
  }

  /** The receiver's new timestamp; a message never sent here is merged as nothing. */
  receive(host: string, messageId: string): Readonly<Record<string, number>> {
    this.merge(host, messageId);
    return this.tick(host);
  }

  sent(messageId: string): boolean {
    return this.stamps.has(messageId);
  }

  private merge(host: string, messageId: string): void {
    const own = { ...(this.clocks.get(host) ?? {}) };
    for (const [h, n] of Object.entries(this.stamps.get(messageId) ?? {})) own[h] = Math.max(own[h] ?? 0, n);
    this.clocks.set(host, own);
  }

  local(host: string): Readonly<Record<string, number>> {
    return this.tick(host);
  }
}

/** A message as one replica's log knows it (LAB-12). */
export interface LoggedMessage {
  readonly id: string;
  /** Its author's host. */
  readonly host: string;
  readonly text: string;
  /** When its author sent it, by the author's clock. */
  readonly sentAt: number;
  /** When it arrived at the replica whose log this is. */
  readonly arrivedAt: number;
  /**
   * Messages its author provably held when sending it: the one it replies to, the one it names
   * as seen (CHAT-8 `after`), the author's previous message from the same Yjs client. Ids not in
   * the log are ignored.
   */
  readonly saw: readonly string[];
}

/**
 * LAB-6, LAB-12: the event log of the replica whose host is `self`, from the messages in their
 * order of arrival there. Its own messages are sends on `self`; every other one is a send on its
 * author's host, then a receive on `self`. That replica saw only the sends of others, not their
 * receives, so another host's vector holds what its messages prove (`saw`, transitively) and
 * nothing more: a lower bound of the real one. Each send is stamped after everything it saw,
 * pulled forward when it arrived later (a reply may arrive before its parent), so a send always
 * dominates what its author had seen and no dependency is drawn as concurrent. A cycle (only
 * forged data makes one) is cut where it closes.
 */
export const replicaLog = (self: string, arrived: readonly LoggedMessage[]): LabEvent[] => {
  const byId = new Map(arrived.map((m) => [m.id, m]));
  const vcs = new VectorClocks();
  const out: LabEvent[] = [];
  const send = (m: LoggedMessage): void => {
    out.push({ t: m.sentAt, host: m.host, kind: 'send', text: m.text, vc: vcs.send(m.host, m.id, m.saw) });
  };
  // Depth first without recursion: a long chain of replies that arrived newest first must not
  // exhaust the stack.
  const sendWithWhatItSaw = (root: LoggedMessage): void => {
    if (vcs.sent(root.id)) return;
    const onPath = new Set([root.id]);
    const stack = [{ m: root, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const depId = top.m.saw[top.next++];
      if (depId === undefined) {
        stack.pop();
        onPath.delete(top.m.id);
        send(top.m);
        continue;
      }
      const dep = byId.get(depId);
      if (!dep || vcs.sent(depId) || onPath.has(depId)) continue;
      onPath.add(depId);
      stack.push({ m: dep, next: 0 });
    }
  };
  for (const m of arrived) {
    sendWithWhatItSaw(m);
    if (m.host !== self)
      out.push({ t: m.arrivedAt, host: self, kind: 'receive', text: m.text, vc: vcs.receive(self, m.id) });
  }
  return out;
};
