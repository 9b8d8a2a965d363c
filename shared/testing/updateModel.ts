/**
 * A lossless, field-level model of a Yjs V1 update, for building malformed-but-well-framed updates
 * in tests (structure-aware mutation fuzzing of shared/updateV1.ts). `decodeModel` trusts its input
 * (it is only ever given updates yjs wrote); `encodeModel` writes whatever the model says, however
 * wrong, so a mutated model becomes bytes that reach the deeper rules of the validator.
 */
import * as encoding from 'lib0/encoding';
import { ByteReader } from '../byteReader.js';

export interface ModelId {
  client: number;
  clock: number;
}

export type ModelStruct =
  | { kind: 'gc'; length: number }
  | { kind: 'skip'; length: number }
  | {
      kind: 'item';
      /** The info byte's content ref (info & 31). */
      ref: number;
      origin: ModelId | null;
      rightOrigin: ModelId | null;
      /** Only written when neither origin is set. */
      parentKey: string | null;
      parentId: ModelId | null;
      parentSub: string | null;
      /** The content's bytes, exactly as they follow the parent info. */
      content: Uint8Array;
      /** Clock length implied by the content (kept in sync by the helpers below). */
      length: number;
    };

export interface ModelSection {
  client: number;
  clock: number;
  structs: ModelStruct[];
}

export interface ModelUpdate {
  sections: ModelSection[];
  deletes: Array<{ client: number; ranges: Array<[clock: number, length: number]> }>;
}

const readId = (r: ByteReader): ModelId => ({ client: r.varUint(), clock: r.varUint() });

/** Reads the content of a struct with content ref `ref`; returns its clock length. */
const skipContent = (r: ByteReader, ref: number): number => {
  const skipAny = (): void => {
    const t = r.u8();
    if (t === 125) r.varInt();
    else if (t === 124) r.take(4);
    else if (t === 123 || t === 122) r.take(8);
    else if (t === 119 || t === 116) r.varBytes();
    else if (t === 118) {
      const n = r.varUint();
      for (let i = 0; i < n; i++) {
        r.varBytes();
        skipAny();
      }
    } else if (t === 117) {
      const n = r.varUint();
      for (let i = 0; i < n; i++) skipAny();
    }
  };
  switch (ref) {
    case 1:
      return r.varUint();
    case 2: {
      const n = r.varUint();
      for (let i = 0; i < n; i++) r.varBytes();
      return n;
    }
    case 3:
      r.varBytes();
      return 1;
    case 4:
      return r.varString().utf16Length;
    case 5:
      r.varBytes();
      return 1;
    case 6:
      r.varBytes();
      r.varBytes();
      return 1;
    case 7: {
      const t = r.varUint();
      if (t === 3 || t === 5) r.varBytes();
      return 1;
    }
    case 8: {
      const n = r.varUint();
      for (let i = 0; i < n; i++) skipAny();
      return n;
    }
    case 9:
      r.varBytes();
      skipAny();
      return 1;
    default:
      throw new Error(`model: content ref ${ref}`);
  }
};

export const decodeModel = (bytes: Uint8Array): ModelUpdate => {
  const r = new ByteReader(bytes);
  const sections: ModelSection[] = [];
  const n = r.varUint();
  for (let c = 0; c < n; c++) {
    const nStructs = r.varUint();
    const section: ModelSection = { client: r.varUint(), clock: r.varUint(), structs: [] };
    for (let s = 0; s < nStructs; s++) {
      const info = r.u8();
      const ref = info & 31;
      if (ref === 0) section.structs.push({ kind: 'gc', length: r.varUint() });
      else if (ref === 10) section.structs.push({ kind: 'skip', length: r.varUint() });
      else {
        const origin = info & 0x80 ? readId(r) : null;
        const rightOrigin = info & 0x40 ? readId(r) : null;
        let parentKey: string | null = null;
        let parentId: ModelId | null = null;
        let parentSub: string | null = null;
        if ((info & 0xc0) === 0) {
          if (r.varUint() === 1) parentKey = r.string();
          else parentId = readId(r);
          if (info & 0x20) parentSub = r.string();
        }
        const start = r.pos;
        const length = skipContent(r, ref);
        const content = bytes.slice(start, r.pos);
        section.structs.push({
          kind: 'item',
          ref,
          origin,
          rightOrigin,
          parentKey,
          parentId,
          parentSub,
          content,
          length,
        });
      }
    }
    sections.push(section);
  }
  const deletes: ModelUpdate['deletes'] = [];
  const nd = r.varUint();
  for (let i = 0; i < nd; i++) {
    const client = r.varUint();
    const k = r.varUint();
    const ranges: Array<[number, number]> = [];
    for (let j = 0; j < k; j++) ranges.push([r.varUint(), r.varUint()]);
    deletes.push({ client, ranges });
  }
  if (r.remaining !== 0) throw new Error('model: trailing bytes');
  return { sections, deletes };
};

const writeId = (e: encoding.Encoder, id: ModelId): void => {
  encoding.writeVarUint(e, id.client);
  encoding.writeVarUint(e, id.clock);
};

export const encodeStruct = (e: encoding.Encoder, s: ModelStruct): void => {
  if (s.kind === 'gc' || s.kind === 'skip') {
    encoding.writeUint8(e, s.kind === 'gc' ? 0 : 10);
    encoding.writeVarUint(e, s.length);
    return;
  }
  const neither = s.origin === null && s.rightOrigin === null;
  const info =
    (s.ref & 31) | (s.origin ? 0x80 : 0) | (s.rightOrigin ? 0x40 : 0) | (neither && s.parentSub !== null ? 0x20 : 0);
  encoding.writeUint8(e, info);
  if (s.origin) writeId(e, s.origin);
  if (s.rightOrigin) writeId(e, s.rightOrigin);
  if (neither) {
    if (s.parentKey !== null) {
      encoding.writeVarUint(e, 1);
      encoding.writeVarString(e, s.parentKey);
    } else {
      encoding.writeVarUint(e, 0);
      writeId(e, s.parentId ?? { client: 0, clock: 0 });
    }
    if (s.parentSub !== null) encoding.writeVarString(e, s.parentSub);
  }
  encoding.writeUint8Array(e, s.content);
};

export const encodeModel = (m: ModelUpdate): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, m.sections.length);
  for (const sec of m.sections) {
    encoding.writeVarUint(e, sec.structs.length);
    encoding.writeVarUint(e, sec.client);
    encoding.writeVarUint(e, sec.clock);
    for (const s of sec.structs) encodeStruct(e, s);
  }
  encoding.writeVarUint(e, m.deletes.length);
  for (const d of m.deletes) {
    encoding.writeVarUint(e, d.client);
    encoding.writeVarUint(e, d.ranges.length);
    for (const [clock, len] of d.ranges) {
      encoding.writeVarUint(e, clock);
      encoding.writeVarUint(e, len);
    }
  }
  return encoding.toUint8Array(e);
};

/** Content bytes for common contents (to build items by hand). */
export const content = {
  string: (s: string): Uint8Array => {
    const e = encoding.createEncoder();
    encoding.writeVarString(e, s);
    return encoding.toUint8Array(e);
  },
  deleted: (len: number): Uint8Array => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, len);
    return encoding.toUint8Array(e);
  },
  /** ContentType with a type ref (0 YArray, 1 YMap, 2 YText, 3 XmlElement(name), 4 XmlFragment, 5 XmlHook(name), 6 XmlText). */
  type: (typeRef: number, name?: string): Uint8Array => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, typeRef);
    if (name !== undefined) encoding.writeVarString(e, name);
    return encoding.toUint8Array(e);
  },
  any: (values: unknown[]): Uint8Array => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, values.length);
    for (const v of values) encoding.writeAny(e, v as never);
    return encoding.toUint8Array(e);
  },
  json: (texts: string[]): Uint8Array => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, texts.length);
    for (const t of texts) encoding.writeVarString(e, t);
    return encoding.toUint8Array(e);
  },
  doc: (guid: string, opts: unknown): Uint8Array => {
    const e = encoding.createEncoder();
    encoding.writeVarString(e, guid);
    encoding.writeAny(e, opts as never);
    return encoding.toUint8Array(e);
  },
};

/**
 * An update of many Yjs clients, the fewest bytes each (VAL-11, RATE-1): `structs` clients with
 * one garbage-collected struct at clock 0, and `deletes` clients with one delete range, numbered
 * from `from`.
 */
export const manyClientsUpdate = (structs: number, deletes = 0, from = 100): Uint8Array =>
  encodeModel({
    sections: Array.from({ length: structs }, (_, i) => ({
      client: from + i,
      clock: 0,
      structs: [{ kind: 'gc' as const, length: 1 }],
    })),
    deletes: Array.from({ length: deletes }, (_, i) => ({ client: from + i, ranges: [[0, 1] as [number, number]] })),
  });

/** A text item appended to root type `key` (the shape of a first insert). */
export const rootItem = (key: string, ref: number, bytes: Uint8Array, length: number): ModelStruct => ({
  kind: 'item',
  ref,
  origin: null,
  rightOrigin: null,
  parentKey: key,
  parentId: null,
  parentSub: null,
  content: bytes,
  length,
});
