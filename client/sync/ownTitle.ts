/**
 * CHAT-9: the title this device last set in a room, kept in the room's meta (`ownTitle`, JSON)
 * until what became of it is known (`ChatRoom.titleFate`): the Yjs id of the value, so a rename
 * that loses to a concurrent one (CHAT-7) is told to its author, also when the other rename
 * arrives days later, after a reload. Any tab of the device may tell it and clear the record.
 */
export interface OwnTitle {
  /** The title as stored (trimmed and cut as `ChatRoom.setTitle` writes it). */
  readonly title: string;
  readonly client: number;
  readonly clock: number;
}

export const encodeOwnTitle = (own: OwnTitle): string =>
  JSON.stringify({ title: own.title, client: own.client, clock: own.clock });

/** The stored record; null when absent or not one (never throws: the meta is untyped JSON). */
export const decodeOwnTitle = (raw: unknown): OwnTitle | null => {
  if (typeof raw !== 'string') return null;
  try {
    const v = JSON.parse(raw) as Record<string, unknown>;
    const { title, client, clock } = v;
    const id = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
    return typeof title === 'string' && id(client) && id(clock) ? { title, client, clock } : null;
  } catch {
    return null;
  }
};

/** What the author is told when their rename to `mine` lost to a concurrent one, to `shown`. */
export const lostTitleNotice = (mine: string, shown: string): string =>
  `Your rename to “${mine}” was not kept: someone renamed the room to “${shown || '(no title)'}” ` +
  'at the same time (or while you were apart), and of two renames made without seeing each other ' +
  'only one is kept. Rename it again to use yours.';
