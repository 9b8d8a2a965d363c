import { describe, expect, it } from 'vitest';
import { OpenReactions, type OpenReaction, type ReactionState } from './openReactions.js';

/** An ack clock per client and the store's held clock per client, as the session reads them. */
const world = (): {
  acked: Map<number, number>;
  stored: Map<number, number>;
  check: (o: OpenReactions) => Array<[string, ReactionState | null]>;
} => {
  const acked = new Map<number, number>();
  const stored = new Map<number, number>();
  const stateOf = ({ yId }: OpenReaction): ReactionState | null =>
    (acked.get(yId.client) ?? 0) > yId.clock ? null : (stored.get(yId.client) ?? 0) > yId.clock ? 'pending' : 'storing';
  return {
    acked,
    stored,
    check: (o) => {
      const seen: Array<[string, ReactionState | null]> = [];
      o.recheck(
        (c) => acked.get(c) ?? 0,
        stateOf,
        (r, s) => seen.push([`${r.messageId}${r.emoji}`, s]),
      );
      return seen;
    },
  };
};
const reaction = (messageId: string, client: number, clock: number): OpenReaction => ({
  messageId,
  emoji: '👍',
  yId: { client, clock },
});

describe('STATE-5: OpenReactions', () => {
  it('re-checks only the clients whose ack moved or that held a reaction not stored yet; drops what is acked', () => {
    const w = world();
    const o = new OpenReactions();
    // Client 1: loaded from the store (held), many reactions; client 2: this session's, storing.
    for (let i = 0; i < 100; i++) o.set(`m${i}|u|👍`, reaction(`m${i}`, 1, i));
    w.stored.set(1, 100);
    o.set('x|u|👍', reaction('x', 2, 0));
    expect(o.size).toBe(101);
    expect(w.check(o)).toHaveLength(101); // first check: everything
    // The store now holds client 2's reaction: only that group is visited, client 1 is not.
    w.stored.set(2, 1);
    expect(w.check(o)).toEqual([['x👍', 'pending']]);
    // Nothing changed: nothing visited.
    expect(w.check(o)).toEqual([]);
    // Client 1 is acked up to clock 50: its group is visited, the acked half dropped.
    w.acked.set(1, 50);
    const visited = w.check(o);
    expect(visited).toHaveLength(100);
    expect(visited.filter(([, s]) => s === null)).toHaveLength(50);
    expect(o.size).toBe(51);
    // A reaction set again (a new value of another client) leaves the old one's group.
    o.set('m60|u|👍', reaction('m60', 2, 1));
    expect(o.size).toBe(51);
    w.acked.set(1, 100);
    w.stored.set(2, 2);
    expect(w.check(o).filter(([, s]) => s === null)).toHaveLength(49);
    expect(o.size).toBe(2);
    o.delete('x|u|👍');
    expect(o.size).toBe(1);
  });
});
