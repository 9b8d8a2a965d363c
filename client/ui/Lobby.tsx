/**
 * The lobby: your name, the rooms on this device (with unread counts, drafts and what is not sent
 * yet, LOBBY-3), and joining or creating a room by name. Everything here is local: it works offline.
 */
import { useCallback, useEffect, useId, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { isValidRoomName } from '../../shared/protocol.js';
import { NAME_LIMIT } from '../../shared/chat/chatRoom.js';
import { linkClick, ROOM_RULE, useApp } from './appContext.js';
import { formatMessageTime, plural } from './format.js';
import { notSent as notSentOf, type NotSent, type RoomSummary } from './lobbyData.js';
import { lobbySummariesFor } from './lobbySummaries.js';
import { normalizeName } from '../identity.js';
import { navigate, roomOfLink, roomPath, roomUrl } from './router.js';
import { decodeSyncState } from '../sync/syncState.js';
import { kv, offlineSwitch, randomBytes, readMarks, roomLocks, tabFaults, type RoomInfo } from './services.js';
import { IN_USE } from '../storage/roomLocks.js';
import { useCopy } from './useCopy.js';
import { useNetworkOnline } from './useNetworkOnline.js';
import { describePending } from './describePending.js';
import { currentDraft, forgetDraft } from './draftKeeper.js';
import { browserRefreshEnv, startRefreshLoop, type RoundFinding } from './refreshLoop.js';
import { LOBBY_REFRESH_GAPS, refreshRecentRooms, roundVisit } from './refreshRecentRooms.js';
import { keptSessions } from './keptSessions.js';
import { forgetLabPanel } from './lab/useLabPanelOpen.js';
import { OfflineSwitch } from './offlineSwitch.js';

interface LobbyRoom {
  readonly info: RoomInfo;
  readonly summary: RoomSummary | null;
  /** LOBBY-3: own messages, reactions and title the relay has not acked, by the acks in the room's meta now. */
  readonly notSent: NotSent;
}

const newRoomName = (): string => {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  return 'room-' + Array.from(randomBytes(8), (b) => alphabet[b % alphabet.length]).join('');
};

export const Lobby = (): ReactNode => {
  useEffect(() => {
    document.title = 'Converge';
  }, []);
  return (
    <div className="lobby">
      <header className="lobby-header">
        <img src="/icon-192.png" alt="" width="40" height="40" />
        <h1>Converge</h1>
        <p className="tagline">Chat that keeps working offline and catches up when you are back.</p>
      </header>
      <main className="lobby-main">
        <NameField />
        <JoinRoom />
        <RoomList />
      </main>
    </div>
  );
};

/**
 * PRES-6: the name is saved when the person is done with it (Enter, leaving the field, leaving the
 * page), not on every keystroke: a rename reaches every open room of this profile (other tabs, their
 * presence) as one change, never as each prefix typed on the way. Escape puts the saved name back.
 */
const NameField = (): ReactNode => {
  const { identity, setName } = useApp();
  const [value, setValue] = useState(identity.name);
  const [focused, setFocused] = useState(false);
  /** What the status line says about the last commit here, until the next edit or rename. */
  const [outcome, setOutcome] = useState<{ readonly saved: string } | 'empty' | null>(null);
  const hintId = useId();
  const statusId = useId();
  const unsaved = normalizeName(value) !== '' && normalizeName(value) !== identity.name;
  // Another tab renamed us: follow unless the user is typing here.
  useEffect(() => {
    if (!focused) setValue(identity.name);
  }, [identity.name, focused]);
  // "Saved." is about the name saved here: not once another tab renamed us.
  if (outcome !== null && outcome !== 'empty' && outcome.saved !== identity.name) setOutcome(null);
  const commit = (): void => {
    const name = normalizeName(value);
    if (!name) {
      setValue(identity.name);
      setOutcome('empty');
      return;
    }
    // Shown as saved: trimmed, inner spaces collapsed.
    setValue(name);
    if (!unsaved) return;
    setName(name);
    setOutcome({ saved: name });
  };
  // Leaving while typing keeps what was typed, as no blur comes then: closing or leaving the page,
  // hiding it (a phone may kill a hidden PWA without a pagehide), or leaving the lobby in the app.
  const pending = useRef<string | null>(null);
  pending.current = unsaved ? value : null;
  useEffect(() => {
    const keep = (): void => {
      if (pending.current !== null) setName(pending.current);
      pending.current = null;
    };
    const keepIfHidden = (): void => {
      if (document.visibilityState === 'hidden') keep();
    };
    addEventListener('pagehide', keep);
    document.addEventListener('visibilitychange', keepIfHidden);
    return () => {
      removeEventListener('pagehide', keep);
      document.removeEventListener('visibilitychange', keepIfHidden);
      keep();
    };
  }, [setName]);
  return (
    <section className="card" aria-labelledby="name-heading">
      <h2 id="name-heading">You</h2>
      <label className="field">
        <span className="field-label">Your name</span>
        <input
          type="text"
          value={value}
          maxLength={NAME_LIMIT}
          autoComplete="nickname"
          enterKeyHint="done"
          aria-describedby={`${statusId} ${hintId}`}
          onFocus={() => setFocused(true)}
          onBlur={() => {
            setFocused(false);
            commit();
          }}
          onKeyDown={(e) => {
            // Enter and Escape also confirm or cancel an input method's composition (CJK): not the name.
            if (e.nativeEvent.isComposing) return;
            if (e.key === 'Enter') {
              e.preventDefault();
              commit();
            } else if (e.key === 'Escape') {
              setValue(identity.name);
            }
          }}
          onChange={(e) => {
            setValue(e.target.value);
            setOutcome(null);
          }}
        />
      </label>
      <p id={statusId} className="hint" aria-live="polite">
        {unsaved
          ? 'Not saved yet: press Enter to save it (Escape undoes).'
          : outcome === 'empty'
            ? 'A name cannot be empty: the saved one is kept.'
            : outcome !== null
              ? 'Saved.'
              : ''}
      </p>
      <p id={hintId} className="hint">
        Shown next to your messages. It is remembered on this device; messages you already sent keep the name they were
        sent with.
      </p>
    </section>
  );
};

const JoinRoom = (): ReactNode => {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const ruleId = useId();
  const errorId = useId();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const typed = name.trim();
    const link = roomOfLink(typed, location.origin);
    if (link && 'otherOrigin' in link) {
      setError(`That is a link to a room on another server (${link.otherOrigin}): open it in the address bar.`);
      return;
    }
    const room = link ? link.room : typed;
    if (!isValidRoomName(room)) {
      setError(room ? `“${room}” is not a valid room name: ${ROOM_RULE}` : `Type a room name first: ${ROOM_RULE}`);
      return;
    }
    navigate(roomPath(room));
  };
  return (
    <section className="card" aria-labelledby="join-heading">
      <h2 id="join-heading">Join or create a room</h2>
      <form className="join-form" onSubmit={submit} noValidate>
        <label className="field grow">
          <span className="field-label">Room name</span>
          <input
            type="text"
            value={name}
            autoComplete="off"
            autoCapitalize="off"
            spellCheck={false}
            aria-describedby={error ? `${errorId} ${ruleId}` : ruleId}
            aria-invalid={error ? true : undefined}
            onChange={(e) => {
              setName(e.target.value);
              setError(null);
            }}
          />
        </label>
        <button type="submit" className="button primary">
          Join room
        </button>
        <button type="button" className="button" onClick={() => navigate(roomPath(newRoomName()))}>
          New room
        </button>
      </form>
      <p id={ruleId} className="hint">
        Anyone with the same room name (or its link, which you can paste here) joins the same room; capitals count
        (“Math” and “math” are two rooms). Names: 1–128 characters, letters, digits and - _ . ~, not starting with a
        dot.
      </p>
      {error && (
        <p id={errorId} className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
};

const NOTHING_NOT_SENT: NotSent = { count: 0, messages: 0, reactions: 0, title: false };

const RoomList = (): ReactNode => {
  const { local, identity } = useApp();
  const [rooms, setRooms] = useState<LobbyRoom[] | null>(null);
  const [checking, setChecking] = useState(false);
  const online = useNetworkOnline();
  const [error, setError] = useState<string | null>(null);
  /** REMOVE-1: what the last removal did, for screen readers (the row going is what others see). */
  const [removal, setRemoval] = useState('');
  const headingRef = useRef<HTMLHeadingElement>(null);
  // Kept across visits to rooms: showing the lobby again counts only the rooms that changed.
  const summaries = useMemo(() => lobbySummariesFor(local.store, identity.id), [local.store, identity.id]);

  // The latest refresh wins: one that listed the rooms before a removal must not bring its row back.
  const latestRefresh = useRef(0);
  const refresh = useCallback(async () => {
    const generation = ++latestRefresh.current;
    try {
      const infos = await local.store.listRooms();
      const withSummaries: LobbyRoom[] = [];
      for (const info of infos) {
        // Replaying a room is not free (a big room takes a while): only when it changed and the
        // change could not be counted from what a refresh stored (LOBBY-1, `summaries.advance`).
        let summary: RoomSummary | null;
        try {
          summary = await summaries.summary(info);
        } catch {
          summary = null;
        }
        // LOBBY-3: acks arrive without a write to the rows (a tab of the room, this lobby's
        // refresh): read from the meta each time, so the count follows them without a recount.
        const notSent = summary ? notSentOf(summary, decodeSyncState(info.meta.sync).acked) : NOTHING_NOT_SENT;
        withSummaries.push({ info, summary, notSent });
      }
      withSummaries.sort((a, b) => (b.info.meta.lastOpenedAt ?? 0) - (a.info.meta.lastOpenedAt ?? 0));
      if (generation !== latestRefresh.current) return;
      setRooms(withSummaries);
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setRooms((r) => r ?? []);
    }
  }, [local.store, summaries]);

  useEffect(() => {
    void refresh();
    const onVisible = (): void => {
      if (document.visibilityState === 'visible') void refresh();
    };
    document.addEventListener('visibilitychange', onVisible);
    window.addEventListener('focus', onVisible);
    // OFF-3: a room switched on or off in another tab shows so at once.
    const onSwitch = (e: StorageEvent): void => {
      if (OfflineSwitch.mayBeSwitch(e.key)) onVisible();
    };
    window.addEventListener('storage', onSwitch);
    // UNREAD-5: a read mark another tab kept as it went is now stored: its room's count changed.
    const stopRestored = readMarks.onRestored(onVisible);
    // Another tab of this profile may be receiving messages: keep the counts fresh.
    const timer = setInterval(onVisible, 5000);
    return () => {
      document.removeEventListener('visibilitychange', onVisible);
      window.removeEventListener('focus', onVisible);
      window.removeEventListener('storage', onSwitch);
      stopRestored();
      clearInterval(timer);
    };
  }, [refresh]);

  // SYNC-C1: fetch what the recent rooms missed, so their counts include messages that arrived
  // while this device was away (and the rooms are current for the next time offline). Rounds
  // that find nothing come less and less often (`LOBBY_REFRESH_GAPS`).
  useEffect(() => {
    let stopped = false;
    const run = async (): Promise<RoundFinding> => {
      setChecking(true);
      try {
        return await refreshRecentRooms({
          local,
          identity,
          summaries,
          cancelled: () => stopped,
          onChange: () => void refresh(),
        });
      } finally {
        if (!stopped) setChecking(false);
      }
    };
    const stop = startRefreshLoop(run, LOBBY_REFRESH_GAPS, browserRefreshEnv);
    return () => {
      stopped = true;
      stop();
    };
  }, [local, identity, refresh, summaries]);

  // REMOVE-1: only while nothing uses the room (../storage/roomLocks.ts). Resolves with why it was
  // not removed, or null.
  const remove = useCallback(
    async (room: string): Promise<string | null> => {
      setRemoval('');
      if (!roomLocks.acrossTabs) {
        return 'this page is not served over https (or from localhost), so it cannot tell whether another tab has the room open.';
      }
      const removeNow = (): Promise<true | typeof IN_USE> =>
        roomLocks.ifFree(room, async () => {
          await local.store.deleteRoom(room);
          // Under the lock, so no tab of the room is using them: what the device kept of it
          // outside the store (a room joined again starts switched on, with no draft, its Lab
          // panel closed, without this tab's Lab faults, and no read mark kept from a page gone).
          offlineSwitch.set(room, false);
          forgetDraft(kv, room);
          forgetLabPanel(room);
          tabFaults.forget(room);
          readMarks.forget(room);
          return true as const;
        });
      let outcome: true | typeof IN_USE;
      try {
        outcome = await removeNow();
        // This page's own refresh may be visiting the room (it holds it for as long: at most one
        // room's timeout): wait for that visit, not for the person to try again.
        const visit = roundVisit(room);
        if (outcome === IN_USE && visit) {
          await visit;
          outcome = await removeNow();
        }
      } catch (e) {
        return `its data could not be deleted (${e instanceof Error ? e.message : String(e)}).`;
      }
      if (outcome === IN_USE) {
        return keptSessions.rooms().includes(room)
          ? 'what you wrote there is only in this page until the relay has it; the room can be removed once it is sent.'
          : 'it is open in another tab of this browser: close the room there first.';
      }
      setRemoval(`${room} was removed from this device.`);
      setRooms((rows) => rows?.filter((r) => r.info.room !== room) ?? rows);
      // Its row, and the button that had the focus, are gone.
      headingRef.current?.focus();
      await refresh();
      return null;
    },
    [local.store, refresh],
  );

  return (
    <section className="card" aria-labelledby="rooms-heading">
      <h2 id="rooms-heading" ref={headingRef} tabIndex={-1}>
        Your rooms
      </h2>
      <p className="visually-hidden" role="status">
        {removal}
      </p>
      {/* LOBBY-5: the line is kept when empty, so the list below does not move as checks start and end. */}
      <p className="hint status-line" aria-live="polite">
        {!online
          ? 'Offline: the counts are what this device knew when it was last online; rooms are checked again when the network is back.'
          : checking
            ? 'Checking your rooms for new messages…'
            : ''}
      </p>
      {!local.persistent && (
        <p className="warning">
          This browser is not keeping rooms on disk{local.reason ? ` (${local.reason})` : ''}: they are kept in memory
          until you close this tab.
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {rooms === null ? (
        <p className="hint">Loading…</p>
      ) : rooms.length === 0 ? (
        <p className="hint">No rooms on this device yet. Join one above, or open a link someone shared.</p>
      ) : (
        <ul className="room-list" aria-label="Rooms on this device">
          {rooms.map((r) => (
            <RoomRow key={r.info.room} room={r} onRemove={remove} />
          ))}
        </ul>
      )}
    </section>
  );
};

const RoomRow = ({
  room,
  onRemove,
}: {
  room: LobbyRoom;
  onRemove: (room: string) => Promise<string | null>;
}): ReactNode => {
  const { info, summary, notSent } = room;
  const [confirming, setConfirming] = useState(false);
  /** Why the last removal did not happen (REMOVE-1), shown in the question until it closes. */
  const [refused, setRefused] = useState<string | null>(null);
  /** A removal under way: a second click would find the room held by the first. */
  const [removing, setRemoving] = useState(false);
  const questionId = useId();
  const removeRef = useRef<HTMLButtonElement>(null);
  const keepRef = useRef<HTMLButtonElement>(null);
  const opened = useRef(false);
  useEffect(() => {
    // Focus to Cancel when the question opens, back to Remove when it is cancelled.
    if (confirming) keepRef.current?.focus();
    else if (opened.current) removeRef.current?.focus();
    if (!confirming) setRefused(null);
    opened.current = confirming;
  }, [confirming]);
  const what = describePending({
    pendingCount: notSent.messages,
    pendingReactionCount: notSent.reactions,
    pendingTitle: notSent.title,
  });
  const [copy, copied] = useCopy('Link copied');
  const name = info.room;
  const title = summary?.title || info.meta.title || '';
  const draft = currentDraft(kv, name, info.meta).text;
  const unread = summary?.unread ?? 0;
  // OFF-3: a room switched off here sends nothing from any tab until switched back on: its
  // "not sent yet" waits for the user, not for the network.
  const off = offlineSwitch.isOff(name);
  return (
    <li className="room-row">
      <div className="room-row-main">
        <a className="room-link" href={roomPath(name)} onClick={linkClick(roomPath(name))}>
          <bdi className="room-title">{title || name}</bdi>
          {title && <span className="room-name">{name}</span>}
        </a>
        {unread > 0 && <span className="badge">{plural(unread, 'unread', 'unread')}</span>}
        {notSent.count > 0 && (
          <span className="badge not-sent">
            {notSent.count} not sent yet
            {/* What they are, when not only messages (STATE-5, STATE-6), as the room's header says it. */}
            {!what.onlyMessages && ` (${what.parts.join(', ')})`}
            <span className="visually-hidden">: kept on this device, not on the relay yet</span>
          </span>
        )}
        {off && (
          <span className="badge switched-off" title="Nothing is sent or received until you go online in the room.">
            switched off
            <span className="visually-hidden">: nothing is sent or received until you go online in the room</span>
          </span>
        )}
      </div>
      <div className="room-row-detail">
        {draft ? (
          <span className="draft-preview">
            <strong>Draft:</strong> <bdi>{draft.slice(0, 80)}</bdi>
          </span>
        ) : summary?.last ? (
          <span className="last-preview">
            <bdi>{summary.last.authorName}</bdi>:{' '}
            <bdi>{summary.last.deleted ? 'message deleted' : summary.last.text.slice(0, 80)}</bdi>
            {' · '}
            {formatMessageTime(summary.last.wall)}
          </span>
        ) : (
          <span className="last-preview">No messages yet</span>
        )}
      </div>
      <div className="room-row-actions">
        <button type="button" className="button small" onClick={() => copy(roomUrl(name))}>
          Copy link<span className="visually-hidden"> to {name}</span>
        </button>
        <span className="copy-feedback" aria-live="polite">
          {copied}
        </span>
        {!confirming && (
          <button ref={removeRef} type="button" className="button small quiet" onClick={() => setConfirming(true)}>
            Remove<span className="visually-hidden"> {name} from this device</span>
          </button>
        )}
      </div>
      {confirming && (
        <div
          className="confirm room-row-confirm"
          role="group"
          aria-label={`Remove ${name} from this device?`}
          aria-describedby={questionId}
          onKeyDown={(e) => {
            if (e.key === 'Escape') setConfirming(false);
          }}
        >
          <span id={questionId}>
            Remove <bdi>{title || name}</bdi> from this device? Everyone else in it, and your other devices, keep it;
            joining it again brings its messages back from the relay.
            {notSent.count > 0 ? (
              <strong>
                {' '}
                What you wrote there that the relay does not have yet ({notSent.count}
                {!what.onlyMessages && `: ${what.parts.join(', ')}`}) would be lost.
              </strong>
            ) : (
              summary === null && (
                <strong> Anything you wrote there that the relay does not have yet would be lost.</strong>
              )
            )}
          </span>
          <button
            type="button"
            className="button danger small"
            aria-disabled={removing || undefined}
            onClick={() => {
              if (removing) return;
              // A refusal said again is announced again.
              setRefused(null);
              setRemoving(true);
              void onRemove(name).then((reason) => {
                setRemoving(false);
                setRefused(reason);
              });
            }}
          >
            Remove from this device
          </button>
          <button ref={keepRef} type="button" className="button small" onClick={() => setConfirming(false)}>
            Cancel
          </button>
          {refused && (
            <p className="error" role="alert">
              Not removed: {refused}
            </p>
          )}
        </div>
      )}
    </li>
  );
};
