/**
 * LOCAL-11: says so when the browser deleted this app's saved data (whole-origin eviction) before
 * this start or while the page was open. Shown above every screen until dismissed; the identity
 * was restored, so the user's earlier messages are still theirs once a room is fetched again from
 * the relay.
 */
import { useState, useSyncExternalStore, type ReactNode } from 'react';
import { originEviction } from './services.js';

export const EvictionNotice = (): ReactNode => {
  const evicted = useSyncExternalStore(originEviction.subscribe, originEviction.evicted);
  const [dismissed, setDismissed] = useState(false);
  if (!evicted || dismissed) return null;
  return (
    <div className="update-banner warning" role="alert">
      <span>
        This browser deleted Converge’s saved data on this device, probably for lack of space. Open your rooms again by
        name or link: their messages come back from the relay. Messages that never reached the relay are gone.
      </span>
      <button type="button" className="button quiet" onClick={() => setDismissed(true)}>
        Dismiss
      </button>
    </div>
  );
};
