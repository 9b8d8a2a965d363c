/**
 * A tiny history-API router: `/` is the lobby, `/r/<room>` a room, `/lab/<room>` the classroom
 * lab. Direct links work (the relay and, offline, the service worker answer every path with
 * index.html).
 */
import { useSyncExternalStore } from 'react';
import { isValidRoomName } from '../../shared/protocol.js';

export type Route =
  | { readonly name: 'lobby' }
  | { readonly name: 'room'; readonly room: string }
  | { readonly name: 'lab'; readonly room: string }
  | { readonly name: 'bad-room'; readonly room: string }
  | { readonly name: 'not-found'; readonly path: string };

const NAVIGATE_EVENT = 'converge:navigate';

const decode = (segment: string): string => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
};

export const parseRoute = (pathname: string): Route => {
  if (pathname === '/' || pathname === '' || pathname === '/index.html') return { name: 'lobby' };
  const m = /^\/(r|lab)\/([^/]+)\/?$/.exec(pathname);
  if (m) {
    const room = decode(m[2]!);
    if (!isValidRoomName(room)) return { name: 'bad-room', room };
    return m[1] === 'r' ? { name: 'room', room } : { name: 'lab', room };
  }
  return { name: 'not-found', path: pathname };
};

/**
 * The room a pasted link leads to ("Copy link" gives `<origin>/r/<room>`; a lab link works too), so
 * the lobby's room field takes a link as well as a name. A link to another origin is another relay,
 * whose room of that name is not this one's: `otherOrigin` then. Null when `text` is no such link.
 */
export const roomOfLink = (text: string, origin: string): { room: string } | { otherOrigin: string } | null => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const route = parseRoute(url.pathname);
  if (route.name !== 'room' && route.name !== 'lab') return null;
  return url.origin === origin ? { room: route.room } : { otherOrigin: url.origin };
};

export const roomPath = (room: string): string => `/r/${encodeURIComponent(room)}`;
export const labPath = (room: string): string => `/lab/${encodeURIComponent(room)}`;
export const roomUrl = (room: string): string => new URL(roomPath(room), location.origin).href;

export const navigate = (path: string, opts: { replace?: boolean } = {}): void => {
  if (path === location.pathname) return;
  if (opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
};

const subscribe = (onChange: () => void): (() => void) => {
  window.addEventListener('popstate', onChange);
  window.addEventListener(NAVIGATE_EVENT, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(NAVIGATE_EVENT, onChange);
  };
};

const getPath = (): string => location.pathname;

export const useRoute = (): Route => parseRoute(useSyncExternalStore(subscribe, getPath));
