/**
 * The app shell: opens the local store once, loads the identity, and routes between the lobby,
 * a room and a room's class view (the lab). The update prompt (new service-worker version) sits above every screen.
 */
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { AppContext, linkClick, ROOM_RULE } from './appContext.js';
import { ClassView } from './lab/ClassView.js';
import { Lobby } from './Lobby.js';
import { RoomScreen } from './RoomScreen.js';
import { useRoute } from './router.js';
import {
  closeLocalStore,
  getIdentity,
  openLocalStore,
  setIdentityName,
  type IdentityInfo,
  type LocalStore,
} from './services.js';
import { EvictionNotice } from './EvictionNotice.js';
import { KeptRoomsNotice } from './KeptRoomsNotice.js';
import { UpdatePrompt } from './UpdatePrompt.js';

const useIdentity = (): [IdentityInfo, (name: string) => void] => {
  const [identity, setIdentity] = useState<IdentityInfo>(getIdentity);
  useEffect(() => {
    // Another tab of this profile changed the name.
    const onStorage = (): void => {
      const next = getIdentity();
      setIdentity((cur) => (cur.id === next.id && cur.name === next.name && cur.named === next.named ? cur : next));
    };
    window.addEventListener('storage', onStorage);
    // Read again once listening: a name changed between the first render and now fired its event already.
    onStorage();
    return () => window.removeEventListener('storage', onStorage);
  }, []);
  const setName = useCallback((name: string) => setIdentity(setIdentityName(name)), []);
  return [identity, setName];
};

export const App = (): ReactNode => {
  const [identity, setName] = useIdentity();
  const [local, setLocal] = useState<LocalStore | null>(null);
  const [fatal, setFatal] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    openLocalStore().then(
      (l) => {
        if (!cancelled) setLocal(l);
        else void closeLocalStore(l);
      },
      (e: unknown) => setFatal(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      cancelled = true;
    };
  }, []);

  const value = useMemo(() => (local ? { identity, setName, local } : null), [identity, setName, local]);

  return (
    <>
      <UpdatePrompt />
      <EvictionNotice />
      <KeptRoomsNotice />
      {fatal ? (
        <main className="screen-center">
          <h1>Converge cannot start</h1>
          <p role="alert">{fatal}</p>
        </main>
      ) : value ? (
        <AppContext.Provider value={value}>
          <Screens />
        </AppContext.Provider>
      ) : (
        <main className="screen-center" aria-busy="true">
          <p>Opening your rooms…</p>
        </main>
      )}
    </>
  );
};

const Screens = (): ReactNode => {
  const route = useRoute();
  switch (route.name) {
    case 'lobby':
      return <Lobby />;
    case 'room':
      return <RoomScreen key={route.room} room={route.room} />;
    case 'lab':
      return <ClassView key={route.room} room={route.room} />;
    case 'bad-room':
      return (
        <main className="screen-center">
          <h1>That is not a room name</h1>
          <p>
            “{route.room}” cannot be a room: {ROOM_RULE}
          </p>
          <p>
            <a href="/" onClick={linkClick('/')}>
              Back to your rooms
            </a>
          </p>
        </main>
      );
    case 'not-found':
      return (
        <main className="screen-center">
          <h1>Page not found</h1>
          <p>Nothing lives at {route.path}.</p>
          <p>
            <a href="/" onClick={linkClick('/')}>
              Back to your rooms
            </a>
          </p>
        </main>
      );
  }
};
