/**
 * LAB-UI-5: records, from the moment a room is opened (Lab panel open or not), when this client
 * learned who holds the room's recent messages. Runs on every session change (a message, an
 * awareness update); the work is bounded by SPACE_TIME_MESSAGES × participants.
 */
import { useEffect, useState } from 'react';
import { othersFromAwareness, SpaceTimeRecorder } from '../../lab/spaceTime.js';
import type { RoomSession } from '../services.js';

export const useSpaceTimeRecorder = (session: RoomSession): SpaceTimeRecorder => {
  const [recorder] = useState(() => new SpaceTimeRecorder(session.identity.id, Date.now()));
  useEffect(() => {
    const observe = (): void => {
      const states = session.internals?.awareness.getStates();
      recorder.observe(
        Date.now(),
        session.identity.name,
        session.view().messages,
        states ? othersFromAwareness(states, session.identity.id) : [],
      );
    };
    observe();
    return session.subscribe(observe);
  }, [session, recorder]);
  return recorder;
};
