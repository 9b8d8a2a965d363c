import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { decodeRoomFile, encodeRoomFile, ImportError, MAX_HEADER_BYTES, roomFileName } from './roomFile.js';

const update = (): Uint8Array => {
  const d = new Y.Doc();
  d.getMap('messages').set('k', { text: 'héllo' });
  return Y.encodeStateAsUpdate(d);
};
const enc = new TextEncoder();
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

describe('FILE-1 room file', () => {
  it('round trips header and update', () => {
    const u = update();
    const file = encodeRoomFile({ format: 1, room: 'class-7b', exportedAt: 1764100000000 }, u);
    expect(new TextDecoder().decode(file.subarray(0, 14))).toBe('CONVERGE-ROOM\n');
    const back = decodeRoomFile(file);
    expect(back.header).toEqual({ format: 1, room: 'class-7b', exportedAt: 1764100000000 });
    expect(back.update).toEqual(u);
    const d = new Y.Doc();
    Y.applyUpdate(d, back.update);
    expect(d.getMap('messages').get('k')).toEqual({ text: 'héllo' });
  });

  it('an empty room round trips', () => {
    const file = encodeRoomFile({ format: 1, room: 'r', exportedAt: 0 }, Y.encodeStateAsUpdate(new Y.Doc()));
    expect(decodeRoomFile(file).update).toEqual(new Uint8Array([0, 0]));
  });

  const refusals: Array<[string, Uint8Array, RegExp]> = [
    ['empty file', new Uint8Array(), /not a Converge room file/],
    ['another format', enc.encode('PK\u0003\u0004whatever'), /not a Converge room file/],
    ['no header line', enc.encode('CONVERGE-ROOM\n{"format":1}'), /header line is missing/],
    [
      'header too long',
      concat(enc.encode('CONVERGE-ROOM\n'), new Uint8Array(MAX_HEADER_BYTES + 10).fill(32), enc.encode('\n')),
      /header line is missing or too long/,
    ],
    ['header not JSON', enc.encode('CONVERGE-ROOM\n{format:1}\n\u0000\u0000'), /header is not readable/],
    [
      'header not UTF-8',
      concat(enc.encode('CONVERGE-ROOM\n'), new Uint8Array([0xff, 0xfe, 0x0a, 0, 0])),
      /header is not readable/,
    ],
    ['future format', enc.encode('CONVERGE-ROOM\n{"format":2,"room":"r","exportedAt":1}\n\u0000\u0000'), /format 2/],
    ['bad room', enc.encode('CONVERGE-ROOM\n{"format":1,"room":"../x","exportedAt":1}\n\u0000\u0000'), /no valid room/],
    ['no date', enc.encode('CONVERGE-ROOM\n{"format":1,"room":"r"}\n\u0000\u0000'), /no export date/],
    [
      'truncated update',
      concat(enc.encode('CONVERGE-ROOM\n{"format":1,"room":"r","exportedAt":1}\n'), update().subarray(0, 10)),
      /not a valid update/,
    ],
    [
      'padded update',
      concat(enc.encode('CONVERGE-ROOM\n{"format":1,"room":"r","exportedAt":1}\n'), update(), new Uint8Array([0])),
      /not a valid update/,
    ],
    ['no update', enc.encode('CONVERGE-ROOM\n{"format":1,"room":"r","exportedAt":1}\n'), /not a valid update/],
  ];
  it.each(refusals)('refuses: %s', (_name, bytes, message) => {
    expect(() => decodeRoomFile(bytes)).toThrow(ImportError);
    expect(() => decodeRoomFile(bytes)).toThrow(message);
  });

  it('FILE-1 a refusal says what is wrong in words, without a spec rule id; the parser reason is kept as its detail', () => {
    const padded = concat(
      enc.encode('CONVERGE-ROOM\n{"format":1,"room":"r","exportedAt":1}\n'),
      update(),
      new Uint8Array([0]),
    );
    let refusal: unknown = null;
    try {
      decodeRoomFile(padded);
    } catch (e) {
      refusal = e;
    }
    expect(refusal).toBeInstanceOf(ImportError);
    expect((refusal as ImportError).message).toBe(
      'This room file is damaged: its room data is not a valid update. Nothing was imported.',
    );
    expect((refusal as ImportError).detail).toMatch(/^VAL-\d+: /);
    for (const [, bytes] of refusals) {
      expect(() => decodeRoomFile(bytes)).toThrow(
        expect.objectContaining({ message: expect.not.stringMatching(/\b[A-Z]+-\d+\b/) }),
      );
    }
  });

  it('file name', () => {
    expect(roomFileName('class-7b', new Date(2026, 10, 25, 20, 1).getTime())).toBe('class-7b-2026-11-25.converge');
  });
});
