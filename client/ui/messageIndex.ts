/**
 * The room screen's lookups over the message list (by id, author names, which messages are new),
 * kept up to date from one view's list to the next instead of rebuilt on every change: in a room
 * of 100,000 messages, rebuilding them on each send, ack and arrival cost tens of milliseconds.
 *
 * `update(next)` walks `next` alongside the previous list comparing by identity. The session
 * hands out the same MessageView object for a message that did not change, so those cost one
 * pointer comparison each: no hashing, no allocation. Only messages that changed in place, were
 * appended or were inserted touch the maps. A list whose order changed in another way (ORD-2 moved
 * a reply under its parent, or a message was removed: both rare) is indexed again from scratch.
 *
 * Invariants after `update(list)`:
 * - `get(id)` is the element of `list` with that id (undefined when none);
 * - `authorName(user)` is the authorName of the last message by `user` in `list`;
 * - `structureVersion` changed iff the sequence of ids in `list` differs from the previous list's;
 * - `namesVersion` changed whenever some `authorName(user)` may have changed;
 * - `takeAdded()` returns, in the order discovered, the messages whose id was in no list
 *   given before (the first list's messages included), each once.
 */
import type { MessageView } from './services.js';

export class MessageIndex {
  private list: readonly MessageView[] = [];
  private byId = new Map<string, MessageView>();
  /** author id → authorName of their last message; rebuilt on the next read when `namesStale`. */
  private readonly names = new Map<string, string>();
  private namesStale = false;
  /** Ids once listed and since gone (only forged data removes a message): not new if they return. */
  private readonly gone = new Set<string>();
  private added: MessageView[] = [];
  structureVersion = 0;
  namesVersion = 0;

  update(next: readonly MessageView[]): void {
    const prev = this.list;
    if (next === prev) return;
    this.list = next;
    let structural = false;
    let j = 0;
    for (let i = 0; i < next.length; i++) {
      const m = next[i]!;
      const p = j < prev.length ? prev[j] : undefined;
      if (p === m) {
        j++;
        continue;
      }
      if (p !== undefined && p.id === m.id) {
        // Changed in place (a state, an edit, a reaction).
        this.byId.set(m.id, m);
        if (p.authorId !== m.authorId || p.authorName !== m.authorName) this.staleNames();
        j++;
        continue;
      }
      structural = true;
      if (this.byId.has(m.id)) {
        // Known but not here: the previous message here was removed, or this one moved.
        this.rebuild(next);
        return;
      }
      this.byId.set(m.id, m);
      if (!this.gone.has(m.id)) this.added.push(m);
      // Appended after every previous message: the newest by its author so far.
      if (j < prev.length) this.staleNames();
      else this.setName(m);
    }
    if (j < prev.length) {
      this.rebuild(next); // messages at the end were removed
      return;
    }
    if (structural) this.structureVersion++;
  }

  get(id: string): MessageView | undefined {
    return this.byId.get(id);
  }

  authorName(userId: string): string | undefined {
    if (this.namesStale) {
      this.namesStale = false;
      this.names.clear();
      for (const m of this.list) this.names.set(m.authorId, m.authorName);
    }
    return this.names.get(userId);
  }

  takeAdded(): readonly MessageView[] {
    const out = this.added;
    this.added = [];
    return out;
  }

  private setName(m: MessageView): void {
    if (this.namesStale || this.names.get(m.authorId) === m.authorName) return;
    this.names.set(m.authorId, m.authorName);
    this.namesVersion++;
  }

  private staleNames(): void {
    this.namesStale = true;
    this.namesVersion++;
  }

  private rebuild(next: readonly MessageView[]): void {
    const old = this.byId;
    const byId = new Map<string, MessageView>();
    for (const m of next) {
      byId.set(m.id, m);
      if (!old.has(m.id) && !this.gone.has(m.id)) this.added.push(m);
    }
    for (const id of old.keys()) if (!byId.has(id)) this.gone.add(id);
    this.byId = byId;
    this.staleNames();
    this.structureVersion++;
  }
}
