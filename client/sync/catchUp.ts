/**
 * SYNC-C1's catch-up: fetches what one room missed without loading the room, so a refresh costs
 * what the room missed, not what it holds.
 *
 * CATCH-1 The state vector sent is the store's held ranges (LOCAL-12): never past a gap in what
 *         is stored (an over-claim would make the relay leave out what this device lacks). A
 *         store that cannot vouch for them (rows vanished, LOCAL-6) sends the room to the full
 *         path (`unsure`), which reports the loss and fetches everything.
 * CATCH-2 One plain websocket to the room's sync URL, like the stock client's: SyncStep1, then
 *         every Update frame of the relay's catch-up (SYNC-4 streams a large one) up to its
 *         SyncStep2. Nothing else is sent — no awareness (nobody sees this user in the room,
 *         nothing is marked seen) and no SyncStep2 of our own (uploading needs the room: CATCH-6).
 *         Awareness and QueryAwareness frames are ignored; Ack frames are kept (CATCH-8).
 * CATCH-3 Every received update passes APPLY-1's `parseUpdateV1` before anything is stored, with
 *         VAL-9's question about earlier updates answered "map entry" (the strictest answer: what
 *         passes it passes the session's answer from the live doc). An update that fails under
 *         every answer fails the refresh; one that fails only because of that answer, or that
 *         re-sends clocks this device holds or an earlier frame brought (with other origins such
 *         an item freezes a replica, APPLY-2), sends the room to the full path (`unsure`), which
 *         applies it to the room's doc and decides exactly. A failed refresh stores nothing.
 * CATCH-4 After the SyncStep2 the socket is closed and the updates are appended with
 *         `appendMissing`, one strict transaction (LOCAL-12): what the device already held is
 *         not stored again, so a refresh that brought nothing new writes no row.
 * CATCH-5 A fatal close (4400–4499) or an Auth "permission denied" is `refused`; any other close
 *         before the SyncStep2, a text frame or an undecodable frame is `failed`; no SyncStep2
 *         within `timeoutMs` is `timeout`. None of them stores anything.
 * CATCH-6 The relay's own SyncStep1 (sent when a socket joins, before it answers one) says what
 *         it holds. If this device holds structs past it (edits made offline, never uploaded),
 *         or no SyncStep1 came before the SyncStep2, the room goes to the full path (`unsure`),
 *         whose session uploads them as it always did: the lobby never leaves an offline edit
 *         waiting for the room to be opened.
 * CATCH-7 A state vector says nothing about deletions, so the relay's answer carries every
 *         deletion it holds (SYNC-2: a chunk this device covers still sends its delete set). If
 *         the store holds a deletion none of the received updates carries (an offline edit made
 *         only of deletions: an un-react), the room goes to the full path too: the session's
 *         SyncStep2 always carries its whole delete set, so it uploads it. Once the relay has it,
 *         its answer carries it and the catch-up alone decides the room again.
 * CATCH-8 The relay's handshake ack (ACK-2, sent before its answer) says which of this device's
 *         edits are durable there. For the clients the caller names (`recordAcksOf`: those of
 *         own writes the lobby counts as not sent, LOBBY-3), acks above the room's sync meta
 *         are merged into it (clocks only grow) before the catch-up resolves, and `acksRecorded`
 *         says so. The lobby's "not sent yet" then goes even when the session that uploaded the
 *         messages never got or never saved their ack (closed at once, or another tab's write).
 *
 * Not checked without the room's doc (the full path checks them by applying): whether the
 * structs an update references exist and what they are. The relay validated each update before
 * storing it (VAL-1..10); if a stored one still cannot be applied, loading the room skips it
 * (LOAD-C1) and says so.
 */
import * as decoding from 'lib0/decoding';
import { ClockRanges } from '../../shared/clockRanges.js';
import {
  decodeStateVector,
  encodeStateVector,
  encodeSyncStep1,
  isFatalCloseCode,
  isValidRoomName,
  MessageType,
  readAckPayload,
  SyncType,
} from '../../shared/protocol.js';
import { parseUpdateV1, type ParsedUpdate } from '../../shared/updateV1.js';
import type { HeldRanges } from '../storage/heldRanges.js';
import type { AppendedMissing, RoomUpdateStore } from '../storage/roomUpdateStore.js';
import { mergeSyncMeta, readSyncMeta } from './syncMeta.js';
import { emptySyncState } from './syncState.js';

export type CatchUpOutcome = 'synced' | 'refused' | 'timeout' | 'failed' | 'unsure';

export interface CatchUpResult {
  readonly outcome: CatchUpOutcome;
  /** What was stored (only when `synced`): the store's `appendMissing` answer. */
  readonly stored?: AppendedMissing;
  /** CATCH-8: acks of `recordAcksOf` clients were merged into the room's sync meta. */
  readonly acksRecorded?: boolean;
}

export interface CatchUpOptions {
  readonly room: string;
  /** e.g. ws://host:port/sync (the room is appended, as the stock client does). */
  readonly relayUrl: string;
  readonly store: RoomUpdateStore;
  /** How long to wait for the relay's SyncStep2. */
  readonly timeoutMs: number;
  /** CATCH-8: the Yjs clients whose acks to record in the room's sync meta (none when absent). */
  readonly recordAcksOf?: ReadonlySet<number>;
  readonly WebSocketImpl?: typeof WebSocket;
}

/** Auth frame, inner type 0: permission denied (y-protocols/auth). */
const AUTH_DENIED = 0;

type Verdict =
  { readonly ok: true; readonly parsed: ParsedUpdate } | { readonly ok: false; readonly why: 'failed' | 'unsure' };

/** True when some clock of [clock, clock + length) of `client` is in `ranges`. */
const overlaps = (ranges: ClockRanges, client: number, clock: number, length: number): boolean =>
  ranges.ranges(client).some(([start, end]) => start < clock + length && clock < end);

/** CATCH-6: whether this device holds structs the relay's state vector does not cover. */
const holdsMoreThan = (held: HeldRanges, relay: ReadonlyMap<number, number>): boolean => {
  for (const client of held.structs.clients()) {
    const last = held.structs.ranges(client).at(-1);
    if (last && last[1] > (relay.get(client) ?? 0)) return true;
  }
  return false;
};

/** CATCH-7: whether this device holds a deletion that is not among `relay`'s. */
const deletesMoreThan = (held: HeldRanges, relay: ClockRanges): boolean => {
  for (const client of held.deletes.clients()) {
    for (const [start, end] of held.deletes.ranges(client)) if (!relay.covers(client, start, end - start)) return true;
  }
  return false;
};

/** CATCH-3. `brought` holds the struct ranges of the frames accepted before this one. */
const check = (update: Uint8Array, held: HeldRanges, brought: ClockRanges): Verdict => {
  let parsed: ParsedUpdate;
  try {
    parsed = parseUpdateV1(update, { isMapEntry: () => true });
  } catch {
    try {
      parseUpdateV1(update, { isMapEntry: () => false });
    } catch {
      return { ok: false, why: 'failed' };
    }
    return { ok: false, why: 'unsure' };
  }
  for (const run of parsed.runs) {
    if (
      overlaps(held.structs, run.client, run.clock, run.length) ||
      overlaps(brought, run.client, run.clock, run.length)
    ) {
      return { ok: false, why: 'unsure' };
    }
  }
  return { ok: true, parsed };
};

/** Fetches and stores what `room` missed (CATCH-1..7). Never rejects. */
export const catchUpRoom = async (opts: CatchUpOptions): Promise<CatchUpResult> => {
  if (!isValidRoomName(opts.room)) return { outcome: 'refused' };
  let held: HeldRanges | undefined;
  try {
    held = await opts.store.held(opts.room);
  } catch {
    return { outcome: 'failed' };
  }
  if (!held) return { outcome: 'unsure' };
  const received = await receiveCatchUp(opts, held);
  if (received.outcome !== 'synced') return { outcome: received.outcome };
  try {
    const stored = await opts.store.appendMissing(opts.room, received.updates);
    // The updates are stored: a failed meta write only leaves the acks to the next refresh.
    const acksRecorded = await recordAcks(opts, received.acked).catch(() => false);
    return { outcome: 'synced', stored, acksRecorded };
  } catch {
    return { outcome: 'failed' };
  }
};

/** CATCH-8: merges the acks of `opts.recordAcksOf` clients that are above the stored ones. */
const recordAcks = async (opts: CatchUpOptions, acked: ReadonlyMap<number, number>): Promise<boolean> => {
  const clients = opts.recordAcksOf ?? new Set<number>();
  const mine = new Map([...acked].filter(([client]) => clients.has(client)));
  if (mine.size === 0) return false;
  const stored = (await readSyncMeta(opts.store, opts.room))?.acked;
  if ([...mine].every(([client, clock]) => clock <= (stored?.get(client) ?? 0))) return false;
  await mergeSyncMeta(opts.store, opts.room, { ...emptySyncState(), acked: mine }, mine.keys());
  return true;
};

const receiveCatchUp = (
  opts: CatchUpOptions,
  held: HeldRanges,
): Promise<{ outcome: CatchUpOutcome; updates: Uint8Array[]; acked: Map<number, number> }> =>
  new Promise((resolve) => {
    const updates: Uint8Array[] = [];
    /** CATCH-8: the relay's acks (its handshake ack comes before its SyncStep2). */
    const acked = new Map<number, number>();
    const brought = new ClockRanges();
    /** CATCH-7: the deletions the relay's answer carried. */
    const relayDeletes = new ClockRanges();
    /** CATCH-6: the relay's state vector, from its SyncStep1. */
    let relayHolds: Map<number, number> | null = null;
    const WebSocketImpl = opts.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      ws = new WebSocketImpl(`${opts.relayUrl}/${opts.room}`);
    } catch {
      resolve({ outcome: 'failed', updates: [], acked });
      return;
    }
    ws.binaryType = 'arraybuffer';
    let done = false;
    const finish = (outcome: CatchUpOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
      resolve({ outcome, updates: outcome === 'synced' ? updates : [], acked });
    };
    const timer = setTimeout(() => finish('timeout'), opts.timeoutMs);
    ws.onopen = () => ws.send(encodeSyncStep1(encodeStateVector(held.stateVector())));
    ws.onclose = (event) => finish(isFatalCloseCode(event.code) ? 'refused' : 'failed');
    ws.onmessage = (event: MessageEvent) => {
      if (!(event.data instanceof ArrayBuffer)) {
        finish('failed');
        return;
      }
      const d = decoding.createDecoder(new Uint8Array(event.data));
      try {
        const outer = decoding.readVarUint(d);
        if (outer === MessageType.Auth) {
          if (decoding.readVarUint(d) === AUTH_DENIED) finish('refused');
          return;
        }
        if (outer === MessageType.Ack) {
          for (const [client, clock] of readAckPayload(d)) acked.set(client, Math.max(clock, acked.get(client) ?? 0));
          return;
        }
        if (outer !== MessageType.Sync) return;
        const inner = decoding.readVarUint(d);
        if (inner === SyncType.Step1) {
          relayHolds = decodeStateVector(decoding.readVarUint8Array(d));
          return;
        }
        if (inner !== SyncType.Step2 && inner !== SyncType.Update) {
          finish('failed');
          return;
        }
        const length = decoding.readVarUint(d);
        if (length !== d.arr.length - d.pos) {
          finish('failed');
          return;
        }
        const update = decoding.readUint8Array(d, length);
        const verdict = check(update, held, brought);
        if (!verdict.ok) {
          finish(verdict.why);
          return;
        }
        for (const run of verdict.parsed.runs) brought.add(run.client, run.clock, run.length);
        for (const [client, ranges] of verdict.parsed.deletes) relayDeletes.addAll(client, ranges);
        updates.push(update);
        if (inner !== SyncType.Step2) return;
        // CATCH-6/7: something to upload (or no way to tell): the full path's session does it.
        const uploads = !relayHolds || holdsMoreThan(held, relayHolds) || deletesMoreThan(held, relayDeletes);
        finish(uploads ? 'unsure' : 'synced');
      } catch {
        finish('failed');
      }
    };
  });
