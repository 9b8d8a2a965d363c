/// <reference lib="dom" />
/**
 * Who this browser profile is in every room: a stable random id (ID-1, `shared/ids.ts`) and a
 * display name, kept in localStorage. The id is per profile, not per tab; the Yjs clientID is
 * per doc instance (never persisted: two tabs sharing one would corrupt the document).
 *
 * Storage that throws (Safari private mode, disabled storage, quota) never breaks the app: the
 * identity then lives for this page only.
 *
 * LOCAL-11: a copy of the identity is also kept by a witness outside the browser's evictable
 * storage (a first-party cookie: browsers evict IndexedDB, localStorage, caches and service
 * workers of an origin together under storage pressure, but not its cookies). When the identity
 * is gone from localStorage but the witness still has it, this profile's data was evicted (or
 * wiped by something other than "clear site data", which clears cookies too): the app restores
 * the same identity, so the user's earlier messages stay theirs, and says what happened. The
 * cookie holds only what every room already sees (id and display name), never a secret.
 *
 * PRES-5: the record also says whether the person chose the name (`named`). Until they do, the
 * name is a "Guest XXXX" stand-in, and opening a room asks for one first.
 */
import { NAME_LIMIT, type Identity } from '../shared/chat/chatRoom.js';
import { isId, newId, type RandomBytes } from '../shared/ids.js';

export type { Identity } from '../shared/chat/chatRoom.js';

/** This profile's identity, and whether its name was chosen by the person (PRES-5) or is the "Guest" stand-in. */
export interface LocalIdentity extends Identity {
  readonly named: boolean;
}

export const IDENTITY_KEY = 'converge:identity:v1';

export class IdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityError';
  }
}

const defaultRandomBytes: RandomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

/** A display name: trimmed, inner whitespace runs (newlines, tabs) collapsed, at most NAME_LIMIT characters. */
export const normalizeName = (name: string): string => name.replace(/\s+/g, ' ').trim().slice(0, NAME_LIMIT).trim();

const defaultName = (id: string): string => `Guest ${id.slice(-4).toUpperCase()}`;

/**
 * A stored identity record (JSON of id, name and `named`), or null when damaged (never throws).
 * Records written before `named` existed count as named when their name is not the default one:
 * only a person typing in the lobby could have changed it.
 */
const parseIdentity = (json: string): LocalIdentity | null => {
  try {
    const v = JSON.parse(json) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const r = v as Record<string, unknown>;
    if (!isId(r.id)) return null;
    const name = typeof r.name === 'string' ? normalizeName(r.name) : '';
    if (!name) return { id: r.id, name: defaultName(r.id), named: false };
    return { id: r.id, name, named: typeof r.named === 'boolean' ? r.named : name !== defaultName(r.id) };
  } catch {
    return null;
  }
};

const toJson = (identity: LocalIdentity): string =>
  JSON.stringify({ id: identity.id, name: identity.name, named: identity.named });

const read = (storage: Storage): LocalIdentity | null => {
  let raw: string | null;
  try {
    raw = storage.getItem(IDENTITY_KEY);
  } catch {
    return null;
  }
  return raw === null ? null : parseIdentity(raw);
};

const write = (storage: Storage, identity: LocalIdentity): void => {
  try {
    storage.setItem(IDENTITY_KEY, toJson(identity));
  } catch {
    // Quota or disabled storage: the identity lasts for this page only.
  }
};

/**
 * The stored identity, or a new one (random id, a "Guest XXXX" name, not `named`) that is stored
 * at once. A damaged record is replaced by a new identity.
 */
export function loadIdentity(storage: Storage, randomBytes: RandomBytes = defaultRandomBytes): LocalIdentity {
  const found = read(storage);
  if (found) return found;
  const id = newId(randomBytes);
  const identity: LocalIdentity = { id, name: defaultName(id), named: false };
  write(storage, identity);
  return identity;
}

/** A copy of the identity kept where whole-origin storage eviction does not reach (LOCAL-11). */
export interface IdentityWitness {
  read(): LocalIdentity | null;
  write(identity: LocalIdentity): void;
}

export interface CurrentIdentity {
  readonly identity: LocalIdentity;
  /** LOCAL-11: localStorage had lost the identity the witness still had: the origin's data was evicted. */
  readonly evicted: boolean;
}

/**
 * The identity (LOCAL-11), at app start and whenever it is read again: the stored one (the witness
 * is refreshed), else the witness's copy (restored to storage; `evicted`), else a new one (stored
 * in both). Storage can be wiped while a page is open, so a page re-reads through here, never
 * through `loadIdentity` alone, which would make the person someone new.
 */
export function currentIdentity(
  storage: Storage,
  witness: IdentityWitness,
  randomBytes: RandomBytes = defaultRandomBytes,
): CurrentIdentity {
  const stored = read(storage);
  if (stored) {
    witness.write(stored);
    return { identity: stored, evicted: false };
  }
  const witnessed = witness.read();
  if (witnessed) {
    write(storage, witnessed);
    witness.write(witnessed);
    return { identity: witnessed, evicted: true };
  }
  const identity = loadIdentity(storage, randomBytes);
  witness.write(identity);
  return { identity, evicted: false };
}

/**
 * The witness cookie's name for a page's origin. Cookies are scoped by host, not by port (RFC 6265
 * §8.5), while localStorage is per origin: two Converge origins on one host (relays on ports 8787
 * and 8788, as a classroom runs them) would read each other's cookie, and the second one's first
 * start would look like an eviction. The port in the name keeps each origin's witness its own.
 */
export const identityCookieName = (location: { readonly protocol: string; readonly port: string }): string =>
  `converge-identity-${location.port || (location.protocol === 'https:' ? '443' : '80')}`;
/** About 400 days, the longest lifetime Chromium keeps a cookie; every app start renews it. */
const COOKIE_MAX_AGE_S = 400 * 24 * 60 * 60;

/** The cookie value for an identity: URI-encoded JSON (names may hold any character). */
export const encodeIdentityCookie = (identity: LocalIdentity): string => encodeURIComponent(toJson(identity));

/** The identity in cookie `name` of a `document.cookie` string, or null when absent or damaged (never throws). */
export const decodeIdentityCookie = (cookies: string, name: string): LocalIdentity | null => {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return parseIdentity(decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      return null; // a malformed %-escape
    }
  }
  return null;
};

/**
 * The witness the app uses: a first-party, SameSite=Strict cookie named for the origin's port
 * (LOCAL-11). The page's first write sets it (renewing its lifetime at every app start); a later
 * one only when the jar does not hold that identity already. The identity is read again on every
 * `storage` event, a draft's keystroke in another tab among them: a cookie set each time is a
 * write to the browser's cookie store for nothing.
 */
export const cookieWitness = (
  doc: Pick<Document, 'cookie'> & { readonly location: Document['location'] | null },
): IdentityWitness => {
  const name = identityCookieName(doc.location ?? { protocol: 'http:', port: '' });
  const read = (): LocalIdentity | null => {
    try {
      return decodeIdentityCookie(doc.cookie, name);
    } catch {
      return null;
    }
  };
  let renewed = false;
  return {
    read,
    write: (identity) => {
      const value = encodeIdentityCookie(identity);
      const held = read();
      if (renewed && held !== null && encodeIdentityCookie(held) === value) return;
      const secure = doc.location?.protocol === 'https:' ? '; Secure' : '';
      try {
        doc.cookie = `${name}=${value}; Path=/; Max-Age=${COOKIE_MAX_AGE_S}; SameSite=Strict${secure}`;
        renewed = true;
      } catch {
        // Cookies disabled (sandboxed frame): eviction goes unnoticed, as without a witness.
      }
    },
  };
};

/**
 * Sets the display name (normalized, see `normalizeName`), from now on `named` (PRES-5: the person
 * chose it, even when they kept the suggested "Guest" name), and returns the updated identity.
 * Throws IdentityError for a name that is empty after normalizing; nothing changes then.
 */
export function saveName(
  storage: Storage,
  name: string,
  randomBytes: RandomBytes = defaultRandomBytes,
  witness?: IdentityWitness,
): LocalIdentity {
  const normalized = normalizeName(name);
  if (normalized.length === 0) throw new IdentityError('A name cannot be empty.');
  // LOCAL-11: storage wiped since the page started: the name goes on the witnessed id.
  const current = witness
    ? currentIdentity(storage, witness, randomBytes).identity
    : loadIdentity(storage, randomBytes);
  const identity: LocalIdentity = { id: current.id, name: normalized, named: true };
  write(storage, identity);
  witness?.write(identity);
  return identity;
}
