/**
 * LAB-UI-5: records, from the moment a room is opened (Lab panel open or not), when this client
 * learned who holds the room's recent messages. Session changes (messages, awareness updates:
 * many a second in a class of 30) are coalesced to one observation per `OBSERVE_MS`, so the
 * times are accurate to that much; the work per observation is bounded by
 * SPACE_TIME_MESSAGES × participants.
 */
import { useEffect, useState } from 'react';
import { othersFromAwareness, SpaceTimeRecorder } from '../../lab/spaceTime.js';
import type { RoomSession } from '../services.js';

export const OBSERVE_MS = 100;

export const useSpaceTimeRecorder = (session: RoomSession): SpaceTimeRecorder => {
  const [recorder] = useState(() => new SpaceTimeRecorder(session.identity.id, Date.now()));
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const observe = (): void => {
      timer = null;
      const states = session.internals?.awareness.getStates();
      recorder.observe(
        Date.now(),
        session.identity.name,
        session.view().messages,
        states ? othersFromAwareness(states, session.identity.id) : [],
      );
    };
    observe();
    const unsubscribe = session.subscribe(() => {
      if (timer === null) timer = setTimeout(observe, OBSERVE_MS);
    });
    return () => {
      unsubscribe();
      if (timer !== null) clearTimeout(timer);
    };
  }, [session, recorder]);
  return recorder;
};
