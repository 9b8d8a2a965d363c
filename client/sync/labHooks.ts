/// <reference lib="dom" />
/**
 * The network lab's hooks on one RoomSession (`session.lab`; LAB-1..LAB-8 in docs/SPEC.md): the
 * faults of this client, its skewable clock, what it holds and what the relay acked, the frames in
 * and out, local arrival order, an event log for ShiViz, and the `lab` awareness field the class
 * view reads. The Lab panel (client/ui/lab) and the experiment runner (lab/run) use only this.
 */
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import type * as awarenessProtocol from 'y-protocols/awareness';
import type { WebsocketProvider } from 'y-websocket';
import type { ChatMessage, ChatRoom } from '../../shared/chat/chatRoom.js';
import { SkewableClock } from '../../shared/lab/clock.js';
import { chatContentHash } from '../../shared/lab/contentHash.js';
import { cutOff, type FaultConfig } from '../../shared/lab/faults.js';
import { replicaLog, type LabEvent, type LoggedMessage } from '../../shared/lab/shiviz.js';
import { MessageType, SyncType } from '../../shared/protocol.js';
import { mapEntryLookup } from './defensiveSync.js';
import type { Uploader } from './uploadPacer.js';
import { CUT_OFF_REFRESH_MS, CutOffPeers, type AwarenessChange, type CutOffPeerWire } from '../lab/cutOffPeers.js';
import { FaultInjector, type FaultStats, type FrameDirection } from '../net/faultInjector.js';
import type { Transport } from '../net/transport.js';

export type FrameKind = 'sync1' | 'sync2' | 'update' | 'awareness' | 'ack' | 'other';

export interface TrafficEntry {
  /** Unskewed ms since the epoch. */
  readonly t: number;
  readonly dir: FrameDirection;
  readonly kind: FrameKind;
  readonly bytes: number;
}

/** LAB-7: published in the awareness field `lab`, at most once a second when it changed. */
export interface LabAwareness {
  readonly faults: FaultConfig;
  /** The state vector in short words, e.g. "3f2a:12 b1c4:7" (largest clocks first, at most 6). */
  readonly svSummary: string;
  /** Sum of the state vector's clocks: grows with every struct this replica holds. */
  readonly svTotal: number;
  readonly hash: string;
  readonly pending: number;
  /** Unskewed ms since the epoch when this was measured. */
  readonly at: number;
  /** LAB-9: who this session saw leave while cut off (absent when nobody). */
  readonly cutOffPeers?: readonly CutOffPeerWire[];
  /** LAB-14: the browser tab's id, kept across its reloads (absent when unknown). */
  readonly tab?: string;
}

export const LAB_AWARENESS_FIELD = 'lab';
export const TRAFFIC_LIMIT = 500;
export const LAB_PUBLISH_INTERVAL_MS = 1000;

/** What the session lends its lab hooks. */
export interface LabHost {
  readonly crossTab: boolean;
  replica(): {
    doc: Y.Doc;
    provider: WebsocketProvider;
    awareness: awarenessProtocol.Awareness;
    chat: ChatRoom;
  } | null;
  acked(): ReadonlyMap<number, number>;
  /** Own writes the relay has not acked: messages, reactions and the title (`pendingWrites`). */
  pendingCount(): number;
  /**
   * LAB-1 heal: connect at once if the session wants to be connected and is not (like the
   * browser's `online`), and join the profile's other tabs again (also when switched off, OFF-1).
   */
  reconnectNow(): void;
  /** The faults were set: what the session shows of its connection may change (LAB-1: a partition is Offline). */
  faultsChanged(): void;
  /** The wall part of the session's HLC (the latest time it issued or merged). */
  hlcWall(): number;
  subscribe(listener: () => void): () => void;
  readonly selfName: string;
  readonly selfId: string;
  /** UP-1, UP-2: sends an update to the relay in pieces it accepts, no faster than it accepts them. */
  readonly uploader: Uploader;
  /**
   * LAB-14: the browser tab's id, kept across its reloads; null when there is none. Nothing is
   * published before it resolves: a first state with another id (or none) could replace the wrong
   * tab in a class view, which decides that when it first sees a participant.
   */
  readonly tab: Promise<string> | null;
  /**
   * PRES-9: a presence change of the session (SEEN-1's `sv`) is about to be published and will carry
   * `lab` too (`takeChangedField`): the periodic publish leaves it to that one frame.
   */
  presencePending(): boolean;
}

/** The kind of a frame from its outer (and sync's inner) message type. */
export const frameKind = (bytes: Uint8Array): FrameKind => {
  try {
    const d = decoding.createDecoder(bytes);
    const outer = decoding.readVarUint(d);
    if (outer === MessageType.Awareness) return 'awareness';
    if (outer === MessageType.Ack) return 'ack';
    if (outer !== MessageType.Sync) return 'other';
    const inner = decoding.readVarUint(d);
    return inner === SyncType.Step1
      ? 'sync1'
      : inner === SyncType.Step2
        ? 'sync2'
        : inner === SyncType.Update
          ? 'update'
          : 'other';
  } catch {
    return 'other';
  }
};

/** "3f2a:12 b1c4:7 …": the largest clocks first, client ids in hex (last 4 digits). */
/** A Yjs client id as summaries publish it: its last 4 hex digits (LAB-UI-7 reads them back). */
export const shortClientId = (id: number): string => (id >>> 0).toString(16).slice(-4).padStart(4, '0');

export const summariseStateVector = (sv: ReadonlyMap<number, number>, max = 6): string => {
  const entries = [...sv].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const words = entries.slice(0, max).map(([c, k]) => `${shortClientId(c)}:${k}`);
  if (entries.length > max) words.push(`+${entries.length - max}`);
  return words.join(' ');
};

/**
 * A ShiViz host: the name and the end of the user id, the part the class view names users by when
 * names read alike (LAB-UI-14) and a "Guest" name is made of, so one person reads the same in each.
 */
const hostOf = (name: string, id: string): string => `${name.replace(/\s+/g, '_') || '_'}#${id.slice(-4)}`;

export class LabHooks {
  readonly faults: FaultInjector;
  readonly clock: SkewableClock;
  /** LAB-5: message id → local arrival index (0, 1, 2, … in the order messages first appeared here). */
  readonly arrival = new Map<string, number>();
  private readonly arrivalAt = new Map<string, number>();
  private readonly ring: TrafficEntry[] = [];
  private antiEntropy: { ms: number; timer: ReturnType<typeof setInterval> } | null = null;
  /**
   * LAB-2: the socket an outgoing frame carrying document content (an update, or the answer to the
   * relay's SyncStep1) was dropped on since the last repair (LAB-8's resync); null when none. A new
   * socket repairs too (the relay's SyncStep1 at its join asks for what it lacks), so only that one
   * socket is remembered.
   */
  private unrepairedOn: WebSocket | null = null;
  private readonly listeners = new Set<() => void>();
  private notifyScheduled = false;
  private lastPublished = '';
  private lastPublishedTo: awarenessProtocol.Awareness | null = null;
  private lastPublishedAt = 0;
  /** LAB-9: the replica's awareness being followed, and what it saw leave cut off. */
  private watched: { awareness: awarenessProtocol.Awareness; peers: CutOffPeers; stop: () => void } | null = null;
  private readonly publishTimer: ReturnType<typeof setInterval>;
  private readonly unsubscribe: () => void;
  private disposed = false;
  /** LAB-14: the tab's id to publish; undefined until known. */
  private tab: string | null | undefined;
  /** LAB-13: this device's clock was set back (the skew lowered) while its HLC held a time. */
  private setBack = false;
  /**
   * The last content hash and what it was computed from. `ChatRoom.orderedMessages()` returns
   * the same array until the document changes, so while the array and the title are the same the
   * hash is too: the once-a-second publish (LAB-7) no longer walks every message of a big room.
   */
  private hashed: { readonly messages: readonly unknown[]; readonly title: string; readonly hash: string } | null =
    null;

  constructor(
    private readonly host: LabHost,
    transport: Transport,
    clock: SkewableClock,
    random?: () => number,
  ) {
    this.clock = clock;
    this.faults = new FaultInjector(transport, {
      ...(random ? { random } : {}),
      onFrame: (dir, bytes) => this.record(dir, bytes),
      onDrop: (dir, bytes) => {
        const kind = frameKind(bytes);
        // An outgoing frame is dropped as the provider sends it on its socket: that is `provider.ws`.
        if (dir === 'out' && (kind === 'update' || kind === 'sync2'))
          this.unrepairedOn = this.host.replica()?.provider.ws ?? null;
      },
    });
    this.unsubscribe = host.subscribe(() => {
      this.watch();
      this.changed();
    });
    this.publishTimer = setInterval(() => this.publish(), LAB_PUBLISH_INTERVAL_MS);
    if (host.tab === null) this.tab = null;
    else
      void host.tab.then((tab) => {
        this.tab = tab;
        this.publish();
      });
  }

  get config(): FaultConfig {
    return this.faults.config;
  }

  get partitioned(): boolean {
    return this.faults.config.partitioned;
  }

  /**
   * LAB-1..LAB-3: applies a whole fault config. A partition also leaves cross-tab sync
   * (BroadcastChannel) until healed; healing reconnects at once (the network came back).
   */
  setFaults(config: FaultConfig): void {
    const was = this.faults.config;
    // Tell the room before the link goes down, so the class view shows "partitioned" rather
    // than a participant that merely went offline (the frame leaves before the socket closes).
    // Likewise before every frame is dropped (LAB-UI-1: out of reach). Past the faults in effect:
    // a drop would lose it, latency or a reorder hold would keep it until the socket closed.
    if (cutOff(config) && !cutOff(was)) this.faults.unfaulted(() => this.publish(config));
    this.faults.set(config);
    // LAB-13: an HLC that holds no time yet (the session's faults set as it opens) keeps nothing.
    if (config.skewMs < this.clock.skewMs && this.host.hlcWall() > 0) this.setBack = true;
    this.clock.skewMs = config.skewMs;
    const r = this.host.replica();
    if (r && config.partitioned && !was.partitioned) {
      r.provider.disconnectBc();
      r.provider.disableBc = true;
    } else if (r && !config.partitioned && was.partitioned) {
      r.provider.disableBc = !this.host.crossTab;
      this.host.reconnectNow();
    }
    this.host.faultsChanged();
    this.publish(config);
    this.changed();
  }

  /**
   * LAB-8 "resync now": SyncStep1 again (the relay answers with what this replica lacks, so
   * dropped incoming updates are repaired) and an Update with everything the relay has not
   * acked (dropped outgoing updates; the relay keeps only what it lacks, DEDUPE-1/2). Both go
   * through the faults like any frame. False when not connected.
   */
  resyncNow(): boolean {
    const r = this.host.replica();
    const ws = r?.provider.ws;
    if (!r || !ws || !r.provider.wsconnected || ws.readyState !== ws.OPEN) return false;
    // LAB-2: repaired from here on; a frame of this resync the faults drop marks the socket again.
    this.unrepairedOn = null;
    this.host.uploader.syncStep1(ws, Y.encodeStateVector(r.doc));
    const missing = Y.encodeStateAsUpdate(r.doc, Y.encodeStateVector(new Map(this.host.acked())));
    // An empty update is two zero bytes (no structs, no deletions).
    // UP-1, UP-2; UP-4: it replaces what is still queued of the last resync (which it holds).
    if (missing.byteLength > 2) this.host.uploader.resync(ws, missing, mapEntryLookup(r.doc));
    return true;
  }

  /**
   * LAB-2: whether repairing what this session's socket `ws` failed to upload is left to the lab
   * (LAB-8's resync, anti-entropy, a reconnect): while a drop fault is set, and on a socket an
   * outgoing update was dropped on until a resync. STATE-2 then uploads nothing by itself after a
   * quiet spell: a dropped frame is not sent again by itself, which is what the lab shows. Outside
   * the lab nothing is ever dropped, so this is false.
   */
  ownsRepair(ws: WebSocket): boolean {
    return this.faults.config.dropPct > 0 || this.unrepairedOn === ws;
  }

  /**
   * LAB-13: how far the session's HLC is ahead of its clock (0 when not), and whether the clock
   * was set back since the HLC held a time. A skew lowered (a skew ahead cleared, or a clock put
   * behind) leaves the HLC at the latest time it gave a message or took from one before: it never
   * goes back (HLC-2), so this device's next messages take that time until real time catches up.
   * Without a set-back, a lead comes only from another's message, at most 60 s ahead (HLC-3).
   */
  hlcAhead(): { ms: number; setBack: boolean } {
    return { ms: Math.max(0, this.host.hlcWall() - Math.floor(this.clock.now())), setBack: this.setBack };
  }

  /** LAB-8: `resyncNow()` every `ms` (null: off). */
  setAntiEntropyMs(ms: number | null): void {
    if (this.antiEntropy) clearInterval(this.antiEntropy.timer);
    this.antiEntropy = null;
    if (ms !== null && ms > 0) this.antiEntropy = { ms, timer: setInterval(() => this.resyncNow(), ms) };
    this.changed();
  }

  get antiEntropyMs(): number | null {
    return this.antiEntropy?.ms ?? null;
  }

  stateVector(): Map<number, number> {
    const r = this.host.replica();
    return r ? Y.decodeStateVector(Y.encodeStateVector(r.doc)) : new Map<number, number>();
  }

  /** The relay's durable clocks as its ack frames told this client (ACK-3). */
  relayAcked(): Map<number, number> {
    return new Map(this.host.acked());
  }

  get pendingCount(): number {
    return this.host.pendingCount();
  }

  stats(): FaultStats {
    return this.faults.stats();
  }

  /** The last TRAFFIC_LIMIT frames in and out (after the faults), oldest first. */
  get traffic(): readonly TrafficEntry[] {
    return this.ring;
  }

  contentHash(): string {
    const r = this.host.replica();
    if (!r) return '';
    const messages = r.chat.orderedMessages();
    const title = r.chat.title();
    if (this.hashed?.messages !== messages || this.hashed.title !== title) {
      this.hashed = { messages, title, hash: chatContentHash(messages, title) };
    }
    return this.hashed.hash;
  }

  /**
   * LAB-6, LAB-12: this client's log in arrival order — own sends, and each remote message as a
   * send on its author's host then a receive here. A remote send is stamped with what the message
   * proves its author held (`replicaLog`): its parent, its CHAT-8 `after`, and the author's
   * previous message from the same Yjs client (a client's structs are numbered in the order it
   * made them). A message's Yjs item says nothing more: a new key of a Y.Map has no origin.
   */
  events(): LabEvent[] {
    const r = this.host.replica();
    if (!r) return [];
    const messages = r.chat.orderedMessages();
    // The previous message from each message's Yjs client. A deleted message's record was
    // rewritten (CHAT-5), so its Yjs id no longer dates the send: it is left out of the chain.
    const previous = new Map<string, string>();
    const byClient = new Map<number, ChatMessage[]>();
    for (const m of messages) {
      if (!m.yId || m.deleted) continue;
      let list = byClient.get(m.yId.client);
      if (!list) byClient.set(m.yId.client, (list = []));
      list.push(m);
    }
    for (const list of byClient.values()) {
      list.sort((a, b) => a.yId!.clock - b.yId!.clock);
      for (let i = 1; i < list.length; i++) previous.set(list[i]!.id, list[i - 1]!.id);
    }
    const byId = new Map(messages.map((m) => [m.id, m]));
    const logged: LoggedMessage[] = [];
    for (const [id] of [...this.arrival].sort((a, b) => a[1] - b[1])) {
      const m = byId.get(id);
      if (!m) continue;
      logged.push({
        id,
        host: hostOf(m.authorName, m.authorId),
        text: m.deleted ? '(deleted)' : m.text.slice(0, 80),
        sentAt: m.wall,
        arrivedAt: this.arrivalAt.get(id) ?? m.wall,
        saw: [m.replyTo, m.after, previous.get(id)].filter((x): x is string => x != null),
      });
    }
    return replicaLog(hostOf(this.host.selfName, this.host.selfId), logged);
  }

  /** Called on lab-relevant changes (faults, traffic, the room's view); coalesced per microtask. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The awareness field as it would be published now. */
  awarenessState(faults: FaultConfig = this.faults.config): LabAwareness {
    const sv = this.stateVector();
    let total = 0;
    for (const k of sv.values()) total += k;
    const at = this.clock.base();
    const cutOffPeers = this.watch()?.list(at) ?? [];
    return {
      faults,
      svSummary: summariseStateVector(sv),
      svTotal: total,
      hash: this.contentHash(),
      pending: this.pendingCount,
      at,
      ...(typeof this.tab === 'string' ? { tab: this.tab } : {}),
      ...(cutOffPeers.length > 0 ? { cutOffPeers } : {}),
    };
  }

  /** @internal The session reports each message id the first time it appears here. */
  noteArrival(id: string): void {
    if (this.arrival.has(id)) return;
    this.arrival.set(id, this.arrival.size);
    this.arrivalAt.set(id, this.clock.now());
  }

  /** @internal */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.publishTimer);
    if (this.antiEntropy) clearInterval(this.antiEntropy.timer);
    this.antiEntropy = null;
    this.faults.dispose();
    this.watched?.stop();
    this.watched = null;
    this.unsubscribe();
    this.listeners.clear();
  }

  /**
   * LAB-7: the `lab` field to publish now when it changed (or the replica is new), counted as
   * published; null when there is nothing new. PRES-9: the session's own presence change takes it
   * this way, so that one frame carries both.
   */
  takeChangedField(faults: FaultConfig = this.faults.config): LabAwareness | null {
    const r = this.host.replica();
    if (!r || this.disposed || this.tab === undefined) return null;
    const state = this.awarenessState(faults);
    const key = JSON.stringify({ ...state, at: 0 });
    // LAB-9: a report's age is read from `at`, and a view may first get it long after it was published.
    const refresh = state.cutOffPeers !== undefined && state.at - this.lastPublishedAt >= CUT_OFF_REFRESH_MS;
    // A state removed and put back (PRES-4's leave, then rejoin) or never there (a kept or background
    // session: setLocalStateField changes nothing without a state) lacks it, however unchanged it is.
    const held = r.awareness.getLocalState()?.[LAB_AWARENESS_FIELD] !== undefined;
    if (key === this.lastPublished && this.lastPublishedTo === r.awareness && !refresh && held) return null;
    this.lastPublished = key;
    this.lastPublishedTo = r.awareness;
    this.lastPublishedAt = state.at;
    return state;
  }

  /**
   * LAB-7: publishes the `lab` field when it changed. Without `faults` (the periodic check) it
   * waits while a presence change that will carry it is due (PRES-9); given the faults just set,
   * at once.
   */
  private publish(faults?: FaultConfig): void {
    if (faults === undefined && this.host.presencePending()) return;
    const state = this.takeChangedField(faults);
    if (state) this.host.replica()?.awareness.setLocalStateField(LAB_AWARENESS_FIELD, state);
  }

  /** LAB-9: follows the replica's awareness (a rebuilt replica has a new one), and returns what it saw leave cut off. */
  private watch(): CutOffPeers | null {
    const r = this.host.replica();
    if (!r || this.disposed) return null;
    if (this.watched?.awareness === r.awareness) return this.watched.peers;
    this.watched?.stop();
    const { awareness } = r;
    const peers = new CutOffPeers(awareness.clientID);
    peers.seed(awareness.getStates());
    const onChange = (c: AwarenessChange): void => peers.change(c, awareness.getStates(), this.clock.base());
    awareness.on('change', onChange);
    this.watched = { awareness, peers, stop: () => awareness.off('change', onChange) };
    return peers;
  }

  private record(dir: FrameDirection, bytes: Uint8Array): void {
    this.ring.push({ t: this.clock.base(), dir, kind: frameKind(bytes), bytes: bytes.byteLength });
    if (this.ring.length > TRAFFIC_LIMIT) this.ring.splice(0, this.ring.length - TRAFFIC_LIMIT);
    this.changed();
  }

  private changed(): void {
    if (this.notifyScheduled || this.disposed) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      for (const l of [...this.listeners]) {
        try {
          l();
        } catch (e) {
          console.error(e);
        }
      }
    });
  }
}
