/**
 * The relay's room logic, pure: no sockets, no disk, no timers, no Y.Doc. The host
 * (relay/relay.ts) feeds it frames and commit notifications and carries out the effects it
 * returns; the simulated-network fuzz drives the very same code.
 *
 * What a room holds: the room's stored updates as opaque V1 bytes in `chunks` (compacted
 * segments, then log entries, in sequence order) plus three summaries derived from them:
 * `structs` (every struct clock range accepted), `deletes` (every deletion accepted) and
 * `durable` (struct ranges whose updates are committed to the store).
 *
 * Rules (docs/SPEC.md): SYNC-1..SYNC-5 (handshake and catch-up), FWD-1..FWD-3 (forwarding),
 * DEDUPE-1, DEDUPE-2, DEDUPE-3, ACK-1..ACK-5, AWR-1..AWR-8, VAL-* (via shared/updateV1.ts).
 */
import * as Y from 'yjs';
import {
  CloseReason,
  FrameError,
  decodeClientFrame,
  decodeStateVector,
  encodeAck,
  encodeAwareness,
  encodeStateVector,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  FRAME_HEADROOM,
  maxStructBytes,
  type CloseReasonInfo,
} from '../shared/protocol.js';
import { ClockRanges } from '../shared/clockRanges.js';
import {
  EMPTY_UPDATE,
  UpdateError,
  concatUpdatesV1,
  deleteSetOnly,
  diffUpdateV1,
  isEmptyParsed,
  parseUpdateV1,
  splitUpdateV1,
  withoutHeldV1,
  type ParseOptions,
  type ParsedUpdate,
} from '../shared/updateV1.js';
import {
  AwarenessError,
  encodeAwarenessUpdate,
  parseAwarenessUpdate,
  type AwarenessEntry,
} from '../shared/awarenessUpdate.js';
import { utf8Length } from '../shared/utf8Length.js';
import type { StoredRoom } from './roomStore.js';

export type ConnId = number;

export type RoomEffect =
  | {
      readonly type: 'send';
      readonly conn: ConnId;
      readonly frame: Uint8Array;
      /** Part of a catch-up reply ('start' = its first frame): exempt from the slow-consumer check. */
      readonly catchUp?: 'start' | 'more';
    }
  | { readonly type: 'close'; readonly conn: ConnId; readonly reason: CloseReasonInfo; readonly detail: string }
  | { readonly type: 'persist'; readonly seq: number; readonly update: Uint8Array }
  /**
   * Awareness entries this relay's connections announced (or whose removal AWR-4 decided): in
   * scale-out mode the host publishes them to the other relays (REDIS-6); the embedded host ignores it.
   */
  | { readonly type: 'awareness'; readonly entries: readonly AwarenessEntry[] }
  /**
   * RATE-1: `conn` sent an update naming this many Yjs clients (the larger of its struct
   * sections and its delete set): the host charges it to the sender's byte allowance.
   */
  | { readonly type: 'clients'; readonly conn: ConnId; readonly count: number };

export interface RoomCoreLimits {
  /** Largest frame sent (SYNC-4). */
  readonly maxSendFrameBytes: number;
  /** Deepest JSON/Any nesting in updates and awareness states. */
  readonly maxNestingDepth: number;
  readonly maxAwarenessStateBytes: number;
  readonly maxAwarenessEntriesPerFrame: number;
  readonly maxAwarenessClientsPerConnection: number;
  /** VAL-11: most Yjs clients among an update's struct sections, and among its delete set. */
  readonly maxClientsPerUpdate: number;
  /** AWR-7: total UTF-8 bytes of the live states one connection owns. */
  readonly maxAwarenessBytesPerConnection: number;
  /** DEDUPE-3: most struct ranges held past a gap that one local update may reach. */
  readonly maxHeldRangesPerUpdate: number;
}

/** Invariant: `chunks` is the segments (a prefix) then the log entries, all in sequence order. */
interface Chunk {
  readonly kind: 'segment' | 'log';
  readonly seqLo: number;
  readonly seqHi: number;
  readonly parsed: ParsedUpdate;
}

interface Pending {
  readonly seq: number;
  readonly parsed: ParsedUpdate;
  /** Connections waiting for this entry to be durable to ack it (ACK-1, DEDUPE-1). */
  readonly waiters: Map<ConnId, Set<number>>;
}

interface AwarenessState {
  readonly clock: number;
  /** JSON text; 'null' when the client left. */
  readonly state: string;
  /** UTF-8 length of `state` (AWR-7 sums these per connection). */
  readonly bytes: number;
}

/** Tombstones of departed awareness clients kept to refuse stale re-announcements (AWR-3). */
const MAX_AWARENESS_TOMBSTONES = 1024;

/**
 * AWR-5: entries with a higher awareness clock are ignored. Clocks grow by one (a client's
 * renewal, the relay's removal at clock + 1 by AWR-4), and nobody reads one above 2^53 − 1 back
 * (AWR-1, lib0): a state at 2^53 − 1 whose removal went out at 2^53 was echoed by every stock
 * client of the room, and each was closed for it with the fatal invalid-awareness. Ignored, not
 * refused: the echo of a removal at this clock + 1 comes from honest clients.
 */
export const MAX_AWARENESS_CLOCK = Number.MAX_SAFE_INTEGER - 2 ** 32;

/**
 * REFUSE-4: the close reason of a refused update. Over one of the relay's limits (VAL-10, VAL-11)
 * the update is well formed, and the client is told which limit: "malformed" would be untrue and
 * would hide what the user or the operator can do about it.
 */
const updateRefusal = (e: UpdateError): CloseReasonInfo =>
  e.limit === 'VAL-10'
    ? CloseReason.StructTooLarge
    : e.limit === 'VAL-11'
      ? CloseReason.TooManyClients
      : CloseReason.InvalidUpdate;

/** A piece of a catch-up answer, with its parse when the relay holds one (a whole chunk). */
interface Piece {
  readonly bytes: Uint8Array;
  readonly parsed: ParsedUpdate | null;
}

export class RoomCore {
  private readonly chunks: Chunk[] = [];
  /** Log chunks in `chunks` and their bytes: lets `compactionPlan` return early without a scan. */
  private logCount = 0;
  private logBytes = 0;
  private readonly structs = new ClockRanges();
  private readonly deletes = new ClockRanges();
  private readonly durable = new ClockRanges();
  /** Struct ranges that are map entries (VAL-9 across updates). */
  private readonly mapEntries = new ClockRanges();
  private readonly isMapEntry = (client: number, clock: number): boolean => this.mapEntries.covers(client, clock, 1);
  /** Bytes the relay stored or built itself: parsed again only for summaries (see updateV1 skipMapEntryRule). */
  private readonly trustedParse = { maxDepth: Infinity, skipMapEntryRule: true, isMapEntry: this.isMapEntry };
  private readonly pending: Pending[] = [];
  private nextSeq = 1;
  /** `acked`: the highest clock acked to this connection per client (ACK-5). */
  private readonly conns = new Map<ConnId, { readonly owned: Set<number>; readonly acked: Map<number, number> }>();
  /** WATCH-1: awareness-only connections (also in `conns`). */
  private readonly watchers = new Set<ConnId>();
  private readonly awareness = new Map<number, AwarenessState>();
  private readonly ownerOf = new Map<number, ConnId>();

  constructor(
    readonly name: string,
    stored: StoredRoom,
    private readonly limits: RoomCoreLimits,
  ) {
    const all = [
      ...stored.segments.map((s) => ({ kind: 'segment' as const, seqLo: s.seqLo, seqHi: s.seqHi, update: s.update })),
      ...stored.log.map((l) => ({ kind: 'log' as const, seqLo: l.seq, seqHi: l.seq, update: l.update })),
    ].sort((a, b) => a.seqLo - b.seqLo);
    for (const { kind, seqLo, seqHi, update } of all) {
      // Stored bytes were validated on the way in; parsing again only rebuilds the summaries.
      const parsed = parseUpdateV1(update, this.trustedParse);
      this.mapEntries.addRuns(parsed.mapEntries ?? []);
      this.chunks.push({ kind, seqLo, seqHi, parsed });
      if (kind === 'log') this.countLog(parsed, 1);
      this.summarise(parsed, true);
      this.nextSeq = Math.max(this.nextSeq, seqHi + 1);
    }
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** True while some accepted update is not yet durable. */
  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Total bytes of stored updates held in memory. */
  get byteSize(): number {
    let n = 0;
    for (const c of this.chunks) n += c.parsed.bytes.length;
    return n;
  }

  /** The conservative state vector (SYNC-3): clocks up to the first gap of every client. */
  stateVector(): Map<number, number> {
    return this.structs.stateVector();
  }

  /** Clocks durably stored, up to the first gap (what ACK frames report). */
  durableClock(client: number): number {
    return this.durable.contiguous(client);
  }

  /**
   * SYNC-1: on join the relay sends its SyncStep1 (so the client uploads what the relay lacks,
   * e.g. offline edits) and the awareness states it knows (AWR-2). WATCH-1: an awareness-only
   * connection gets the awareness states and nothing of the document, now or later.
   */
  join(conn: ConnId, mode: { readonly awarenessOnly?: boolean } = {}): RoomEffect[] {
    this.conns.set(conn, { owned: new Set(), acked: new Map() });
    const out: RoomEffect[] = [];
    if (mode.awarenessOnly) this.watchers.add(conn);
    else out.push({ type: 'send', conn, frame: encodeSyncStep1(encodeStateVector(this.structs.stateVector())) });
    for (const frame of this.awarenessFrames(this.liveAwareness())) out.push({ type: 'send', conn, frame });
    return out;
  }

  /** Handles one binary frame from `conn`. Any invalid input closes that connection only. */
  receive(conn: ConnId, frame: Uint8Array): RoomEffect[] {
    if (!this.conns.has(conn)) return [];
    try {
      const msg = decodeClientFrame(frame);
      if (this.watchers.has(conn) && msg.type !== 'awareness' && msg.type !== 'query-awareness') {
        // WATCH-1: an empty SyncStep2 lets the stock client call itself synced; no updates.
        if (msg.type === 'sync-step1') return [{ type: 'send', conn, frame: encodeSyncStep2(EMPTY_UPDATE) }];
        return this.fail(conn, CloseReason.InvalidUpdate, 'WATCH-1: an awareness-only connection sent an update');
      }
      switch (msg.type) {
        case 'sync-step1':
          return this.answerStep1(conn, msg.stateVector);
        case 'sync-step2':
          return this.acceptUpdate(conn, msg.update, null);
        case 'sync-update':
          return this.acceptUpdate(conn, msg.update, frame);
        case 'awareness':
          return this.acceptAwareness(conn, msg.update);
        case 'query-awareness': {
          const frames = this.awarenessFrames(this.liveAwareness());
          if (frames.length === 0) frames.push(encodeAwareness(encodeAwarenessUpdate([])));
          return frames.map((frame) => ({ type: 'send' as const, conn, frame }));
        }
      }
    } catch (e) {
      if (e instanceof FrameError) return this.fail(conn, e.closeReason, e.message);
      if (e instanceof UpdateError) return this.fail(conn, updateRefusal(e), e.message);
      if (e instanceof AwarenessError) return this.fail(conn, CloseReason.InvalidAwareness, e.message);
      throw e;
    }
  }

  /** The connection is gone: AWR-4, broadcast the removal of every state it announced. */
  leave(conn: ConnId): RoomEffect[] {
    const c = this.conns.get(conn);
    if (!c) return [];
    this.conns.delete(conn);
    this.watchers.delete(conn);
    for (const p of this.pending) p.waiters.delete(conn);
    const removed: AwarenessEntry[] = [];
    for (const id of c.owned) {
      this.ownerOf.delete(id);
      const cur = this.awareness.get(id);
      if (cur && cur.state !== 'null') {
        const entry = { clientID: id, clock: cur.clock + 1, state: 'null' };
        this.setAwareness(entry);
        removed.push(entry);
      }
    }
    return this.withAwarenessEffect(
      removed,
      this.awarenessFrames(removed).flatMap((f) => this.broadcast(f)),
    );
  }

  /**
   * Every entry with seq ≤ `seq` is now durable (the host's store transaction committed).
   * ACK-1: each connection that contributed (or re-sent, DEDUPE-1) one of them gets one ack
   * with the durable clocks of the clients in what it sent.
   */
  committed(seq: number): RoomEffect[] {
    const acks = new Map<ConnId, Set<number>>();
    while (this.pending.length > 0 && this.pending[0]!.seq <= seq) {
      const p = this.pending.shift()!;
      this.durable.addRuns(p.parsed.runs);
      for (const [conn, clients] of p.waiters) {
        const set = acks.get(conn) ?? new Set<number>();
        for (const c of clients) set.add(c);
        acks.set(conn, set);
      }
    }
    const out: RoomEffect[] = [];
    for (const [conn, clients] of acks) {
      if (!this.conns.has(conn)) continue;
      const frame = this.ackFrame(clients, conn, false);
      if (frame) out.push({ type: 'send', conn, frame });
    }
    return out;
  }

  /**
   * The oldest committed log entries to fold into a segment, or null when the log is short.
   * Takes consecutive durable log chunks (and the segment before them if it is still small),
   * up to about `targetBytes` of input. Invariant (STORE-11): while the log holds at least
   * `minLogEntries` durable entries or `targetBytes / 2` durable bytes, there is a plan.
   */
  compactionPlan(opts: { minLogEntries: number; targetBytes: number }): {
    seqLo: number;
    seqHi: number;
    /** The chunks' parses, in seq order (relay/mergeInChunks.ts `mergeParsed` merges them). */
    parts: ParsedUpdate[];
  } | null {
    if (this.logCount < opts.minLogEntries && this.logBytes < opts.targetBytes / 2) return null;
    const durableSeq = this.pending.length > 0 ? this.pending[0]!.seq - 1 : this.nextSeq - 1;
    const firstLog = this.chunks.length - this.logCount;
    let end = firstLog;
    let bytes = 0;
    // STORE-11: the walk stopped at a durable entry too big to join: the run before it can never
    // grow, so it is folded now however small (else a big entry behind a few small ones stopped
    // the room's compaction for good, and its log grew without bound).
    let blocked = false;
    while (end < this.chunks.length) {
      const c = this.chunks[end]!;
      if (c.seqHi > durableSeq) break;
      // The first entry always fits: an oversized one becomes a segment of its own.
      if (end > firstLog && bytes + c.parsed.bytes.length > opts.targetBytes) {
        blocked = true;
        break;
      }
      bytes += c.parsed.bytes.length;
      end++;
    }
    if (end === firstLog) return null;
    if (!blocked && end - firstLog < opts.minLogEntries && bytes < opts.targetBytes / 2) return null;
    if (!blocked && end - firstLog < 2 && bytes <= opts.targetBytes) return null;
    let start = firstLog;
    const prev = this.chunks[firstLog - 1];
    // Fold into the previous segment only while it is small: re-merging a big segment for every
    // batch of new entries made compaction cost grow with the room and stall the event loop.
    if (
      prev &&
      prev.parsed.bytes.length < opts.targetBytes / 8 &&
      prev.parsed.bytes.length + bytes <= opts.targetBytes
    ) {
      start = firstLog - 1;
    }
    const slice = this.chunks.slice(start, end);
    return { seqLo: slice[0]!.seqLo, seqHi: slice[slice.length - 1]!.seqHi, parts: slice.map((c) => c.parsed) };
  }

  /**
   * Replaces the chunks inside [seqLo, seqHi] by one segment holding the same content: `merged`
   * is the parse of the merge of `compactionPlan`'s parts (relay/mergeInChunks.ts `mergeParsed`),
   * made by the host.
   */
  applyCompaction(seqLo: number, seqHi: number, merged: ParsedUpdate): void {
    const from = this.chunks.findIndex((c) => c.seqLo >= seqLo);
    let to = from;
    while (to < this.chunks.length && this.chunks[to]!.seqHi <= seqHi) to++;
    if (from < 0 || to === from) return;
    for (let i = from; i < to; i++) if (this.chunks[i]!.kind === 'log') this.countLog(this.chunks[i]!.parsed, -1);
    this.chunks.splice(from, to - from, { kind: 'segment', seqLo, seqHi, parsed: merged });
  }

  // --- sync ---------------------------------------------------------------------------------

  /**
   * SYNC-2: answer a SyncStep1 with everything the client lacks, computed per chunk without a
   * Y.Doc: a chunk the client fully covers contributes only its deletions (deletions cannot be
   * inferred from a state vector, so they always go); a chunk it lacks entirely goes whole;
   * otherwise its structs past the client's clocks (SYNC-6: cut by `diffUpdateV1`, else
   * `Y.diffUpdate`). SYNC-4: frames stay under `maxSendFrameBytes`: a large catch-up
   * goes as several Update frames followed by a final SyncStep2 (the stock client only marks
   * itself synced on SyncStep2). ACK-2: first an ack of what the relay durably holds of the
   * clients the client knows and of those the answer carries, so a reconnecting client learns
   * which of its edits were saved, and a new device of the same user sees the user's messages it
   * downloads as saved, not pending until a re-check (STATE-2); first, so a client that leaves at
   * the SyncStep2 (the lobby's catch-up, CATCH-8) has it by then.
   */
  private answerStep1(conn: ConnId, svBytes: Uint8Array): RoomEffect[] {
    const sv = decodeStateVector(svBytes);
    const acked = new Set(sv.keys());
    const pieces: Piece[] = [];
    for (const chunk of this.chunks) {
      let all = true;
      let none = true;
      for (const run of chunk.parsed.runs) {
        const have = sv.get(run.client) ?? 0;
        if (have < run.clock + run.length) {
          all = false;
          acked.add(run.client);
        }
        if (have > run.clock) none = false;
      }
      if (all) {
        const ds = deleteSetOnly(chunk.parsed);
        if (ds) pieces.push({ bytes: ds, parsed: null });
      } else if (none) pieces.push({ bytes: chunk.parsed.bytes, parsed: chunk.parsed });
      else
        pieces.push({
          bytes: diffUpdateV1(chunk.parsed, sv) ?? Y.diffUpdate(chunk.parsed.bytes, svBytes),
          parsed: null,
        });
    }
    const frames = this.packFrames(pieces);
    const ack = this.ackFrame(acked, conn, true);
    const out: RoomEffect[] = ack ? [{ type: 'send', conn, frame: ack }] : [];
    frames.forEach((f, i) =>
      out.push({
        type: 'send',
        conn,
        frame: i === frames.length - 1 ? encodeSyncStep2(f) : encodeSyncUpdate(f),
        catchUp: i === 0 ? 'start' : 'more',
      }),
    );
    return out;
  }

  /**
   * Turns catch-up pieces into frame bodies of at most maxSendFrameBytes. Pieces of 16 KiB or
   * more (segments) go as they are (split when over the limit): merging them would only cost
   * time. Smaller pieces — log entries, deletions-only parts — are merged in groups of up to
   * 16 KiB so a long tail does not become hundreds of frames: concatenated (CONCAT-1), or with
   * `Y.mergeUpdates` when they overlap.
   */
  private packFrames(all: readonly Piece[]): Uint8Array[] {
    const budget = this.limits.maxSendFrameBytes - FRAME_HEADROOM;
    const small = Math.min(16 * 1024, budget);
    const out: Uint8Array[] = [];
    let group: Piece[] = [];
    let size = 0;
    const flush = (): void => {
      if (group.length === 1) out.push(group[0]!.bytes);
      else if (group.length > 1) {
        const parts = group.map((p) => p.parsed ?? parseUpdateV1(p.bytes, this.trustedParse));
        out.push(concatUpdatesV1(parts) ?? Y.mergeUpdates(group.map((p) => p.bytes)));
      }
      group = [];
      size = 0;
    };
    for (const { bytes: piece, parsed } of all) {
      if (piece.length >= small) {
        flush();
        if (piece.length > budget) out.push(...splitUpdateV1(parseUpdateV1(piece, this.trustedParse), budget));
        else out.push(piece);
        continue;
      }
      if (size + piece.length > small) flush();
      group.push({ bytes: piece, parsed });
      size += piece.length;
    }
    flush();
    return out.length > 0 ? out : [EMPTY_UPDATE];
  }

  /**
   * FWD-1: a valid update with something new is stored (persist effect, in sequence order) and
   * broadcast to every connection of the room, the sender included (the stock client expects
   * the echo). DEDUPE-1: an update the relay already holds entirely is neither stored nor
   * broadcast again; its sender is still acked once it is durable.
   */
  private acceptUpdate(conn: ConnId, update: Uint8Array, frame: Uint8Array | null): RoomEffect[] {
    // Copy first: the frame may be a view into a larger socket buffer we must not keep alive.
    const parsed = parseUpdateV1(update.slice(), {
      maxDepth: this.limits.maxNestingDepth,
      isMapEntry: this.isMapEntry, // VAL-9 across updates
      maxStructBytes: maxStructBytes(this.limits.maxSendFrameBytes), // VAL-10
      maxClients: this.limits.maxClientsPerUpdate, // VAL-11
    });
    // DEDUPE-3: before anything is cut, stored, sent or charged. What is bounded is the cost of
    // this update's cut (DEDUPE-2), not what the room holds: planting ranges past a gap costs each
    // planter its own bytes and rate, and refusing the planter's victims would hand it the room.
    const held = this.heldPastPrefix(parsed);
    if (held > this.limits.maxHeldRangesPerUpdate) {
      return this.fail(
        conn,
        CloseReason.TooManyGaps,
        `DEDUPE-3: the update reaches more than ${this.limits.maxHeldRangesPerUpdate} struct ranges held past a gap`,
      );
    }
    const clients = new Set(parsed.runs.map((r) => r.client));
    const out = this.takeUpdate(conn, parsed, clients, frame);
    // RATE-1: charged whether the update was new or known: the parse is the cost.
    const count = Math.max(clients.size, parsed.deletes.size);
    if (count > 0) out.push({ type: 'clients', conn, count });
    return out;
  }

  private takeUpdate(conn: ConnId, parsed: ParsedUpdate, clients: Set<number>, frame: Uint8Array | null): RoomEffect[] {
    if (isEmptyParsed(parsed)) return [];
    if (this.isKnown(parsed)) {
      const last = this.pending[this.pending.length - 1];
      if (last) {
        addWaiter(last.waiters, conn, clients);
        return [];
      }
      const ack = this.ackFrame(clients, conn, false);
      return ack ? [{ type: 'send', conn, frame: ack }] : [];
    }
    // DEDUPE-2: structs the relay already holds are cut off before the update is stored or
    // forwarded, wherever they lie: below its state vector, or past a gap (clocks that arrived
    // before the ones under them). A re-sent clock with different content (a forged or corrupt
    // copy) would give the replicas that learn it from here other content than those holding
    // the original, or make them throw.
    const trimmed = this.withoutHeld(parsed, { maxDepth: this.limits.maxNestingDepth, isMapEntry: this.isMapEntry });
    if (trimmed !== parsed) {
      parsed = trimmed;
      frame = null;
      if (isEmptyParsed(parsed)) return [];
    }
    this.mapEntries.addRuns(parsed.mapEntries ?? []);
    const owned = parsed;
    const seq = this.nextSeq++;
    this.chunks.push({ kind: 'log', seqLo: seq, seqHi: seq, parsed: owned });
    this.countLog(owned, 1);
    this.summarise(owned, false);
    const waiters = new Map<ConnId, Set<number>>();
    addWaiter(waiters, conn, clients);
    this.pending.push({ seq, parsed: owned, waiters });
    const out: RoomEffect[] = [{ type: 'persist', seq, update: owned.bytes }];
    const budget = this.limits.maxSendFrameBytes - FRAME_HEADROOM;
    if (owned.bytes.length <= budget) this.broadcastSyncInto(out, frame ?? encodeSyncUpdate(owned.bytes));
    else for (const piece of splitUpdateV1(owned, budget)) this.broadcastSyncInto(out, encodeSyncUpdate(piece));
    return out;
  }

  /**
   * DEDUPE-2: `p` without the struct clocks the room holds (every range accepted, past a gap too,
   * not only the contiguous prefix its state vector claims), parsed again with `limits`; `p`
   * itself when it holds none of them. The first stored copy of a clock is the only one kept
   * and forwarded, so every replica that learns a Yjs id from the relay gets the same content.
   * Only an update reaching clocks held past a gap (forged, or forwarded pending structs) is cut
   * by `withoutHeldV1`; the common case, clocks held below the state vector, keeps Yjs's diff.
   */
  private withoutHeld(p: ParsedUpdate, limits: ParseOptions): ParsedUpdate {
    /** Whether the run holds a clock the room holds past the end of its contiguous prefix. */
    const pastGap = (run: { client: number; clock: number; length: number }): boolean => {
      const from = Math.max(run.clock, this.structs.contiguous(run.client));
      return from < run.clock + run.length && this.structs.overlaps(run.client, from, run.clock + run.length - from);
    };
    if (p.runs.some(pastGap)) {
      return parseUpdateV1(
        withoutHeldV1(p, (client, clock, length) => this.structs.missing(client, clock, length)),
        limits,
      );
    }
    // Held only below the state vector, as every re-sent SyncStep2 is: Yjs's own diff does it.
    if (p.runs.some((run) => this.structs.contiguous(run.client) > run.clock)) {
      return parseUpdateV1(Y.diffUpdate(p.bytes, encodeStateVector(this.structs.stateVector())), limits);
    }
    return p;
  }

  /**
   * DEDUPE-3: held struct ranges past a gap that `p`'s runs reach, summed over its runs (each run
   * is cut around those it reaches), counted up to one past `maxHeldRangesPerUpdate`:
   * O(runs × log ranges), never proportional to the ranges held. Ranges in the contiguous prefix
   * do not count: clocks held only there take Yjs's diff, whose cost does not grow with gaps. Nor
   * does a run held whole: `withoutHeldV1` drops it without cutting, as it does the pending
   * structs an honest client re-sends (each one run, exactly what the relay forwarded it).
   */
  private heldPastPrefix(p: ParsedUpdate): number {
    const limit = this.limits.maxHeldRangesPerUpdate;
    let held = 0;
    for (const run of p.runs) {
      if (this.structs.covers(run.client, run.clock, run.length)) continue;
      held += this.structs.heldPastPrefix(run.client, run.clock, run.length);
      if (held > limit) break;
    }
    return held;
  }

  private isKnown(p: ParsedUpdate): boolean {
    for (const run of p.runs) if (!this.structs.covers(run.client, run.clock, run.length)) return false;
    for (const [client, ranges] of p.deletes) {
      for (const d of ranges) if (!this.deletes.covers(client, d.clock, d.length)) return false;
    }
    return true;
  }

  private countLog(p: ParsedUpdate, sign: 1 | -1): void {
    this.logCount += sign;
    this.logBytes += sign * p.bytes.length;
  }

  private summarise(p: ParsedUpdate, isDurable: boolean): void {
    this.structs.addRuns(p.runs);
    if (isDurable) this.durable.addRuns(p.runs);
    for (const [client, ranges] of p.deletes) this.deletes.addAll(client, ranges);
  }

  /**
   * ACK-3: an ack names only clients with something durable; null when there is nothing to say.
   * ACK-5: pairs the connection was already acked are left out, so a commit that adds nothing
   * for a connection sends it nothing. The handshake ack (ACK-2, `complete`) always lists every
   * durable client asked about: a client re-sends SyncStep1 precisely to get the whole picture.
   */
  private ackFrame(clients: Iterable<number>, conn: ConnId, complete: boolean): Uint8Array | null {
    const acked = this.conns.get(conn)?.acked;
    const clocks = new Map<number, number>();
    for (const c of clients) {
      const d = this.durable.contiguous(c);
      if (d === 0 || (!complete && d <= (acked?.get(c) ?? 0))) continue;
      clocks.set(c, d);
      acked?.set(c, d);
    }
    return clocks.size > 0 ? encodeAck(clocks) : null;
  }

  // --- awareness ----------------------------------------------------------------------------

  /**
   * AWR-1 validate; AWR-2 accept an entry only when its clock is newer (or it is the removal of
   * a live state at the same clock), exactly as y-protocols does, and broadcast the accepted
   * entries to every connection including the sender — the echo keeps a lone client's 30 s
   * silence timer from firing. The connection that first announces a client id owns it (AWR-4).
   */
  private acceptAwareness(conn: ConnId, update: Uint8Array): RoomEffect[] {
    const entries = parseAwarenessUpdate(update, {
      maxEntries: this.limits.maxAwarenessEntriesPerFrame,
      maxStateBytes: this.limits.maxAwarenessStateBytes,
      maxDepth: this.limits.maxNestingDepth,
    }).filter((e) => e.clock <= MAX_AWARENESS_CLOCK);
    const c = this.conns.get(conn)!;
    const isNewer = (e: AwarenessEntry): boolean => this.isNewerAwareness(e);
    // Check the whole frame before changing anything: a refused frame has no effect (CLOSE-2).
    // y-protocols lists a client once per update; a repeat would be counted twice (AWR-7).
    const ids = new Set<number>();
    for (const e of entries) {
      if (ids.has(e.clientID)) {
        return this.fail(conn, CloseReason.InvalidAwareness, `AWR-1: client ${e.clientID} listed twice in one update`);
      }
      ids.add(e.clientID);
    }
    const claims = new Set<number>();
    for (const e of entries)
      if (e.state !== 'null' && !this.ownerOf.has(e.clientID) && isNewer(e)) claims.add(e.clientID);
    if (c.owned.size + claims.size > this.limits.maxAwarenessClientsPerConnection) {
      return this.fail(conn, CloseReason.InvalidAwareness, 'AWR-1: too many awareness clients on one connection');
    }
    if (this.overAwarenessBudget(conn, entries, isNewer)) {
      return this.fail(conn, CloseReason.InvalidAwareness, 'AWR-7: awareness states over the per-connection budget');
    }
    const accepted: AwarenessEntry[] = [];
    const superseded: AwarenessEntry[] = [];
    for (const e of entries) {
      if (!isNewer(e)) {
        const removal = this.removalOver(e);
        if (removal) superseded.push(removal);
        continue;
      }
      if (this.growsOthersState(conn, e)) continue;
      if (e.state !== 'null' && !this.ownerOf.has(e.clientID)) {
        c.owned.add(e.clientID);
        this.ownerOf.set(e.clientID, conn);
      } else if (e.state === 'null') {
        const owner = this.ownerOf.get(e.clientID);
        if (owner !== undefined) this.conns.get(owner)?.owned.delete(e.clientID);
        this.ownerOf.delete(e.clientID);
      }
      this.setAwareness(e);
      accepted.push(e);
    }
    const effects = this.awarenessFrames(accepted).flatMap((f) => this.broadcast(f));
    // AWR-8: only to the sender, which is the one that holds the stale copy.
    for (const frame of this.awarenessFrames(superseded)) effects.push({ type: 'send', conn, frame });
    return this.withAwarenessEffect(accepted, effects);
  }

  /**
   * AWR-2: `e` is taken when its clock is newer than the one held for its client id, or it is the
   * removal of a live state at the same clock, exactly as y-protocols decides.
   */
  private isNewerAwareness(e: AwarenessEntry): boolean {
    const cur = this.awareness.get(e.clientID);
    const curClock = cur ? cur.clock : -1;
    return curClock < e.clock || (curClock === e.clock && e.state === 'null' && cur?.state !== 'null');
  }

  /**
   * AWR-8: the removal (AWR-3's tombstone) that supersedes the live entry `e`, if there is one. A
   * stock client that reconnects re-announces its state at the clock it had, which the removal of
   * its old connection's state (AWR-4, REDIS-6: clock + 1) supersedes: dropped silently, the client
   * stayed invisible until its awareness renewed twice (15 s each). Told of the removal, y-protocols
   * renews its own state at once with the clock past it; a client holding someone else's stale
   * copy deletes it.
   */
  private removalOver(e: AwarenessEntry): AwarenessEntry | null {
    if (e.state === 'null') return null;
    const cur = this.awareness.get(e.clientID);
    return cur && cur.state === 'null' && cur.clock >= e.clock
      ? { clientID: e.clientID, clock: cur.clock, state: 'null' }
      : null;
  }

  /**
   * REDIS-6: awareness from another relay. Validated like a client's (AWR-1: state size, JSON
   * depth — Redis is shared, not trusted), then the AWR-2 clock rule and AWR-3 tombstones. A
   * removal also ends a local connection's ownership of that client id (the client moved to
   * another relay and left there). Remote entries are not published again; but a live entry this
   * relay's removal supersedes (AWR-8: a client reconnected through another relay that never saw
   * the removal) is answered by publishing that removal, which the other relay passes on to it.
   */
  receiveRemoteAwareness(entries: readonly AwarenessEntry[]): RoomEffect[] {
    const accepted: AwarenessEntry[] = [];
    const superseded: AwarenessEntry[] = [];
    for (const raw of entries) {
      let e: AwarenessEntry;
      try {
        [e] = parseAwarenessUpdate(encodeAwarenessUpdate([raw]), {
          maxEntries: 1,
          maxStateBytes: this.limits.maxAwarenessStateBytes,
          maxDepth: this.limits.maxNestingDepth,
        }) as [AwarenessEntry];
      } catch (err) {
        if (err instanceof AwarenessError) continue;
        throw err;
      }
      if (e.clock > MAX_AWARENESS_CLOCK) continue;
      if (!this.isNewerAwareness(e)) {
        const removal = this.removalOver(e);
        if (removal) superseded.push(removal);
        continue;
      }
      if (e.state === 'null') {
        const owner = this.ownerOf.get(e.clientID);
        if (owner !== undefined) this.conns.get(owner)?.owned.delete(e.clientID);
        this.ownerOf.delete(e.clientID);
      }
      this.setAwareness(e);
      accepted.push(e);
    }
    return this.withAwarenessEffect(
      superseded,
      this.awarenessFrames(accepted).flatMap((f) => this.broadcast(f)),
    );
  }

  /**
   * REDIS-4: an update another relay committed to the shared log (or a log/segment entry read
   * during catch-up). Already durable, so no persist effect and no waiters; parsed with the same
   * limits as a client's. DEDUPE-1 drops what is held, DEDUPE-2 cuts what is below the state
   * vector; the rest is broadcast to this relay's connections (FWD-1) and counts as durable for
   * ACK-2/ACK-3. DEDUPE-3 is not checked: the update is in the shared log already, and a relay
   * dropping it would split its replicas from the others'; it was checked by the relay its writer
   * used, against what that relay held, so only what this relay holds and that one did not is more.
   * Invariant kept: `pending` holds only local updates, so `committed` is unchanged;
   * the chunk gets a local seq (ordering and in-memory compaction only), and a remote chunk after
   * a pending one waits for it before compaction.
   */
  receiveRemote(update: Uint8Array): RoomEffect[] {
    const limits = { maxDepth: this.limits.maxNestingDepth, isMapEntry: this.isMapEntry };
    let parsed = parseUpdateV1(update, limits);
    if (isEmptyParsed(parsed) || this.isKnown(parsed)) return [];
    const trimmed = this.withoutHeld(parsed, limits);
    if (trimmed !== parsed) {
      parsed = trimmed;
      if (isEmptyParsed(parsed)) return [];
    }
    this.mapEntries.addRuns(parsed.mapEntries ?? []);
    const seq = this.nextSeq++;
    this.chunks.push({ kind: 'log', seqLo: seq, seqHi: seq, parsed });
    this.countLog(parsed, 1);
    this.summarise(parsed, true);
    const budget = this.limits.maxSendFrameBytes - FRAME_HEADROOM;
    const out: RoomEffect[] = [];
    if (parsed.bytes.length <= budget) return this.broadcastSyncInto(out, encodeSyncUpdate(parsed.bytes));
    for (const piece of splitUpdateV1(parsed, budget)) this.broadcastSyncInto(out, encodeSyncUpdate(piece));
    return out;
  }

  private withAwarenessEffect(entries: readonly AwarenessEntry[], effects: RoomEffect[]): RoomEffect[] {
    if (entries.length > 0) effects.push({ type: 'awareness', entries });
    return effects;
  }

  /** SYNC-4 for awareness: entries spread over frames of at most maxSendFrameBytes. */
  private awarenessFrames(entries: readonly AwarenessEntry[]): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let group: AwarenessEntry[] = [];
    let size = 0;
    for (const e of entries) {
      const entrySize = utf8Length(e.state) + 24; // the JSON text + three varUints
      if (group.length > 0 && size + entrySize > this.limits.maxSendFrameBytes - FRAME_HEADROOM) {
        frames.push(encodeAwareness(encodeAwarenessUpdate(group)));
        group = [];
        size = 0;
      }
      group.push(e);
      size += entrySize;
    }
    if (group.length > 0) frames.push(encodeAwareness(encodeAwarenessUpdate(group)));
    return frames;
  }

  /** AWR-3: departed clients are kept as bounded tombstones so stale copies are refused. */
  /**
   * AWR-7: whether the live states `conn` owns would pass maxAwarenessBytesPerConnection once
   * `entries` (each client id once, checked before) are taken: its own entries replace or add
   * to what it owns; entries for ids another connection owns do not count (they cannot grow
   * those, see `growsOthersState`).
   */
  private overAwarenessBudget(
    conn: ConnId,
    entries: readonly AwarenessEntry[],
    isNewer: (e: AwarenessEntry) => boolean,
  ): boolean {
    let total = this.ownedBytes(conn);
    for (const e of entries) {
      if (!isNewer(e)) continue;
      const owner = this.ownerOf.get(e.clientID);
      if (owner === conn) total -= this.awareness.get(e.clientID)?.bytes ?? 0;
      else if (owner !== undefined) continue;
      if (e.state !== 'null') total += utf8Length(e.state);
    }
    return total > this.limits.maxAwarenessBytesPerConnection;
  }

  /**
   * AWR-7: an entry that would make a state another connection owns larger is ignored (neither
   * stored nor forwarded; its owner sends its own). Else a room member could grow everyone's
   * states, or fill a victim's budget so that its next honest state got it closed. A tab that
   * relays another tab's state (BroadcastChannel) sends what that tab sends itself.
   */
  private growsOthersState(conn: ConnId, e: AwarenessEntry): boolean {
    const owner = this.ownerOf.get(e.clientID);
    if (owner === undefined || owner === conn || e.state === 'null') return false;
    return utf8Length(e.state) > (this.awareness.get(e.clientID)?.bytes ?? 0);
  }

  private ownedBytes(conn: ConnId): number {
    let n = 0;
    for (const id of this.conns.get(conn)?.owned ?? []) n += this.awareness.get(id)?.bytes ?? 0;
    return n;
  }

  private setAwareness(e: AwarenessEntry): void {
    this.awareness.delete(e.clientID); // re-insert: Map order = age, oldest tombstones first
    this.awareness.set(e.clientID, {
      clock: e.clock,
      state: e.state,
      bytes: e.state === 'null' ? 0 : utf8Length(e.state),
    });
    if (e.state === 'null' && this.awareness.size > MAX_AWARENESS_TOMBSTONES) {
      for (const [id, s] of this.awareness) {
        if (this.awareness.size <= MAX_AWARENESS_TOMBSTONES) break;
        if (s.state === 'null') this.awareness.delete(id);
      }
    }
  }

  private liveAwareness(): AwarenessEntry[] {
    const out: AwarenessEntry[] = [];
    for (const [clientID, s] of this.awareness)
      if (s.state !== 'null') out.push({ clientID, clock: s.clock, state: s.state });
    return out;
  }

  // --- helpers ------------------------------------------------------------------------------

  private broadcast(frame: Uint8Array): RoomEffect[] {
    return this.broadcastInto([], frame);
  }

  /** Appends one send effect per connection to `out` (no intermediate array on the update path). */
  private broadcastInto(out: RoomEffect[], frame: Uint8Array): RoomEffect[] {
    for (const conn of this.conns.keys()) out.push({ type: 'send', conn, frame });
    return out;
  }

  /** The same for document data: every connection but the awareness-only ones (WATCH-1). */
  private broadcastSyncInto(out: RoomEffect[], frame: Uint8Array): RoomEffect[] {
    if (this.watchers.size === 0) return this.broadcastInto(out, frame);
    for (const conn of this.conns.keys()) if (!this.watchers.has(conn)) out.push({ type: 'send', conn, frame });
    return out;
  }

  /** Closes one connection for bad input; it never affects the others beyond its departure. */
  private fail(conn: ConnId, reason: CloseReasonInfo, detail: string): RoomEffect[] {
    return [{ type: 'close', conn, reason, detail }, ...this.leave(conn)];
  }
}

const addWaiter = (waiters: Map<ConnId, Set<number>>, conn: ConnId, clients: Set<number>): void => {
  const set = waiters.get(conn);
  if (set) for (const c of clients) set.add(c);
  else waiters.set(conn, new Set(clients));
};
