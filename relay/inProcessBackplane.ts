/**
 * The backplane for several relays in one process (tests, the seeded fuzz): one hub holds the
 * shared log (any `RoomStore`, usually a MemoryRoomStore), the fan-out and presence; each relay
 * gets its own `Backplane` from `hub.connect()`. Same contract as the Redis one
 * (relay/backplane.ts), with the failures a test needs made explicit: `kill(relayId)` is a relay
 * dying (its presence is removed on its behalf), `outage()`/`recover()` the store going away.
 *
 * Deliveries are asynchronous (a microtask or later), like a network: a subscriber is never
 * called from inside `publish`.
 */
import type { AwarenessEntry } from '../shared/awarenessUpdate.js';
import {
  newRelayId,
  type Backplane,
  type BackplaneEntry,
  type BackplaneStatus,
  type PublishEntry,
  type RoomSubscriber,
  type RoomSubscription,
} from './backplane.js';
import type { RoomStore } from './roomStore.js';

interface Sub {
  readonly relayId: string;
  readonly room: string;
  readonly subscriber: RoomSubscriber;
  lastSeq: number;
  /** Live entries that arrived while the catch-up was loading. */
  buffer: BackplaneEntry[] | null;
  closed: boolean;
}

interface Presence {
  readonly relay: string;
  readonly clock: number;
  readonly state: string;
}

export class InProcessBackplaneHub {
  private readonly next = new Map<string, number>();
  private readonly subs = new Set<Sub>();
  private readonly presence = new Map<string, Map<number, Presence>>();
  private readonly relays = new Map<string, InProcessBackplane>();
  /** Subscriptions whose catch-up failed (store unreachable): retried on `recover()`. */
  private readonly stalled = new Set<Sub>();
  private chain: Promise<unknown> = Promise.resolve();
  private down = false;

  constructor(readonly store: RoomStore) {}

  /** A new relay's backplane. */
  connect(relayId: string = newRelayId()): Backplane {
    const backplane = new InProcessBackplane(this, relayId);
    this.relays.set(relayId, backplane);
    return backplane;
  }

  /** The relay died: its subscriptions stop, the others receive the removal of its presence. */
  kill(relayId: string): void {
    const relay = this.relays.get(relayId);
    if (!relay) return;
    this.relays.delete(relayId);
    relay.dead = true;
    for (const sub of this.subs) if (sub.relayId === relayId) this.unsubscribe(sub);
    this.removePresenceOf(relayId);
  }

  /** The shared store becomes unreachable: every relay sees 'down'; publishing fails. */
  outage(): void {
    this.setDown(true);
  }

  recover(): void {
    this.setDown(false);
  }

  isDown(): boolean {
    return this.down;
  }

  // --- used by InProcessBackplane -------------------------------------------------------------

  publish(relayId: string, entries: readonly PublishEntry[]): Promise<number[]> {
    const run = this.chain.then(async () => {
      if (this.down) throw new Error('backplane down: the shared store is unreachable');
      const seqs: number[] = [];
      const assigned = new Map<string, number>();
      for (const e of entries) {
        const seq = (assigned.get(e.room) ?? (await this.lastSeq(e.room))) + 1;
        assigned.set(e.room, seq);
        seqs.push(seq);
      }
      await this.store.append(entries.map((e, i) => ({ room: e.room, seq: seqs[i]!, update: e.update })));
      for (const [room, seq] of assigned) this.next.set(room, seq);
      entries.forEach((e, i) =>
        this.fanOut({
          room: e.room,
          seq: seqs[i]!,
          seqLo: seqs[i]!,
          origin: relayId,
          update: e.update.slice(),
          ...(e.receivedAt !== undefined ? { receivedAt: e.receivedAt } : {}),
        }),
      );
      return seqs;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  subscribe(relayId: string, room: string, after: number, subscriber: RoomSubscriber): RoomSubscription {
    const sub: Sub = { relayId, room, subscriber, lastSeq: after, buffer: [], closed: false };
    this.subs.add(sub);
    void this.catchUp(sub);
    const others = [...(this.presence.get(room) ?? new Map<number, Presence>())].filter(([, p]) => p.relay !== relayId);
    const byRelay = new Map<string, AwarenessEntry[]>();
    for (const [clientID, p] of others) {
      const list = byRelay.get(p.relay) ?? [];
      list.push({ clientID, clock: p.clock, state: p.state });
      byRelay.set(p.relay, list);
    }
    if (byRelay.size > 0) {
      queueMicrotask(() => {
        for (const [origin, list] of byRelay) if (!sub.closed) subscriber.awareness(origin, list);
      });
    }
    return { close: () => this.unsubscribe(sub) };
  }

  publishAwareness(relayId: string, room: string, entries: readonly AwarenessEntry[]): Promise<void> {
    if (this.down) return Promise.reject(new Error('backplane down: the shared store is unreachable'));
    let states = this.presence.get(room);
    if (!states) this.presence.set(room, (states = new Map<number, Presence>()));
    // Same rule as the Redis hash: a set wins over an older clock; a removal deletes only a state
    // it is not older than.
    for (const e of entries) {
      const cur = states.get(e.clientID);
      if (cur && cur.clock > e.clock) continue;
      if (e.state === 'null') states.delete(e.clientID);
      else states.set(e.clientID, { relay: relayId, clock: e.clock, state: e.state });
    }
    this.fanOutAwareness(room, relayId, entries.slice());
    return Promise.resolve();
  }

  leave(relayId: string): void {
    this.kill(relayId);
  }

  unsubscribe(sub: Sub): void {
    sub.closed = true;
    this.subs.delete(sub);
    this.stalled.delete(sub);
  }

  // --- internals ------------------------------------------------------------------------------

  private async lastSeq(room: string): Promise<number> {
    const known = this.next.get(room);
    if (known !== undefined) return known;
    const stored = await this.store.load(room);
    let max = 0;
    for (const s of stored.segments) max = Math.max(max, s.seqHi);
    for (const e of stored.log) max = Math.max(max, e.seq);
    return max;
  }

  /** Delivers what the log holds after `sub.lastSeq`, then what arrived meanwhile; retried after an outage. */
  private async catchUp(sub: Sub): Promise<void> {
    let stored;
    try {
      if (this.down) throw new Error('backplane down');
      stored = await this.store.load(sub.room);
    } catch {
      this.stalled.add(sub);
      return;
    }
    const chunks: BackplaneEntry[] = [
      ...stored.segments.map((s) => ({ room: sub.room, seq: s.seqHi, seqLo: s.seqLo, origin: '', update: s.update })),
      ...stored.log.map((e) => ({ room: sub.room, seq: e.seq, seqLo: e.seq, origin: '', update: e.update })),
    ].sort((a, b) => a.seq - b.seq);
    const buffered = sub.buffer ?? [];
    sub.buffer = null;
    for (const entry of [...chunks, ...buffered]) this.deliver(sub, entry);
  }

  private fanOut(entry: BackplaneEntry): void {
    for (const sub of this.subs) {
      if (sub.room !== entry.room) continue;
      if (sub.buffer) sub.buffer.push(entry);
      else queueMicrotask(() => this.deliver(sub, entry));
    }
  }

  private deliver(sub: Sub, entry: BackplaneEntry): void {
    if (sub.closed || entry.seq <= sub.lastSeq) return;
    sub.lastSeq = entry.seq;
    sub.subscriber.update(entry);
  }

  private fanOutAwareness(room: string, origin: string, entries: AwarenessEntry[]): void {
    if (entries.length === 0) return;
    for (const sub of this.subs) {
      if (sub.room !== room || sub.relayId === origin) continue;
      queueMicrotask(() => {
        if (!sub.closed) sub.subscriber.awareness(origin, entries);
      });
    }
  }

  private removePresenceOf(relayId: string): void {
    for (const [room, states] of this.presence) {
      const removed: AwarenessEntry[] = [];
      for (const [clientID, p] of states) {
        if (p.relay !== relayId) continue;
        states.delete(clientID);
        removed.push({ clientID, clock: p.clock + 1, state: 'null' });
      }
      this.fanOutAwareness(room, relayId, removed);
    }
  }

  private setDown(down: boolean): void {
    if (this.down === down) return;
    this.down = down;
    for (const relay of this.relays.values()) relay.emit(down ? 'down' : 'up');
    if (!down) {
      const stalled = [...this.stalled];
      this.stalled.clear();
      for (const sub of stalled) if (!sub.closed) void this.catchUp(sub);
    }
  }
}

class InProcessBackplane implements Backplane {
  dead = false;
  private readonly listeners = new Set<(status: BackplaneStatus) => void>();

  constructor(
    private readonly hub: InProcessBackplaneHub,
    readonly relayId: string,
  ) {}

  publish(entries: readonly PublishEntry[]): Promise<number[]> {
    if (this.dead) return Promise.reject(new Error('backplane closed'));
    return this.hub.publish(this.relayId, entries);
  }

  subscribe(room: string, after: number, subscriber: RoomSubscriber): RoomSubscription {
    if (this.dead) throw new Error('backplane closed');
    return this.hub.subscribe(this.relayId, room, after, subscriber);
  }

  publishAwareness(room: string, entries: readonly AwarenessEntry[]): Promise<void> {
    if (this.dead) return Promise.reject(new Error('backplane closed'));
    return this.hub.publishAwareness(this.relayId, room, entries);
  }

  status(): BackplaneStatus {
    return this.hub.isDown() ? 'down' : 'up';
  }

  onStatus(listener: (status: BackplaneStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(status: BackplaneStatus): void {
    for (const l of this.listeners) l(status);
  }

  close(): Promise<void> {
    this.hub.leave(this.relayId);
    return Promise.resolve();
  }
}
