/**
 * Everything the UI needs from the rest of the client, in one place: the identity, the local
 * store and room sessions. Components get these through `AppContext` (App.tsx), never by
 * importing storage or sync modules themselves.
 */
import { cookieWitness, saveName, currentIdentity, type IdentityWitness } from '../identity.js';
import { openRoomUpdateStore } from '../storage/openRoomUpdateStore.js';
import type { RoomUpdateStore } from '../storage/roomUpdateStore.js';
import { RoomSession } from '../sync/roomSession.js';
import { catchUpRoom, type CatchUpResult } from '../sync/catchUp.js';
import { RelayConfigSource } from '../net/relayConfig.js';
import { MemoryStorage } from './memoryStorage.js';
import { OfflineSwitch } from './offlineSwitch.js';
import { memoryRoomLocks, webRoomLocks, type RoomLocks } from '../storage/roomLocks.js';
import { PartitionMarks, RENEW_MS, TabFaults } from './tabFaults.js';
import { TAB_ID_CHANNEL, TAB_ID_CLAIM_MS, TabId } from './tabId.js';
import { ReadMarkKeeper, readMarkRoom } from './readMarkKeeper.js';

export type { RoomUpdateStore } from '../storage/roomUpdateStore.js';
export type { AppendedMissing, RoomMeta, RoomInfo } from '../storage/roomUpdateStore.js';
export type {
  RoomSession,
  RoomView,
  MessageView,
  ConnectionStatus,
  MessageState,
  ReactionState,
  OversizedMessage,
} from '../sync/roomSession.js';
export { pendingWrites } from '../sync/roomSession.js';
export { roomFileName } from '../sync/roomFile.js';
export { quoteStart } from '../sync/status.js';

export interface IdentityInfo {
  readonly id: string;
  readonly name: string;
  /** PRES-5: the person chose the name; until then it is a "Guest" stand-in and a room asks for one. */
  readonly named: boolean;
}

export interface LocalStore {
  readonly store: RoomUpdateStore;
  /** False when rooms are only kept in memory (private mode, IndexedDB unavailable). */
  readonly persistent: boolean;
  /** Why the store is not persistent, for the UI. */
  readonly reason: string | null;
}

export const randomBytes = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

const pickStorage = (): Storage => {
  try {
    const s = window.localStorage;
    const probe = '__converge_probe__';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return new MemoryStorage();
  }
};

/** localStorage, or an in-memory stand-in when the browser refuses it. */
export const kv: Storage = pickStorage();

/** OFF-1 (./offlineSwitch.ts): the rooms whose "Go offline" switch is on, for every tab of this profile. */
export const offlineSwitch = new OfflineSwitch(kv, typeof window === 'undefined' ? new EventTarget() : window);
/** REMOVE-1 (../storage/roomLocks.ts): a room open in any tab is not removed. */
export const roomLocks: RoomLocks =
  typeof navigator !== 'undefined' && 'locks' in navigator && navigator.locks
    ? webRoomLocks(navigator.locks)
    : memoryRoomLocks();

const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');

/** sessionStorage, or null where reading it throws (storage disabled, a sandboxed page) or there is no window. */
const sessionStorageOrNull = (): Storage | null => {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
};

/**
 * LAB-14 (./tabId.ts): this browser tab's id, kept across its reloads and claimed from the other
 * live tabs of the profile, which a duplicated tab or an opened window copied it from. The wait for
 * their answer delays only the Lab's awareness field, never the room (`RoomSession`'s `labTab`).
 * Without a window (the UI's modules imported by tests in Node): an id of its own, no channel.
 */
const tabId = new TabId({
  storage: sessionStorageOrNull(),
  channel:
    typeof window === 'undefined' || typeof BroadcastChannel === 'undefined'
      ? null
      : new BroadcastChannel(TAB_ID_CHANNEL),
  fresh: () => hex(randomBytes(8)),
  deadline: () => new Promise((resolve) => setTimeout(resolve, TAB_ID_CLAIM_MS)),
});
if (typeof window !== 'undefined') {
  window.addEventListener('pagehide', () => tabId.hide());
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) tabId.show();
  });
}

/** LAB-10 (./tabFaults.ts): this tab's Lab faults per room, and the partitions held on this device. */
export const tabFaults = new TabFaults(new PartitionMarks(kv, hex(randomBytes(8))), Date.now);
if (typeof window !== 'undefined') {
  setInterval(() => tabFaults.renew(), RENEW_MS);
  window.addEventListener('pagehide', () => tabFaults.release());
  // Back from the back-forward cache: the tab and its faults are back.
  window.addEventListener('pageshow', () => tabFaults.renew());
}

/**
 * UNREAD-5 (./readMarkKeeper.ts): read marks not yet stored when the page goes are kept for the
 * next start; those another tab of the profile keeps as it goes are stored by this one, into the
 * persistent store it opened last and has not closed (one in memory has no room to put them in).
 */
export const readMarks = new ReadMarkKeeper(kv, roomLocks);
/** The persistent stores open, in the order they opened (React's development checks open two). */
const restoreInto: RoomUpdateStore[] = [];
if (typeof window !== 'undefined') {
  window.addEventListener('pagehide', () => readMarks.keepPending());
  window.addEventListener('pageshow', () => readMarks.shown());
  window.addEventListener('storage', (e) => {
    const room = readMarkRoom(e.key);
    const store = restoreInto.at(-1);
    if (room !== null && e.newValue !== null && store !== undefined) void readMarks.restore(store, room);
  });
}

// No document (the UI's modules imported by tests in Node): no witness, as with cookies disabled.
const witness: IdentityWitness =
  typeof document === 'undefined' ? { read: () => null, write: () => undefined } : cookieWitness(document);
let evicted = false;
const evictionListeners = new Set<() => void>();
/** Reads the identity (LOCAL-11), noting when it had to be restored from the witness. */
const readIdentity = (): IdentityInfo => {
  const current = currentIdentity(kv, witness, randomBytes);
  if (current.evicted && !evicted) {
    evicted = true;
    for (const listener of evictionListeners) listener();
  }
  return current.identity;
};
readIdentity();

/**
 * LOCAL-11: whether the browser deleted this app's saved data, before this start or while the
 * page was open (a later read of the identity found only the witness's copy). For `useSyncExternalStore`.
 */
export const originEviction = {
  evicted: (): boolean => evicted,
  subscribe: (listener: () => void): (() => void) => {
    evictionListeners.add(listener);
    return () => evictionListeners.delete(listener);
  },
};

/** The identity (re-read when another tab renamed it, or storage was wiped under the page). */
export const getIdentity = (): IdentityInfo => readIdentity();
export const setIdentityName = (name: string): IdentityInfo => saveName(kv, name, randomBytes, witness);

/** Closes a store `openLocalStore` opened (one opened twice by React's development checks): kept marks no longer go there. */
export const closeLocalStore = (local: LocalStore): Promise<void> => {
  const at = restoreInto.indexOf(local.store);
  if (at >= 0) restoreInto.splice(at, 1);
  return local.store.close();
};

export const openLocalStore = async (): Promise<LocalStore> => {
  const { store, persistent, reason } = await openRoomUpdateStore();
  // UNREAD-5: before anything reads the rooms. A store in memory holds no room to put them in.
  if (persistent) {
    restoreInto.push(store);
    await readMarks.restoreAll(store);
  }
  return { store, persistent, reason: reason ?? null };
};

/** The relay's websocket base URL for this page: ws(s)://<host>/sync (the room is appended). */
export const relayUrl = (): string => `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/sync`;

/**
 * The serving relay's `/config.json`: NET-3, the relays this page may fail over between (its
 * `RELAY_URLS`); UP-2, the per-connection limits uploads are paced by, and STRUCT-1's struct
 * limit. STRUCT-2: its limits are kept in localStorage, so a page started offline knows them.
 * Without a list (none fetched yet, or offline) the page's own origin is used, as behind a load
 * balancer; without limits, uploads go as fast as they can (as before UP-2).
 */
const relayConfig = new RelayConfigSource(kv, typeof location === 'undefined' ? '' : location.origin);
/** STRUCT-3: fetched by the first room opened and again whenever the network comes back. */
const loadRelayConfig = (): void => void relayConfig.refreshUnlessFresh();
if (typeof window !== 'undefined') window.addEventListener('online', () => void relayConfig.refreshAnew());

/**
 * What a visit and a background session share, so they cannot drift apart: UP-2 paces what either
 * uploads (a background one uploads edits made offline), STRUCT-2 keeps either from sending what
 * the relay would refuse, STRUCT-3 fetches the limits when unknown; OFF-1/OFF-2: either follows the
 * "Go offline" switch from the start, also when another tab turns it while the room loads or a
 * lobby's refresh is under way; LAB-10: either starts with the partition held on this device.
 */
const sessionOptions = (room: string, identity: IdentityInfo, local: LocalStore) => {
  loadRelayConfig();
  return {
    room,
    identity,
    store: local.store,
    persistent: local.persistent,
    relayUrl: relayUrl(),
    relayLimits: () => relayConfig.current.limits,
    watchRelayLimits: (changed: () => void) => relayConfig.subscribe(changed),
    connecting: loadRelayConfig,
    offline: offlineSwitch.isOff(room),
    watchOffline: (changed: (off: boolean) => void) => offlineSwitch.watch(room, changed),
    faults: tabFaults.startingFaults(room),
  };
};

export const openSession = async (room: string, identity: IdentityInfo, local: LocalStore): Promise<RoomSession> => {
  // REMOVE-1: held until the session is gone and its writes done (a kept one's too, LEAVE-2).
  const release = await roomLocks.share(room);
  let session: RoomSession;
  try {
    session = await RoomSession.open({
      ...sessionOptions(room, identity, local),
      // NET-3: a visit fails over to the relays the config lists; the lobby's refresh stays on this page's.
      relays: () => relayConfig.current.relays,
      labTab: tabId.id,
      done: () => void release(),
    });
  } catch (e) {
    void release();
    throw e;
  }
  // LAB-10: the tab keeps the room's faults when the session goes (its listeners go with it); also
  // those it started with (a partition taken over from another tab is held by this one too).
  tabFaults.remember(room, session.lab.config);
  session.lab.onChange(() => tabFaults.remember(room, session.lab.config));
  return session;
};

/** SYNC-C1: fetches and stores what the room missed, without loading it (./catchUp.ts). */
export const catchUpInBackground = (
  room: string,
  local: LocalStore,
  timeoutMs: number,
  recordAcksOf: ReadonlySet<number>,
): Promise<CatchUpResult> => catchUpRoom({ room, relayUrl: relayUrl(), store: local.store, timeoutMs, recordAcksOf });

/**
 * A background session (SYNC-C1's full path, for a room the catch-up leaves unsure): fetches what
 * the room missed, invisible to its participants.
 */
export const openBackgroundSession = (room: string, identity: IdentityInfo, local: LocalStore): Promise<RoomSession> =>
  RoomSession.open({ ...sessionOptions(room, identity, local), background: true });
