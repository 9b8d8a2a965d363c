import { describe, expect, it } from 'vitest';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { isId } from '../../shared/ids.js';
import { NAME_LIMIT } from '../../shared/chat/chatRoom.js';
import { IDENTITY_KEY, IdentityError, loadIdentity, normalizeName, saveName } from '../identity.js';

class MapStorage implements Storage {
  readonly items = new Map<string, string>();
  failWrites = false;
  get length(): number {
    return this.items.size;
  }
  clear(): void {
    this.items.clear();
  }
  getItem(k: string): string | null {
    return this.items.get(k) ?? null;
  }
  key(i: number): string | null {
    return [...this.items.keys()][i] ?? null;
  }
  removeItem(k: string): void {
    this.items.delete(k);
  }
  setItem(k: string, v: string): void {
    if (this.failWrites) throw new DOMException('full', 'QuotaExceededError');
    this.items.set(k, v);
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
    expect(b).toEqual({ id: a.id, name: 'Ada Lovelace' });
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
    s.items.set(IDENTITY_KEY, '{"id":"not-an-id","name":"x"}');
    expect(isId(loadIdentity(s, randomBytes).id)).toBe(true);
    s.items.set(IDENTITY_KEY, 'garbage{');
    expect(isId(loadIdentity(s, randomBytes).id)).toBe(true);
    const full = new MapStorage();
    full.failWrites = true;
    expect(isId(loadIdentity(full, randomBytes).id)).toBe(true);
    expect(saveName(full, 'Ada', randomBytes).name).toBe('Ada');
  });

  it('normalizeName', () => {
    expect(normalizeName('  a\tb  ')).toBe('a b');
    expect(normalizeName('')).toBe('');
  });
});
