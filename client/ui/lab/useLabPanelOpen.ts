/** Whether a room's Lab panel is open: off by default, remembered per room on this device. */
import { useCallback, useState } from 'react';
import { kv } from '../services.js';

export const labPanelKey = (room: string): string => `converge:lab-panel:${room}`;

/** REMOVE-1: the room is gone from the device; joined again, its panel starts closed. */
export const forgetLabPanel = (room: string): void => {
  try {
    kv.removeItem(labPanelKey(room));
  } catch {
    // Storage refused: the panel opens as it was.
  }
};

export const useLabPanelOpen = (room: string): [boolean, (open: boolean) => void] => {
  const [open, setOpenState] = useState(() => {
    try {
      return kv.getItem(labPanelKey(room)) === 'open';
    } catch {
      return false;
    }
  });
  const setOpen = useCallback(
    (next: boolean) => {
      setOpenState(next);
      try {
        if (next) kv.setItem(labPanelKey(room), 'open');
        else kv.removeItem(labPanelKey(room));
      } catch {
        // Not remembered (quota, disabled storage): the panel still opens and closes.
      }
    },
    [room],
  );
  return [open, setOpen];
};
