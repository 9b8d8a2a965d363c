/**
 * Reading and writing y-protocols awareness updates without an Awareness instance.
 *
 *   awarenessUpdate = varUint(n) · n × (varUint clientID · varUint clock · varString(JSON state))
 *
 * A state of `null` (the JSON text "null") means the client left. Validation (AWR-1 in
 * docs/SPEC.md): the whole update decodes with no trailing bytes, at most
 * `maxEntries` entries, each state is valid JSON of at most `maxStateBytes` UTF-8 bytes nested
 * at most `maxDepth` deep — so no replica can be made to overflow its stack or memory on it.
 */
import * as encoding from 'lib0/encoding';
import { ByteReader, ByteReaderError, decodeUtf8 } from './byteReader.js';
import { isBoundedJson } from './jsonDepth.js';

export interface AwarenessEntry {
  readonly clientID: number;
  readonly clock: number;
  /** The state as JSON text; 'null' when the client left. */
  readonly state: string;
}

export interface AwarenessLimits {
  readonly maxEntries: number;
  readonly maxStateBytes: number;
  readonly maxDepth: number;
}

export class AwarenessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AwarenessError';
  }
}

export const parseAwarenessUpdate = (bytes: Uint8Array, limits: AwarenessLimits): AwarenessEntry[] => {
  const r = new ByteReader(bytes);
  try {
    const n = r.varUint();
    if (n > limits.maxEntries) throw new AwarenessError(`AWR-1: ${n} entries (max ${limits.maxEntries})`);
    const entries: AwarenessEntry[] = [];
    for (let i = 0; i < n; i++) {
      const clientID = r.varUint();
      const clock = r.varUint();
      const raw = r.varString().bytes;
      if (raw.length > limits.maxStateBytes) {
        throw new AwarenessError(`AWR-1: state of ${raw.length} bytes (max ${limits.maxStateBytes})`);
      }
      const state = decodeUtf8(raw);
      if (!isBoundedJson(state, limits.maxDepth)) throw new AwarenessError('AWR-1: state is not bounded JSON');
      entries.push({ clientID, clock, state });
    }
    if (r.remaining !== 0) throw new AwarenessError('AWR-1: trailing bytes');
    return entries;
  } catch (e) {
    if (e instanceof ByteReaderError) throw new AwarenessError(`AWR-1: ${e.message}`);
    throw e;
  }
};

export const encodeAwarenessUpdate = (entries: readonly AwarenessEntry[]): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const entry of entries) {
    encoding.writeVarUint(e, entry.clientID);
    encoding.writeVarUint(e, entry.clock);
    encoding.writeVarString(e, entry.state);
  }
  return encoding.toUint8Array(e);
};
