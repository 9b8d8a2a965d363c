/**
 * The lobby's room summaries (unread count, last message), kept per store and identity for as
 * long as the page lives. Showing the lobby again — after every visit to a room — then replays
 * only the rooms whose stored updates or last-read message changed since they were counted; a
 * replay is not free (about 0.9 s of main thread for a 100,000-message room).
 *
 * A summary is valid for the store counters (LOCAL-6: every write, by any tab, changes them) and
 * the read mark it was counted at (the last read message and what had arrived then, UNREAD-1);
 * anything else is counted again. LOBBY-1: a refresh
 * that only added updates advances the kept summary instead of a replay.
 *
 * LOBBY-2: every summary counted or advanced is also written to the room's meta
 * (./summaryRecord.ts, with `setMetaIf`, LOCAL-13), so after a page load a room whose counters,
 * last-read message and identity match what was written is not replayed. The write is started,
 * never awaited (the lobby does not wait for an fsync), and it is made only when a summary was
 * counted or advanced, never when one is shown again or restored. A failed write only costs the
 * next page load a replay.
 */
import type { RoomChange } from '../sync/backgroundRefresh.js';
import { decodeReadSv } from '../sync/readMark.js';
import { decodeSyncState } from '../sync/syncState.js';
import type { RoomUpdateStore } from '../storage/roomUpdateStore.js';
import { advanceSummary, summarizeRoom, type CountedRoom, type RoomSummary } from './lobbyData.js';
import type { RoomInfo } from './services.js';
import { fromSummaryRecord, toSummaryRecord } from './summaryRecord.js';

/** The read mark a summary is counted for: the last-read message and what had arrived then (UNREAD-1). */
interface ReadMark {
  readonly lastRead: string | undefined;
  readonly readSv: string | undefined;
}

interface Kept {
  readonly key: string;
  readonly read: ReadMark;
  readonly counted: CountedRoom;
}

const keyOf = (counters: { readonly updates: number; readonly bytes: number }, read: ReadMark): string =>
  `${counters.updates}:${counters.bytes}:${read.lastRead ?? ''}:${read.readSv ?? ''}`;

export class LobbySummaries {
  private readonly byRoom = new Map<string, Kept>();

  constructor(
    private readonly store: RoomUpdateStore,
    private readonly selfId: string,
  ) {}

  /**
   * The room's summary: the kept one when `info` shows no change since, else the one persisted in
   * the room's meta when it was counted at `info`'s state (LOBBY-2), else a fresh count.
   */
  async summary(info: RoomInfo): Promise<RoomSummary> {
    const read: ReadMark = { lastRead: info.meta.lastReadMessageId, readSv: info.meta.readSv };
    const kept = this.byRoom.get(info.room);
    if (kept?.key === keyOf(info, read)) return kept.counted.summary;
    const key = { room: info.room, selfId: this.selfId, ...read };
    const restored = fromSummaryRecord(info.meta.lobby, { ...key, at: info });
    if (restored) {
      this.byRoom.set(info.room, { key: keyOf(restored.at, read), read, counted: restored });
      return restored.summary;
    }
    // LOBBY-3: the acks as `info` read them, no later than the count: they can only have grown since.
    const { acked } = decodeSyncState(info.meta.sync);
    const readSv = decodeReadSv(read.readSv);
    const counted = await summarizeRoom(this.store, info.room, read.lastRead, this.selfId, acked, readSv);
    // Keyed by the counted snapshot's own counters: a write after `listRooms` is not in `info`.
    this.keep(info.room, read, counted);
    return counted.summary;
  }

  /**
   * CATCH-8: the Yjs clients of the room's own messages, reactions and title not acked when it was
   * counted (LOBBY-3), whose acks the catch-up records; none before the room was counted on this page.
   */
  unackedClients(room: string): Set<number> {
    const clients = new Set<number>();
    const summary = this.byRoom.get(room)?.counted.summary;
    if (!summary) return clients;
    for (const m of summary.unacked) {
      if (m.yId) clients.add(m.yId.client);
      if (m.editYId) clients.add(m.editYId.client);
    }
    for (const r of summary.unackedReactions) clients.add(r.client);
    if (summary.unackedTitle) clients.add(summary.unackedTitle.client);
    return clients;
  }

  /** LOBBY-1: counts what a refresh stored into the room's kept summary, when it can. */
  advance(room: string, change: RoomChange): void {
    const kept = this.byRoom.get(room);
    if (change.kind !== 'stored' || !kept) return;
    // What it appends sorts after every message counted (LOBBY-1), so after the last read one:
    // unread by the display order alone, whatever the read state vector says (UNREAD-1).
    const counted = advanceSummary(kept.counted, change.stored, kept.read.lastRead, this.selfId);
    if (counted) this.keep(room, kept.read, counted);
  }

  /** Keeps `counted` for the page and starts writing it to the room's meta (LOBBY-2). */
  private keep(room: string, read: ReadMark, counted: CountedRoom): void {
    this.byRoom.set(room, { key: keyOf(counted.at, read), read, counted });
    const record = toSummaryRecord(counted, { room, selfId: this.selfId, ...read });
    // Too large to keep (LOBBY-2): the next page load recounts.
    if (record === null) return;
    // Only over the counters it was counted at (LOCAL-13): if another tab wrote since, nothing is
    // stored and the next page load recounts. Store errors also reach the store's listeners.
    this.store.setMetaIf(room, { lobby: record }, counted.at).catch(() => undefined);
  }
}

const kept = new WeakMap<RoomUpdateStore, Map<string, LobbySummaries>>();

/** The summaries of `store` as seen by `selfId`, the same object every time the lobby is shown. */
export const lobbySummariesFor = (store: RoomUpdateStore, selfId: string): LobbySummaries => {
  let bySelf = kept.get(store);
  if (!bySelf) kept.set(store, (bySelf = new Map<string, LobbySummaries>()));
  let summaries = bySelf.get(selfId);
  if (!summaries) bySelf.set(selfId, (summaries = new LobbySummaries(store, selfId)));
  return summaries;
};
