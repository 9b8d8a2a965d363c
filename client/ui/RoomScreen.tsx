/**
 * A room: header (title, connection, offline switch, Lab button), warnings (and the lab's active
 * faults), the message log, the composer, a side panel (people here, sharing, export and
 * import) and, when opened, the Lab panel (./lab/LabPanel.tsx).
 */
import {
  useCallback,
  useEffect,
  useId,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ChangeEvent,
  type ReactNode,
} from 'react';
import { TITLE_LIMIT } from '../../shared/chat/chatRoom.js';
import { linkClick, useApp } from './appContext.js';
import { Composer, type ComposerHandle } from './Composer.js';
import { LabFaultBanner } from './lab/LabFaultBanner.js';
import { LabPanel } from './lab/LabPanel.js';
import { useLabPanelOpen } from './lab/useLabPanelOpen.js';
import { useSpaceTimeRecorder } from './lab/useSpaceTimeRecorder.js';
import { dateStamp, download } from './download.js';
import { formatDuration, formatSyncTime, isoTime, plural } from './format.js';
import type { MessageActions } from './MessageItem.js';
import { MessageIndex } from './messageIndex.js';
import { MessageList, type MessageListHandle } from './MessageList.js';
import { NamePrompt } from './NamePrompt.js';
import { RoomFrame } from './RoomFrame.js';
import { SyncDetails } from './SyncDetails.js';
import { describePending } from './describePending.js';
import { STATUS_LABEL } from './describeSync.js';
import { describeImport } from './describeImport.js';
import { announceUploadEnd, announceUploadStart, describeUpload } from './describeUpload.js';
import { lastIndexOfMessage, messageRows, searchRows, type Rows } from './rows.js';
import { ImportError } from '../sync/roomFile.js';
import { roomUrl } from './router.js';
import { foldForSearch, foldQuery, indexOfFolded } from './searchText.js';
import { isDraftReplyKey, readDraftReply, writeDraftReply } from './draftKeeper.js';
import { TypeAhead } from './typeAhead.js';
import {
  kv,
  offlineSwitch,
  roomFileName,
  type MessageView,
  type RoomMeta,
  type RoomSession,
  type RoomView,
  type OversizedMessage,
  quoteStart,
  readMarks,
} from './services.js';
import { useCopy } from './useCopy.js';
import { useRoomSession, useRoomView } from './useRoomView.js';
import { useOtherRoomsRefresh } from './useOtherRoomsRefresh.js';
import { useRelayBackAnnouncer } from './relayBack.js';
import { useLeaveGuard } from './useLeaveGuard.js';

/**
 * SEARCH-1: a message's text and author as search compares them, folded once per message view
 * (the session keeps the same view object while the message is unchanged), not on every keystroke.
 */
const foldedViews = new WeakMap<MessageView, string>();
const foldedForSearch = (m: MessageView): string => {
  let f = foldedViews.get(m);
  if (f === undefined) {
    // A line break between them: a query cannot match across the text's end and the name.
    f = `${foldForSearch(m.text)}\n${foldForSearch(m.authorName)}`;
    foldedViews.set(m, f);
  }
  return f;
};

export const RoomScreen = ({ room }: { room: string }): ReactNode => {
  const { identity } = useApp();
  useEffect(() => {
    document.title = `${room} — Converge`;
  }, [room]);
  // PRES-5: decided when the room is entered; only the prompt's answer (or another tab's) ends it.
  const [asked] = useState(!identity.named);
  const [asking, setAsking] = useState(asked);
  const answered = useCallback(() => setAsking(false), []);
  if (asking) return <NamePrompt room={room} onDone={answered} />;
  // Answered here: the focus goes to the message box (the field it was in is gone; they came to write).
  return <OpeningRoom room={room} focusComposer={asked} />;
};

const OpeningRoom = ({ room, focusComposer }: { room: string; focusComposer: boolean }): ReactNode => {
  const state = useRoomSession(room);
  // TYPE-1: keys typed before the message box exists are kept for it. A layout effect: it listens
  // before the browser handles the next key (the name prompt's Enter unmounted the field).
  const [typeAhead] = useState(() => new TypeAhead(document));
  useLayoutEffect(() => {
    typeAhead.start();
    return () => typeAhead.stop();
  }, [typeAhead]);
  if (state.phase === 'open') {
    return (
      <Room room={room} session={state.session} meta={state.meta} focusComposer={focusComposer} typeAhead={typeAhead} />
    );
  }
  return (
    <RoomFrame room={room} busy={state.phase === 'opening'}>
      {state.phase === 'opening' ? (
        <p>Opening the room…</p>
      ) : (
        <p className="error" role="alert">
          This room could not be opened: {state.message}
        </p>
      )}
    </RoomFrame>
  );
};

const subscribeVisibility = (changed: () => void): (() => void) => {
  document.addEventListener('visibilitychange', changed);
  return () => document.removeEventListener('visibilitychange', changed);
};

/** The page is shown; read again once subscribed (`useSyncExternalStore`), so no change is lost. */
const useDocumentVisible = (): boolean =>
  useSyncExternalStore(subscribeVisibility, () => document.visibilityState === 'visible');

/** UNREAD-4: the mark of a reader who left an empty room: every message by others is new. Ids are never empty. */
const BEFORE_EVERY_MESSAGE = '';
/** How long after opening a room incoming messages still count as "arrived while you were away". */
const CATCH_UP_MS = 5000;
const READ_WRITE_DELAY_MS = 800;
/** The width below which Room details is a drawer over the messages (styles.css's breakpoint). */
const DRAWER_LAYOUT = '(max-width: 56rem)';
/** UNREAD-3: how often a hidden tab that counts unread messages reads the room's read mark. */
const READ_MARK_POLL_MS = 2000;

const Room = ({
  room,
  session,
  meta,
  focusComposer,
  typeAhead,
}: {
  room: string;
  session: RoomSession;
  meta: RoomMeta;
  focusComposer: boolean;
  typeAhead: TypeAhead;
}): ReactNode => {
  const { identity, local } = useApp();
  const view = useRoomView(session);
  const visible = useDocumentVisible();
  useOtherRoomsRefresh(room, view.connection.status);
  useRelayBackAnnouncer(view.connection.status);
  useLeaveGuard(view.storage.onlyInPage);
  const listRef = useRef<MessageListHandle>(null);
  const composerRef = useRef<ComposerHandle>(null);
  // Only when the room first shows (the Composer is mounted by then: effects run after children's).
  // With a mouse or keyboard the room opens ready to write (else what was typed went nowhere); on a
  // touch screen only after the name prompt, as focusing would raise the keyboard over the messages.
  // A layout effect, in the same commit as the Composer's, which takes TYPE-1's keys and stops
  // listening: a key pressed between that and a later (passive) focus landed on the page, lost.
  const [focusComposerOnOpen] = useState(() => focusComposer || window.matchMedia('(pointer: fine)').matches);
  useLayoutEffect(() => {
    if (focusComposerOnOpen) composerRef.current?.focus();
  }, [focusComposerOnOpen]);
  const [query, setQuery] = useState('');
  const [replyTo, setReplyTo] = useState<MessageView | null>(null);
  // DRAFT-2: the reply the draft was written as, taken back once its message is shown; until then
  // (or until the user picks another or none) what is stored stays as it is.
  const [replyToRestore, setReplyToRestore] = useState(() => readDraftReply(kv, room));
  const [atBottom, setAtBottom] = useState(true);
  const [highlightedId, setHighlightedId] = useState<string | null>(null);
  const [pendingScroll, setPendingScroll] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  /** PLACE-1: the own message sent last, until it shows; where it went when not last. */
  const justSent = useRef<string | null>(null);
  const [placedEarlier, setPlacedEarlier] = useState<{ below: number; behindMs: number } | null>(null);
  const [detailsOpen, setDetailsOpen] = useState(false);
  const detailsButton = useRef<HTMLButtonElement>(null);
  const closeDetails = useCallback(() => {
    setDetailsOpen(false);
    detailsButton.current?.focus();
  }, []);
  const detailsClose = useRef<HTMLButtonElement>(null);
  // The drawer opened over the messages takes the focus, so Escape (heard inside it) closes it.
  useEffect(() => {
    if (detailsOpen) detailsClose.current?.focus();
  }, [detailsOpen]);
  const [labOpen, setLabOpen] = useLabPanelOpen(room);
  const [labOpenedByUser, setLabOpenedByUser] = useState(false);
  const labButton = useRef<HTMLButtonElement>(null);
  const spaceTime = useSpaceTimeRecorder(session);
  const messages = view.messages;
  const lastId = messages.at(-1)?.id ?? null;
  // Lookups over `messages`, brought up to date with each new list (./messageIndex.ts): nothing
  // below walks every message on a change, except a search.
  const [index] = useState(() => new MessageIndex());
  index.update(messages);
  const { structureVersion, namesVersion } = index;

  // DRAFT-2: the stored reply comes back once its message is shown; a reply chosen or dropped is stored.
  useEffect(() => {
    if (replyToRestore === null || replyTo !== null) return;
    const m = index.get(replyToRestore);
    if (!m) return;
    setReplyTo(m);
    setReplyToRestore(null);
  }, [replyToRestore, replyTo, index, messages]);
  useEffect(() => {
    if (replyTo === null && replyToRestore !== null) return;
    writeDraftReply(kv, room, replyTo?.id ?? null);
    setReplyToRestore(null);
  }, [replyTo, replyToRestore, room]);
  // DRAFT-2: the reply follows the draft into this room's other tabs. A tab that kept its own bar
  // after another sent the text made the next message a reply nobody chose. Writing back what
  // came from the event changes nothing stored, so no event goes back.
  useEffect(() => {
    const onStorage = (e: StorageEvent): void => {
      if (!isDraftReplyKey(e.key, room)) return;
      setReplyTo(null);
      setReplyToRestore(e.newValue);
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, [room]);

  // ---- Unread: the "New messages" line and the last-read mark ----
  // `markId`: messages by others after this one are new in this visit. It follows the bottom of
  // the list while the user is there, and stays put (the line stays visible) when the user was
  // away: messages that were new on opening, or that arrived while scrolled up or hidden.
  const [markId, setMarkId] = useState<string | null>(meta.lastReadMessageId ?? null);
  const [pinned, setPinned] = useState(false);
  const openedAt = useRef(Date.now());
  const [catchingUp, setCatchingUp] = useState(true);
  /** The session has synced with the relay since the room showed (UNREAD-4: what it then holds is caught up). */
  const [syncedSinceOpen, setSyncedSinceOpen] = useState(false);
  useEffect(() => {
    const t = setTimeout(() => setCatchingUp(false), CATCH_UP_MS);
    return () => clearTimeout(t);
  }, []);
  // The catch-up ends at the first sync since opening, or at once after the first render (which
  // placed the line) when the session was synced before the room showed (the relay answered before
  // the room's meta was read, or a kept session, LEAVE-2): waiting out CATCH_UP_MS then pinned a
  // line above messages that came while the reader watched, and left the mark unset (UNREAD-4).
  useEffect(() => {
    const { lastSyncedAt, status } = view.connection;
    const synced = status === 'online' || (lastSyncedAt !== null && lastSyncedAt >= openedAt.current);
    if (synced && !syncedSinceOpen) setSyncedSinceOpen(true);
    if (catchingUp && (synced || status === 'offline')) setCatchingUp(false);
  }, [catchingUp, syncedSinceOpen, view.connection]);

  // The line goes before the first message by others after the mark. Both searches start at the
  // mark, found from the end: the mark is usually the last message or close to it.
  const divider = useMemo(() => {
    if (markId === null) return null;
    let at = -1;
    if (markId !== BEFORE_EVERY_MESSAGE) {
      at = lastIndexOfMessage(messages, markId);
      if (at < 0) return null;
    }
    for (let i = at + 1; i < messages.length; i++) if (!messages[i]!.own) return { id: messages[i]!.id, index: i };
    return null;
  }, [messages, markId]);
  const dividerBeforeId = divider?.id ?? null;

  useEffect(() => {
    if (dividerBeforeId !== null && !pinned && (catchingUp || !atBottom || !visible)) setPinned(true);
  }, [dividerBeforeId, pinned, catchingUp, atBottom, visible]);

  useEffect(() => {
    if (!catchingUp && atBottom && visible && !pinned && lastId !== null && markId !== lastId) setMarkId(lastId);
  }, [catchingUp, atBottom, visible, pinned, lastId, markId]);
  // UNREAD-4: a room with no mark yet (never read on this device) gets one when the reader leaves
  // the newest message before the effect above set one: the tab hidden (still catching up, or
  // within a render of it), or the list scrolled up. The mark is the newest message the reader
  // was at while shown, or none (every message by others is new) when they were at a room that
  // was empty after syncing. Opened hidden (a background tab), or never at a message while shown,
  // it is the newest message once the session has synced, not before: a relay slower than the
  // catch-up's 5 s, or a room opened offline, would make the whole history new. Without it,
  // nothing that came while hidden or scrolled up counted, in the title or below a line.
  const shownUpTo = useRef<string | null>(null);
  useEffect(() => {
    if (visible && atBottom) {
      if (lastId !== null || syncedSinceOpen) shownUpTo.current = lastId ?? BEFORE_EVERY_MESSAGE;
      return;
    }
    if (markId !== null) return;
    const read = shownUpTo.current ?? (syncedSinceOpen ? (lastId ?? BEFORE_EVERY_MESSAGE) : null);
    if (read !== null) setMarkId(read);
  }, [visible, atBottom, markId, lastId, syncedSinceOpen]);

  // Persist what was read (the lobby's unread counts): at once, then at most every
  // READ_WRITE_DELAY_MS (every meta write is fsync'd), and flushed when leaving the room.
  // UNREAD-1: the mark is the newest message and what the doc held then (its state vector), taken
  // together while the reader is at the newest message; also when messages arrive that sort above
  // it (a new list, same newest message), so those shown are not counted unread by the lobby.
  const readTarget = useRef<{ id: string | null; sv: string | undefined }>({
    id: meta.lastReadMessageId ?? null,
    sv: meta.readSv,
  });
  const persistedRead = useRef(readTarget.current);
  const lastReadWrite = useRef(0);
  const readTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const flushRead = useCallback(() => {
    clearTimeout(readTimer.current);
    readTimer.current = undefined;
    const target = readTarget.current;
    if (target.id === null || target === persistedRead.current) return;
    persistedRead.current = target;
    lastReadWrite.current = Date.now();
    // UNREAD-5: kept in localStorage should the page go before IndexedDB has it.
    readMarks.write(local.store, room, { id: target.id, sv: target.sv }).catch(() => undefined);
  }, [local.store, room]);
  useEffect(() => {
    if (!atBottom || !visible || lastId === null) return;
    const sv = session.readStateVector() ?? undefined;
    if (readTarget.current.id === lastId && readTarget.current.sv === sv) return;
    readTarget.current = { id: lastId, sv };
    if (readTimer.current !== undefined) return;
    const wait = lastReadWrite.current + READ_WRITE_DELAY_MS - Date.now();
    if (wait <= 0) flushRead();
    else readTimer.current = setTimeout(flushRead, wait);
  }, [atBottom, visible, lastId, structureVersion, session, flushRead]);
  useEffect(() => {
    window.addEventListener('pagehide', flushRead);
    return () => {
      window.removeEventListener('pagehide', flushRead);
      flushRead();
    };
  }, [flushRead]);

  // Messages by others that arrived below the viewport since the user scrolled up.
  const seenAtBottom = useRef<string | null>(lastId);
  if (atBottom && visible) seenAtBottom.current = lastId;
  const newBelow = useMemo(() => {
    if (atBottom) return 0;
    const at = seenAtBottom.current === null ? -1 : lastIndexOfMessage(messages, seenAtBottom.current);
    let n = 0;
    for (let i = at + 1; i < messages.length; i++) if (!messages[i]!.own) n++;
    return n;
  }, [messages, atBottom]);

  // ---- Rows: search results, or every message with the "New messages" line ----
  const trimmedQuery = query.trim();
  const dividerIndex = divider?.index ?? -1;
  const rows = useMemo<Rows>(() => {
    // A query of nothing but accents (a dead key pressed alone) folds to nothing: it matches nothing.
    const q = foldQuery(trimmedQuery);
    if (trimmedQuery) {
      return searchRows(q ? messages.filter((m) => !m.deleted && indexOfFolded(foldedForSearch(m), q) >= 0) : []);
    }
    return messageRows(messages, dividerIndex, structureVersion);
  }, [messages, trimmedQuery, dividerIndex, structureVersion]);

  // Where the list starts (read once by MessageList, when it first has rows).
  const initialIndex = useRef<number | null | undefined>(undefined);
  if (initialIndex.current === undefined && rows.length > 0) {
    initialIndex.current = rows.dividerIndex >= 0 ? rows.dividerIndex : null;
  }

  // Messages that were new on arrival came in with the first sync (after the list was placed at
  // the bottom): show the line and what follows it, not the bottom.
  const placedAtDivider = useRef(false);
  useEffect(() => {
    if (placedAtDivider.current || !catchingUp || trimmedQuery || dividerBeforeId === null) return;
    placedAtDivider.current = true;
    if (initialIndex.current != null) return; // the list already started at the line
    const i = rows.dividerIndex;
    if (i >= 0) listRef.current?.scrollToRow(i);
  }, [catchingUp, trimmedQuery, dividerBeforeId, rows]);

  // A user's name: what presence says, else the name on their last message.
  const names = useMemo(() => {
    const present = new Map<string, string>();
    for (const p of view.presence) present.set(p.userId, p.name);
    return { get: (userId: string) => present.get(userId) ?? index.authorName(userId) };
  }, [index, namesVersion, view.presence]); // a new namesVersion: a new object, so rows see new names

  // ---- Announce new messages from others to screen readers (LIVE-1) ----
  // The messages that were there when the room opened are not new. A batch (a catch-up) is one
  // announcement that says how many came; each announcement is a new node (`seq` as its key), so
  // a message with the same text as the one before ("ok", "ok") is announced too.
  const [announcement, setAnnouncement] = useState({ text: '', seq: 0 });
  const announcing = useRef(false);
  useEffect(() => {
    const added = index.takeAdded();
    if (!announcing.current) {
      announcing.current = true;
      return;
    }
    let latest: MessageView | null = null;
    let count = 0;
    for (const a of added) {
      const m = index.get(a.id);
      if (m && !m.own && !m.deleted) {
        latest = m;
        count++;
      }
    }
    if (!latest) return;
    const text = `${latest.authorName}: ${latest.text.slice(0, 200)}`;
    setAnnouncement((a) => ({ text: count > 1 ? `${count} new messages. Latest, ${text}` : text, seq: a.seq + 1 }));
  }, [index, messages]);

  // ---- Document title ----
  const title = view.title || room;
  // While hidden, the tab's title counts what the "New messages" line stands above: the messages
  // by others after the mark, not deleted (as the lobby counts unread). `newBelow` is 0 for a
  // reader left at the bottom, so the title said "(1)" however many had come.
  const unreadForTitle = useMemo(() => {
    if (visible || divider === null) return 0;
    let n = 0;
    for (let i = divider.index; i < messages.length; i++) if (!messages[i]!.own && !messages[i]!.deleted) n++;
    return n;
  }, [visible, divider, messages]);
  // UNREAD-3: read in another tab of this device (the room's read mark moved past this tab's mark),
  // the messages are no longer new here either: the hidden title and the line follow. The mark is
  // in the room's meta, written by the tab that showed them; read while the title counts any.
  const latestMessages = useRef(messages);
  latestMessages.current = messages;
  const latestMark = useRef(markId);
  latestMark.current = markId;
  useEffect(() => {
    if (unreadForTitle === 0) return;
    const check = (): void => {
      local.store
        .getMeta(room)
        .then((stored) => {
          const readId = stored?.lastReadMessageId;
          if (readId === undefined) return;
          const list = latestMessages.current;
          const readAt = lastIndexOfMessage(list, readId);
          const mark = latestMark.current;
          if (readAt < 0 || (mark !== null && readAt <= lastIndexOfMessage(list, mark))) return;
          setMarkId(readId);
          // The line was held for a reader who had not seen these: they have now.
          setPinned(false);
        })
        .catch(() => undefined);
    };
    const timer = setInterval(check, READ_MARK_POLL_MS);
    return () => clearInterval(timer);
  }, [unreadForTitle, local.store, room]);
  useEffect(() => {
    document.title = `${unreadForTitle ? `(${unreadForTitle}) ` : ''}${title} — Converge`;
  }, [title, unreadForTitle]);

  // ---- Showing one message (reply quotes, search results) ----
  const showMessage = useCallback((id: string) => {
    setQuery('');
    setPendingScroll(id);
  }, []);
  useEffect(() => {
    if (pendingScroll === null || trimmedQuery) return;
    listRef.current?.scrollToMessage(pendingScroll);
    setHighlightedId(pendingScroll);
    setPendingScroll(null);
  }, [pendingScroll, rows, trimmedQuery]);
  useEffect(() => {
    if (highlightedId === null) return;
    const t = setTimeout(() => setHighlightedId(null), 2500);
    return () => clearTimeout(t);
  }, [highlightedId]);

  const actions = useMemo<MessageActions>(
    () => ({
      reply: (m) => {
        setReplyTo(m);
        composerRef.current?.focus();
      },
      edit: (id, text) => session.edit(id, text),
      remove: (id) => {
        try {
          session.remove(id);
          setReplyTo((r) => (r?.id === id ? null : r));
        } catch (e) {
          setActionError(e instanceof Error ? e.message : String(e));
        }
      },
      react: (id, emoji, on) => {
        try {
          session.react(id, emoji, on);
        } catch (e) {
          setActionError(e instanceof Error ? e.message : String(e));
        }
      },
      showMessage,
      textByteLimit: () => session.textByteLimit(),
    }),
    [session, showMessage],
  );

  const onSent = useCallback((m: MessageView) => {
    justSent.current = m.id;
    setPlacedEarlier(null);
    setReplyTo(null);
    setReplyToRestore(null); // DRAFT-2: a stored reply never shown is dropped with the draft it went with
    setQuery('');
    setMarkId(m.id);
    setPinned(false);
    requestAnimationFrame(() => listRef.current?.scrollToLatest());
  }, []);

  // PLACE-1: an own message just sent that the display order (ORD-1, by HLC) put above others is
  // shown where it went, and why: this device's clock is behind theirs by more than HLC-3 lets its
  // HLC take, so it stamped the message earlier. It was out of sight: "sent" seemed to lose it.
  useEffect(() => {
    const id = justSent.current;
    if (id === null) return;
    const at = lastIndexOfMessage(messages, id);
    if (at < 0) return;
    justSent.current = null;
    const below = messages.length - 1 - at;
    if (below === 0) return;
    setPlacedEarlier({ below, behindMs: Math.max(0, messages.at(-1)!.hlc.wall - messages[at]!.hlc.wall) });
    // After the send's own scroll to the newest message (scheduled in an earlier frame callback).
    requestAnimationFrame(() => showMessage(id));
  }, [messages, showMessage]);

  // A reply target that got deleted meanwhile: keep the quote current.
  const currentReply = replyTo ? (index.get(replyTo.id) ?? replyTo) : null;

  return (
    <div className="room-layout">
      {/* Every message has its own buttons: without this a keyboard crosses them all to write. */}
      <button type="button" className="skip-link" onClick={() => composerRef.current?.focus()}>
        Skip to the message box
      </button>
      <header className="room-header">
        {/* HEADER-1, HEADER-3: one flex item, so that a title too long for the row takes the first row
            with the back link, never a row of its own below the link's. */}
        <div className="header-main">
          <a className="back-link" href="/" onClick={linkClick('/')}>
            <span aria-hidden="true">←</span> Rooms
          </a>
          <RoomTitle room={room} title={view.title} session={session} />
        </div>
        <div className="header-controls">
          <ConnectionIndicator view={view} />
          <button
            type="button"
            className="button toggle"
            aria-pressed={view.connection.manualOffline}
            onClick={() => {
              const off = !view.connection.manualOffline;
              offlineSwitch.set(room, off);
              session.setOffline(off);
            }}
          >
            Go offline
          </button>
          <button
            ref={detailsButton}
            type="button"
            className="button details-toggle"
            aria-expanded={detailsOpen}
            aria-controls="room-details"
            aria-label="Room details"
            onClick={() => {
              // Narrow, the drawer and the Lab panel take the same place: the one asked for shows.
              if (!detailsOpen) setLabOpen(false);
              setDetailsOpen(!detailsOpen);
            }}
          >
            {/* Shown only in the narrow layout (HEADER-1), where the status beside it needs the room. */}
            Details
          </button>
          <button
            ref={labButton}
            type="button"
            className="button lab-toggle"
            aria-expanded={labOpen}
            aria-controls={labOpen ? 'lab-panel' : undefined}
            onClick={() => {
              setLabOpenedByUser(!labOpen);
              if (!labOpen) setDetailsOpen(false);
              setLabOpen(!labOpen);
            }}
          >
            Lab
          </button>
        </div>
      </header>

      <LabFaultBanner session={session} />
      <Banners view={view} session={session} />
      <UploadAnnouncer connection={view.connection} />

      <div className={`room-body${labOpen ? ' lab-open' : ''}`}>
        <main
          className="chat"
          aria-label="Conversation"
          onFocus={() => {
            // DRAWER-1: on a narrow screen Room details and the Lab panel are drawers over the
            // conversation; focus coming here (Tab past the drawer's end, Shift+Tab before its
            // start, a tap beside it) closes them. Tab went on through the messages and the
            // message box hidden under them.
            if (!matchMedia(DRAWER_LAYOUT).matches) return;
            if (detailsOpen) setDetailsOpen(false);
            if (labOpen) setLabOpen(false);
          }}
        >
          <SearchBar query={query} setQuery={setQuery} count={trimmedQuery ? rows.length : null} />
          <div className="log-wrap">
            <MessageList
              ref={listRef}
              rows={rows}
              byId={index}
              names={names}
              selfId={identity.id}
              query={trimmedQuery}
              highlightedId={highlightedId}
              actions={actions}
              initialIndex={initialIndex.current ?? null}
              onAtBottomChange={setAtBottom}
              emptyText={trimmedQuery ? 'No messages match your search.' : 'No messages yet. Say hello!'}
            />
            {!atBottom && !trimmedQuery && (
              <button type="button" className="button jump" onClick={() => listRef.current?.scrollToLatest()}>
                <span aria-hidden="true">↓</span> Jump to latest
                {newBelow > 0 && <span className="jump-count"> · {newBelow} new</span>}
              </button>
            )}
          </div>
          {actionError && (
            <p className="error inline-error" role="alert">
              {actionError}{' '}
              <button type="button" className="button quiet small" onClick={() => setActionError(null)}>
                Dismiss
              </button>
            </p>
          )}
          {placedEarlier && (
            <p className="inline-note" role="status">
              Your message was placed {plural(placedEarlier.below, 'message')} up, by the time it was written: the
              newest message’s time is about {formatDuration(placedEarlier.behindMs)} later than this device’s clock.
              Messages are ordered by their time, so one of the clocks is off: check this device’s date and time.{' '}
              <button type="button" className="button quiet small" onClick={() => setPlacedEarlier(null)}>
                Dismiss
              </button>
            </p>
          )}
          <TypingLine view={view} />
          <Composer
            ref={composerRef}
            typeAhead={typeAhead}
            room={room}
            session={session}
            store={local.store}
            meta={meta}
            byteLimit={view.connection.textByteLimit}
            replyTo={currentReply}
            onCancelReply={() => setReplyTo(null)}
            onSent={onSent}
          />
          <p className="visually-hidden message-announcer" aria-live="polite">
            {announcement.seq > 0 && <span key={announcement.seq}>{announcement.text}</span>}
          </p>
        </main>
        <aside
          id="room-details"
          className={`room-aside${detailsOpen ? ' open' : ''}`}
          aria-label="Room details"
          onKeyDown={(e) => {
            // On a narrow screen the details are a drawer over the messages: Escape closes it, as it does the Lab panel.
            if (e.key === 'Escape' && detailsOpen && !e.defaultPrevented) closeDetails();
          }}
        >
          {detailsOpen && (
            <button ref={detailsClose} type="button" className="button small details-close" onClick={closeDetails}>
              Close<span className="visually-hidden"> room details</span>
            </button>
          )}
          <SyncDetails session={session} view={view} />
          <People view={view} />
          <ShareRoom room={room} title={view.title} />
          <Transfer room={room} session={session} />
        </aside>
        {labOpen && (
          <LabPanel
            room={room}
            session={session}
            view={view}
            spaceTime={spaceTime}
            focusOnOpen={labOpenedByUser}
            onClose={() => {
              setLabOpen(false);
              labButton.current?.focus();
            }}
          />
        )}
      </div>
    </div>
  );
};

const RoomTitle = ({ room, title, session }: { room: string; title: string; session: RoomSession }): ReactNode => {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(title);
  const inputId = useId();
  // The form's buttons go when it closes: focus goes back to Rename instead of falling to the page.
  const renameRef = useRef<HTMLButtonElement>(null);
  const refocus = useRef(false);
  const stopEditing = (): void => {
    refocus.current = true;
    setEditing(false);
  };
  useEffect(() => {
    if (editing || !refocus.current) return;
    refocus.current = false;
    renameRef.current?.focus();
  }, [editing]);
  if (editing) {
    return (
      <form
        className="title-form"
        onSubmit={(e) => {
          e.preventDefault();
          session.setTitle(value);
          stopEditing();
        }}
      >
        <label htmlFor={inputId} className="visually-hidden">
          Room title
        </label>
        <input
          id={inputId}
          value={value}
          maxLength={TITLE_LIMIT}
          autoFocus
          onChange={(e) => setValue(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Escape') stopEditing();
          }}
        />
        <button type="submit" className="button primary small">
          Save title
        </button>
        <button type="button" className="button small" onClick={stopEditing}>
          Cancel
        </button>
      </form>
    );
  }
  return (
    <div className="room-heading">
      <h1 className="room-title">{title || room}</h1>
      {title && <span className="room-name">{room}</span>}
      <button
        ref={renameRef}
        type="button"
        className="button quiet small"
        onClick={() => {
          setValue(title);
          setEditing(true);
        }}
      >
        Rename<span className="visually-hidden"> room</span>
      </button>
    </div>
  );
};

const SWITCHED_OFF = '(switched off)';
/**
 * The state line's longest words, its reason unbreakable as on screen: a phone's status keeps the
 * room they take (HEADER-4), so the header does not grow when the state turns to them.
 */
const WIDEST_STATE = `${STATUS_LABEL.offline} ${SWITCHED_OFF.replaceAll(' ', '\u00a0')}`;

const ConnectionIndicator = ({ view }: { view: RoomView }): ReactNode => {
  const { status, manualOffline, lastSyncedAt } = view.connection;
  // STATE-1, STATE-5 and STATE-6: own writes the relay does not have yet, counted together; what
  // they are is said when not only messages are among them ("2 pending (1 message, the title)").
  const { count: pending, parts, onlyMessages } = describePending(view);
  const what = parts.join(', ');
  return (
    // Two parts: on a phone they are two short lines beside the header's buttons (HEADER-1), the
    // pending count first in the second so that it is never the part cut short (what is pending,
    // wordy, is left out there: each message and reaction says it too).
    // LIVE-2: only the first is a live region. The second changes with every send, ack and sync: a
    // screen reader read the whole status out each time. Both stay on screen; Room details has them too.
    // HEADER-4: the phone layout reserves the lines its widest state takes (styles.css).
    <div className={`connection connection-${status}`} data-widest-state={WIDEST_STATE}>
      <span role="status" className="connection-state">
        {/* The dot and the state word stay together: a line never breaks between them. */}
        <span className="connection-label">
          <span className="dot" aria-hidden="true" />
          {STATUS_LABEL[status]}
        </span>
        {/* The space outside the reason: where a phone's status line may break (HEADER-1). */}
        {manualOffline && (
          <>
            {' '}
            <span className="connection-detail">{SWITCHED_OFF}</span>
          </>
        )}
      </span>
      <span className="connection-more">
        {pending > 0 && (
          <span className="connection-pending" title={`Not on the relay yet: ${what}.`}>
            <span className="connection-sep"> · </span>
            {pending} pending
            {!onlyMessages && <span className="connection-wordy"> ({what})</span>}
          </span>
        )}
        <span className="connection-detail">
          <span className="connection-sep"> · </span>
          {lastSyncedAt === null ? (
            'not synced yet'
          ) : (
            <>
              <span className="connection-wordy">last </span>synced{' '}
              <time dateTime={isoTime(lastSyncedAt)}>{formatSyncTime(lastSyncedAt)}</time>
            </>
          )}
        </span>
      </span>
    </div>
  );
};

const Banners = ({ view, session }: { view: RoomView; session: RoomSession }): ReactNode => {
  const { storage, connection, notices, resolvedNotices } = view;
  const [dismissed, setDismissed] = useState(0);
  // A refusal is also a notice: it already has its banner. One no longer true (REFUSE-3) goes.
  const shownNotices = notices
    .slice(dismissed)
    .filter((n) => n !== connection.refusal && !resolvedNotices.has(n))
    .slice(-3);
  const banners: ReactNode[] = [];
  if (connection.refusal) {
    banners.push(
      <div key="refusal" className="banner error" role="alert">
        <strong>Not syncing.</strong> {connection.refusal}
        {connection.oversized.length > 0 && (
          <ul className="oversized">
            {connection.oversized.map((m) => (
              <OversizedItem key={m.id} message={m} session={session} />
            ))}
          </ul>
        )}
      </div>,
    );
  }
  if (!storage.persistent) {
    banners.push(
      <div key="memory" className="banner warning" role="alert">
        <strong>In-memory mode.</strong> This browser is not keeping this room on disk: messages you write while offline
        are lost if you close this tab before they are synced.
      </div>,
    );
  }
  if (storage.evicted) {
    banners.push(
      <div key="evicted" className="banner warning" role="alert">
        <strong>The browser cleared this room’s saved copy.</strong> It is being restored from the relay; messages that
        never reached the relay may be gone.
      </div>,
    );
  }
  if (storage.error) {
    banners.push(
      <div key="storage-error" className="banner error" role="alert">
        <strong>Storage problem.</strong> {storage.error}
        {storage.onlyInPage && (
          <>
            {' '}
            <strong>Keep this page open:</strong> what you wrote is only in this page until the relay has it (it says
            Saved) or the device has space again. Closing or reloading it now loses that.
          </>
        )}
      </div>,
    );
  }
  if (connection.upload) {
    // UP-2: a large upload paced to the relay's rate. Not a live region: its figures change with
    // every piece sent, and a screen reader read it all out each time; UploadAnnouncer says when
    // it starts and ends (LIVE-3).
    banners.push(
      <div key="upload" className="banner notice">
        <strong>Uploading.</strong> {describeUpload(connection.upload)}
      </div>,
    );
  }
  if (banners.length === 0 && shownNotices.length === 0) return null;
  return (
    <div className="banners">
      {banners}
      {shownNotices.length > 0 && (
        <div className="banner notice" aria-live="polite">
          <ul className="notices">
            {shownNotices.map((n, i) => (
              <li key={`${dismissed}-${i}`}>{n}</li>
            ))}
          </ul>
          <button type="button" className="button quiet small" onClick={() => setDismissed(notices.length)}>
            Dismiss<span className="visually-hidden"> notices</span>
          </button>
        </div>
      )}
    </div>
  );
};

/**
 * STRUCT-4: one own message the relay would refuse for good, with what can be done: copy its
 * text, and delete it for everyone, confirmed, which lets the room sync (`RoomSession.retry`).
 */
const OversizedItem = ({ message, session }: { message: OversizedMessage; session: RoomSession }): ReactNode => {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [copy, feedback] = useCopy('Text copied');
  const name = quoteStart(message.text);
  return (
    <li>
      {name} ({message.bytes} bytes){' '}
      <button type="button" className="button small" onClick={() => copy(message.text)}>
        Copy text<span className="visually-hidden"> of {name}</span>
      </button>{' '}
      {confirming ? (
        <span className="confirm" role="group" aria-label="Confirm delete">
          <span>Delete this message for everyone? Its text is gone unless you copied it.</span>
          <button
            type="button"
            className="button danger small"
            onClick={() => {
              try {
                session.remove(message.id);
                session.retry();
              } catch (e) {
                setError(e instanceof Error ? e.message : String(e));
              }
              setConfirming(false);
            }}
          >
            Delete message and sync
          </button>
          <button type="button" className="button small" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </span>
      ) : (
        <button type="button" className="button small" onClick={() => setConfirming(true)}>
          Delete…<span className="visually-hidden"> {name}</span>
        </button>
      )}
      {feedback && <span role="status"> {feedback}</span>}
      {error && <span> {error}</span>}
    </li>
  );
};

/**
 * LIVE-3: a live region that says when UP-2's upload banner comes and when it goes, never the
 * figures it shows in between. Always there, so that the first announcement is heard (a region
 * inserted with its text may not be).
 */
const UploadAnnouncer = ({ connection }: { connection: RoomView['connection'] }): ReactNode => {
  const uploading = connection.upload !== null;
  const [said, setSaid] = useState({ uploading: false, text: '' });
  // Set while rendering (React's "state from the previous render"): a change is said once, with
  // the figures of the render that showed it first.
  if (uploading !== said.uploading) {
    setSaid({
      uploading,
      text: connection.upload
        ? announceUploadStart(connection.upload)
        : announceUploadEnd(connection.status === 'online'),
    });
  }
  return (
    <p className="visually-hidden" role="status">
      {said.text}
    </p>
  );
};

const SearchBar = ({
  query,
  setQuery,
  count,
}: {
  query: string;
  setQuery: (q: string) => void;
  count: number | null;
}): ReactNode => {
  const id = useId();
  return (
    <div className="search-bar" role="search">
      <label htmlFor={id} className="visually-hidden">
        Search messages
      </label>
      <input
        id={id}
        type="search"
        placeholder="Search this room"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') setQuery('');
        }}
      />
      <span className="search-count" aria-live="polite">
        {count === null ? '' : count === 0 ? 'No matches' : plural(count, 'match', 'matches')}
      </span>
    </div>
  );
};

const typingText = (names: string[]): ReactNode => {
  if (names.length === 0) return '';
  if (names.length === 1)
    return (
      <>
        <bdi>{names[0]}</bdi> is typing…
      </>
    );
  if (names.length === 2)
    return (
      <>
        <bdi>{names[0]}</bdi> and <bdi>{names[1]}</bdi> are typing…
      </>
    );
  return 'Several people are typing…';
};

const TypingLine = ({ view }: { view: RoomView }): ReactNode => {
  const names = [...new Set(view.presence.filter((p) => p.typing && !p.self).map((p) => p.name))];
  return (
    // Not a live region: announced, "Ann is typing…" came before nearly every message read out.
    <p className="typing">{typingText(names)}</p>
  );
};

/**
 * PRES-8: who else was here when this device was last connected. The stock provider drops the
 * other participants' states when its socket closes (going offline, a partition, the relay gone),
 * so without this the list shrank to "you" while its hint said it showed who was here.
 */
const useLastSeenOthers = (view: RoomView): RoomView['presence'] => {
  const kept = useRef<RoomView['presence']>([]);
  if (view.connection.status === 'online')
    kept.current = view.presence.filter((p) => !p.self).map((p) => ({ ...p, typing: false }));
  return view.connection.status === 'online' ? [] : kept.current;
};

const People = ({ view }: { view: RoomView }): ReactNode => {
  const people = new Map<string, { userId: string; name: string; self: boolean; typing: boolean }>();
  const lastSeen = useLastSeenOthers(view);
  const shown = [...view.presence, ...lastSeen.filter((p) => !view.presence.some((q) => q.userId === p.userId))];
  for (const p of shown) {
    const cur = people.get(p.userId);
    people.set(p.userId, {
      userId: p.userId,
      // Several tabs of one user are one row. This tab's own entry (listed first) has the current
      // name; another tab may still announce an older one (PRES-3).
      name: cur?.self ? cur.name : p.name,
      self: p.self || (cur?.self ?? false),
      typing: p.typing || (cur?.typing ?? false),
    });
  }
  const list = [...people.values()].sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name));
  // Not connected: the list is who was here when it last was (PRES-8), typing cleared; no green dots.
  const online = view.connection.status === 'online';
  return (
    <section className="panel" aria-labelledby="people-heading">
      <h2 id="people-heading">People here</h2>
      {list.length === 0 ? (
        <p className="hint">
          {view.connection.status === 'online' ? 'Nobody else is here.' : 'Presence is shown when you are online.'}
        </p>
      ) : (
        <ul className="people">
          {list.map((p) => (
            <li key={p.userId}>
              <span className={`presence-dot${online ? '' : ' away'}`} aria-hidden="true" />
              <bdi>{p.name}</bdi>
              {p.self && <span className="you-tag"> (you{online ? '' : ', offline'})</span>}
              {p.typing && !p.self && <span className="hint"> — typing…</span>}
            </li>
          ))}
        </ul>
      )}
      {list.length > 0 && !online && (
        <p className="hint">While this device is not connected, this is who was here when it last was.</p>
      )}
    </section>
  );
};

/** HEADER-2: the title and room name the header cuts short are whole here (a tooltip never shows on a touch screen). */
const ShareRoom = ({ room, title }: { room: string; title: string }): ReactNode => {
  const url = roomUrl(room);
  const [copy, feedback] = useCopy('Link copied');
  const id = useId();
  return (
    <section className="panel" aria-labelledby="share-heading">
      <h2 id="share-heading">Invite people</h2>
      <dl className="sync-facts room-names">
        {title && (
          <div>
            <dt>Title</dt>
            <dd dir="auto">{title}</dd>
          </div>
        )}
        <div>
          <dt>Room name</dt>
          <dd>{room}</dd>
        </div>
      </dl>
      <label htmlFor={id} className="field-label">
        Room link
      </label>
      <div className="share-row">
        <input id={id} type="text" readOnly value={url} onFocus={(e) => e.target.select()} />
        <button type="button" className="button small" onClick={() => copy(url)}>
          Copy link
        </button>
      </div>
      <p className="hint" aria-live="polite">
        {feedback ?? 'Anyone with the link can read and write in this room.'}
      </p>
    </section>
  );
};

const Transfer = ({ room, session }: { room: string; session: RoomSession }): ReactNode => {
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const inputId = useId();
  const onFile = (e: ChangeEvent<HTMLInputElement>): void => {
    const input = e.target;
    const file = input.files?.[0];
    if (!file) return;
    setBusy(true);
    setResult(null);
    file
      .arrayBuffer()
      .then((buf) => session.importFile(new Uint8Array(buf)))
      .then(
        (summary) => setResult({ ok: true, text: describeImport(file.name, summary) }),
        (err: unknown) => {
          // The parser's reason (with its rule id) is for the console, not the sentence shown.
          if (err instanceof ImportError && err.detail !== null) console.warn(`Import of ${file.name}: ${err.detail}`);
          setResult({ ok: false, text: err instanceof Error ? err.message : String(err) });
        },
      )
      .finally(() => {
        setBusy(false);
        input.value = '';
      });
  };
  return (
    <section className="panel" aria-labelledby="transfer-heading">
      <h2 id="transfer-heading">Export and import</h2>
      <div className="button-column">
        <button
          type="button"
          className="button small"
          onClick={() => download(`${room}-${dateStamp()}.txt`, session.exportTranscript(), 'text/plain;charset=utf-8')}
        >
          Export transcript
        </button>
        <button
          type="button"
          className="button small"
          onClick={() => download(roomFileName(room, Date.now()), session.exportUpdates(), 'application/octet-stream')}
        >
          Export room file
        </button>
        <label htmlFor={inputId} className="button small file-button">
          Import room file
        </label>
        <input
          id={inputId}
          className="file-input"
          type="file"
          accept=".converge,application/octet-stream"
          disabled={busy}
          onChange={onFile}
        />
      </div>
      <p className="hint">
        A room file holds the whole room; importing one merges it into this room (nothing is overwritten).
      </p>
      {/* There before the result, so that screen readers announce it when it comes. */}
      <p className={result?.ok ? 'success' : 'visually-hidden'} aria-live="polite">
        {result?.ok ? result.text : ''}
      </p>
      {result && !result.ok && (
        <p className="error" role="alert">
          Import refused: {result.text}
        </p>
      )}
    </section>
  );
};
