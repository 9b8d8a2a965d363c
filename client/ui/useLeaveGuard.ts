/**
 * LEAVE-1: while what the user wrote is only in this page's memory (its write to the device
 * failed and the relay has not acked it, `RoomView.storage.onlyInPage`), closing or reloading the
 * page asks first: the browser's own "Leave site?" dialog, the only thing a page may show then.
 * The handler is attached only while that holds (a `beforeunload` listener keeps a page out of
 * the back/forward cache).
 */
import { useEffect } from 'react';

export const useLeaveGuard = (onlyInPage: boolean): void => {
  useEffect(() => {
    if (!onlyInPage) return;
    const ask = (e: BeforeUnloadEvent): void => {
      e.preventDefault();
      // Older browsers ask only when this is set (its text is never shown).
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', ask);
    return () => window.removeEventListener('beforeunload', ask);
  }, [onlyInPage]);
};
