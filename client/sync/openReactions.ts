/**
 * STATE-5: the own reactions the relay has not acked, grouped by the Yjs client of the value each
 * key holds, so that re-checking them after an ack or a store write costs only the groups whose
 * state can have changed. A reaction leaves 'storing' when the store holds it and is dropped once
 * acked; so a group is skipped while its client's ack clock is what it was at the group's last
 * check and every reaction in it was held by the store then (what the store holds only grows:
 * REBUILD-1's reset of LocalWrites comes with a new doc, and the session starts a new set).
 */
import type { ItemId } from './syncState.js';

/** An own reaction the relay has not acked: 'storing' until the local store holds it (as STATE-4). */
export type ReactionState = 'storing' | 'pending';

export interface OpenReaction {
  readonly messageId: string;
  readonly emoji: string;
  /** The Yjs id of the value the reaction's key holds. */
  readonly yId: ItemId;
}

interface Group {
  /** The client's ack clock at the last check (-1: never checked). */
  ack: number;
  /** Every reaction in the group was 'pending' (held by the store) at the last check, none added since. */
  allHeld: boolean;
  readonly keys: Set<string>;
}

export class OpenReactions {
  private readonly byKey = new Map<string, OpenReaction>();
  private readonly groups = new Map<number, Group>();

  get size(): number {
    return this.byKey.size;
  }

  /** Tracks `key` with the value `r` (replacing what it held before). */
  set(key: string, r: OpenReaction): void {
    this.delete(key);
    this.byKey.set(key, r);
    let g = this.groups.get(r.yId.client);
    if (!g) this.groups.set(r.yId.client, (g = { ack: -1, allHeld: false, keys: new Set() }));
    g.keys.add(key);
    g.allHeld = false;
  }

  delete(key: string): void {
    const r = this.byKey.get(key);
    if (!r) return;
    this.byKey.delete(key);
    const g = this.groups.get(r.yId.client)!;
    g.keys.delete(key);
    if (g.keys.size === 0) this.groups.delete(r.yId.client);
  }

  clear(): void {
    this.byKey.clear();
    this.groups.clear();
  }

  /**
   * Re-checks the groups whose state can have changed: `ackOf` gives a client's ack clock now,
   * `stateOf` a reaction's state now (null once acked: it is dropped). `visit` sees every reaction
   * re-checked, with that state.
   */
  recheck(
    ackOf: (client: number) => number,
    stateOf: (r: OpenReaction) => ReactionState | null,
    visit: (r: OpenReaction, state: ReactionState | null) => void,
  ): void {
    for (const [client, g] of this.groups) {
      const ack = ackOf(client);
      if (ack === g.ack && g.allHeld) continue;
      g.ack = ack;
      g.allHeld = true;
      for (const key of g.keys) {
        const r = this.byKey.get(key)!;
        const state = stateOf(r);
        visit(r, state);
        // Deleting the entry being visited is safe for both Set and Map iteration.
        if (state === null) this.delete(key);
        else if (state === 'storing') g.allHeld = false;
      }
    }
  }
}
