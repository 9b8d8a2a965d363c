/** Following `session.lab` from React. */
import { useEffect, useState, useSyncExternalStore } from 'react';
import type { FaultConfig } from '../../../shared/lab/faults.js';
import type { RoomSession } from '../services.js';

/** The Lab panel refreshes at most this often (frames arrive much faster under load). */
export const LAB_REFRESH_MS = 250;

/**
 * Re-renders the caller after lab changes (faults, traffic) and room changes, at most every
 * LAB_REFRESH_MS, and at least every second (times and the space-time diagram move on).
 */
export const useLabTick = (session: RoomSession): void => {
  const [, setTick] = useState(0);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const schedule = (): void => {
      if (timer === null) {
        timer = setTimeout(() => {
          timer = null;
          setTick((n) => n + 1);
        }, LAB_REFRESH_MS);
      }
    };
    const offLab = session.lab.onChange(schedule);
    const offRoom = session.subscribe(schedule);
    const second = setInterval(schedule, 1000);
    return () => {
      offLab();
      offRoom();
      clearInterval(second);
      if (timer !== null) clearTimeout(timer);
    };
  }, [session]);
};

/** This client's fault config; re-renders only when it changes. */
export const useLabFaults = (session: RoomSession): FaultConfig =>
  useSyncExternalStore(
    (onChange) => session.lab.onChange(onChange),
    () => session.lab.config,
  );
