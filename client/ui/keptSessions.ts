/**
 * LEAVE-2: a room left inside the app (the lobby, another room, the Lab) while what the user wrote
 * there is only in this page's memory (LEAVE-1: its write to the device failed and the relay has not
 * acked it) is not closed. Its session stays open in the background, connected, so the relay still
 * gets those edits when it can; it is closed once they are safe (acked, or a full write stored
 * them). Opening the room again takes that same session back: a new one would load the device's
 * copy, which lacks them, and while offline would never see them.
 *
 * Invariants: a room has at most one kept session; every kept session is `onlyInPage` (one that
 * stops being so is destroyed and dropped at its next change); a session taken back is the
 * caller's again, so nothing here holds it or its listener any longer.
 */
import { useSyncExternalStore } from 'react';
import type { RoomSession } from './services.js';

/** What the keeper needs of a room session (a `RoomSession` in the app). */
export interface KeepableSession {
  view(): { readonly storage: { readonly onlyInPage: boolean } };
  subscribe(listener: () => void): () => void;
  destroy(): void;
  /** PRES-4: a kept session is not "in" the room: nobody sees the user there while they are elsewhere. */
  leavePresence(): void;
  rejoinPresence(): void;
}

interface Kept<S> {
  readonly session: S;
  readonly unsubscribe: () => void;
}

export class SessionKeeper<S extends KeepableSession> {
  private readonly kept = new Map<string, Kept<S>>();
  private readonly listeners = new Set<() => void>();
  private roomList: readonly string[] = [];

  /** The screen showing `room` is done with `session`: destroys it, or keeps it while it holds edits only here. */
  release(room: string, session: S): void {
    if (!session.view().storage.onlyInPage) {
      session.destroy();
      return;
    }
    this.drop(room)?.destroy();
    session.leavePresence();
    const unsubscribe = session.subscribe(() => {
      if (session.view().storage.onlyInPage || this.kept.get(room)?.session !== session) return;
      this.drop(room);
      session.destroy();
    });
    this.kept.set(room, { session, unsubscribe });
    this.changed();
  }

  /** The kept session of `room`, now the caller's (back in the room's presence), or null. */
  take(room: string): S | null {
    const session = this.drop(room);
    session?.rejoinPresence();
    return session;
  }

  /** The rooms whose sessions are kept, in the order they were left (the same array until that changes). */
  rooms(): readonly string[] {
    return this.roomList;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private drop(room: string): S | null {
    const k = this.kept.get(room);
    if (!k) return null;
    k.unsubscribe();
    this.kept.delete(room);
    this.changed();
    return k.session;
  }

  private changed(): void {
    this.roomList = [...this.kept.keys()];
    for (const l of [...this.listeners]) l();
  }
}

/** The page's keeper: one per page, as the sessions it keeps are the page's memory. */
export const keptSessions = new SessionKeeper<RoomSession>();

const subscribeKept = (l: () => void): (() => void) => keptSessions.subscribe(l);
const keptRooms = (): readonly string[] => keptSessions.rooms();

/** The rooms whose sessions are kept, re-rendering when that changes. */
export const useKeptRooms = (): readonly string[] => useSyncExternalStore(subscribeKept, keptRooms);
