/**
 * Mutation fuzzing of Yjs V1 updates (for shared/updateV1.test.ts): byte-level mutants, field-level
 * mutants built on shared/testing/updateModel.ts (they get past the framing rules and reach yjs's
 * integration logic), synthetic updates with random in-update references, and the check a mutant
 * the validator accepted must pass on a real Y.Doc.
 */
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import type { Prng } from './prng.js';
import { content, decodeModel, encodeModel, type ModelId, type ModelStruct, type ModelUpdate } from './updateModel.js';

type ModelItem = Extract<ModelStruct, { kind: 'item' }>;

const varUint = (n: number): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, n);
  return encoding.toUint8Array(e);
};

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

const INTERESTING = [0, 1, 2, 3, 10, 11, 31, 127, 128, 255, 300, 2 ** 31, 2 ** 32, 2 ** 53 - 1];

/** Byte-level mutants: overwrite, bit flip, varint swap, truncate, cut, duplicate, splice, insert. */
export const byteMutate = (prng: Prng, u: Uint8Array, pool: readonly Uint8Array[]): Uint8Array => {
  const b = Uint8Array.from(u);
  const at = (): number => prng.int(0, b.length - 1);
  switch (prng.int(0, 7)) {
    case 0: {
      for (let n = prng.int(1, 3); n > 0; n--) b[at()] = prng.int(0, 255);
      return b;
    }
    case 1: {
      const i = at();
      b[i] = b[i]! ^ (1 << prng.int(0, 7));
      return b;
    }
    case 2: {
      const i = at();
      const value = prng.bool() ? prng.pick(INTERESTING) : prng.int(0, 1000);
      return concat(b.subarray(0, i), varUint(value), b.subarray(i + prng.int(0, 2)));
    }
    case 3:
      return b.subarray(0, prng.int(0, b.length - 1));
    case 4: {
      const i = prng.int(0, b.length);
      return concat(b.subarray(0, i), b.subarray(prng.int(i, Math.min(b.length, i + 8))));
    }
    case 5: {
      // Duplicate a section of the update somewhere else.
      const i = prng.int(0, b.length);
      const j = prng.int(i, b.length);
      const k = prng.int(0, b.length);
      return concat(b.subarray(0, k), b.subarray(i, j), b.subarray(k));
    }
    case 6: {
      // The head of this update, the tail of another.
      const o = prng.pick(pool);
      return concat(b.subarray(0, prng.int(0, b.length)), o.subarray(prng.int(0, o.length)));
    }
    default: {
      const i = prng.int(0, b.length);
      const junk = Uint8Array.from({ length: prng.int(1, 4) }, () => prng.int(0, 255));
      return concat(b.subarray(0, i), junk, b.subarray(i));
    }
  }
};

const structIds = (m: ModelUpdate): ModelId[] => {
  const ids: ModelId[] = [];
  for (const s of m.sections) {
    let clock = s.clock;
    for (const st of s.structs) {
      ids.push({ client: s.client, clock });
      if (st.length > 1) ids.push({ client: s.client, clock: clock + st.length - 1 });
      clock += st.length;
    }
  }
  return ids;
};

/** Keeps each client's delete ranges sorted and mostly disjoint, so most mutants reach yjs. */
const tidyDeletes = (prng: Prng, m: ModelUpdate): void => {
  const seen = new Set<number>();
  m.deletes = m.deletes.filter((d) => !seen.has(d.client) && !!seen.add(d.client));
  for (const d of m.deletes) {
    d.ranges.sort((a, b) => a[0] - b[0]);
    const out: Array<[number, number]> = [];
    for (const r of d.ranges) {
      const last = out[out.length - 1];
      if (last && r[0] < last[0] + last[1] && prng.bool(0.9)) last[1] = Math.max(last[1], r[0] + r[1] - last[0]);
      else out.push(r);
    }
    d.ranges = out;
  }
};

/**
 * Field-level mutants of an update yjs wrote: section clocks and clients, origins, parents, map
 * keys, swapped contents, lengths, duplicated/moved/dropped structs, GCs and Skips, grafted
 * sections, corrupted delete sets. `knownIds` are ids of a replica's existing state, so references
 * can point into it.
 */
export const structMutate = (
  prng: Prng,
  u: Uint8Array,
  pool: readonly Uint8Array[],
  knownIds: readonly ModelId[],
): Uint8Array => {
  const m = decodeModel(u);
  const ids = [...structIds(m), ...knownIds];
  const randId = (): ModelId =>
    prng.bool(0.8) && ids.length > 0
      ? { ...prng.pick(ids), ...(prng.bool(0.3) ? { clock: prng.int(0, 50) } : {}) }
      : { client: prng.int(0, 5), clock: prng.int(0, 20) };
  for (let n = prng.int(1, 3); n > 0; n--) {
    const sec = m.sections.length > 0 ? prng.pick(m.sections) : null;
    const items = m.sections.flatMap((s) => s.structs).filter((s): s is ModelItem => s.kind === 'item');
    const it = items.length > 0 ? prng.pick(items) : null;
    switch (prng.int(0, 13)) {
      case 0:
        if (sec) sec.clock = prng.bool() ? prng.int(0, 40) : Math.max(0, sec.clock + prng.int(-3, 3));
        break;
      case 1:
        if (sec) sec.client = prng.bool() && ids.length > 0 ? prng.pick(ids).client : prng.int(0, 10);
        break;
      case 2:
        if (it) it.origin = prng.bool(0.8) ? randId() : null;
        break;
      case 3:
        if (it) it.rightOrigin = prng.bool(0.8) ? randId() : null;
        break;
      case 4:
        if (it) {
          it.origin = null;
          it.rightOrigin = null;
          if (prng.bool()) {
            it.parentKey = prng.pick(['text', 'map', 'array', 'xml', 'probe', '']);
            it.parentId = null;
          } else {
            it.parentKey = null;
            it.parentId = randId();
          }
          it.parentSub = prng.bool(0.4) ? prng.pick(['k', 'a', 'class']) : null;
        }
        break;
      case 5:
        if (it && items.length > 1) {
          const o = prng.pick(items);
          it.ref = o.ref;
          it.content = o.content;
          it.length = o.length;
        }
        break;
      case 6:
        if (sec && sec.structs.length > 0) {
          const i = prng.int(0, sec.structs.length - 1);
          const s = sec.structs[i]!;
          if (s.kind !== 'item') s.length = Math.max(1, s.length + prng.int(-3, 3));
          else sec.structs.splice(i, 1);
        }
        break;
      case 7:
        if (sec && sec.structs.length > 0) {
          const s = prng.pick(sec.structs);
          sec.structs.splice(prng.int(0, sec.structs.length), 0, s);
        }
        break;
      case 8:
        if (sec) {
          const s: ModelStruct = { kind: prng.bool() ? 'gc' : 'skip', length: prng.int(1, 5) };
          sec.structs.splice(prng.int(0, sec.structs.length), 0, s);
        }
        break;
      case 9: {
        if (m.deletes.length > 0 && prng.bool(0.7)) {
          const d = prng.pick(m.deletes);
          if (d.ranges.length > 0 && prng.bool(0.7)) {
            const r = prng.pick(d.ranges);
            r[0] = Math.max(0, r[0] + prng.int(-5, 5));
            r[1] = Math.max(1, r[1] + prng.int(-5, 5));
          } else d.ranges.push([prng.int(0, 60), prng.int(1, 30)]);
          if (prng.bool(0.3)) d.client = randId().client;
        } else {
          const id = randId();
          m.deletes.push({ client: id.client, ranges: [[id.clock, prng.int(1, 40)]] });
        }
        tidyDeletes(prng, m);
        break;
      }
      case 10:
        if (m.sections.length > 1 && sec && sec.structs.length > 0) {
          const moved = sec.structs.splice(prng.int(0, sec.structs.length - 1), 1);
          const o = prng.pick(m.sections);
          o.structs.splice(prng.int(0, o.structs.length), 0, ...moved);
        }
        break;
      case 11: {
        const o = decodeModel(prng.pick(pool));
        if (o.sections.length > 0) {
          const s = prng.pick(o.sections);
          if (!m.sections.some((x) => x.client === s.client)) m.sections.push(s);
          else if (sec) sec.structs.push(...s.structs);
        }
        break;
      }
      case 12:
        if (it) {
          it.parentSub = prng.bool() ? prng.pick(['k', 'class', 'bold']) : null;
          if (it.parentSub !== null) {
            it.origin = null;
            it.rightOrigin = null;
            if (!it.parentId && it.parentKey === null) it.parentKey = 'map';
          }
        }
        break;
      default:
        if (sec) sec.structs = sec.structs.slice(0, prng.int(0, sec.structs.length));
        break;
    }
  }
  return encodeModel(m);
};

/**
 * A well-framed update from scratch: 1–3 clients, up to 12 structs of every content kind, each
 * with random references to earlier structs of the update (origins, right origins, parents, map
 * keys), and a random delete set.
 */
export const synthUpdate = (prng: Prng): Uint8Array => {
  const clients = prng.bool(0.6) ? [prng.int(1, 3)] : [1, 2, 3].slice(0, prng.int(2, 3));
  const ids: ModelId[] = [];
  const m: ModelUpdate = { sections: clients.map((client) => ({ client, clock: 0, structs: [] })), deletes: [] };
  const clocks = new Map(clients.map((c) => [c, 0]));
  const pickId = (client: number, clock: number): ModelId | null => {
    const candidates = ids.filter((x) => x.client !== client || x.clock < clock);
    return candidates.length > 0 ? prng.pick(candidates) : null;
  };
  for (let n = prng.int(1, 12); n > 0; n--) {
    const client = prng.pick(clients);
    const clock = clocks.get(client)!;
    let s: ModelStruct;
    if (prng.bool(0.08)) s = { kind: 'gc', length: prng.int(1, 3) };
    else {
      let ref = 4;
      let bytes = content.string('a');
      let length = 1;
      switch (prng.int(0, 10)) {
        case 0:
        case 1:
          length = prng.int(1, 5);
          bytes = content.string('abcdef'.slice(0, length));
          break;
        case 2:
          length = prng.int(1, 3);
          ref = 8;
          bytes = content.any(Array<null>(length).fill(null));
          break;
        case 3:
        case 4: {
          ref = 7;
          const t = prng.int(0, 6);
          bytes = content.type(t, t === 3 || t === 5 ? 'p' : undefined);
          break;
        }
        case 5:
          length = prng.int(1, 3);
          ref = 1;
          bytes = content.deleted(length);
          break;
        case 6:
          ref = 6;
          bytes = concat(content.string('bold'), content.string(prng.pick(['true', 'null', '{"a":1}'])));
          break;
        case 7:
          ref = 5;
          bytes = content.string('{"x":1}');
          break;
        case 8:
          ref = 9;
          bytes = content.doc(`g${prng.int(0, 3)}`, prng.pick([{}, { autoLoad: true }, { gc: false }, { meta: 1 }]));
          break;
        case 9:
          ref = 3;
          bytes = new Uint8Array([2, 1, 2]);
          break;
        default:
          length = prng.int(1, 3);
          ref = 2;
          bytes = content.json(Array<string>(length).fill('1'));
      }
      const origin = prng.bool(0.5) ? pickId(client, clock) : null;
      const rightOrigin = prng.bool(0.3) ? pickId(client, clock) : null;
      let parentKey: string | null = null;
      let parentId: ModelId | null = null;
      let parentSub: string | null = null;
      if (!origin && !rightOrigin) {
        const pid = prng.bool(0.5) ? pickId(client, clock) : null;
        if (pid) parentId = pid;
        else parentKey = prng.pick(['text', 'map', 'array', 'xml', 'probe']);
        if (prng.bool(0.35)) parentSub = prng.pick(['k', 'j']);
      }
      s = { kind: 'item', ref, origin, rightOrigin, parentKey, parentId, parentSub, content: bytes, length };
    }
    m.sections.find((x) => x.client === client)!.structs.push(s);
    for (let i = 0; i < s.length; i++) ids.push({ client, clock: clock + i });
    clocks.set(client, clock + s.length);
  }
  m.sections = m.sections.filter((s) => s.structs.length > 0);
  if (prng.bool(0.6)) {
    for (const client of clients) {
      const max = clocks.get(client)!;
      if (max === 0 || prng.bool(0.3)) continue;
      const ranges: Array<[number, number]> = [];
      for (let c = prng.int(0, max - 1); c < max + 2 && prng.bool(0.7);) {
        const l = prng.int(1, 3);
        ranges.push([c, l]);
        c += l + prng.int(1, 3);
      }
      if (ranges.length > 0) m.deletes.push({ client, ranges });
    }
  }
  return encodeModel(m);
};

const ROOTS = ['text', 'map', 'array', 'xml', 'probe'];

/**
 * Applies `update` to a Y.Doc that holds `base`, with deep observers reading every event (as an
 * editor binding does), then checks the doc still works: a local edit emits 'update', its content
 * serialises, and its state re-encodes into a replica that works too. Returns what broke, or null.
 */
export const applyBreaks = (update: Uint8Array, base: readonly Uint8Array[] = []): string | null => {
  const doc = new Y.Doc();
  for (const b of base) Y.applyUpdate(doc, b);
  for (const name of ROOTS) {
    doc.get(name).observeDeep((events) => {
      for (const e of events) {
        void e.changes;
        void e.path;
        if (e instanceof Y.YTextEvent) void e.delta;
      }
    });
  }
  try {
    Y.applyUpdate(doc, update);
  } catch (e) {
    return `applyUpdate threw: ${String(e)}`;
  }
  return docBroken(doc);
};

/** What is wrong with a doc that should work, or null: the "frozen doc" probe and friends. */
export const docBroken = (doc: Y.Doc): string | null => {
  let fired = false;
  doc.on('update', () => {
    fired = true;
  });
  try {
    doc.getText(`probe-${doc.clientID}`).insert(0, 'x');
  } catch (e) {
    return `local edit threw: ${String(e)}`;
  }
  if (!fired) return 'frozen: a local edit emitted no update';
  try {
    for (const name of ROOTS) JSON.stringify(doc.get(name).toJSON());
    const replica = new Y.Doc();
    Y.applyUpdate(replica, Y.encodeStateAsUpdate(doc));
    let replicaFired = false;
    replica.on('update', () => {
      replicaFired = true;
    });
    replica.getText('probe-replica').insert(0, 'y');
    if (!replicaFired) return 'frozen replica';
  } catch (e) {
    return `reading or re-encoding threw: ${String(e)}`;
  }
  return null;
};
