import { describe, expect, it } from 'vitest';
import { Prng, seedFromEnv } from '../../shared/testing/prng.js';
import { messageRows, searchRows, type Row } from './rows.js';
import type { MessageView } from './services.js';
import { messageView } from '../testing/messageView.js';

const view = (id: string): MessageView => messageView(id, { text: id });

/** The array the room screen made on every change before `Rows`. */
const rowArray = (messages: readonly MessageView[], dividerBeforeId: string | null): Row[] => {
  const out: Row[] = [];
  for (const m of messages) {
    if (m.id === dividerBeforeId) out.push({ kind: 'divider', key: 'new-messages-divider' });
    out.push({ kind: 'message', key: m.id, m });
  }
  return out;
};

describe('rows', () => {
  const seed = seedFromEnv();
  it(`messageRows and searchRows read like the row arrays (seed ${seed})`, () => {
    const rng = new Prng(seed);
    for (let round = 0; round < 200; round++) {
      const ctx = `seed ${seed}, round ${round}`;
      const messages = Array.from({ length: rng.int(0, 30) }, (_, i) => view(`m${round}.${i}`));
      const divider = messages.length > 0 && rng.bool(0.7) ? rng.int(0, messages.length - 1) : -1;
      const expected = rowArray(messages, divider < 0 ? null : messages[divider]!.id);
      const found = messages.filter(() => rng.bool(0.4));
      for (const [rows, want] of [
        [messageRows(messages, divider, 1), expected],
        [searchRows(found), rowArray(found, null)],
      ] as const) {
        expect(rows.length, ctx).toBe(want.length);
        want.forEach((row, i) => {
          expect(rows.at(i), ctx).toEqual(row);
          expect(rows.key(i), ctx).toBe(row.key);
          expect(rows.isDivider(i), ctx).toBe(row.kind === 'divider');
        });
        expect(rows.dividerIndex, ctx).toBe(want.findIndex((r) => r.kind === 'divider'));
        for (const m of [...messages, view('absent')]) {
          expect(rows.indexOfMessage(m.id), ctx).toBe(want.findIndex((r) => r.kind === 'message' && r.m.id === m.id));
        }
      }
    }
  });

  it('the shape changes with the id sequence and the line, not with the messages array', () => {
    const messages = [view('a'), view('b')];
    const changed = [view('a'), { ...view('b'), text: 'edited' }];
    expect(messageRows(changed, 1, 3).shape).toBe(messageRows(messages, 1, 3).shape);
    expect(messageRows(messages, 0, 3).shape).not.toBe(messageRows(messages, 1, 3).shape);
    expect(messageRows(messages, 1, 4).shape).not.toBe(messageRows(messages, 1, 3).shape);
  });
});
