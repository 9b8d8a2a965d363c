import { describe, expect, it } from 'vitest';
import { Prng, seedFromEnv } from '../../shared/testing/prng.js';
import { MessageIndex } from './messageIndex.js';
import type { MessageView } from './services.js';
import { messageView } from '../testing/messageView.js';

/** Only the fields MessageIndex reads matter; the rest is filler. */
const view = (id: string, authorId: string, authorName: string): MessageView =>
  messageView(id, { authorId, authorName });

const AUTHORS = ['u1', 'u2', 'u3', 'u4'];

/** What the room screen computed from scratch on every change before MessageIndex. */
const namesOf = (list: readonly MessageView[]): Map<string, string> => {
  const map = new Map<string, string>();
  for (const m of list) map.set(m.authorId, m.authorName);
  return map;
};

/**
 * Random sequences of appends, in-place changes, inserts, removals, moves, unchanged lists and
 * copies of the list; after each update the index must agree with the lookups made from scratch.
 */
const run = (seed: number): void => {
  const rng = new Prng(seed);
  const index = new MessageIndex();
  let list: readonly MessageView[] = [];
  let next = 0;
  const known = new Set<string>();
  const fresh = (): MessageView => {
    const author = rng.pick(AUTHORS);
    return view(`m${next++}`, author, `${author} ${rng.int(0, 2)}`);
  };
  for (let step = 0; step < 400; step++) {
    const ctx = `seed ${seed}, step ${step}`;
    const items = [...list];
    const op = rng.int(0, 9);
    if (op <= 3 || items.length === 0) {
      for (let k = rng.int(1, 3); k > 0; k--) items.push(fresh());
    } else if (op === 4) {
      const at = rng.int(0, items.length - 1);
      const m = items[at]!;
      // A new object for the same message; rarely a record rewritten under another name.
      items[at] = { ...m, text: `${m.text}!`, authorName: rng.bool(0.1) ? `${m.authorName}*` : m.authorName };
    } else if (op === 5) {
      items.splice(rng.int(0, items.length), 0, fresh());
    } else if (op === 6) {
      items.splice(rng.int(0, items.length - 1), rng.int(1, 2));
    } else if (op === 7) {
      const [m] = items.splice(rng.int(0, items.length - 1), 1);
      items.splice(rng.int(0, items.length), 0, m!);
    } else if (op === 8 && rng.bool(0.5)) {
      items.length = 0; // unchanged: the same array below
    }
    const prev = list;
    const prevStructure = index.structureVersion;
    const prevNamesVersion = index.namesVersion;
    const prevNames = namesOf(prev);
    if (!(op === 8 && items.length === 0)) list = items;
    index.update(list);

    for (const m of list) expect(index.get(m.id), ctx).toBe(m);
    for (const m of prev) if (!list.some((x) => x.id === m.id)) expect(index.get(m.id), ctx).toBeUndefined();
    const sameIds = prev.length === list.length && prev.every((m, i) => m.id === list[i]!.id);
    expect(index.structureVersion !== prevStructure, ctx).toBe(!sameIds);
    const names = namesOf(list);
    const namesChanged = AUTHORS.some((u) => names.get(u) !== prevNames.get(u));
    if (namesChanged) expect(index.namesVersion, ctx).not.toBe(prevNamesVersion);
    for (const u of [...AUTHORS, 'nobody']) expect(index.authorName(u), `${ctx}, ${u}`).toBe(names.get(u));
    // New: ids never listed before, in display order.
    const added = list.filter((m) => !known.has(m.id));
    for (const m of list) known.add(m.id);
    expect(index.takeAdded(), ctx).toEqual(added);
    expect(index.takeAdded(), ctx).toEqual([]);
  }
};

describe('MessageIndex', () => {
  const seed = seedFromEnv();
  it(`agrees with the lookups made from scratch over random list changes (seed ${seed})`, () => run(seed));

  it('a message that was removed and comes back is not new again', () => {
    const index = new MessageIndex();
    const a = view('a', 'u1', 'Ann');
    const b = view('b', 'u2', 'Ben');
    index.update([a, b]);
    index.takeAdded();
    index.update([a]);
    index.update([a, b]);
    expect(index.takeAdded()).toEqual([]);
    expect(index.get('b')).toBe(b);
  });
});
