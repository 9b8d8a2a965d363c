import { useSyncExternalStore } from 'react';

const subscribe = (changed: () => void): (() => void) => {
  window.addEventListener('online', changed);
  window.addEventListener('offline', changed);
  return () => {
    window.removeEventListener('online', changed);
    window.removeEventListener('offline', changed);
  };
};

/**
 * The browser's `navigator.onLine`, kept current by its `online` and `offline` events. Through
 * `useSyncExternalStore`, which reads it again once subscribed: a change between the first render
 * and the subscription is not lost.
 */
export const useNetworkOnline = (): boolean => useSyncExternalStore(subscribe, () => navigator.onLine);
