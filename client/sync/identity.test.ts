import { describe, expect, it } from 'vitest';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { isId } from '../../shared/ids.js';
import { NAME_LIMIT } from '../../shared/chat/chatRoom.js';
import {
  IDENTITY_KEY,
  IdentityError,
  decodeIdentityCookie,
  encodeIdentityCookie,
  identityCookieName,
  loadIdentity,
  normalizeName,
  saveName,
  currentIdentity,
  cookieWitness,
  type IdentityWitness,
  type LocalIdentity,
} from '../identity.js';
import { MemoryStorage } from '../ui/memoryStorage.js';

/** A Storage whose writes can be made to fail, as a full quota does. */
class MapStorage extends MemoryStorage {
  failWrites = false;
  override setItem(k: string, v: string): void {
    if (this.failWrites) throw new DOMException('full', 'QuotaExceededError');
    super.setItem(k, v);
  }
}

const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));

describe('identity', () => {
  it('creates a random identity once and loads the same one afterwards', () => {
    const s = new MapStorage();
    const a = loadIdentity(s, randomBytes);
    expect(isId(a.id)).toBe(true);
    expect(a.name).toMatch(/^Guest [0-9A-V]{4}$/);
    expect(loadIdentity(s, randomBytes)).toEqual(a);
    expect(loadIdentity(new MapStorage(), randomBytes).id).not.toBe(a.id);
  });

  it('saveName keeps the id, normalizes the name and persists it', () => {
    const s = new MapStorage();
    const a = loadIdentity(s, randomBytes);
    const b = saveName(s, '  Ada \n Lovelace  ');
    expect(b).toEqual({ id: a.id, name: 'Ada Lovelace', named: true });
    expect(loadIdentity(s, randomBytes)).toEqual(b);
    expect(saveName(s, 'x'.repeat(200)).name).toHaveLength(NAME_LIMIT);
  });

  it('an empty name is refused and changes nothing', () => {
    const s = new MapStorage();
    const a = saveName(s, 'Ada', randomBytes);
    expect(() => saveName(s, ' \t ')).toThrow(IdentityError);
    expect(loadIdentity(s, randomBytes)).toEqual(a);
  });

  it('a damaged record is replaced; storage that throws still yields an identity', () => {
    const s = new MapStorage();
    s.setItem(IDENTITY_KEY, '{"id":"not-an-id","name":"x"}');
    expect(isId(loadIdentity(s, randomBytes).id)).toBe(true);
    s.setItem(IDENTITY_KEY, 'garbage{');
    expect(isId(loadIdentity(s, randomBytes).id)).toBe(true);
    const full = new MapStorage();
    full.failWrites = true;
    expect(isId(loadIdentity(full, randomBytes).id)).toBe(true);
    expect(saveName(full, 'Ada', randomBytes).name).toBe('Ada');
  });

  it('PRES-5: a new identity is not named; saving a name (even the suggested one) names it, for good', () => {
    const s = new MapStorage();
    const fresh = loadIdentity(s, randomBytes);
    expect(fresh.named).toBe(false);
    expect(loadIdentity(s, randomBytes).named).toBe(false);
    // Keeping the suggestion is a choice too: not asked again.
    expect(saveName(s, fresh.name, randomBytes)).toEqual({ id: fresh.id, name: fresh.name, named: true });
    expect(loadIdentity(s, randomBytes)).toEqual({ id: fresh.id, name: fresh.name, named: true });
    // A refused (empty) name leaves a fresh profile unnamed.
    const t = new MapStorage();
    loadIdentity(t, randomBytes);
    expect(() => saveName(t, '   ', randomBytes)).toThrow(IdentityError);
    expect(loadIdentity(t, randomBytes).named).toBe(false);
  });

  it('PRES-5: a record from before `named` existed is named unless it holds the default name', () => {
    const s = new MapStorage();
    const { id, name } = loadIdentity(s, randomBytes);
    s.setItem(IDENTITY_KEY, JSON.stringify({ id, name }));
    expect(loadIdentity(s, randomBytes)).toEqual({ id, name, named: false });
    s.setItem(IDENTITY_KEY, JSON.stringify({ id, name: 'Ada' }));
    expect(loadIdentity(s, randomBytes)).toEqual({ id, name: 'Ada', named: true });
    // A damaged name falls back to the default, which nobody chose.
    s.setItem(IDENTITY_KEY, JSON.stringify({ id, name: ' \n ', named: true }));
    expect(loadIdentity(s, randomBytes)).toEqual({ id, name, named: false });
  });

  it('normalizeName', () => {
    expect(normalizeName('  a\tb  ')).toBe('a b');
    expect(normalizeName('')).toBe('');
  });
});

/** A witness in memory: what a cookie jar holds across an eviction of the origin's storage. */
class MemoryWitness implements IdentityWitness {
  value: LocalIdentity | null = null;
  read(): LocalIdentity | null {
    return this.value;
  }
  write(identity: LocalIdentity): void {
    this.value = identity;
  }
}

describe('LOCAL-11: an identity witness outside evictable storage', () => {
  it('LOCAL-11: a first start creates an identity, stores it in both places, and is not an eviction', () => {
    const s = new MapStorage();
    const w = new MemoryWitness();
    const first = currentIdentity(s, w, randomBytes);
    expect(first.evicted).toBe(false);
    expect(w.value).toEqual(first.identity);
    expect(loadIdentity(s, randomBytes)).toEqual(first.identity);
    // A normal restart: same identity, no eviction, witness refreshed.
    w.value = null;
    expect(currentIdentity(s, w, randomBytes)).toEqual({ identity: first.identity, evicted: false });
    expect(w.value).toEqual(first.identity);
  });

  it('LOCAL-11: storage wiped but the witness kept: the same identity comes back and the start says evicted', () => {
    const s = new MapStorage();
    const w = new MemoryWitness();
    const before = currentIdentity(s, w, randomBytes).identity;
    const renamed = saveName(s, 'Ada', randomBytes, w);
    expect(renamed.id).toBe(before.id);
    expect(w.value).toEqual(renamed);
    const wiped = new MapStorage();
    const after = currentIdentity(wiped, w, randomBytes);
    expect(after).toEqual({ identity: renamed, evicted: true });
    expect(loadIdentity(wiped, randomBytes)).toEqual(renamed);
    expect(after.identity.named).toBe(true);
    // Only the first start after the loss reports it.
    expect(currentIdentity(wiped, w, randomBytes)).toEqual({ identity: renamed, evicted: false });
  });

  it('LOCAL-11: storage wiped while the page is open: a re-read or a rename keeps the witnessed id, never a new one', () => {
    const s = new MapStorage();
    const w = new MemoryWitness();
    const ada = saveName(s, 'Ada', randomBytes, w);
    currentIdentity(s, w, randomBytes);
    // Cleared under the open page (site data cleared but cookies, as an eviction does).
    s.clear();
    expect(currentIdentity(s, w, randomBytes)).toEqual({ identity: ada, evicted: true });
    s.clear();
    const renamed = saveName(s, 'Ada L.', randomBytes, w);
    expect(renamed).toEqual({ id: ada.id, name: 'Ada L.', named: true });
    expect(w.value).toEqual(renamed);
    expect(currentIdentity(s, w, randomBytes)).toEqual({ identity: renamed, evicted: false });
  });

  it('LOCAL-11: the cookie is set at the first write of a page (renewed) and then only when the identity changed or the jar lost it', () => {
    /** `document.cookie` as a browser has it: reading gives "name=value" pairs; setting one sets that cookie. */
    const jar = new Map<string, string>();
    let sets = 0;
    const doc = {
      location: { protocol: 'http:', port: '8787' } as Location,
      get cookie(): string {
        return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      },
      set cookie(line: string) {
        sets++;
        const [pair = ''] = line.split(';');
        const eq = pair.indexOf('=');
        jar.set(pair.slice(0, eq), pair.slice(eq + 1));
      },
    };
    const ada = { ...loadIdentity(new MapStorage(), randomBytes), name: 'Ada', named: true };
    const earlier = cookieWitness(doc);
    earlier.write(ada);
    expect(sets).toBe(1);
    // A new page (an app start) renews it, though the jar holds it; its re-reads do not.
    const page = cookieWitness(doc);
    page.write(ada);
    expect(sets).toBe(2);
    page.write(ada);
    page.write({ ...ada });
    expect(sets).toBe(2);
    expect(page.read()).toEqual(ada);
    page.write({ ...ada, name: 'Ada L.' });
    expect(sets).toBe(3);
    expect(page.read()?.name).toBe('Ada L.');
    jar.clear();
    page.write({ ...ada, name: 'Ada L.' });
    expect(sets).toBe(4);
    expect(page.read()?.name).toBe('Ada L.');
  });

  it('LOCAL-11: the cookie value round-trips any name and ignores other cookies and damage', () => {
    const id = loadIdentity(new MapStorage(), randomBytes).id;
    const identity = { id, name: 'Zoë; "x"=1, \u00e9 ✓', named: true };
    const name = identityCookieName({ protocol: 'http:', port: '8787' });
    const jar = `a=1; ${name}=${encodeIdentityCookie(identity)}; b=2`;
    expect(decodeIdentityCookie(jar, name)).toEqual(identity);
    expect(encodeIdentityCookie(identity)).not.toMatch(/[;,\s"]/);
    expect(decodeIdentityCookie('a=1; b=2', name)).toBeNull();
    expect(decodeIdentityCookie(`${name}=%7Bnot-json`, name)).toBeNull();
    expect(decodeIdentityCookie(`${name}=%E0%A4%A`, name)).toBeNull();
    expect(decodeIdentityCookie(`${name}=${encodeURIComponent('{"id":"nope","name":"x"}')}`, name)).toBeNull();
  });

  it('LOCAL-11: origins on one host but other ports (cookies are shared across ports) have their own cookie', () => {
    const id = loadIdentity(new MapStorage(), randomBytes).id;
    const a = identityCookieName({ protocol: 'http:', port: '8787' });
    const b = identityCookieName({ protocol: 'http:', port: '8788' });
    expect(a).not.toEqual(b);
    // The default ports are named too: http://host and https://host are different origins.
    expect(identityCookieName({ protocol: 'http:', port: '' })).toEqual(
      identityCookieName({ protocol: 'http:', port: '80' }),
    );
    expect(identityCookieName({ protocol: 'https:', port: '' })).not.toEqual(
      identityCookieName({ protocol: 'http:', port: '' }),
    );
    // The host's jar, as a page on port 8788 sees it, holds only the 8787 origin's cookie.
    const jar = `${a}=${encodeIdentityCookie({ id, name: 'Ada', named: true })}`;
    expect(decodeIdentityCookie(jar, b)).toBeNull();
  });
});
