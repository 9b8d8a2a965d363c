/**
 * The acceptance suite every `Backplane` must pass (REDIS-4..7, see relay/backplane.ts). Call
 * `backplaneContract` once per implementation; each test gets fresh shared state.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AwarenessEntry } from '../shared/awarenessUpdate.js';
import { waitFor } from '../shared/testing/waitFor.js';
import type { Backplane, BackplaneEntry, RoomSubscriber } from './backplane.js';
import type { StoredRoom, StoredSegment } from './roomStore.js';

export interface BackplaneHarness {
  /** A new relay's backplane on the shared state. */
  relay(): Promise<Backplane>;
  /** What the shared durable log holds for `room` (through a RoomStore on the same data). */
  load(room: string): Promise<StoredRoom>;
  /** A compaction of `room` done by someone (through the RoomStore: write, then delete covered). */
  compact(room: string, segment: StoredSegment): Promise<void>;
  /** The relay dies: no goodbye; the others must notice by themselves. */
  kill(backplane: Backplane): Promise<void>;
  /** The shared store becomes unreachable, then comes back with its data. */
  outage(): Promise<void>;
  recover(): Promise<void>;
  cleanup(): Promise<void>;
}

/** A subscriber that records everything, for assertions. */
export class Recorder implements RoomSubscriber {
  readonly entries: BackplaneEntry[] = [];
  readonly presence: { origin: string; entry: AwarenessEntry }[] = [];

  update(entry: BackplaneEntry): void {
    this.entries.push(entry);
  }

  awareness(origin: string, entries: readonly AwarenessEntry[]): void {
    for (const entry of entries) this.presence.push({ origin, entry });
  }

  seqs(): number[] {
    return this.entries.map((e) => e.seq);
  }

  /** The latest state seen for `clientID` ('null' = removed), or undefined. */
  stateOf(clientID: number): string | undefined {
    for (let i = this.presence.length - 1; i >= 0; i--) {
      if (this.presence[i]!.entry.clientID === clientID) return this.presence[i]!.entry.state;
    }
    return undefined;
  }
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.of(...values);
const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

export function backplaneContract(name: string, make: () => Promise<BackplaneHarness>): void {
  describe(`Backplane contract: ${name}`, () => {
    let h: BackplaneHarness;

    beforeEach(async () => {
      h = await make();
    });

    afterEach(async () => {
      await h.cleanup();
    });

    it('REDIS-4: publish assigns each room dense, increasing seqs in the order given', async () => {
      const a = await h.relay();
      expect(await a.publish([{ room: 'r', update: bytes(1) }])).toEqual([1]);
      expect(
        await a.publish([
          { room: 'r', update: bytes(2) },
          { room: 's', update: bytes(9) },
          { room: 'r', update: bytes(3) },
        ]),
      ).toEqual([2, 1, 3]);
      const b = await h.relay();
      expect(await b.publish([{ room: 'r', update: bytes(4) }])).toEqual([4]);
      expect(await a.publish([])).toEqual([]);
    });

    it('REDIS-4: publish is durable: the shared log holds every entry once it resolves', async () => {
      const a = await h.relay();
      const b = await h.relay();
      await Promise.all([
        a.publish([{ room: 'r', update: bytes(1) }]),
        b.publish([{ room: 'r', update: bytes(2) }]),
        a.publish([{ room: 'r', update: bytes(3) }]),
      ]);
      const stored = await h.load('r');
      expect(stored.log.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(stored.log.map((e) => e.update[0]).sort()).toEqual([1, 2, 3]);
    });

    it('REDIS-4: another relay receives every entry in seq order, with its origin, its own ones too', async () => {
      const a = await h.relay();
      const b = await h.relay();
      const atB = new Recorder();
      const atA = new Recorder();
      b.subscribe('r', 0, atB);
      a.subscribe('r', 0, atA);
      // Entry 1 may reach a subscription through its catch-up from the log (origin unknown there).
      await a.publish([{ room: 'r', update: bytes(1) }]);
      await waitFor(() => atB.entries.length === 1 && atA.entries.length === 1, 'both subscriptions live');
      for (let i = 2; i <= 20; i++) await (i % 3 === 0 ? b : a).publish([{ room: 'r', update: bytes(i) }]);
      await waitFor(() => atB.entries.length === 20 && atA.entries.length === 20, 'all 20 entries at both relays');
      for (const rec of [atA, atB]) {
        expect(rec.seqs()).toEqual(range(1, 20));
        expect(rec.entries.map((e) => e.update[0])).toEqual(range(1, 20));
        // A live entry names its publisher. One whose live message came later than two position
        // checks (a loaded machine, 100 ms heartbeats) is read from the log, with origin '' (the
        // interface says so): the Redis Cluster run had one such entry in 19.
        const origins = rec.entries.slice(1).map((e) => e.origin);
        const publishers = range(2, 20).map((i) => (i % 3 === 0 ? b : a).relayId);
        expect(origins.map((o, i) => (o === '' ? '' : publishers[i]))).toEqual(origins);
        expect(origins).toContain(a.relayId);
        expect(origins).toContain(b.relayId);
      }
    });

    it('REDIS-4: subscribing from a position catches up from the log, then continues live without gaps', async () => {
      const a = await h.relay();
      const b = await h.relay();
      await a.publish(range(1, 10).map((i) => ({ room: 'r', update: bytes(i) })));
      const rec = new Recorder();
      b.subscribe('r', 4, rec);
      // Publishing while the catch-up runs: every seq after 4 arrives exactly once, in order.
      const more = (async () => {
        for (let i = 11; i <= 30; i++) await a.publish([{ room: 'r', update: bytes(i) }]);
      })();
      await more;
      await waitFor(() => rec.entries.length >= 26, 'entries 5..30');
      expect(rec.seqs()).toEqual(range(5, 30));
      expect(rec.entries.map((e) => e.update[0])).toEqual(range(5, 30));
    });

    it('REDIS-4: a live entry carries its receivedAt; one from the log does not', async () => {
      const a = await h.relay();
      await a.publish([{ room: 'r', update: bytes(1), receivedAt: 1_000 }]);
      const rec = new Recorder();
      a.subscribe('r', 0, rec);
      await waitFor(() => rec.entries.length === 1, 'entry 1 from the log');
      await a.publish([
        { room: 'r', update: bytes(2), receivedAt: 2_000 },
        { room: 'r', update: bytes(3) },
      ]);
      await waitFor(() => rec.entries.length === 3, 'entries 2 and 3 live');
      expect(rec.entries.map((e) => e.receivedAt)).toEqual([undefined, 2_000, undefined]);
    });

    it('REDIS-4: rooms are isolated', async () => {
      const a = await h.relay();
      const rec = new Recorder();
      a.subscribe('r', 0, rec);
      const other = new Recorder();
      a.subscribe('s', 0, other);
      await a.publish([{ room: 's', update: bytes(7) }]);
      await a.publish([{ room: 'r', update: bytes(1) }]);
      await waitFor(() => rec.entries.length === 1 && other.entries.length === 1, 'one entry each');
      expect(rec.entries.map((e) => [e.room, e.update[0]])).toEqual([['r', 1]]);
      expect(other.entries.map((e) => [e.room, e.update[0]])).toEqual([['s', 7]]);
    });

    it('REDIS-4: a compacted range arrives as its segment; later entries follow', async () => {
      const a = await h.relay();
      await a.publish(range(1, 6).map((i) => ({ room: 'r', update: bytes(i) })));
      await h.compact('r', { seqLo: 1, seqHi: 4, update: bytes(0xee) });
      await a.publish([{ room: 'r', update: bytes(7) }]);
      const rec = new Recorder();
      a.subscribe('r', 2, rec);
      await waitFor(() => rec.entries.length === 4, 'segment + 5, 6, 7');
      expect(rec.entries.map((e) => [e.seqLo, e.seq, e.update[0]])).toEqual([
        [1, 4, 0xee],
        [5, 5, 5],
        [6, 6, 6],
        [7, 7, 7],
      ]);
    });

    it('REDIS-4: a closed subscription receives nothing more', async () => {
      const a = await h.relay();
      const rec = new Recorder();
      const sub = a.subscribe('r', 0, rec);
      await a.publish([{ room: 'r', update: bytes(1) }]);
      await waitFor(() => rec.entries.length === 1, 'first entry');
      sub.close();
      sub.close();
      await a.publish([{ room: 'r', update: bytes(2) }]);
      // A later subscriber sees entry 2 arrive, so the closed one had every chance to.
      const later = new Recorder();
      a.subscribe('r', 1, later);
      await waitFor(() => later.entries.length === 1, 'entry 2 at the new subscription');
      expect(rec.seqs()).toEqual([1]);
    });

    it("REDIS-6: presence goes to the other relays (not back to the sender's), and to later subscribers", async () => {
      const a = await h.relay();
      const b = await h.relay();
      const atA = new Recorder();
      const atB = new Recorder();
      a.subscribe('r', 0, atA);
      b.subscribe('r', 0, atB);
      // Subscriptions start asynchronously and presence is volatile, so announce until it is seen,
      // as the stock client's 15-second renewal does.
      await waitFor(async () => {
        await a.publishAwareness('r', [{ clientID: 11, clock: 1, state: '{"name":"ann"}' }]);
        return atB.stateOf(11) === '{"name":"ann"}';
      }, 'ann at b');
      expect(atB.presence.every((p) => p.origin === a.relayId)).toBe(true);
      // A third relay joining later gets the live state at once.
      const c = await h.relay();
      const atC = new Recorder();
      c.subscribe('r', 0, atC);
      await waitFor(() => atC.stateOf(11) === '{"name":"ann"}', 'snapshot at c');
      // A removal propagates and leaves nothing for the next joiner.
      await a.publishAwareness('r', [{ clientID: 11, clock: 2, state: 'null' }]);
      await waitFor(() => atB.stateOf(11) === 'null' && atC.stateOf(11) === 'null', 'removal at b and c');
      const d = await h.relay();
      const atD = new Recorder();
      d.subscribe('r', 0, atD);
      await a.publish([{ room: 'r', update: bytes(1) }]);
      await waitFor(() => atD.entries.length === 1, 'd is live');
      expect(atD.presence).toEqual([]);
      expect(atA.presence).toEqual([]);
    });

    it('REDIS-6: no ghosts — when a relay dies, the others get the removal of every state it held', async () => {
      const a = await h.relay();
      const b = await h.relay();
      const atB = new Recorder();
      b.subscribe('r', 0, atB);
      a.subscribe('r', 0, new Recorder());
      await waitFor(async () => {
        await a.publishAwareness('r', [
          { clientID: 21, clock: 5, state: '{"u":1}' },
          { clientID: 22, clock: 1, state: '{"u":2}' },
        ]);
        return atB.stateOf(21) !== undefined && atB.stateOf(22) !== undefined;
      }, 'both states at b');
      await h.kill(a);
      await waitFor(() => atB.stateOf(21) === 'null' && atB.stateOf(22) === 'null', 'removals at b', 20_000);
      const removals = atB.presence.filter((p) => p.entry.state === 'null');
      expect(removals.map((p) => [p.origin, p.entry.clientID, p.entry.clock]).sort()).toEqual([
        [a.relayId, 21, 6],
        [a.relayId, 22, 2],
      ]);
      // And a relay joining afterwards sees no ghost.
      const c = await h.relay();
      const atC = new Recorder();
      c.subscribe('r', 0, atC);
      await b.publish([{ room: 'r', update: bytes(1) }]);
      await waitFor(() => atC.entries.length === 1, 'c is live');
      expect(atC.presence).toEqual([]);
    });

    it('REDIS-6: a relay that closes removes its presence and publishes nothing more', async () => {
      const a = await h.relay();
      const b = await h.relay();
      const atB = new Recorder();
      b.subscribe('r', 0, atB);
      a.subscribe('r', 0, new Recorder());
      await waitFor(async () => {
        await a.publishAwareness('r', [{ clientID: 31, clock: 3, state: '{"u":3}' }]);
        return atB.stateOf(31) === '{"u":3}';
      }, 'state at b');
      await a.close();
      await waitFor(() => atB.stateOf(31) === 'null', 'removal at b');
      expect(atB.presence.at(-1)).toEqual({ origin: a.relayId, entry: { clientID: 31, clock: 4, state: 'null' } });
      await expect(a.publish([{ room: 'r', update: bytes(1) }])).rejects.toThrow();
    });

    it('REDIS-5: the store going away is reported down then up; publish fails meanwhile; subscriptions resume', async () => {
      const a = await h.relay();
      const b = await h.relay();
      const statuses: string[] = [];
      b.onStatus((s) => statuses.push(s));
      const rec = new Recorder();
      b.subscribe('r', 0, rec);
      await a.publish([{ room: 'r', update: bytes(1) }]);
      await waitFor(() => rec.entries.length === 1, 'entry 1');
      await h.outage();
      await waitFor(() => b.status() === 'down' && a.status() === 'down', 'down');
      await expect(a.publish([{ room: 'r', update: bytes(2) }])).rejects.toThrow();
      await h.recover();
      await waitFor(() => b.status() === 'up' && a.status() === 'up', 'up again');
      expect(statuses).toEqual(['down', 'up']);
      // Nothing acked was lost, and the subscription continues from where it was.
      await waitFor(async () => {
        try {
          await a.publish([{ room: 'r', update: bytes(3) }]);
          return true;
        } catch {
          return false; // the publisher's own connection may still be coming back
        }
      }, 'a publishes again');
      await waitFor(() => rec.entries.length >= 2, 'entry after the outage');
      expect(rec.entries[0]!.update[0]).toBe(1);
      expect(rec.seqs()).toEqual(range(1, rec.entries.length));
      expect((await h.load('r')).log[0]!.update).toEqual(bytes(1));
    });
  });
}
