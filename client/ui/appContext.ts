/** The app-wide context (identity, local store) and small helpers shared by the screens. */
import { createContext, useContext, type MouseEvent } from 'react';
import { navigate } from './router.js';
import type { IdentityInfo, LocalStore } from './services.js';

export interface AppContextValue {
  readonly identity: IdentityInfo;
  readonly setName: (name: string) => void;
  readonly local: LocalStore;
}

export const AppContext = createContext<AppContextValue | null>(null);

export const useApp = (): AppContextValue => {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp outside <App>');
  return value;
};

export const ROOM_RULE =
  'room names are 1 to 128 characters: letters A–Z and a–z, digits, and - _ . ~ (not starting with a dot).';

/** An onClick for same-app links: navigate with the history API unless the user wants a new tab. */
export const linkClick =
  (path: string) =>
  (e: MouseEvent<HTMLAnchorElement>): void => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(path);
  };
