/**
 * Registers the service worker and, when a new version of the app is waiting, offers to reload.
 * Never reloads by itself (registerType 'prompt'): a draft being typed must not vanish under the
 * user's fingers. Drafts are in localStorage anyway, so the reload the user asks for keeps them.
 *
 * UPD-1: only the tab whose user clicked "Reload" reloads. The new worker then controls every tab
 * of the app (one worker per origin), and vite-plugin-pwa would reload them all, losing an edit
 * in progress or lifting a Lab partition (LAB-UI-6) in a tab nobody touched; those tabs say a new
 * version is running instead, and reload when their user asks.
 *
 * UPD-2: an open tab looks for a new version when the network comes back and when it is shown
 * again (at most once a minute), not only hourly. UPD-4: also when a room's connection to the
 * relay comes back (`RELAY_BACK_EVENT`): after a deploy, the relay's restart is exactly such a
 * moment for a tab that stayed open, and it fires no `online` event.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useRegisterSW } from 'virtual:pwa-register/react';
import { RELAY_BACK_EVENT } from './relayBack.js';

const UPDATE_CHECK_MS = 60 * 60 * 1000;
/** UPD-2, UPD-4: the least time between two checks asked for by the network, the relay or the tab coming back. */
const UPDATE_RECHECK_MS = 60 * 1000;

export const UpdatePrompt = (): ReactNode => {
  const [registration, setRegistration] = useState<ServiceWorkerRegistration | null>(null);
  // UPD-1: whether this tab's user asked for the new version, and whether another tab's did.
  const reloadAsked = useRef(false);
  const [runningElsewhere, setRunningElsewhere] = useState(false);
  const {
    needRefresh: [needRefresh, setNeedRefresh],
    offlineReady: [offlineReady, setOfflineReady],
    updateServiceWorker,
  } = useRegisterSW({
    immediate: true,
    onNeedReload: () => {
      if (reloadAsked.current) window.location.reload();
      else setRunningElsewhere(true);
    },
    onRegisteredSW: (_url, reg) => {
      if (reg) setRegistration(reg);
    },
    onRegisterError: () => {
      // No service worker (unsupported, or blocked): the app works online as before.
    },
  });

  useEffect(() => {
    if (!registration) return;
    const check = (): void => {
      if (navigator.onLine) registration.update().catch(() => undefined);
    };
    const timer = setInterval(check, UPDATE_CHECK_MS);
    let lastCheck = performance.now();
    const recheck = (): void => {
      if (document.visibilityState !== 'visible' || performance.now() - lastCheck < UPDATE_RECHECK_MS) return;
      lastCheck = performance.now();
      check();
    };
    // UPD-4: throttled on its own, so a relay restart soon after the page loaded is not skipped
    // (the page's own load checked before the deploy).
    let lastRelayCheck = -Infinity;
    const relayBack = (): void => {
      if (performance.now() - lastRelayCheck < UPDATE_RECHECK_MS) return;
      lastRelayCheck = performance.now();
      check();
    };
    window.addEventListener('online', recheck);
    window.addEventListener(RELAY_BACK_EVENT, relayBack);
    document.addEventListener('visibilitychange', recheck);
    return () => {
      clearInterval(timer);
      window.removeEventListener('online', recheck);
      window.removeEventListener(RELAY_BACK_EVENT, relayBack);
      document.removeEventListener('visibilitychange', recheck);
    };
  }, [registration]);

  useEffect(() => {
    if (!offlineReady) return;
    const timer = setTimeout(() => setOfflineReady(false), 8000);
    return () => clearTimeout(timer);
  }, [offlineReady, setOfflineReady]);

  if (needRefresh || runningElsewhere) {
    return (
      <div className="update-banner" role="alert">
        <span>{runningElsewhere ? 'A new version is running in another tab — ' : 'A new version is available — '}</span>
        <button
          type="button"
          className="button primary"
          onClick={() => {
            reloadAsked.current = true;
            // Another tab already switched to it: nothing waits, this page only reloads.
            if (runningElsewhere || !registration?.waiting) {
              window.location.reload();
              return;
            }
            // The new worker takes over, then the page reloads into it. (workbox-window reloads only
            // pages that were controlled when they registered; a tab opened on the first visit is not.)
            navigator.serviceWorker?.addEventListener('controllerchange', () => window.location.reload());
            setTimeout(() => window.location.reload(), 3000);
            void updateServiceWorker(true);
          }}
        >
          Reload
        </button>
        <button
          type="button"
          className="button quiet"
          onClick={() => {
            setNeedRefresh(false);
            setRunningElsewhere(false);
          }}
        >
          Later
        </button>
      </div>
    );
  }
  if (offlineReady) {
    return (
      <div className="update-banner subtle" aria-live="polite">
        <span>Converge is ready to work offline.</span>
        <button type="button" className="button quiet" onClick={() => setOfflineReady(false)}>
          Dismiss
        </button>
      </div>
    );
  }
  return null;
};
