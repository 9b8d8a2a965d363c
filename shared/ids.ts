/**
 * Identifiers that never collide without coordination (ID-1): 128 random bits from a
 * cryptographic source, so n ids collide with probability about n²/2¹²⁹ — for a trillion
 * messages, about 10⁻¹⁵. Nothing depends on clocks, Yjs client ids (32-bit, so they do collide
 * in big rooms) or tab counters, which is what made the original class chat's ids collide.
 *
 * The random source is injected (`crypto.getRandomValues` in browsers and Node) so shared/
 * uses no platform API.
 */
export type RandomBytes = (n: number) => Uint8Array;

const ALPHABET = '0123456789abcdefghijklmnopqrstuv'; // base32hex, lower case: sorts like the bytes

/** 26 characters of base32 over 128 random bits. */
export const newId = (randomBytes: RandomBytes): string => {
  const bytes = randomBytes(16);
  if (bytes.length !== 16) throw new Error('randomBytes must return the requested length');
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
};

export const ID_PATTERN = /^[0-9a-v]{26}$/;
export const isId = (s: unknown): s is string => typeof s === 'string' && ID_PATTERN.test(s);
