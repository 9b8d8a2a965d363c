import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteReaderError, decodeUtf8, MAX_VARINT_BYTES, utf8Utf16Length } from './byteReader.js';
import { Prng, seedFromEnv } from './testing/prng.js';

const SEED = seedFromEnv();
const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const encoded = (write: (e: encoding.Encoder) => void): Uint8Array => {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
};

describe('ByteReader integers', () => {
  it(`reads every varUint and varInt lib0 writes (seed ${SEED})`, () => {
    const prng = new Prng(SEED);
    const values = [0, 1, 63, 64, 127, 128, 2 ** 31, 2 ** 32, 2 ** 53 - 1];
    for (let i = 0; i < 2000; i++) values.push(Math.floor(prng.next() * 2 ** prng.int(1, 53)));
    for (const v of values) {
      expect(new ByteReader(encoded((e) => encoding.writeVarUint(e, v))).varUint(), `seed ${SEED}`).toBe(v);
      for (const s of [v, -v]) {
        const bytes = encoded((e) => encoding.writeVarInt(e, s));
        expect(bytes.length).toBeLessThanOrEqual(MAX_VARINT_BYTES);
        expect(new ByteReader(bytes).varInt(), `seed ${SEED}`).toBe(decoding.readVarInt(decoding.createDecoder(bytes)));
      }
    }
  });

  it('rejects integers above 2^53 - 1', () => {
    expect(() => new ByteReader(encoded((e) => encoding.writeVarUint(e, 2 ** 53))).varUint()).toThrow(ByteReaderError);
    expect(() => new ByteReader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])).varUint()).toThrow(
      /out of range/,
    );
  });

  it('regression: rejects over-long varints that lib0 reads as NaN', () => {
    const nan = new Uint8Array([...new Array<number>(150).fill(0x80), 0]);
    expect(decoding.readVarUint(decoding.createDecoder(nan))).toBeNaN(); // why the rule exists
    expect(() => new ByteReader(nan).varUint()).toThrow(/too long/);
    expect(() => new ByteReader(new Uint8Array([0xc0, ...new Array<number>(150).fill(0x80), 0])).varInt()).toThrow(
      /too long/,
    );
    // Padded but short enough: still fine.
    expect(new ByteReader(new Uint8Array([0x85, 0x80, 0x00])).varUint()).toBe(5);
  });

  it('rejects reads past the end', () => {
    expect(() => new ByteReader(new Uint8Array([])).u8()).toThrow(/unexpected end/);
    expect(() => new ByteReader(new Uint8Array([0x80])).varUint()).toThrow(ByteReaderError);
    expect(() => new ByteReader(new Uint8Array([0x80])).varInt()).toThrow(ByteReaderError);
    expect(() => new ByteReader(new Uint8Array([3, 1, 2])).varBytes()).toThrow(/length past end/);
    const r = new ByteReader(new Uint8Array([2, 7, 8, 9]));
    expect([...r.varBytes()]).toEqual([7, 8]);
    expect(r.remaining).toBe(1);
  });
});

describe('UTF-8', () => {
  it.each<[string, number[], number]>([
    ['empty', [], 0],
    ['ascii', [0x61, 0x62], 2],
    ['2-byte', [0xc3, 0xa9], 1],
    ['3-byte', [0xe4, 0xb8, 0xad], 1],
    ['4-byte (surrogate pair)', [0xf0, 0x9f, 0x98, 0x80], 2],
    ['BOM', [0xef, 0xbb, 0xbf], 1],
    ['max code point', [0xf4, 0x8f, 0xbf, 0xbf], 2],
    ['overlong 2-byte', [0xc0, 0x80], -1],
    ['overlong 3-byte', [0xe0, 0x80, 0x80], -1],
    ['overlong 4-byte', [0xf0, 0x80, 0x80, 0x80], -1],
    ['lone surrogate', [0xed, 0xa0, 0x80], -1],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], -1],
    ['lone continuation', [0x80], -1],
    ['truncated', [0xe4, 0xb8], -1],
    ['bad continuation', [0xc3, 0x28], -1],
    ['0xff', [0xff], -1],
  ])('%s', (_name, bytes, units) => {
    expect(utf8Utf16Length(new Uint8Array(bytes))).toBe(units);
  });

  it(`agrees with a fatal TextDecoder on random bytes and strings (seed ${SEED})`, () => {
    const prng = new Prng(SEED + 1);
    const alphabet = ['a', 'é', '中', '😀', '\uFEFF', '\u{10FFFF}', '\n'];
    for (let i = 0; i < 3000; i++) {
      let bytes: Uint8Array;
      if (prng.bool()) {
        bytes = Uint8Array.from({ length: prng.int(0, 8) }, () => prng.pick([prng.int(0, 255), prng.int(0x80, 0xbf)]));
      } else {
        let s = '';
        for (let n = prng.int(0, 6); n > 0; n--) s += prng.pick(alphabet);
        bytes = new TextEncoder().encode(s);
      }
      let expected: string | null;
      try {
        expected = fatalDecoder.decode(bytes);
      } catch {
        expected = null;
      }
      const units = utf8Utf16Length(bytes);
      const ctx = `seed ${SEED + 1}: ${[...bytes].join(',')}`;
      if (expected === null) expect(units, ctx).toBe(-1);
      else {
        expect(units, ctx).toBe(expected.length);
        expect(decodeUtf8(bytes), ctx).toBe(expected);
      }
    }
  });

  it('varString validates; string() decodes long strings in chunks', () => {
    const long = '😀x'.repeat(5000);
    const r = new ByteReader(encoded((e) => encoding.writeVarString(e, long)));
    expect(r.string()).toBe(long);
    expect(() => new ByteReader(new Uint8Array([1, 0xff])).varString()).toThrow(/invalid UTF-8/);
  });
});
