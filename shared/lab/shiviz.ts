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

  send(host: string, messageId: string): Readonly<Record<string, number>> {
    const vc = this.tick(host);
    this.stamps.set(messageId, vc);
    return vc;
  }

  /** The receiver's new timestamp; a message never sent here is merged as nothing. */
  receive(host: string, messageId: string): Readonly<Record<string, number>> {
    const own = { ...(this.clocks.get(host) ?? {}) };
    for (const [h, n] of Object.entries(this.stamps.get(messageId) ?? {})) own[h] = Math.max(own[h] ?? 0, n);
    this.clocks.set(host, own);
    return this.tick(host);
  }

  local(host: string): Readonly<Record<string, number>> {
    return this.tick(host);
  }
}
