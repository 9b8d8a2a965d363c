/**
 * Registers the service worker and, when a new version of the app is waiting, offers to reload.
 * Never reloads by itself (registerType 'prompt'): a draft being typed must not vanish under the
 * user's fingers. Drafts are in localStorage anyway, so the reload the user asks for keeps them.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { useRegisterSW } from 'virtual:pwa-register/react';

const UPDATE_CHECK_MS = 60 * 60 * 1000;

export const UpdatePrompt = (): ReactNode => {
  const [registration, setRegistration] = useState<ServiceWorkerRegistration | null>(null);
  const {
    needRefresh: [needRefresh, setNeedRefresh],
    offlineReady: [offlineReady, setOfflineReady],
    updateServiceWorker,
  } = useRegisterSW({
    immediate: true,
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
    return () => clearInterval(timer);
  }, [registration]);

  useEffect(() => {
    if (!offlineReady) return;
    const timer = setTimeout(() => setOfflineReady(false), 8000);
    return () => clearTimeout(timer);
  }, [offlineReady, setOfflineReady]);

  if (needRefresh) {
    return (
      <div className="update-banner" role="alert">
        <span>A new version is available — </span>
        <button
          type="button"
          className="button primary"
          onClick={() => {
            // The new worker takes over, then the page reloads into it. (workbox-window reloads only
            // pages that were controlled when they registered; a tab opened on the first visit is not.)
            navigator.serviceWorker?.addEventListener('controllerchange', () => window.location.reload());
            setTimeout(() => window.location.reload(), 3000);
            void updateServiceWorker(true);
          }}
        >
          Reload
        </button>
        <button type="button" className="button quiet" onClick={() => setNeedRefresh(false)}>
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
