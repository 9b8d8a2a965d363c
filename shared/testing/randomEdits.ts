/**
 * Random edits on real Y.Docs, for property tests of the doc-less update code (shared/updateV1.ts,
 * shared/clockRanges.ts). Every choice comes from a seeded Prng, so a failing seed replays exactly
 * (Y.Doc client ids are assigned from the Prng too).
 *
 * The edits cover every struct and content kind yjs 13 writes: strings with surrogate pairs,
 * formats and embeds in Y.Text, JSON-ish Any values (nested objects, Uint8Array, undefined, null,
 * floats, big integers), nested Y.Map / Y.Array / Y.Text / Y.XmlFragment / Y.XmlElement /
 * Y.XmlText / Y.XmlHook, sub-documents, deletions (which give GC structs once encoded) and
 * updates exchanged between replicas (cross-client origins).
 */
import * as Y from 'yjs';
import type { Prng } from './prng.js';

const PIECES = ['a', 'b', 'xyz', ' ', 'é', '中文', '😀', '👍🏽', '\u{1F468}\u200D\u{1F469}', '\n', '"', '\\', '𝄞'];

export const randomString = (prng: Prng, maxPieces = 4): string => {
  let s = '';
  const n = prng.int(1, maxPieces);
  for (let i = 0; i < n; i++) s += prng.pick(PIECES);
  return s;
};

/**
 * A value Y.Map.set / Y.Array.push accept as plain content (written as ContentAny or ContentBinary).
 * `undefined` only nested (Y.Array.insert throws on a top-level undefined).
 */
export const randomValue = (prng: Prng, depth = 0): unknown => {
  const kind = prng.int(0, depth >= 3 ? 6 : depth === 0 ? 8 : 9);
  switch (kind) {
    case 0:
      return prng.int(-1000, 1000);
    case 1:
      return prng.next() * 1e6 - 5e5;
    case 2:
      return randomString(prng);
    case 3:
      return prng.bool();
    case 4:
      return null;
    case 5:
      return prng.pick([2 ** 40, -(2 ** 35), 0.5, Number.MAX_SAFE_INTEGER]);
    case 6:
      return new Uint8Array(prng.int(0, 8)).map(() => prng.int(0, 255));
    case 7: {
      const o: Record<string, unknown> = {};
      const n = prng.int(0, 3);
      for (let i = 0; i < n; i++) o[randomString(prng, 2)] = randomValue(prng, depth + 1);
      return o;
    }
    case 8: {
      const a: unknown[] = [];
      const n = prng.int(0, 3);
      for (let i = 0; i < n; i++) a.push(randomValue(prng, depth + 1));
      return a;
    }
    default:
      return undefined;
  }
};

/** Every shared type reachable from the doc's roots (roots first). */
export const collectTypes = (doc: Y.Doc): Array<Y.AbstractType<unknown>> => {
  const out: Array<Y.AbstractType<unknown>> = [];
  const visit = (t: Y.AbstractType<unknown>, depth: number): void => {
    out.push(t);
    if (depth > 6) return;
    const children: unknown[] = [];
    if (t instanceof Y.Map) for (const v of t.values()) children.push(v);
    else if (t instanceof Y.Array) children.push(...(t.toArray() as unknown[]));
    else if (t instanceof Y.XmlElement || t instanceof Y.XmlFragment) children.push(...t.toArray());
    for (const c of children) if (c instanceof Y.AbstractType) visit(c as Y.AbstractType<unknown>, depth + 1);
  };
  visit(doc.getText('text') as Y.AbstractType<unknown>, 0);
  visit(doc.getMap('map') as Y.AbstractType<unknown>, 0);
  visit(doc.getArray('array') as Y.AbstractType<unknown>, 0);
  visit(doc.getXmlFragment('xml') as Y.AbstractType<unknown>, 0);
  return out;
};

/** A fresh shared type (or sub-document) to nest, or a plain value. */
const randomContent = (prng: Prng): unknown => {
  switch (prng.int(0, 12)) {
    case 0: {
      const m = new Y.Map<unknown>();
      m.set('k', randomValue(prng));
      return m;
    }
    case 1:
      return Y.Array.from([randomValue(prng) as string]);
    case 2:
      return new Y.Text(randomString(prng));
    case 3:
      return new Y.Doc({ guid: `sub-${prng.int(0, 1e9)}`, meta: prng.bool() ? { n: 1 } : null });
    default:
      return randomValue(prng);
  }
};

const randomXmlNode = (prng: Prng): Y.XmlElement | Y.XmlText | Y.XmlHook => {
  switch (prng.int(0, 4)) {
    case 0:
      return new Y.XmlHook(prng.pick(['hook', 'h2']));
    case 1: {
      const t = new Y.XmlText();
      t.insert(0, randomString(prng));
      return t;
    }
    default: {
      const e = new Y.XmlElement(prng.pick(['p', 'div', 'span', 'ünïcode']));
      e.setAttribute('class', randomString(prng, 2));
      e.insert(0, [new Y.XmlText(randomString(prng))]);
      return e;
    }
  }
};

/** One random edit on `type`. */
const editType = (prng: Prng, type: Y.AbstractType<unknown>): void => {
  if (type instanceof Y.Text) {
    // Y.XmlText extends Y.Text: same operations.
    const len = type.length;
    const op = prng.int(0, 9);
    if (op <= 4 || len === 0) {
      const at = prng.int(0, len);
      if (prng.bool(0.2)) type.insert(at, randomString(prng), { bold: true, color: randomString(prng, 1) });
      else type.insert(at, randomString(prng));
    } else if (op <= 7) {
      const at = prng.int(0, len - 1);
      type.delete(at, prng.int(1, Math.min(len - at, 6)));
    } else if (op === 8) {
      const at = prng.int(0, len - 1);
      type.format(at, prng.int(1, len - at), { italic: prng.bool() ? true : null });
    } else {
      type.insertEmbed(prng.int(0, len), { image: randomString(prng, 1), w: prng.int(1, 99) });
    }
  } else if (type instanceof Y.Map) {
    const keys = [...type.keys()];
    if (keys.length > 0 && prng.bool(0.25)) type.delete(prng.pick(keys));
    else type.set(prng.bool(0.5) && keys.length > 0 ? prng.pick(keys) : randomString(prng, 2), randomContent(prng));
  } else if (type instanceof Y.Array) {
    const len = type.length;
    if (len > 0 && prng.bool(0.3)) {
      const at = prng.int(0, len - 1);
      type.delete(at, prng.int(1, Math.min(len - at, 4)));
    } else if (prng.bool()) type.push([randomContent(prng), randomValue(prng)]);
    else type.insert(prng.int(0, len), [randomContent(prng)]);
  } else if (type instanceof Y.XmlElement || type instanceof Y.XmlFragment) {
    const len = type.length;
    if (type instanceof Y.XmlElement && prng.bool(0.2)) {
      if (prng.bool(0.3)) type.removeAttribute('class');
      else type.setAttribute(prng.pick(['class', 'id', 'data-x']), randomString(prng, 2));
    } else if (len > 0 && prng.bool(0.3)) {
      const at = prng.int(0, len - 1);
      type.delete(at, 1);
    } else type.insert(prng.int(0, len), [randomXmlNode(prng) as Y.XmlElement]); // hooks are fine at runtime
  }
};

/** One random transaction of 1–4 edits on random (possibly nested) types of `doc`. */
export const randomTransaction = (prng: Prng, doc: Y.Doc): void => {
  doc.transact(() => {
    const n = prng.int(1, 4);
    for (let i = 0; i < n; i++) {
      const types = collectTypes(doc);
      // Favour the roots a little so documents do not only grow in depth.
      const t = prng.bool(0.4) ? types[prng.int(0, Math.min(3, types.length - 1))]! : prng.pick(types);
      editType(prng, t);
    }
  });
};

export interface RandomDocsResult {
  readonly docs: Y.Doc[];
  /** Every update emitted by any doc's 'update' event, in emission order. */
  readonly updates: Uint8Array[];
}

export interface RandomDocsOptions {
  readonly docs?: number;
  readonly transactions?: number;
  /** Probability that a doc exchanges its state with another doc after a transaction. */
  readonly syncProbability?: number;
  /** Probability that a doc keeps deleted content (gc: false). */
  readonly noGcProbability?: number;
}

/**
 * Several replicas editing at random and now and then syncing pairwise (as two clients of the
 * relay would), recording every update they emit. Client ids come from the Prng.
 */
export const randomDocs = (prng: Prng, options: RandomDocsOptions = {}): RandomDocsResult => {
  const nDocs = options.docs ?? 3;
  const nTx = options.transactions ?? 30;
  const syncP = options.syncProbability ?? 0.3;
  const docs: Y.Doc[] = [];
  const updates: Uint8Array[] = [];
  for (let i = 0; i < nDocs; i++) {
    const doc = new Y.Doc({ gc: !prng.bool(options.noGcProbability ?? 0.3) });
    doc.clientID = prng.int(1, 2 ** 31);
    doc.on('update', (u: Uint8Array) => updates.push(u));
    docs.push(doc);
  }
  for (let t = 0; t < nTx; t++) {
    const doc = prng.pick(docs);
    randomTransaction(prng, doc);
    if (nDocs > 1 && prng.bool(syncP)) {
      const other = prng.pick(docs.filter((d) => d !== doc));
      Y.applyUpdate(other, Y.encodeStateAsUpdate(doc, Y.encodeStateVector(other)), 'sync');
      Y.applyUpdate(doc, Y.encodeStateAsUpdate(other, Y.encodeStateVector(doc)), 'sync');
    }
  }
  return { docs, updates };
};

/** Plain data with object keys sorted (map iteration order depends on integration order). */
const canonical = (v: unknown): unknown => {
  if (v instanceof Uint8Array) return { bytes: [...v] };
  if (v instanceof Y.Doc) return { subdoc: v.guid };
  if (v === undefined) return null;
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, canonical(o[k])]),
    );
  }
  return v;
};

/** JSON of every root type the generator uses (for comparing document content). */
export const docContent = (doc: Y.Doc): string =>
  JSON.stringify(
    canonical({
      text: doc.getText('text').toDelta() as unknown,
      map: doc.getMap('map').toJSON() as unknown,
      array: doc.getArray('array').toJSON(),
      xml: doc.getXmlFragment('xml').toJSON(),
    }),
  );
