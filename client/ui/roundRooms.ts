/**
 * Which rooms one round of SYNC-C1's background refresh visits: the `recent` most recently opened,
 * then `older` of the rest in turn. Without the turn a room that fell out of the most recent never
 * got a refresh: its lobby count stayed where it was when it last was among them until it was
 * opened again, however much it missed.
 *
 * The turn goes by name, continuing after the last older room visited (`after`: a room chosen but
 * not visited, in a round cut short, keeps its turn) and wrapping around, not by position: opening
 * a room moves every room after it in the recency order, and a cursor by position would then skip
 * some. By name, while no room is added, each older room is visited within ceil(others / older)
 * rounds; a room moving into the most recent is visited there.
 */

/** SYNC-C1: how many of the most recently opened rooms a round visits. */
export const REFRESH_ROOMS = 10;
/** SYNC-C1: how many of the other rooms a round visits besides, in turn. */
export const REFRESH_OLDER_ROOMS = 3;

/** A room as the round needs it: its name and when it was last opened here (never: undefined). */
export interface RoundRoom {
  readonly room: string;
  readonly lastOpenedAt: number | undefined;
}

export interface RoundRoomsChoice {
  /** The rooms to visit, the most recent first, then the older ones in their turn. */
  readonly rooms: readonly string[];
  /** The older ones among them, in the order visited. */
  readonly turn: readonly string[];
}

/**
 * Of `all`, leaving out what `skip` says (rooms held back, the one open on this screen): the
 * `recent` most recently opened, and up to `older` of the others, the first by name after `after`.
 */
export const roundRooms = (
  all: readonly RoundRoom[],
  skip: (room: string) => boolean,
  limits: { readonly recent: number; readonly older: number },
  after: string | null,
): RoundRoomsChoice => {
  const eligible = all.filter((r) => !skip(r.room));
  eligible.sort((a, b) => (b.lastOpenedAt ?? 0) - (a.lastOpenedAt ?? 0));
  const recent = eligible.slice(0, limits.recent).map((r) => r.room);
  const others = eligible
    .slice(limits.recent)
    .map((r) => r.room)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (others.length === 0 || limits.older <= 0) return { rooms: recent, turn: [] };
  const start = after === null ? 0 : others.findIndex((room) => room > after);
  const from = start < 0 ? 0 : start;
  const turn = Array.from(
    { length: Math.min(limits.older, others.length) },
    (_, i) => others[(from + i) % others.length]!,
  );
  return { rooms: [...recent, ...turn], turn };
};

/** The turn of the older rooms across a page's rounds: where the next one continues. */
export class OlderRoomsTurn {
  private after: string | null = null;
  private turn: readonly string[] = [];

  /** The rooms a round visits (`roundRooms`), continuing the turn. */
  choose(all: readonly RoundRoom[], skip: (room: string) => boolean): readonly string[] {
    const choice = roundRooms(all, skip, { recent: REFRESH_ROOMS, older: REFRESH_OLDER_ROOMS }, this.after);
    this.turn = choice.turn;
    return choice.rooms;
  }

  /** The round visited `room`: if it was one of the older, the turn moves past it. */
  visited(room: string): void {
    if (this.turn.includes(room)) this.after = room;
  }
}
