/** Opens a room session for a screen and follows its view. */
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { useApp } from './appContext.js';
import { keptSessions } from './keptSessions.js';
import { openSession, type RoomMeta, type RoomSession, type RoomView } from './services.js';

export type SessionState =
  | { readonly phase: 'opening' }
  | { readonly phase: 'error'; readonly message: string }
  | { readonly phase: 'open'; readonly session: RoomSession; readonly meta: RoomMeta };

/**
 * Opens `room` once per mount with the identity current at that time; on unmount the session is
 * destroyed, or kept while it holds edits only in this page (LEAVE-2).
 */
export const useRoomSession = (room: string): SessionState => {
  const { identity, local } = useApp();
  const identityRef = useRef(identity);
  identityRef.current = identity;
  const [state, setState] = useState<SessionState>({ phase: 'opening' });

  useEffect(() => {
    let cancelled = false;
    let session: RoomSession | null = null;
    setState({ phase: 'opening' });
    const open = async (): Promise<void> => {
      // LEAVE-2: the session kept since the room was left, holding edits that are only in this page.
      const s = keptSessions.take(room) ?? (await openSession(room, identityRef.current, local));
      // Read once the session holds the room (REMOVE-1): a removal in another tab cannot come between.
      const meta = await local.store.getMeta(room).catch(() => undefined);
      if (cancelled) {
        keptSessions.release(room, s);
        return;
      }
      session = s;
      setState({ phase: 'open', session: s, meta: meta ?? {} });
    };
    open().catch((e: unknown) => {
      if (!cancelled) setState({ phase: 'error', message: e instanceof Error ? e.message : String(e) });
    });
    return () => {
      cancelled = true;
      if (session) keptSessions.release(room, session);
    };
  }, [room, local]);

  // PRES-3: a new name (typed in another tab) reaches presence without reopening the room.
  const session = state.phase === 'open' ? state.session : null;
  useEffect(() => {
    session?.setName(identity.name);
  }, [session, identity.name]);

  return state;
};

/**
 * The session's current view, re-rendering on every change. Read when rendering (the view is the
 * same object until something changes), so the render that follows a send already shows the new
 * message: no render of the old list first, and no second render once the session notifies.
 */
export const useRoomView = (session: RoomSession): RoomView => {
  const subscribe = useCallback((onChange: () => void) => session.subscribe(onChange), [session]);
  const current = useCallback(() => session.view(), [session]);
  return useSyncExternalStore(subscribe, current);
};
