import { describe, expect, it } from 'vitest';
import { webcrypto } from 'node:crypto';
import { ID_PATTERN, isId, newId } from './ids.js';

const random = (n: number): Uint8Array => webcrypto.getRandomValues(new Uint8Array(n));

describe('ID-1: message ids', () => {
  it('are 26 base32 characters over 128 bits', () => {
    expect(newId(random)).toMatch(ID_PATTERN);
    expect(newId(() => new Uint8Array(16))).toBe('0'.repeat(26));
    expect(newId(() => new Uint8Array(16).fill(255))).toBe('v'.repeat(25) + 's');
  });

  it('differ for different bits (no truncation of entropy)', () => {
    const ids = new Set<string>();
    for (let byte = 0; byte < 16; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = new Uint8Array(16);
        b[byte] = 1 << bit;
        ids.add(newId(() => b));
      }
    }
    expect(ids.size).toBe(128);
  });

  it('do not collide across many generators (100,000 ids)', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 100_000; i++) ids.add(newId(random));
    expect(ids.size).toBe(100_000);
  });

  it('refuses a random source that returns too few bytes', () => {
    expect(() => newId(() => new Uint8Array(8))).toThrow();
  });

  it.each([
    ['0'.repeat(26), true],
    ['w'.repeat(26), false],
    ['0'.repeat(25), false],
    [42, false],
  ])('isId(%j) = %j', (s, ok) => expect(isId(s)).toBe(ok));
});
