/**
 * A strict reader over untrusted bytes: every read is bounds-checked and throws ByteReaderError
 * instead of returning NaN/undefined (lib0's readers trust their input). Integers are lib0
 * varUint/varInt, limited to Number.MAX_SAFE_INTEGER and to at most `MAX_VARINT_BYTES` bytes
 * (lib0 never writes more for a safe integer; a longer run of continuation bytes makes lib0's
 * multiplier overflow to Infinity, and `0 * Infinity` turns the value into NaN).
 */
export class ByteReaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ByteReaderError';
  }
}

/** 8 × 7 bits (varUint) or 6 + 7 × 7 bits (varInt) hold every safe integer. */
export const MAX_VARINT_BYTES = 8;

export class ByteReader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  u8(): number {
    if (this.pos >= this.bytes.length) throw new ByteReaderError('unexpected end');
    return this.bytes[this.pos++]!;
  }

  varUint(): number {
    let num = 0;
    let mult = 1;
    for (let i = 1; ; i++) {
      const r = this.u8();
      num += (r & 0x7f) * mult;
      if (num > Number.MAX_SAFE_INTEGER) throw new ByteReaderError('integer out of range');
      if (r < 0x80) return num;
      if (i >= MAX_VARINT_BYTES) throw new ByteReaderError('varint too long');
      mult *= 128;
    }
  }

  varInt(): number {
    const first = this.u8();
    let num = first & 0x3f;
    const sign = (first & 0x40) > 0 ? -1 : 1;
    if ((first & 0x80) === 0) return sign * num;
    let mult = 64;
    for (let i = 2; ; i++) {
      const r = this.u8();
      num += (r & 0x7f) * mult;
      if (num > Number.MAX_SAFE_INTEGER) throw new ByteReaderError('integer out of range');
      if (r < 0x80) return sign * num;
      if (i >= MAX_VARINT_BYTES) throw new ByteReaderError('varint too long');
      mult *= 128;
    }
  }

  /** `n` raw bytes as a subarray (no copy). */
  take(n: number): Uint8Array {
    if (n > this.remaining) throw new ByteReaderError('length past end');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A varUint length, then that many bytes. */
  varBytes(): Uint8Array {
    return this.take(this.varUint());
  }

  /**
   * A lib0 varString: validated as UTF-8 (lib0 would silently replace bad sequences, which is
   * how mangled type names got into replicas). Returns the bytes and the string's length in
   * UTF-16 code units (what Yjs counts as a string item's length).
   */
  varString(): { bytes: Uint8Array; utf16Length: number } {
    const bytes = this.varBytes();
    const utf16Length = utf8Utf16Length(bytes);
    if (utf16Length < 0) throw new ByteReaderError('invalid UTF-8 in string');
    return { bytes, utf16Length };
  }

  /** A varString decoded to a JS string. */
  string(): string {
    return decodeUtf8(this.varString().bytes);
  }
}

/** Length in UTF-16 code units of valid UTF-8 `bytes`, or -1 when the bytes are not valid UTF-8. */
export const utf8Utf16Length = (bytes: Uint8Array): number => {
  let units = 0;
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i += 1;
      units += 1;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
      cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
      cp = b & 0x07;
    } else return -1;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return -1;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    units += cp >= 0x10000 ? 2 : 1;
    i += need + 1;
  }
  return units;
};

/** Decodes UTF-8 already validated by utf8Utf16Length (no DOM/Node TextDecoder needed). */
export const decodeUtf8 = (bytes: Uint8Array): string => {
  let out = '';
  let chunk: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let cp: number;
    if (b < 0x80) {
      cp = b;
      i += 1;
    } else if (b < 0xe0) {
      cp = ((b & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
      i += 2;
    } else if (b < 0xf0) {
      cp = ((b & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
      i += 3;
    } else {
      cp = ((b & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
      i += 4;
    }
    chunk.push(cp);
    if (chunk.length >= 4096) {
      out += String.fromCodePoint(...chunk);
      chunk = [];
    }
  }
  return out + String.fromCodePoint(...chunk);
};
