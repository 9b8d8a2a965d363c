/**
 * The awareness state a session publishes, and the validating reader for the states of others
 * (untrusted: another client can publish anything that passes AWR-1).
 *
 *     { user: { id, name }, typing: boolean, sv: [[yjsClient, clock], ...] }
 *
 * SEEN-1: `sv` holds this replica's state-vector entries for the Yjs clients that authored the
 * room's most recent messages (at most `MAX_SV_ENTRIES`), so each participant's own recent
 * messages are covered while the state stays small. A message is 'seen' once the published `sv`
 * of another participant (another user id, not another tab of the same user) reaches past its
 * record's Yjs id.
 */
import { NAME_LIMIT } from '../../shared/chat/chatRoom.js';
import { isId } from '../../shared/ids.js';

export const MAX_SV_ENTRIES = 32;
/** PRES-1: typing clears after this long without `setTyping(true)`. */
export const TYPING_TIMEOUT_MS = 3000;

export interface ParsedPresence {
  readonly userId: string;
  readonly name: string;
  readonly typing: boolean;
  readonly sv: ReadonlyMap<number, number>;
}

/** A validated view of someone's awareness state, or null when it is not a Converge presence. */
export const parsePresence = (state: unknown): ParsedPresence | null => {
  if (typeof state !== 'object' || state === null) return null;
  const s = state as Record<string, unknown>;
  const user = s.user as Record<string, unknown> | null | undefined;
  if (typeof user !== 'object' || user === null || !isId(user.id) || typeof user.name !== 'string') return null;
  const sv = new Map<number, number>();
  if (Array.isArray(s.sv)) {
    for (const pair of s.sv.slice(0, MAX_SV_ENTRIES)) {
      if (!Array.isArray(pair) || pair.length !== 2) continue;
      const [c, k] = pair as unknown[];
      if (Number.isSafeInteger(c) && Number.isSafeInteger(k) && (c as number) >= 0 && (k as number) >= 0) {
        sv.set(c as number, k as number);
      }
    }
  }
  return {
    userId: user.id,
    name: user.name.replace(/\s+/g, ' ').trim().slice(0, NAME_LIMIT),
    typing: s.typing === true,
    sv,
  };
};

/**
 * SEEN-1: a bounded list of recently active Yjs clients, most recent last. `touch` moves a
 * client to the end.
 */
export class RecentClients {
  private readonly order: number[] = [];

  touch(client: number): void {
    const i = this.order.indexOf(client);
    if (i >= 0) this.order.splice(i, 1);
    this.order.push(client);
    if (this.order.length > MAX_SV_ENTRIES) this.order.shift();
  }

  list(): readonly number[] {
    return this.order;
  }
}
