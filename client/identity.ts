/// <reference lib="dom" />
/**
 * Who this browser profile is in every room: a stable random id (ID-1, `shared/ids.ts`) and a
 * display name, kept in localStorage. The id is per profile, not per tab; the Yjs clientID is
 * per doc instance (never persisted: two tabs sharing one would corrupt the document).
 *
 * Storage that throws (Safari private mode, disabled storage, quota) never breaks the app: the
 * identity then lives for this page only.
 */
import { NAME_LIMIT, type Identity } from '../shared/chat/chatRoom.js';
import { isId, newId, type RandomBytes } from '../shared/ids.js';

export type { Identity } from '../shared/chat/chatRoom.js';

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

const read = (storage: Storage): Identity | null => {
  let raw: string | null;
  try {
    raw = storage.getItem(IDENTITY_KEY);
  } catch {
    return null;
  }
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const r = v as Record<string, unknown>;
    if (!isId(r.id)) return null;
    const name = typeof r.name === 'string' ? normalizeName(r.name) : '';
    return { id: r.id, name: name || defaultName(r.id) };
  } catch {
    return null;
  }
};

const write = (storage: Storage, identity: Identity): void => {
  try {
    storage.setItem(IDENTITY_KEY, JSON.stringify({ id: identity.id, name: identity.name }));
  } catch {
    // Quota or disabled storage: the identity lasts for this page only.
  }
};

/**
 * The stored identity, or a new one (random id, a "Guest XXXX" name) that is stored at once.
 * A damaged record is replaced by a new identity.
 */
export function loadIdentity(storage: Storage, randomBytes: RandomBytes = defaultRandomBytes): Identity {
  const found = read(storage);
  if (found) return found;
  const id = newId(randomBytes);
  const identity: Identity = { id, name: defaultName(id) };
  write(storage, identity);
  return identity;
}

/**
 * Sets the display name (normalized, see `normalizeName`) and returns the updated identity.
 * Throws IdentityError for a name that is empty after normalizing; nothing changes then.
 */
export function saveName(storage: Storage, name: string, randomBytes: RandomBytes = defaultRandomBytes): Identity {
  const normalized = normalizeName(name);
  if (normalized.length === 0) throw new IdentityError('A name cannot be empty.');
  const identity: Identity = { id: loadIdentity(storage, randomBytes).id, name: normalized };
  write(storage, identity);
  return identity;
}
