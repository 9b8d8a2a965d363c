/**
 * The room export file: self-describing, so an import can refuse what is not ours before any
 * byte reaches the document.
 *
 *     'CONVERGE-ROOM\n'                                   magic (14 ASCII bytes)
 *     {"format":1,"room":"<name>","exportedAt":<ms>}\n    header: one line of JSON (≤ 4 KiB)
 *     <Yjs V1 update>                                     Y.encodeStateAsUpdate(doc)
 *
 * FILE-1: `decodeRoomFile` refuses (ImportError, with a message for the user) a file with the
 * wrong magic, a header that is not one line of JSON of the known shape, an unknown format
 * version, or an update that fails the strict parse (`parseUpdateV1`, VAL-1..VAL-9).
 */
import { isValidRoomName } from '../../shared/protocol.js';
import { parseUpdateV1, UpdateError } from '../../shared/updateV1.js';

export const ROOM_FILE_MAGIC = 'CONVERGE-ROOM\n';
export const ROOM_FILE_FORMAT = 1;
/** The suggested file extension. */
export const ROOM_FILE_EXTENSION = '.converge';
export const MAX_HEADER_BYTES = 4096;
/** Larger files are refused before parsing (a 20k-message room is ~2 MB). */
export const MAX_ROOM_FILE_BYTES = 64 * 1024 * 1024;

export interface RoomFileHeader {
  readonly format: 1;
  readonly room: string;
  /** Milliseconds since the epoch. */
  readonly exportedAt: number;
}

export interface RoomFile {
  readonly header: RoomFileHeader;
  /** The V1 update (a fresh copy), already validated. */
  readonly update: Uint8Array;
}

/**
 * A refused import. `message` is for the person importing, in their words: no spec rule ids. The
 * parser's reason, rule id included, is `detail`, for the console and bug reports.
 */
export class ImportError extends Error {
  constructor(
    message: string,
    readonly detail: string | null = null,
  ) {
    super(message);
    this.name = 'ImportError';
  }
}

const MAGIC_BYTES = new TextEncoder().encode(ROOM_FILE_MAGIC);

export const encodeRoomFile = (header: RoomFileHeader, update: Uint8Array): Uint8Array => {
  const line = new TextEncoder().encode(
    JSON.stringify({ format: header.format, room: header.room, exportedAt: header.exportedAt }) + '\n',
  );
  const out = new Uint8Array(MAGIC_BYTES.length + line.length + update.length);
  out.set(MAGIC_BYTES, 0);
  out.set(line, MAGIC_BYTES.length);
  out.set(update, MAGIC_BYTES.length + line.length);
  return out;
};

const NOT_OURS = 'This is not a Converge room file (it does not start with "CONVERGE-ROOM").';

/** FILE-1: the header and validated update of a room file; throws ImportError. */
export const decodeRoomFile = (bytes: Uint8Array): RoomFile => {
  if (!(bytes instanceof Uint8Array)) throw new ImportError(NOT_OURS);
  if (bytes.length > MAX_ROOM_FILE_BYTES) {
    throw new ImportError(`This file is too large to import (${bytes.length} bytes; at most ${MAX_ROOM_FILE_BYTES}).`);
  }
  if (bytes.length < MAGIC_BYTES.length || MAGIC_BYTES.some((b, i) => bytes[i] !== b)) throw new ImportError(NOT_OURS);
  const start = MAGIC_BYTES.length;
  const end = bytes.indexOf(0x0a, start);
  if (end < 0 || end - start > MAX_HEADER_BYTES) {
    throw new ImportError('This room file is damaged: its header line is missing or too long.');
  }
  let header: RoomFileHeader;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, end));
    header = parseHeader(JSON.parse(text));
  } catch (e) {
    if (e instanceof ImportError) throw e;
    throw new ImportError('This room file is damaged: its header is not readable.');
  }
  const update = bytes.slice(end + 1);
  try {
    parseUpdateV1(update);
  } catch (e) {
    throw new ImportError(
      'This room file is damaged: its room data is not a valid update. Nothing was imported.',
      e instanceof UpdateError ? e.message : String(e),
    );
  }
  return { header, update };
};

const parseHeader = (v: unknown): RoomFileHeader => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ImportError('bad header');
  const h = v as Record<string, unknown>;
  if (typeof h.format === 'number' && h.format !== ROOM_FILE_FORMAT) {
    throw new ImportError(
      `This room file uses format ${h.format}, which this version of Converge cannot read (it reads format ${ROOM_FILE_FORMAT}).`,
    );
  }
  if (h.format !== ROOM_FILE_FORMAT) throw new ImportError('This room file is damaged: its header has no format.');
  if (typeof h.room !== 'string' || !isValidRoomName(h.room)) {
    throw new ImportError('This room file is damaged: its header names no valid room.');
  }
  if (typeof h.exportedAt !== 'number' || !Number.isFinite(h.exportedAt)) {
    throw new ImportError('This room file is damaged: its header has no export date.');
  }
  return { format: ROOM_FILE_FORMAT, room: h.room, exportedAt: h.exportedAt };
};

/** A file name for an export: `<room>-<yyyy-mm-dd>.converge`. */
export const roomFileName = (room: string, exportedAt: number): string => {
  const d = new Date(exportedAt);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${room}-${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}${ROOM_FILE_EXTENSION}`;
};
