/**
 * DRAFT-1: the composer's unsent text survives a reload and a crash of the browser itself.
 *
 * Two copies, because neither alone does both:
 * - localStorage, written on every keystroke: synchronous (the composer opens with it), shared by
 *   the profile's tabs (`storage` events), but Chromium writes it to disk lazily — a browser crash
 *   loses the last seconds of typing;
 * - the room's IndexedDB meta (`draft`, `draftAt`), written `DRAFT_WRITE_DELAY_MS` after the last
 *   keystroke, at once when the text is sent or cleared (if the meta holds text), and when the page
 *   is hidden or closed: on disk when the transaction completes (every meta write is strict).
 *
 * Each copy carries the time it was typed (`at`, ms since the epoch); a room opens with the newer
 * one, so a draft cleared by sending is not brought back by an older copy that outlived it.
 * Invariant: the meta copy is never newer than what the user last typed in this profile.
 */
import type { RoomMeta, RoomMetaPatch, RoomUpdateStore } from '../storage/roomUpdateStore.js';

export interface Draft {
  readonly text: string;
  /** When it was typed; 0 for a copy written before drafts carried a time. */
  readonly at: number;
}

/** Typing pauses shorter than this cost no IndexedDB write (each one is fsync'd). */
export const DRAFT_WRITE_DELAY_MS = 400;

export const draftKey = (room: string): string => `converge:draft:${room}`;
const draftAtKey = (room: string): string => `converge:draftAt:${room}`;

const EMPTY: Draft = { text: '', at: 0 };

/** The localStorage copy; never throws (a refused storage reads as no draft). */
export const readLocalDraft = (kv: Storage, room: string): Draft => {
  try {
    const text = kv.getItem(draftKey(room)) ?? '';
    const at = Number(kv.getItem(draftAtKey(room)));
    return { text, at: Number.isFinite(at) && at > 0 ? at : 0 };
  } catch {
    return EMPTY;
  }
};

const writeLocalDraft = (kv: Storage, room: string, draft: Draft): void => {
  try {
    // The text first: were the time to reach the disk without it, the older text would win.
    if (draft.text) kv.setItem(draftKey(room), draft.text);
    else kv.removeItem(draftKey(room));
    kv.setItem(draftAtKey(room), String(draft.at));
  } catch {
    // Quota: the text stays in the composer and goes to IndexedDB as usual.
  }
};

export const metaDraft = (meta: RoomMeta | undefined): Draft => ({ text: meta?.draft ?? '', at: meta?.draftAt ?? 0 });

/** The copy typed last; localStorage's on a tie (it is never older than the meta's). */
export const newerDraft = (local: Draft, stored: Draft): Draft => (stored.at > local.at ? stored : local);

/** The draft a room opens with, or the lobby previews. */
export const currentDraft = (kv: Storage, room: string, meta: RoomMeta | undefined): Draft =>
  newerDraft(readLocalDraft(kv, room), metaDraft(meta));

type MetaWriter = Pick<RoomUpdateStore, 'setMeta'>;

/** One room's draft while its composer is shown. */
export class DraftKeeper {
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Typed here and not yet handed to IndexedDB. */
  private unsaved: Draft | null = null;
  /**
   * The meta may hold text (it did when the room was opened, or this keeper wrote some since): only
   * then is clearing it worth a write of its own. A text sent before it reached the meta costs none.
   */
  private metaHasText: boolean;

  constructor(
    private readonly room: string,
    private readonly store: MetaWriter,
    private readonly kv: Storage,
    openedWith: RoomMeta | undefined,
    private readonly now: () => number = Date.now,
    private readonly onError: (e: unknown) => void = () => {},
  ) {
    this.metaHasText = Boolean(openedWith?.draft);
  }

  /** The user changed the text: localStorage now, IndexedDB after a pause. */
  change(text: string): void {
    const draft = { text, at: this.now() };
    writeLocalDraft(this.kv, this.room, draft);
    this.unsaved = draft;
    if (this.timer !== null) clearTimeout(this.timer);
    if (!text) {
      // Sent or cleared: at once, so a crash cannot leave an older copy in the meta to bring the
      // text back.
      if (this.metaHasText) this.flush();
      else this.unsaved = null;
      return;
    }
    this.timer = setTimeout(() => this.flush(), DRAFT_WRITE_DELAY_MS);
  }

  /** Hands what was typed to IndexedDB now (page hidden or closed, composer gone). */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const draft = this.unsaved;
    if (!draft) return;
    this.unsaved = null;
    this.metaHasText = draft.text !== '';
    const patch: RoomMetaPatch = { draft: draft.text || undefined, draftAt: draft.at };
    // A failed write (quota, a closed database) leaves the localStorage copy; the next keystroke
    // tries again. The error is reported: the same store's message writes fail too and say so.
    this.store.setMeta(this.room, patch).catch(this.onError);
  }
}
