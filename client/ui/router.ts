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
