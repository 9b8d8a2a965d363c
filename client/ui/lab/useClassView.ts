/**
 * Watches a room's awareness for the class view: a `ClassWatcher` (no participant state of its
 * own, LAB-UI-4) feeding a `ClassTracker` (LAB-UI-1). Awareness bursts (30 participants
 * publishing about once a second each) are coalesced into at most one update per
 * `COALESCE_MS`; a one-second tick moves the "offline for …" times and the chart along.
 */
import { useEffect, useState } from 'react';
import { ClassTracker, type ClassSnapshot } from '../../lab/classTracker.js';
import { ClassWatcher } from '../../lab/classWatcher.js';
import { relayUrl } from '../services.js';

const COALESCE_MS = 100;
const TICK_MS = 1000;

export const useClassView = (room: string): ClassSnapshot => {
  const [tracker] = useState(() => new ClassTracker(Date.now()));
  const [snapshot, setSnapshot] = useState<ClassSnapshot>(() => tracker.snapshot(Date.now()));
  useEffect(() => {
    const watcher = new ClassWatcher(room, relayUrl());
    let timer: ReturnType<typeof setTimeout> | null = null;
    const update = (): void => {
      timer = null;
      setSnapshot(tracker.observe(watcher.states(), Date.now(), watcher.connected, watcher.takeDeparted()));
    };
    const schedule = (): void => {
      if (timer === null) timer = setTimeout(update, COALESCE_MS);
    };
    const unsubscribe = watcher.subscribe(schedule);
    const tick = setInterval(update, TICK_MS);
    update();
    return () => {
      unsubscribe();
      clearInterval(tick);
      if (timer !== null) clearTimeout(timer);
      watcher.destroy();
    };
  }, [room, tracker]);
  return snapshot;
};
