/**
 * One headless client of an experiment: a real RoomSession (stock provider over `ws`, the
 * FaultInjector transport, a MemoryRoomUpdateStore kept across crashes), and what the runner
 * records about it (EXP-3): the first time each message shows in its display (`deliver`) and the
 * relay's durable ack of its own messages (`ack`).
 */
import WebSocket from 'ws';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import * as Y from 'yjs';
import { ChatError } from '../../shared/chat/chatRoom.js';
import { newId } from '../../shared/ids.js';
import { chatContentHash } from '../../shared/lab/contentHash.js';
import { NO_FAULTS, validateFaultConfig, type FaultConfig } from '../../shared/lab/faults.js';
import { encodeSyncUpdate } from '../../shared/protocol.js';
import { Prng } from '../../shared/testing/prng.js';
import { Transport } from '../../client/net/transport.js';
import { MemoryRoomUpdateStore } from '../../client/storage/memoryRoomUpdateStore.js';
import { pendingWrites, RoomSession, type MessageView } from '../../client/sync/roomSession.js';
import type { FaultStats } from '../../client/net/faultInjector.js';
import type { Identity } from '../../client/identity.js';
import {
  finalMessage,
  stateVectorRecord,
  type ClientSample,
  type FinalReplica,
  type HistoryRecorder,
} from '../history.js';
import { subSeed } from './schedule.js';

const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));
const WS = WebSocket as unknown as typeof globalThis.WebSocket;

export class LabClient {
  readonly identity: Identity;
  readonly store = new MemoryRoomUpdateStore();
  session: RoomSession | null = null;
  /** The faults the network applies to this client (kept across a crash: they belong to its link). */
  faults: FaultConfig = NO_FAULTS;
  private readonly faultRandom: Prng;
  private readonly jitterRandom: Prng;
  private readonly shown = new Set<string>();
  private readonly acked = new Set<string>();
  private lastMessages: readonly MessageView[] | null = null;
  private hashCache: { messages: readonly MessageView[]; title: string; hash: string } | null = null;
  private unsubscribe: (() => void) | null = null;
  /** Fault counts of sessions that ended (a crash starts a new session, and new counts). */
  private pastStats: FaultStats = { droppedIn: 0, droppedOut: 0, duplicated: 0, reordered: 0 };

  constructor(
    readonly name: string,
    index: number,
    seed: number,
    private readonly room: string,
    private readonly recorder: () => HistoryRecorder | null,
    private readonly antiEntropyMs: number | null,
  ) {
    this.identity = { id: newId(randomBytes), name };
    this.faultRandom = new Prng(subSeed(seed, 1000 + 2 * index));
    this.jitterRandom = new Prng(subSeed(seed, 1001 + 2 * index));
  }

  get running(): boolean {
    return this.session !== null;
  }

  /** Messages this client has shown so far (each counted once, across crashes). */
  get shownCount(): number {
    return this.shown.size;
  }

  get online(): boolean {
    return this.session?.view().connection.status === 'online';
  }

  /** Opens (or re-opens, from its stored state) the session and applies its faults. */
  async start(relayUrl: string): Promise<void> {
    if (this.session) return;
    const s = await RoomSession.open({
      room: this.room,
      relayUrl,
      identity: this.identity,
      store: this.store,
      persistent: true,
      randomBytes,
      crossTab: false,
      transport: new Transport({ WebSocketImpl: WS, random: () => this.jitterRandom.next() }),
      labRandom: () => this.faultRandom.next(),
    });
    this.session = s;
    s.lab.setFaults(this.faults);
    if (this.antiEntropyMs !== null) s.lab.setAntiEntropyMs(this.antiEntropyMs);
    this.lastMessages = null;
    this.unsubscribe = s.subscribe(() => this.track());
    this.track();
  }

  /**
   * EXP-4 crash: the link is cut first (no goodbye reaches the relay or peers), then the session
   * is dropped. The store keeps what was written, as IndexedDB keeps it when a tab is killed.
   */
  crash(): void {
    const s = this.session;
    if (!s) return;
    s.lab.setFaults({ ...this.faults, partitioned: true });
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.session = null;
    this.keepStats(s);
    s.destroy();
  }

  /** What the fault injector did to this client's frames, over all its sessions. */
  faultStats(): FaultStats {
    const now = this.session?.lab.stats();
    const p = this.pastStats;
    return {
      droppedIn: p.droppedIn + (now?.droppedIn ?? 0),
      droppedOut: p.droppedOut + (now?.droppedOut ?? 0),
      duplicated: p.duplicated + (now?.duplicated ?? 0),
      reordered: p.reordered + (now?.reordered ?? 0),
    };
  }

  private keepStats(s: RoomSession): void {
    const n = s.lab.stats();
    const p = this.pastStats;
    this.pastStats = {
      droppedIn: p.droppedIn + n.droppedIn,
      droppedOut: p.droppedOut + n.droppedOut,
      duplicated: p.duplicated + n.duplicated,
      reordered: p.reordered + n.reordered,
    };
  }

  setFaults(c: FaultConfig): void {
    this.faults = c;
    this.session?.lab.setFaults(c);
  }

  mergeFaults(patch: Partial<FaultConfig>): FaultConfig {
    this.setFaults(validateFaultConfig({ ...this.faults, ...patch }));
    return this.faults;
  }

  /** Sends `text`; a reply picks its parent among the displayed messages with `pick` in [0, 1). */
  send(
    text: string,
    reply: boolean,
    pick: number,
  ): { ok: true; view: MessageView; replyTo: string | null } | { ok: false; reason: string; replyTo: string | null } {
    const s = this.session;
    if (!s) return { ok: false, reason: 'crashed', replyTo: null };
    const shown = s.view().messages.filter((m) => !m.deleted);
    const parent = reply && shown.length > 0 ? shown[Math.floor(pick * shown.length)]!.id : null;
    try {
      const v = s.send(text, parent ?? undefined);
      return { ok: true, view: v, replyTo: parent };
    } catch (e) {
      return { ok: false, reason: e instanceof ChatError ? e.code : String(e), replyTo: parent };
    }
  }

  resync(): boolean {
    return this.session?.lab.resyncNow() ?? false;
  }

  /** Re-sends this replica's whole state as one update (the relay must store and forward nothing new). */
  replay(): boolean {
    const i = this.session?.internals;
    const ws = i?.provider.ws;
    if (!i || !ws || ws.readyState !== ws.OPEN) return false;
    ws.send(encodeSyncUpdate(Y.encodeStateAsUpdate(i.doc)));
    return true;
  }

  /** EXP-5: own writes the relay has not acked: messages, reactions and the title (STATE-1, -5, -6). */
  pending(): number {
    const s = this.session;
    return s ? pendingWrites(s.view()) : 0;
  }

  contentHash(): string | null {
    const s = this.session;
    if (!s) return null;
    const v = s.view();
    const c = this.hashCache;
    if (c && c.messages === v.messages && c.title === v.title) return c.hash;
    const hash = chatContentHash(v.messages, v.title);
    this.hashCache = { messages: v.messages, title: v.title, hash };
    return hash;
  }

  svTotal(): number {
    let total = 0;
    for (const k of this.session?.lab.stateVector().values() ?? []) total += k;
    return total;
  }

  sample(): ClientSample {
    const s = this.session;
    return {
      client: this.name,
      online: this.online,
      contentHash: this.contentHash(),
      svTotal: this.svTotal(),
      pending: this.pending(),
      messages: s?.view().messages.length ?? 0,
    };
  }

  finalReplica(): FinalReplica {
    const i = this.session?.internals;
    if (!i) throw new Error(`${this.name} is not running`);
    return {
      client: this.name,
      displayed: i.chat.orderedMessages().map(finalMessage),
      contentHash: chatContentHash(i.chat.orderedMessages(), i.chat.title()),
      stateVector: stateVectorRecord(Y.decodeStateVector(Y.encodeStateVector(i.doc))),
    };
  }

  destroy(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.session?.destroy();
    this.session = null;
  }

  /**
   * Records first appearances and acks. The display's list is a new array only when something in
   * it changed; an ack that lands after the message was already 'seen' changes nothing there, so
   * `force` (before the final read) looks again. Acked = the relay's ack clocks cover the record
   * (STATE-1), read from the ack frames, never inferred from 'seen'.
   */
  track(force = false): void {
    const rec = this.recorder();
    const s = this.session;
    if (!rec || !s) return;
    const list = s.view().messages;
    if (list === this.lastMessages && !force) return;
    this.lastMessages = list;
    const acks = s.lab.relayAcked();
    for (const m of list) {
      if (!this.shown.has(m.id)) {
        this.shown.add(m.id);
        rec.deliver(this.name, m.id);
      }
      if (m.own && m.yId && !this.acked.has(m.id) && (acks.get(m.yId.client) ?? 0) > m.yId.clock) {
        this.acked.add(m.id);
        rec.ack(this.name, m.id);
      }
    }
  }
}
