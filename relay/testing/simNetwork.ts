/**
 * A simulated network around the real `Relay` (and so the real `RoomCore`): clients are real
 * Y.Docs speaking the y-websocket protocol through y-protocols, connections are pairs of FIFO
 * queues (a websocket is ordered) that the test delivers one frame at a time in a seeded random
 * interleaving. Partitions drop a connection with whatever was in flight; relay crashes drop
 * the Relay with its uncommitted batch and build a new one on the same store.
 *
 * `SimNetwork.cluster` runs several relays on one backplane (in-process hub or a real Redis,
 * relay/testing/backplaneHarness.ts): each connection goes to a relay picked at random, a crash
 * kills one relay (its backplane dies without a goodbye) and starts a fresh one in its place.
 *
 * Used by relay/relayFuzz.test.ts; the Redis backplane fuzz can reuse it with another store.
 */
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import { Limits, MessageType, encodeSyncStep1, encodeSyncUpdate, readAckPayload } from '../../shared/protocol.js';
import { Relay, type RelayLimits } from '../relay.js';
import { defaultRoomCoreLimits } from './roomCoreLimits.js';
import { mergeInChunks } from '../mergeInChunks.js';
import type { RoomStore } from '../roomStore.js';
import type { ConnId } from '../roomCore.js';
import type { Prng } from '../../shared/testing/prng.js';
import { waitFor } from '../../shared/testing/waitFor.js';
import type { Backplane } from '../backplane.js';
import type { FencedCompactionStore } from '../storeCompactor.js';

/** Limits high enough that rate limiting never fires (fuzz, unit tests); the send-frame limit is the caller's. */
export const unthrottledLimits = (maxSendFrameBytes: number): RelayLimits => ({
  ...defaultRoomCoreLimits,
  maxFrameBytes: Limits.maxFrameBytes,
  maxSendFrameBytes,
  maxMessagesPerSecond: 1e9,
  messageBurst: 1e9,
  maxBytesPerSecond: 1e12,
  byteBurst: 1e12,
  maxBufferedBytes: 1e12,
  maxTotalBufferedBytes: 1e12,
  maxRooms: 1000,
  maxConnections: 1000,
});

const REMOTE = Symbol('remote');

interface SimLink {
  id: ConnId;
  /** The relay this connection is open at. */
  relay: Relay;
  toRelay: Uint8Array[];
  toClient: Uint8Array[];
  closed: boolean;
}

export class SimClient {
  doc: Y.Doc;
  link: SimLink | null = null;
  /** Highest durable clock the relay acked, per Yjs client id (ACK-3). */
  readonly acked = new Map<number, number>();
  closeCodes: number[] = [];

  /**
   * `newClientId` gives every Y.Doc of this client (one per restart) its Yjs client id: drawn
   * from the fuzz's seed, so a seed replays the same history (ids decide the order of concurrent
   * inserts and of the structs in every update).
   */
  constructor(
    readonly name: string,
    readonly room: string,
    private readonly newClientId: () => number,
  ) {
    this.doc = this.newDoc();
    this.listen();
  }

  private newDoc(): Y.Doc {
    const doc = new Y.Doc();
    doc.clientID = this.newClientId();
    return doc;
  }

  private listen(): void {
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE && this.link && !this.link.closed) this.link.toRelay.push(encodeSyncUpdate(update));
    });
  }

  /** A page reload: a new Y.Doc (new client id) restored from the local store, disconnected. */
  restart(): void {
    const state = Y.encodeStateAsUpdate(this.doc);
    this.doc.destroy();
    this.doc = this.newDoc();
    Y.applyUpdate(this.doc, state, REMOTE);
    this.listen();
    this.link = null;
  }

  /** Handles one frame from the relay as the stock provider would. */
  handle(frame: Uint8Array): void {
    const d = decoding.createDecoder(frame);
    const type = decoding.readVarUint(d);
    if (type === MessageType.Sync) {
      const reply = encoding.createEncoder();
      encoding.writeVarUint(reply, MessageType.Sync);
      syncProtocol.readSyncMessage(d, reply, this.doc, REMOTE);
      if (encoding.length(reply) > 1 && this.link) this.link.toRelay.push(encoding.toUint8Array(reply));
    } else if (type === MessageType.Ack) {
      for (const [client, clock] of readAckPayload(d)) {
        this.acked.set(client, Math.max(this.acked.get(client) ?? 0, clock));
      }
    }
    // Awareness frames are exercised by the unit tests; the fuzz checks documents.
  }
}

/** Several relays on one backplane (see `SimNetwork.cluster`). */
export interface SimCluster {
  readonly relays: number;
  /** A fresh relay's backplane (backplaneHarness's `relay`). */
  backplane(): Promise<Backplane>;
  /** Kills a relay's backplane without a goodbye (backplaneHarness's `kill`). */
  kill(backplane: Backplane): Promise<void>;
  /** When set, relays compact the shared store (REDIS-3) every 8 entries of a room. */
  readonly fencedStore?: FencedCompactionStore;
}

export class SimNetwork {
  relay: Relay;
  /** Every relay (one unless built by `cluster`); `relay` is the first. */
  relays: Relay[];
  private backplanes: Backplane[] = [];
  private cluster: SimCluster | null = null;
  readonly clients: SimClient[] = [];
  /** Every ack any client ever received: client id → clock (checked against the store). */
  readonly allAcks = new Map<string, Map<number, number>>();

  constructor(
    private readonly store: RoomStore,
    private readonly limits: RelayLimits,
    private readonly prng: Prng,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.relay = this.makeRelay();
    this.relays = [this.relay];
  }

  /** `cluster.relays` relays on one backplane over `store` (the backplane's shared store). */
  static async cluster(store: RoomStore, limits: RelayLimits, prng: Prng, cluster: SimCluster): Promise<SimNetwork> {
    const net = new SimNetwork(store, limits, prng);
    net.cluster = cluster;
    net.relays = [];
    for (let i = 0; i < cluster.relays; i++) {
      const backplane = await cluster.backplane();
      net.backplanes.push(backplane);
      net.relays.push(net.makeRelay(backplane));
    }
    net.relay = net.relays[0]!;
    return net;
  }

  private makeRelay(backplane?: Backplane): Relay {
    const fenced = this.cluster?.fencedStore;
    return new Relay({
      store: this.store,
      limits: this.limits,
      commitDelayMs: 'manual',
      idleUnloadMs: 0,
      compaction: { minLogEntries: 8, targetBytes: 4096 },
      backplane,
      storeCompaction: fenced
        ? { store: fenced, policy: { minLogEntries: 8, targetBytes: 4096, leaseMs: 10_000 } }
        : undefined,
    });
  }

  private async settled(): Promise<void> {
    for (const r of this.relays) await r.settled();
  }

  async connect(c: SimClient): Promise<void> {
    if (c.link) return;
    const relay = this.relays.length === 1 ? this.relays[0]! : this.prng.pick(this.relays);
    const refusal = await relay.admit(c.room);
    if (refusal) throw new Error(`admit refused: ${refusal.reason}`);
    const link: SimLink = { id: 0, relay, toRelay: [], toClient: [], closed: false };
    c.link = link;
    link.id = relay.open(c.room, {
      send: (frame) => {
        if (!link.closed) link.toClient.push(frame);
      },
      close: (code) => {
        link.closed = true;
        c.closeCodes.push(code);
        if (c.link === link) c.link = null;
      },
      bufferedAmount: () => 0,
    });
    // What the stock provider sends on open.
    link.toRelay.push(encodeSyncStep1(Y.encodeStateVector(c.doc)));
    await this.settled();
  }

  disconnect(c: SimClient): void {
    const link = c.link;
    if (!link) return;
    link.closed = true;
    c.link = null;
    link.relay.closed(link.id);
  }

  /** Delivers the oldest in-flight frame of one direction of one link. */
  async deliver(c: SimClient, direction: 'up' | 'down'): Promise<boolean> {
    const link = c.link;
    if (!link) return false;
    if (direction === 'up') {
      const frame = link.toRelay.shift();
      if (!frame) return false;
      link.relay.receive(link.id, frame, true);
      await this.settled();
    } else {
      const frame = link.toClient.shift();
      if (!frame) return false;
      c.handle(frame);
      this.recordAcks(c);
    }
    return true;
  }

  private recordAcks(c: SimClient): void {
    const acks = this.allAcks.get(c.room) ?? new Map<number, number>();
    for (const [client, clock] of c.acked) acks.set(client, Math.max(acks.get(client) ?? 0, clock));
    this.allAcks.set(c.room, acks);
  }

  async flush(): Promise<void> {
    for (const r of this.relays) await r.flush();
    await this.settled();
  }

  /**
   * kill -9: uncommitted updates are lost, every connection drops. In a cluster one relay (picked
   * at random) dies: its backplane stops without a goodbye and a fresh relay takes its place.
   */
  async crashRelay(): Promise<void> {
    const i = this.relays.length === 1 ? 0 : this.prng.int(0, this.relays.length - 1);
    const dying = this.relays[i]!;
    for (const c of this.clients) {
      if (c.link && c.link.relay === dying) {
        c.link.closed = true;
        c.link = null;
      }
    }
    await dying.settled();
    if (!this.cluster) {
      this.relay = this.relays[0] = this.makeRelay();
      return;
    }
    await this.cluster.kill(this.backplanes[i]!);
    this.backplanes[i] = await this.cluster.backplane();
    this.relays[i] = this.makeRelay(this.backplanes[i]);
    this.relay = this.relays[0]!;
  }

  /** Cluster teardown: stops every relay's backplane (the harness owns the shared store). */
  async stopCluster(): Promise<void> {
    await this.settled();
    if (this.cluster) for (const b of this.backplanes) await this.cluster.kill(b);
  }

  /** Everything the store holds for `room`, merged. */
  async storedUpdate(room: string): Promise<Uint8Array> {
    const stored = await this.store.load(room);
    return mergeInChunks([...stored.segments.map((s) => s.update), ...stored.log.map((l) => l.update)]);
  }

  /** ACK-1: every clock any client was acked for is in the store right now. */
  async checkAcksDurable(): Promise<string[]> {
    const problems: string[] = [];
    for (const [room, acks] of this.allAcks) {
      const sv = Y.decodeStateVector(Y.encodeStateVectorFromUpdate(await this.storedUpdate(room)));
      for (const [client, clock] of acks) {
        if ((sv.get(client) ?? 0) < clock) {
          problems.push(`room ${room}: client ${client} acked to ${clock} but the store holds ${sv.get(client) ?? 0}`);
        }
      }
    }
    return problems;
  }

  /** Heal: everyone connects and all queues drain until quiet; then one final commit. */
  async healAndDrain(): Promise<void> {
    for (const c of this.clients) await this.connect(c);
    for (let round = 0; round < 10_000; round++) {
      let moved = false;
      for (const c of this.prng.shuffle([...this.clients])) {
        while (await this.deliver(c, 'up')) moved = true;
        while (await this.deliver(c, 'down')) moved = true;
      }
      await this.flush();
      for (const c of this.clients) while (await this.deliver(c, 'down')) moved = true;
      if (moved) continue;
      if (!this.cluster) return;
      // Backplane deliveries are asynchronous: quiet means every replica holds what the store
      // holds; until then wait for the next frame a relay forwards.
      if (await this.replicasMatchStore()) return;
      await waitFor(() => this.clients.some((c) => (c.link?.toClient.length ?? 0) > 0), {
        message: 'a backplane delivery to some client (replicas differ from the store)',
      });
    }
    throw new Error('network did not quiesce');
  }

  private async replicasMatchStore(): Promise<boolean> {
    for (const room of new Set(this.clients.map((c) => c.room))) {
      const stored = new Y.Doc();
      Y.applyUpdate(stored, await this.storedUpdate(room));
      const want = contentOf(stored);
      const sv = Y.encodeStateVector(stored).toString();
      for (const c of this.clients) {
        if (c.room !== room) continue;
        if (contentOf(c.doc) !== want || Y.encodeStateVector(c.doc).toString() !== sv) return false;
      }
    }
    return true;
  }
}

/**
 * A replica's content as canonical JSON. Map keys are sorted: a Y.Map's `toJSON` lists keys in
 * the order this replica first integrated them, which differs between converged replicas (a key
 * whose first entry was garbage-collected is first seen with its overwrite, from another client).
 */
export const contentOf = (doc: Y.Doc): string =>
  JSON.stringify(
    { text: doc.getText('text').toJSON(), messages: doc.getArray('messages').toJSON() },
    (_key, value: unknown) =>
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : value,
  );
