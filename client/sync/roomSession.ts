/// <reference lib="dom" />
/**
 * One open room: a Y.Doc loaded from the local store, synced through the relay by the stock
 * `WebsocketProvider`, and exposed to the UI as an immutable `RoomView` snapshot.
 *
 * Rules (ids as in docs/SPEC.md):
 * - LOAD-C1 the room's stored updates are applied to a fresh Y.Doc (origin `STORAGE`) before
 *   anything connects; loading writes no update (the store does not grow on reload).
 * - STORE-C1 every doc update not from the store (local edits, validated remote updates,
 *   imports) is appended; an append that fails sets `storage.error`, the session keeps working
 *   in memory and writes its full state once the store accepts writes again.
 * - STORE-C2 compaction goes through the store's own rule (LOCAL-5): right after the load, and
 *   later (at most once a minute) by re-loading what is stored, merging exactly that in a
 *   scratch doc and replacing it. Never after a load that failed or skipped updates.
 * - STATE-1 an own message is 'pending' until the relay acks its record (ack clock > record's
 *   Yjs clock), then 'saved'; 'seen' once another participant's published state vector covers
 *   it (SEEN-1 in ./presence.ts). Ack and seen clocks are kept in the room's meta record. Each
 *   state holds what the one before it does: 'saved' and 'seen' also need the local store to hold
 *   it (STATE-4), so 'saved' means on this device and on the relay's disk.
 * - STATE-4 (./localWrites.ts) before 'pending', a message this session made is 'storing' until
 *   the local store holds it (record and shown edit), even when the relay acked it first: closing
 *   the page before then loses it from this device (and everywhere, unless the relay has it).
 * - STATE-5 an own reaction is 'pending' (after 'storing', as STATE-4) until the relay acks the Yjs
 *   item its key holds now; the view says so per message (`pendingReactions`) and counts them
 *   (`pendingReactionCount`). Removing a reaction only deletes (no clock an ack could cover), so a
 *   removal is not tracked: the chip goes at once and nothing claims it reached the relay.
 * - STATE-6 the room's title, when this user set the one it shows (ChatRoom.ownTitleYId), is
 *   'pending' until the relay acks its Yjs item (`pendingTitle`), as a reaction is.
 * - STATE-2 while own messages, reactions or the title are pending on a synced connection, the
 *   session re-sends its SyncStep1 after `ACK_REFRESH_MS`, then at doubling intervals up to
 *   `ACK_REFRESH_MAX_MS` while no ack grows: the relay answers with ACK-2, which also
 *   covers own writes another tab uploaded. When no ack grows for a while, nobody is uploading
 *   them (a tab cut off from the relay wrote them): the session uploads what the relay has not
 *   acked, unless the lab owns that repair (LAB-2: it dropped the upload, `lab.ownsRepair`).
 * - STATE-7 (./ackShare.ts) every ack the relay sends this tab is passed to the profile's other
 *   tabs of the room, which merge it as the relay's: the relay acks only the uploading socket.
 * - APPLY-1..3 (./defensiveSync.ts): remote updates are validated and applied defensively;
 *   REBUILD-1 a frozen doc is replaced by a doc rebuilt from the store and the provider
 *   reconnects; REBUILD-2 after `MAX_REBUILDS` rebuilds in `REBUILD_WINDOW_MS` the session stops
 *   connecting (the relay would send the same poison again) and says so.
 * - LATE-1 a message that arrives from the network (not from the store or an import) is 'late'
 *   when a message that sorts after it was already shown; during a connection's catch-up the
 *   comparison is against what was shown when the connection opened.
 * - HLC-4 a message is 'clock ahead' when its HLC is more than `CLOCK_AHEAD_TOLERANCE_MS` ahead of
 *   this device's clock when it first appears here (also an own message, sent while this HLC is
 *   ahead); the amount is kept in the sync meta, so a reload shows the same.
 * - REFUSE-1/2 (./status.ts): fatal closes and invalid room names become `connection.refusal`.
 * - PRES-2 only this replica's own awareness changes are sent (not the states it received).
 * - LAB-1..LAB-8 (./labHooks.ts, `session.lab`): the network lab's faults, skewable clock (the
 *   session reads time only through it, so a skew moves its HLC and its messages' `wall`),
 *   arrival order, resync and the `lab` awareness field.
 */
import * as Y from 'yjs';
import * as bc from 'lib0/broadcastchannel';
import * as decoding from 'lib0/decoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import { WebsocketProvider } from 'y-websocket';
import {
  byHlcThenId,
  ChatRoom,
  isOwnReactionKey,
  parseReactionKey,
  reactionKey,
  textByteLimit,
  validateText,
  validateTextSize,
  TEXT_STRUCT_OVERHEAD,
  type ChatMessage,
} from '../../shared/chat/chatRoom.js';
import { CLOCK_AHEAD_TOLERANCE_MS, compareHlc, decodeHlc, HybridClock, type Hlc } from '../../shared/chat/hlc.js';
import { newId, type RandomBytes } from '../../shared/ids.js';
import { utf8Length } from '../../shared/utf8Length.js';
import {
  encodeSyncUpdate,
  isValidRoomName,
  MessageType,
  readAckPayload,
  SyncType,
  type PublishedLimits,
} from '../../shared/protocol.js';
import {
  COMPACT_AFTER_UPDATES,
  detectLoss,
  LossStatus,
  shouldCompact,
  StorageError,
  StorageErrorKind,
  toStorageError,
  type RoomUpdateStore,
  type StoredUpdates,
} from '../storage/roomUpdateStore.js';
import { Transport } from '../net/transport.js';
import { SkewableClock } from '../../shared/lab/clock.js';
import type { FaultConfig } from '../../shared/lab/faults.js';
import { LAB_AWARENESS_FIELD, LabHooks } from './labHooks.js';
import { AckShare, type AckChannelFactory } from './ackShare.js';
import type { Identity } from '../identity.js';
import { applyUpdateDefensively, createSyncHandler, isDocFrozen, mapEntryLookup } from './defensiveSync.js';
import { longestPieceGapMs, Uploads, type UploadProgress } from './uploadPacer.js';
import { keepPresenceAcrossReconnects, ownStateToSend, type AwarenessChanges } from './awarenessClocks.js';
import { parsePresence, RecentClients, TYPING_TIMEOUT_MS } from './presence.js';
import { decodeRoomFile, encodeRoomFile, ImportError, ROOM_FILE_FORMAT } from './roomFile.js';
import { beginImport, type ImportSummary } from './importSummary.js';
import {
  deriveStatus,
  describeFatalClose,
  describeRetryableClose,
  oversizedRefusal,
  REPEATED_FREEZE_REFUSAL,
  roomNameRefusal,
  type ConnectionStatus,
  type OversizedMessage,
} from './status.js';
import { coversItem, coversMessage, MAX_AHEAD_IDS, MAX_LATE_IDS, type ItemId } from './syncState.js';
import { mergeSyncMeta, readSyncMeta } from './syncMeta.js';
import { arrivedSince, decodeReadSv, encodeReadSv } from './readMark.js';
import { formatTranscript } from './transcript.js';
import { LocalWrites } from './localWrites.js';
import { OpenReactions, type ReactionState } from './openReactions.js';
import { decodeOwnTitle, encodeOwnTitle, lostTitleNotice, type OwnTitle } from './ownTitle.js';

export type { ConnectionStatus, OversizedMessage } from './status.js';
export { ImportError } from './roomFile.js';
export { ChatError } from '../../shared/chat/chatRoom.js';

export type MessageState = 'storing' | 'pending' | 'saved' | 'seen';
export type { ReactionState } from './openReactions.js';

export interface MessageView extends ChatMessage {
  /** null for others' messages. */
  readonly state: MessageState | null;
  /** STATE-5: this user's reactions on the message the relay has not acked, in `reactions`' order. */
  readonly pendingReactions: ReadonlyArray<{ readonly emoji: string; readonly state: ReactionState }>;
  readonly late: boolean;
  /** How far the message's HLC was ahead of this device's clock when it arrived (0 if not). */
  readonly clockAheadMs: number;
  readonly own: boolean;
}

export interface PresenceView {
  readonly clientId: number;
  readonly userId: string;
  readonly name: string;
  readonly typing: boolean;
  readonly self: boolean;
}

export interface RoomView {
  readonly room: string;
  readonly title: string;
  /** Display order (ChatRoom.messages()). */
  readonly messages: readonly MessageView[];
  readonly connection: {
    readonly status: ConnectionStatus;
    readonly manualOffline: boolean;
    /** Last time the relay sent a SyncStep2, an Update or an Ack (ms since the epoch). */
    readonly lastSyncedAt: number | null;
    /** A fatal close or a refused room name, in words; not retried automatically. */
    readonly refusal: string | null;
    /** UP-2: an upload paced to the relay's rate that is expected to take a while; else null. */
    readonly upload: UploadProgress | null;
    /** STRUCT-4: refused, the own messages not sent yet that are too large for the relay's known limits. */
    readonly oversized: readonly OversizedMessage[];
    /**
     * STRUCT-1: `textByteLimit()` as of this view: the view changes when the relay's limits
     * arrive, so a counter shown meanwhile (a draft typed before them) is brought up to date.
     */
    readonly textByteLimit: number | null;
  };
  /** Own messages not yet acked by the relay. */
  readonly pendingCount: number;
  /** STATE-5: own reactions not yet acked by the relay (removals are not tracked). */
  readonly pendingReactionCount: number;
  /** STATE-6: the title shown is this user's and not yet acked by the relay. */
  readonly pendingTitle: boolean;
  readonly storage: {
    readonly persistent: boolean;
    readonly error: string | null;
    readonly evicted: boolean;
    /**
     * LEAVE-1: own edits are only in this page's memory: their write to the device failed (the
     * error above) and the relay has not acked them. Closing the page loses them for good.
     */
    readonly onlyInPage: boolean;
  };
  readonly presence: readonly PresenceView[];
  readonly notices: readonly string[];
  /**
   * REFUSE-3: notices that are no longer true, not shown: a retryable close's (the relay's storage
   * failing, a rate limit, an internal error) once the relay acked something again since.
   */
  readonly resolvedNotices: ReadonlySet<string>;
}

/**
 * How many own writes the relay has not acked (what the header counts): messages (STATE-1),
 * reactions (STATE-5) and the title (STATE-6). "Nothing pending" is this being 0.
 */
export const pendingWrites = (v: Pick<RoomView, 'pendingCount' | 'pendingReactionCount' | 'pendingTitle'>): number =>
  v.pendingCount + v.pendingReactionCount + (v.pendingTitle ? 1 : 0);

export interface RoomSessionOptions {
  readonly room: string;
  /** e.g. ws://host:port/sync (the provider appends `/<room>`). */
  readonly relayUrl: string;
  readonly identity: Identity;
  readonly store: RoomUpdateStore;
  readonly persistent: boolean;
  readonly WebSocketImpl?: typeof WebSocket;
  readonly now?: () => number;
  readonly randomBytes?: RandomBytes;
  /** Extension: a transport to use (the network lab injects faults through it). */
  readonly transport?: Transport;
  /** NET-3: relay origins to fail over between (read at every connection attempt). */
  readonly relays?: () => readonly string[];
  /** UP-2: the relay's published per-connection limits (null while unknown: uploads are not paced). */
  readonly relayLimits?: () => PublishedLimits | null;
  /** STRUCT-2: calls `changed` when `relayLimits` changes; returns the unsubscribe. */
  readonly watchRelayLimits?: (changed: () => void) => () => void;
  /** STRUCT-3: called before every connection the session starts (the limits are fetched again if unknown). */
  readonly connecting?: () => void;
  /** Extension: sync with other tabs over BroadcastChannel (default true). Tests in one process turn it off. */
  readonly crossTab?: boolean;
  /** STATE-7: opens the channel acks are shared over with other tabs (default: BroadcastChannel). */
  readonly ackChannel?: AckChannelFactory;
  /**
   * SYNC-C1: a background refresh (the lobby fetching what rooms missed), not a visit: no
   * presence (no awareness state: nobody sees this user "in" the room, nothing is marked seen),
   * and the room's `lastOpenedAt` is left alone. Default false.
   */
  readonly background?: boolean;
  /**
   * Called once after `destroy()`, when every write the session started is done (`whenStored`):
   * REMOVE-1's room lock is released then, so that no write of the session lands after a removal.
   */
  readonly done?: () => void;
  /** OFF-1: the "Go offline" switch starts on (the tab switched it on before a reload): nothing connects. */
  readonly offline?: boolean;
  /**
   * OFF-2: calls `changed` when another tab switches the room on or off (and may call it at once
   * with the switch as it is); returns the unsubscribe. Watched from the start, before the store
   * is read, so a switch turned while the session opens is followed before anything connects.
   */
  readonly watchOffline?: (changed: (off: boolean) => void) => () => void;
  /** LAB-1: the lab's faults to start with, applied before anything connects (a tab's remembered ones, LAB-10). */
  readonly faults?: FaultConfig;
  /** Extension: uniform random in [0, 1) for the lab's fault decisions (experiments seed it). */
  readonly labRandom?: () => number;
  /**
   * LAB-14: this browser tab's id, the same across its reloads (published in `lab.tab`). It
   * resolves once no other live tab holds it: the `lab` field is published only then.
   */
  readonly labTab?: Promise<string>;
}

/** Transaction origin of updates loaded from the local store: never appended again. */
export const STORAGE_ORIGIN = Symbol('storage');
/** Transaction origin of imported files. */
export const IMPORT_ORIGIN = Symbol('import');

export const MAX_BACKOFF_MS = 10_000;
export const ACK_REFRESH_MS = 2_000;
/**
 * STATE-2: re-checks that bring no ack double their interval up to this: a slow link (an ack on
 * its way for seconds) or a relay that cannot store (no ack for minutes) cost a SyncStep1 and a
 * complete ACK-2 each time, which grow with every Yjs client the room ever had.
 */
export const ACK_REFRESH_MAX_MS = 30_000;
/** STATE-2: how often the session checks whether to re-check (so a re-check comes up to this late). */
export const ACK_REFRESH_TICK_MS = 1_000;
export const MIN_COMPACTION_INTERVAL_MS = 60_000;
export const STORAGE_RETRY_MS = 30_000;
export const MAX_REBUILDS = 3;
export const REBUILD_WINDOW_MS = 10 * 60_000;
export const MAX_NOTICES = 200;
const SV_PUBLISH_DELAY_MS = 250;
const REFUSED_NOTICE_INTERVAL_MS = 10_000;
const META_SAVE_DELAY_MS = 500;
/** A state vector of no client (varUint 0). */
const EMPTY_STATE_VECTOR = new Uint8Array([0]);

export const Notices = {
  refusedUpdate: 'A malformed update from the network was refused; nothing was applied or stored.',
  rebuilt: 'A malformed update from the network was refused; the room was rebuilt from local storage.',
  evicted:
    'This device lost its saved copy of the room (the browser deleted it, probably for lack of space). It is being fetched again from the relay; messages that never reached the relay are gone.',
  partial:
    'Part of this device’s saved copy of the room is missing (the browser deleted some of it). Missing messages are fetched again from the relay.',
  loadFailed: 'This room could not be read from the device’s storage; it is shown from the relay only.',
} as const;

interface Replica {
  readonly doc: Y.Doc;
  readonly chat: ChatRoom;
  readonly awareness: awarenessProtocol.Awareness;
  readonly provider: WebsocketProvider;
  /** Set when the doc froze: no more edits, it is being replaced. */
  frozen: boolean;
  dispose(): void;
}

interface Loaded {
  readonly doc: Y.Doc;
  readonly stored: StoredUpdates | null;
  /** Every stored update applied cleanly. */
  readonly clean: boolean;
}

const defaultRandomBytes: RandomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

const hasWindow = (): boolean => typeof window !== 'undefined' && typeof window.addEventListener === 'function';

const sameReactions = (a: ChatMessage['reactions'], b: ChatMessage['reactions']): boolean =>
  a.length === b.length &&
  a.every((r, i) => {
    const o = b[i]!;
    return r.emoji === o.emoji && r.users.length === o.users.length && r.users.every((u, j) => u === o.users[j]);
  });

const NO_PENDING_REACTIONS: MessageView['pendingReactions'] = Object.freeze([]);

const samePendingReactions = (a: MessageView['pendingReactions'], b: MessageView['pendingReactions']): boolean =>
  a.length === b.length && a.every((r, i) => r.emoji === b[i]!.emoji && r.state === b[i]!.state);

const sameView = (a: MessageView, b: MessageView): boolean =>
  a.id === b.id &&
  a.text === b.text &&
  a.authorId === b.authorId &&
  a.authorName === b.authorName &&
  a.wall === b.wall &&
  a.replyTo === b.replyTo &&
  a.edited === b.edited &&
  a.deleted === b.deleted &&
  compareHlc(a.hlc, b.hlc) === 0 &&
  a.yId?.client === b.yId?.client &&
  a.yId?.clock === b.yId?.clock &&
  a.editYId?.client === b.editYId?.client &&
  a.editYId?.clock === b.editYId?.clock &&
  a.state === b.state &&
  a.late === b.late &&
  a.clockAheadMs === b.clockAheadMs &&
  a.own === b.own &&
  sameReactions(a.reactions, b.reactions) &&
  samePendingReactions(a.pendingReactions, b.pendingReactions);

/** A message's view and what it was made from. */
interface CachedView {
  readonly m: ChatMessage;
  readonly v: MessageView;
  readonly acked: boolean;
  readonly seen: boolean;
  readonly stored: boolean;
  /** `viewEpoch` of the messageViews call that made it. */
  readonly epoch: number;
}

/**
 * Where `m` is in `order` (a display order), -1 if not there. Display order is ORD-1's sort except
 * where ORD-2 moved a reply under its parent, so a binary search finds almost every message; a
 * moved one is looked for from the end (recent messages are the ones that change).
 */
const indexInOrder = (order: readonly ChatMessage[], m: ChatMessage): number => {
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byHlcThenId(order[mid]!, m) < 0) lo = mid + 1;
    else hi = mid;
  }
  if (order[lo] === m) return lo;
  for (let i = order.length - 1; i >= 0; i--) if (order[i] === m) return i;
  return -1;
};

export class RoomSession {
  readonly room: string;
  private me: Identity;
  private readonly background: boolean;
  private readonly done: (() => void) | undefined;
  /** CHAT-9: the title this device last set, until its fate is known (./ownTitle.ts). */
  private ownTitle: OwnTitle | null = null;
  readonly transport: Transport;
  /** The network lab's hooks (LAB-1..LAB-8). */
  readonly lab: LabHooks;
  /** UP-1, UP-2: every update to the relay goes through here. */
  private readonly uploads: Uploads;
  /** UP-2's limits of the relay that served the page (null: unknown), for STRUCT-1. */
  private readonly relayLimits: () => PublishedLimits | null;
  private readonly connecting: () => void;
  private readonly store: RoomUpdateStore;
  private readonly persistent: boolean;
  private readonly relayUrl: string;
  private readonly now: () => number;
  private readonly randomBytes: RandomBytes;
  private readonly clock: HybridClock;
  private readonly crossTab: boolean;

  private replica: Replica | null = null;
  private rebuilding: Promise<void> | null = null;
  private rebuildTimes: number[] = [];
  private destroyed = false;

  // Connection
  private manualOffline = false;
  private refusal: string | null = null;
  /** The refusal cannot be lifted by the user (invalid room name). */
  private refusalPermanent = false;
  private lastSyncedAt: number | null = null;
  private networkOnline = true;

  // Storage
  private storageError: string | null = null;
  private evicted = false;
  /** A load of this session succeeded cleanly: compaction is allowed. */
  private loadedCleanly = false;
  private storedCount = 0;
  private compacting = false;
  private lastCompactionAt = -Infinity;
  private readonly appends = new Set<Promise<void>>();
  /** Sync meta writes in flight (`saveSyncMeta`). */
  private readonly metaWrites = new Set<Promise<void>>();
  /** STATE-4: which of this session's own edits the store holds. */
  private readonly localWrites = new LocalWrites();
  private needsFullWrite = false;
  private healing = false;
  private syncMetaSupported = true;

  // Message states
  private readonly acked = new Map<number, number>();
  /** STATE-7: the relay's acks, passed to and from the profile's other tabs of the room (null: crossTab off). */
  private readonly ackShare: AckShare | null;
  private readonly seen = new Map<number, number>();
  private late: string[] = [];
  private lateSet = new Set<string>();
  private readonly aheadMs = new Map<string, number>();
  private maxShown: { hlc: Hlc; id: string } | null = null;
  private maxShownAtConnect: { hlc: Hlc; id: string } | null = null;
  private readonly recentClients = new RecentClients();
  private readonly presenceCache = new WeakMap<object, ReturnType<typeof parsePresence>>();
  private lastPublishedSv = '';
  private localTyping = false;

  // View
  private readonly listeners = new Set<() => void>();
  private cachedView: RoomView | null = null;
  /** The last view handed out: the base for reusing unchanged parts. */
  private lastView: RoomView | null = null;
  /** Messages or their states (acks, seen, late) may have changed since the last view. */
  private viewMessagesStale = true;
  /**
   * The message views (see `messageViews`). Invariants between calls: `viewSource` is the display
   * order the last views were made from and `viewOut[i]` is the view of `viewSource[i]`; `viewById`
   * holds exactly the ids in `viewOut`, each with the CachedView that made its view; `openOwn`
   * holds the own messages not acked, seen and stored yet (their state can still change; a message
   * can be seen before its ack arrives, and acked before this device stores it), `pendingIds` the
   * own messages not acked.
   */
  private viewSource: readonly ChatMessage[] = [];
  private viewOut: readonly MessageView[] = [];
  private readonly viewById = new Map<string, CachedView>();
  private readonly openOwn = new Map<string, CachedView>();
  /**
   * Yjs clients of the own messages viewed so far, of own reactions tracked (STATE-5) and of the
   * own title (STATE-6): whose clocks the sync meta keeps, so 'saved' survives a reload offline.
   * Only grows.
   */
  private readonly ownClients = new Set<number>();
  private readonly pendingIds = new Set<string>();
  /**
   * STATE-5: own reactions (by their key, in the form ChatRoom.react writes) whose current value
   * the relay has not acked. Kept by the reactions map's observer (and a scan of the loaded doc),
   * re-checked only when acks or the store grow (./openReactions.ts), so no view walks the
   * reactions of every message.
   */
  private readonly openReactions = new OpenReactions();
  private viewEpoch = 0;
  /** Ids whose late flag, clock-ahead or own reactions (STATE-5) changed since the last view. */
  private readonly staleViewIds = new Set<string>();
  /** An ack or seen clock grew since the last view: the `openOwn` messages are checked again. */
  private statesChanged = false;
  /** An ack or the store grew since the last view: the `openReactions` are checked again (not for a seen clock). */
  private reactionStatesChanged = false;
  private notifyScheduled = false;
  private notices: string[] = [];
  /** REFUSE-3: retryable-close notices shown since the last ack growth, and those an ack resolved since. */
  private retryableNotices = new Set<string>();
  private resolvedNotices: ReadonlySet<string> = new Set();
  private lastRefusedNoticeAt = -Infinity;
  /** Since when own messages have been pending on a synced connection (STATE-2). */
  private pendingSince: number | null = null;
  /** Times an ack grew a clock of `acked` (STATE-2: a re-check that brought none finds the relay lacking). */
  private ackGrowths = 0;
  /**
   * STATE-2: the socket re-checks (SyncStep1) go on, `ackGrowths` when the first of them since an
   * ack last grew (or since the last upload of what the relay lacks) was sent, and when.
   */
  private quietSince: { readonly ws: WebSocket; readonly ackGrowths: number; readonly at: number } | null = null;
  /**
   * STATE-2: the wait before the next re-check on `ws`: ACK_REFRESH_MS, doubled after each re-check
   * until an ack grows (up to ACK_REFRESH_MAX_MS); back to the start on another socket, an ack
   * that grew, or nothing pending.
   */
  private ackRefresh: { ws: WebSocket | null; ackGrowths: number; everyMs: number } = {
    ws: null,
    ackGrowths: 0,
    everyMs: ACK_REFRESH_MS,
  };

  // Timers and handlers to undo
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private svTimer: ReturnType<typeof setTimeout> | null = null;
  private metaTimer: ReturnType<typeof setTimeout> | null = null;
  /** STATE-3: the sync meta was saved after this session's first sync. */
  private savedFirstSync = false;
  private lastMetaSave = Number.NEGATIVE_INFINITY;
  private storageRetryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly ackRefreshTimer: ReturnType<typeof setInterval>;
  private readonly cleanups: Array<() => void> = [];

  private constructor(opts: RoomSessionOptions) {
    this.room = opts.room;
    this.me = opts.identity;
    this.background = opts.background ?? false;
    this.done = opts.done;
    this.manualOffline = opts.offline ?? false;
    this.store = opts.store;
    this.persistent = opts.persistent;
    const labClock = new SkewableClock(opts.now ?? Date.now);
    this.now = () => labClock.now();
    this.randomBytes = opts.randomBytes ?? defaultRandomBytes;
    this.crossTab = opts.crossTab ?? true;
    this.relayUrl = opts.relayUrl;
    this.transport = opts.transport ?? new Transport({ WebSocketImpl: opts.WebSocketImpl, relays: opts.relays });
    // HLC node: a short random id per session (never the user id: two tabs must not share it).
    this.clock = new HybridClock(newId(this.randomBytes).slice(0, 10), this.now);
    this.ackRefreshTimer = setInterval(() => this.refreshAcks(), ACK_REFRESH_TICK_MS);
    this.relayLimits = opts.relayLimits ?? (() => null);
    this.connecting = opts.connecting ?? (() => undefined);
    // STRUCT-4: a refusal's oversized messages are measured against the limits known now.
    if (opts.watchRelayLimits) this.cleanups.push(opts.watchRelayLimits(() => this.markDirty()));
    if (opts.watchOffline) this.cleanups.push(opts.watchOffline((off) => this.setOffline(off)));
    this.uploads = new Uploads({
      limits: this.relayLimits,
      isCurrent: (ws) => {
        const provider = this.replica?.provider;
        const open = provider?.ws;
        return !!open && open === ws && provider.wsconnected && open.readyState === open.OPEN;
      },
      changed: () => this.markDirty(),
      // UP-6: the pacer's SyncStep1s; it sends them only on this replica's open socket.
      stateVector: () => (this.replica ? Y.encodeStateVector(this.replica.doc) : EMPTY_STATE_VECTOR),
    });
    this.lab = new LabHooks(
      {
        crossTab: this.crossTab,
        replica: () => this.internals,
        acked: () => this.acked,
        pendingCount: () => pendingWrites(this.view()),
        reconnectNow: () => {
          const r = this.replica;
          if (!r) return;
          const rejoining = !r.provider.bcconnected;
          // connect() joins the tabs too (the provider's connect); switched off, only the tabs.
          if (r.provider.ws === null && this.mayConnect()) this.connect();
          else if (rejoining) this.joinTabs();
          // STATE-7: acks the other tabs got while this one was cut off from them.
          if (rejoining && r.provider.bcconnected) this.ackShare?.ask();
        },
        faultsChanged: () => this.markDirty(),
        hlcWall: () => this.clock.peek().wall,
        subscribe: (l) => this.subscribe(l),
        selfName: this.me.name,
        selfId: this.me.id,
        uploader: this.uploads,
        tab: opts.labTab ?? null,
        presencePending: () => this.svTimer !== null,
      },
      this.transport,
      labClock,
      opts.labRandom,
    );
    if (opts.faults) this.lab.setFaults(opts.faults);
    // STATE-7: only while this replica is in cross-tab sync (not partitioned, LAB-1), so acks go
    // where the updates they cover go.
    this.ackShare = this.crossTab
      ? new AckShare(
          this.room,
          {
            active: () => !this.destroyed && this.replica?.provider.bcconnected === true,
            known: () => this.acked,
            merge: (clocks) => this.mergeAcks(clocks),
          },
          opts.ackChannel,
        )
      : null;
  }

  /** Loads the room from the store, then connects (unless the room name is refused). */
  static async open(opts: RoomSessionOptions): Promise<RoomSession> {
    const s = new RoomSession(opts);
    try {
      await s.init();
    } catch (e) {
      s.destroy();
      throw e;
    }
    return s;
  }

  private async init(): Promise<void> {
    if (!isValidRoomName(this.room)) {
      this.refusal = roomNameRefusal(this.room);
      this.refusalPermanent = true;
    }
    this.cleanups.push(this.store.onError((e) => this.onStorageError(e)));
    if (hasWindow()) {
      this.networkOnline = typeof navigator === 'undefined' || navigator.onLine !== false;
      this.transport.setNetworkDown(!this.networkOnline);
      const online = (): void => this.onNetworkChange(true);
      const offline = (): void => this.onNetworkChange(false);
      window.addEventListener('online', online);
      window.addEventListener('offline', offline);
      // PRES-4: the page is going away (closed, navigated, or into the back-forward cache).
      const hide = (): void => this.leavePresence();
      const show = (e: PageTransitionEvent): void => {
        if (e.persisted) this.rejoinPresence();
      };
      window.addEventListener('pagehide', hide);
      window.addEventListener('pageshow', show);
      this.cleanups.push(() => {
        window.removeEventListener('online', online);
        window.removeEventListener('offline', offline);
        window.removeEventListener('pagehide', hide);
        window.removeEventListener('pageshow', show);
      });
    }
    const [loaded, meta, roomMeta] = await Promise.all([
      this.loadFromStore(),
      readSyncMeta(this.store, this.room),
      this.store.getMeta(this.room).catch(() => undefined),
    ]);
    if (this.destroyed) {
      loaded.doc.destroy();
      return;
    }
    if (meta) {
      for (const [c, k] of meta.acked) this.acked.set(c, k);
      for (const [c, k] of meta.seen) this.seen.set(c, k);
      this.late = [...meta.late];
      this.lateSet = new Set(this.late);
      for (const [id, ms] of meta.ahead) this.aheadMs.set(id, ms);
      // STATE-3: "last synced" is what this room last did, not only this page.
      if (meta.syncedAt !== null && (this.lastSyncedAt ?? 0) < meta.syncedAt) this.lastSyncedAt = meta.syncedAt;
    }
    const stored = loaded.stored;
    if (stored) {
      const loss = detectLoss(stored);
      if (loss === LossStatus.evicted) {
        this.evicted = true;
        this.addNotice(Notices.evicted);
      } else if (loss === LossStatus.partial) {
        this.addNotice(Notices.partial);
      }
      this.loadedCleanly = loaded.clean;
      this.storedCount = stored.updates.length;
      // STORE-C2: the doc holds exactly the loaded updates now, so its state replaces them. After a
      // partial loss this also recounts the store (LOCAL-6), so the loss is reported once, not forever.
      if (loaded.clean && (shouldCompact(stored) || loss === LossStatus.partial)) {
        void this.compactWith(Y.encodeStateAsUpdate(loaded.doc), stored);
      }
    }
    const readSv = decodeReadSv(roomMeta?.readSv);
    const readId = roomMeta?.lastReadMessageId;
    this.ownTitle = decodeOwnTitle(roomMeta?.ownTitle);
    this.install(loaded.doc, readSv && readId !== undefined ? { id: readId, sv: readSv } : null);
    if (!this.background) this.store.setMeta(this.room, { lastOpenedAt: this.now() }).catch(() => {});
  }

  // ---------------------------------------------------------------- public API

  /** Immutable snapshot; the same object until something changes. */
  view(): RoomView {
    if (!this.cachedView) this.cachedView = this.computeView();
    return this.cachedView;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Sends a message; throws ChatError (and changes nothing) when refused. */
  send(text: string, replyTo?: string): MessageView {
    this.checkTextSize(text);
    const r = this.mutable();
    const rec = r.chat.send(this.me, text, { ...(replyTo !== undefined ? { replyTo } : {}), shownMax: this.maxShown });
    this.afterMutation(r);
    this.stopTyping();
    const list = this.view().messages;
    // A new message is almost always the last one.
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.id === rec.id) return list[i]!;
    throw new Error('The message was sent but cannot be shown (internal error).');
  }

  edit(id: string, text: string): void {
    this.checkTextSize(text);
    const r = this.mutable();
    r.chat.edit(this.me, id, text);
    this.afterMutation(r);
  }

  /** STRUCT-1: the most UTF-8 bytes a text may take to be sent or saved here; null while the limits are unknown. */
  textByteLimit(): number | null {
    const limits = this.relayLimits();
    return limits ? textByteLimit(limits.maxStructBytes) : null;
  }

  /**
   * STRUCT-1: a text the relay would refuse for good (VAL-10: larger than the structs it passes
   * on) is refused here, while it is still a draft; unknown limits refuse nothing.
   */
  private checkTextSize(text: string): void {
    const limits = this.relayLimits();
    // An empty or over-long text gets CHAT-2's reason, from ChatRoom.
    const refusal = limits && !validateText(text) ? validateTextSize(text, limits.maxStructBytes) : null;
    if (refusal) throw refusal;
  }

  remove(id: string): void {
    const r = this.mutable();
    r.chat.remove(this.me, id);
    this.afterMutation(r);
  }

  react(id: string, emoji: string, on: boolean): void {
    const r = this.mutable();
    r.chat.react(this.me, id, emoji, on);
    this.afterMutation(r);
  }

  setTitle(title: string): void {
    const r = this.mutable();
    r.chat.setTitle(this.me, title);
    const yId = r.chat.ownTitleYId(this.me.id);
    if (yId && !this.background) {
      this.ownTitle = { title: r.chat.title(), ...yId };
      // Only the CHAT-9 notice depends on this record; the title itself is stored with the
      // doc's update (LOCAL-1), whose failures are shown.
      this.store.setMeta(this.room, { ownTitle: encodeOwnTitle(this.ownTitle) }).catch(() => {});
    }
    this.afterMutation(r);
  }

  /**
   * CHAT-9: once this device's last rename is known to be replaced or lost, forget it; lost to a
   * concurrent rename (and another title shown), tell the user. The stored record is removed
   * only if it is still this one (another tab may have set a newer title since).
   */
  private checkOwnTitle(chat: ChatRoom): void {
    const own = this.ownTitle;
    if (!own || this.background) return;
    const fate = chat.titleFate(own);
    if (fate === 'shown' || fate === 'unknown') return;
    if (fate === 'lost' && chat.title() !== own.title) this.addNotice(lostTitleNotice(own.title, chat.title()));
    this.ownTitle = null;
    const stored = encodeOwnTitle(own);
    this.store.setMeta(this.room, (meta) => (meta.ownTitle === stored ? { ownTitle: undefined } : {})).catch(() => {});
  }

  /** PRES-1: typing is published at once and cleared after TYPING_TIMEOUT_MS without a call. */
  setTyping(typing: boolean): void {
    if (!typing) {
      this.stopTyping();
      return;
    }
    if (this.typingTimer !== null) clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_TIMEOUT_MS);
    if (!this.localTyping) {
      this.localTyping = true;
      this.replica?.awareness.setLocalStateField('typing', true);
    }
  }

  /**
   * STRUCT-4: tries again after a refusal the user may have lifted (an oversized message deleted),
   * as switching the room offline and online does (REFUSE-1); the relay or the next check refuses
   * again if not.
   */
  retry(): void {
    if (this.destroyed || this.refusal === null || this.refusalPermanent) return;
    this.refusal = null;
    this.rebuildTimes = [];
    this.replica?.provider.disconnect();
    this.connect();
    this.markDirty();
  }

  /** The "Go offline" switch (OFF-1): disconnects from the relay, not from the other tabs; or reconnects. */
  /**
   * NET-4 "Retry now": an attempt waiting out the stock provider's backoff (up to MAX_BACKOFF_MS)
   * or NET-1's jitter starts at once. False, doing nothing, when no attempt may start or one would
   * fail for sure: connected, switched off, refused, cut off by a Lab partition, no network.
   */
  retryNow(): boolean {
    const r = this.replica;
    if (!r || !this.mayConnect() || this.lab.partitioned || !this.networkOnline || r.provider.wsconnected) return false;
    this.transport.retryNow();
    // Between attempts the provider holds no socket; it would make the next one when its backoff ends.
    if (r.provider.ws === null) this.connect();
    return true;
  }

  setOffline(offline: boolean): void {
    if (this.destroyed || offline === this.manualOffline) return;
    this.manualOffline = offline;
    if (offline) {
      // The stock provider leaves cross-tab sync too.
      this.replica?.provider.disconnect();
      this.joinTabs();
    } else {
      if (this.refusal !== null && !this.refusalPermanent) {
        this.refusal = null;
        this.rebuildTimes = [];
      }
      this.connect();
    }
    this.markDirty();
  }

  /** The room as a file (./roomFile.ts). */
  /** Who sends from this session (the profile's id; the name can change, see `setName`). */
  get identity(): Identity {
    return this.me;
  }

  /**
   * PRES-3: the profile's display name changed (here or in another tab): presence shows the new
   * name at once, and messages sent from now on carry it. Sent messages keep the name they were
   * sent with.
   */
  setName(name: string): void {
    if (name === this.me.name) return;
    this.me = { id: this.me.id, name };
    this.replica?.awareness.setLocalStateField('user', { id: this.me.id, name });
  }

  exportUpdates(): Uint8Array {
    const r = this.requireReplica();
    return encodeRoomFile(
      { format: ROOM_FILE_FORMAT, room: this.room, exportedAt: this.now() },
      Y.encodeStateAsUpdate(r.doc),
    );
  }

  exportTranscript(): string {
    const r = this.requireReplica();
    return formatTranscript(this.room, r.chat.title(), this.messages(), this.now());
  }

  /**
   * Merges a room file into this room. Refuses (ImportError, nothing changes) a file that is not
   * a valid Converge room file, or that holds another room unless `allowOtherRoom`. Resolves, with
   * what the file brought (FILE-2), once the imported data is in the local store (or the store
   * failed: see `storage.error`).
   */
  async importFile(bytes: Uint8Array, opts: { allowOtherRoom?: boolean } = {}): Promise<ImportSummary> {
    const file = decodeRoomFile(bytes);
    if (file.header.room !== this.room && !opts.allowOtherRoom) {
      throw new ImportError(
        `This file holds the room "${file.header.room}", not this room ("${this.room}"). Open "${file.header.room}" to import it.`,
      );
    }
    const r = this.replica;
    if (!r || r.frozen || this.rebuilding) throw new ImportError('The room is being rebuilt; try again in a moment.');
    const measure = beginImport(r.chat);
    const result = applyUpdateDefensively(r.doc, file.update, IMPORT_ORIGIN);
    if (result.status === 'refused') {
      throw new ImportError('This room file does not fit this room. Nothing was imported.', result.reason);
    }
    if (result.status === 'frozen') {
      this.onFrozen(r);
      throw new ImportError(
        'This room file could not be applied; the room was reloaded from this device’s storage. Nothing was imported.',
      );
    }
    // FILE-2: measured at once: what the relay sends while the import is stored is not the file's.
    const summary = measure.finish();
    this.markMessagesChanged();
    await Promise.allSettled([...this.appends]);
    return summary;
  }

  /**
   * PRES-4: announces that this session left (its awareness state removed, over the relay and
   * to other tabs). The stock provider does this only in Node: in a browser a closed tab would
   * stay in other tabs of the same profile, which learned it over BroadcastChannel, until the
   * 30 s awareness timeout whenever the relay never saw it. Called on `pagehide`.
   */
  leavePresence(): void {
    const r = this.replica;
    if (!r || r.awareness.getLocalState() === null) return;
    awarenessProtocol.removeAwarenessStates(r.awareness, [r.doc.clientID], 'leave');
  }

  /** PRES-4: back from the back-forward cache (or a kept session taken back): announce this session again. */
  rejoinPresence(): void {
    const r = this.replica;
    if (!r || this.background || r.awareness.getLocalState() !== null) return;
    // LAB-7: with the lab field, in the same frame (PRES-9); the state put back had none.
    const lab = this.lab.takeChangedField();
    r.awareness.setLocalState({ ...this.ownPresence(r.doc), ...(lab ? { [LAB_AWARENESS_FIELD]: lab } : {}) });
  }

  /** This session's awareness state when it (re)joins: who, not typing, the seen clocks (SEEN-1). */
  private ownPresence(doc: Y.Doc): { user: Identity; typing: boolean; sv: ReturnType<RoomSession['svEntries']> } {
    return { user: { id: this.me.id, name: this.me.name }, typing: false, sv: this.svEntries(doc) };
  }

  /**
   * UNREAD-1: what the doc holds now, as the read mark's state vector (`RoomMeta.readSv`); null
   * before it is loaded. The room screen takes it when the reader is at the newest message.
   */
  readStateVector(): string | null {
    return this.replica ? encodeReadSv(Y.encodeStateVector(this.replica.doc)) : null;
  }

  /** True once the relay's SyncStep2 arrived on the current connection: what the relay held then is here. */
  get synced(): boolean {
    return this.replica?.provider.synced ?? false;
  }

  /**
   * UP-5: bytes queued for the relay and not yet handed to its socket (UP-2's pacing; 0 when nothing
   * waits). Subscribers hear when a queue that had to wait empties.
   */
  get queuedUploadBytes(): number {
    return this.uploads.queuedBytes();
  }

  /** UP-6: the upload's next frame waits for the relay to answer for those in flight (it may be stalled). */
  get uploadHeldForRelay(): boolean {
    return this.uploads.heldForRelay();
  }

  /**
   * Resolves when every update this session has received or made so far is in the store, and
   * every sync meta write started so far (acks, seen clocks: STATE-1) is done (or failed). After
   * `destroy`, that includes the acks it flushed: the lobby reads them right after (LOBBY-3).
   */
  async whenStored(): Promise<void> {
    await Promise.allSettled([...this.appends, ...this.metaWrites]);
  }

  /** Leaves the room: announces the departure (presence), closes the connection, stops timers. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    clearInterval(this.ackRefreshTimer);
    this.ackShare?.close();
    this.uploads.stop();
    this.lab.dispose();
    for (const t of [this.typingTimer, this.svTimer, this.storageRetryTimer]) if (t !== null) clearTimeout(t);
    if (this.metaTimer !== null) {
      clearTimeout(this.metaTimer);
      this.metaTimer = null;
      this.saveSyncMeta();
    }
    for (const c of this.cleanups.splice(0)) c();
    const r = this.replica;
    this.replica = null;
    r?.dispose();
    this.listeners.clear();
    if (this.done) void this.whenStored().then(this.done);
  }

  // ---------------------------------------------------------------- loading and the replica

  private async loadFromStore(): Promise<Loaded> {
    let stored: StoredUpdates | null = null;
    try {
      stored = await this.store.load(this.room);
    } catch (e) {
      this.setStorageError(e);
      this.addNotice(Notices.loadFailed);
    }
    const { doc, skipped } = buildDoc(stored?.updates ?? []);
    if (skipped > 0) {
      this.addNotice(
        `${skipped} saved change${skipped === 1 ? '' : 's'} of this room could not be read from this device and ${skipped === 1 ? 'was' : 'were'} skipped.`,
      );
    }
    return { doc, stored, clean: stored !== null && skipped === 0 };
  }

  /**
   * `read` (LATE-2, on open only): the read mark stored for the room (UNREAD-1). Messages by others
   * it does not cover that sort before its message arrived after it was read, by the lobby's
   * refresh or another tab, out of this session's sight: they are marked late as LATE-1 would have.
   * Checked in the walk over the loaded messages that install makes anyway (a map lookup each).
   */
  private install(doc: Y.Doc, read: { id: string; sv: ReadonlyMap<number, number> } | null = null): void {
    const chat = new ChatRoom(doc, this.clock, this.randomBytes, this.now);
    const readRecord = read && chat.record(read.id);
    const readHlc = readRecord ? decodeHlc(readRecord.hlc) : null;
    let lateNoted = false;
    // Messages already here count as shown; their HLCs move our clock forward (HLC-1).
    this.maxShown = null;
    const now = this.now();
    const existing = chat.orderedMessages();
    // Newest first: observing an HLC not above the clock changes nothing, so after the first
    // few (the newest acceptable ones) the clock is not asked again.
    let clockAt = this.clock.peek();
    let maxShown: ChatMessage | null = null;
    let aheadNoted = false;
    for (let i = existing.length - 1; i >= 0; i--) {
      const m = existing[i]!;
      const h = m.hlc;
      if (h.wall > clockAt.wall || (h.wall === clockAt.wall && h.counter > clockAt.counter)) {
        this.clock.observe(h);
        clockAt = this.clock.peek();
      }
      if (this.noteAhead(m.id, h.wall - now)) aheadNoted = true;
      if (
        read &&
        readHlc &&
        m.authorId !== this.me.id &&
        arrivedSince(read.sv, m.yId) &&
        byHlcThenId(m, { hlc: readHlc, id: read.id }) < 0 &&
        this.noteLate(m.id)
      ) {
        lateNoted = true;
      }
      if (!maxShown || byHlcThenId(m, maxShown) > 0) maxShown = m;
    }
    this.maxShown = maxShown ? { hlc: maxShown.hlc, id: maxShown.id } : null;
    for (const m of existing.slice(-100)) {
      if (m.yId) this.recentClients.touch(m.yId.client);
      if (m.editYId) this.recentClients.touch(m.editYId.client);
    }
    for (const m of existing) this.lab.noteArrival(m.id);
    this.maxShownAtConnect = this.maxShown;

    const awareness = new awarenessProtocol.Awareness(doc);
    // SYNC-C1: a background session has no state (setLocalStateField is then a no-op).
    awareness.setLocalState(this.background ? null : this.ownPresence(doc));
    this.localTyping = false;
    const provider = new WebsocketProvider(this.relayUrl, this.room, doc, {
      connect: false,
      awareness,
      WebSocketPolyfill: this.transport.WebSocket,
      maxBackoffTime: MAX_BACKOFF_MS,
      // LAB-1: a partitioned session stays out of cross-tab sync too, also after a rebuild.
      disableBc: !this.crossTab || this.lab.partitioned,
    });
    // PRES-2: the stock provider sends every awareness change to the relay, also the states it
    // just received from it (or from another tab): in a room of n that is n echoes of every
    // change, which the relay drops (FWD-2: not newer). Only this replica's own changes are sent
    // (and its answer to a removal of its own state, PRES-7).
    awareness.off('update', provider._awarenessUpdateHandler);
    const sendOwnAwareness = (changes: AwarenessChanges, origin: unknown): void => {
      const send = ownStateToSend(changes, origin === provider, awareness);
      if (send)
        provider._awarenessUpdateHandler(
          { added: [...send.added], updated: [...send.updated], removed: [...send.removed] },
          origin,
        );
    };
    awareness.on('update', sendOwnAwareness);
    // PRES-7: seen again after a reconnect, and seeing the others again.
    const stopKeepingPresence = keepPresenceAcrossReconnects(provider, awareness);
    // UP-1: the stock provider sends every update of the doc as one frame; an imported room file
    // (up to 64 MiB) must reach the relay in pieces it accepts, UP-2: no faster than it accepts
    // them. UP-3: the user's own edits (local transactions) go before any queued upload. Other
    // tabs take it whole. provider.destroy() removes the handler it holds then.
    doc.off('update', provider._updateHandler);
    provider._updateHandler = (update: Uint8Array, origin: unknown, _doc?: Y.Doc, tr?: Y.Transaction) => {
      if (origin === provider) return;
      const ws = provider.ws;
      if (provider.wsconnected && ws && ws.readyState === ws.OPEN) {
        if (tr?.local) this.uploads.live(ws, update, mapEntryLookup(doc));
        else this.uploads.update(ws, update, mapEntryLookup(doc));
      }
      if (provider.bcconnected) bc.publish(provider.bcChannel, encodeSyncUpdate(update), provider);
    };
    doc.on('update', provider._updateHandler);
    const replica: Replica = {
      doc,
      chat,
      awareness,
      provider,
      frozen: false,
      dispose: () => {
        try {
          awarenessProtocol.removeAwarenessStates(awareness, [doc.clientID], 'leave');
        } catch {
          // nothing to announce
        }
        awareness.off('update', sendOwnAwareness);
        stopKeepingPresence();
        provider.destroy();
        awareness.destroy();
        doc.destroy();
      },
    };

    provider.messageHandlers[MessageType.Sync] = createSyncHandler({
      onReceived: (inner, fromSocket) => {
        // The relay's SyncStep1 comes before its answer (SyncStep2): it is not "synced" yet.
        if (!fromSocket || inner === SyncType.Step1) return;
        this.lastSyncedAt = this.now();
        this.markDirty();
      },
      onRefused: (reason) => {
        // At most one such notice per REFUSED_NOTICE_INTERVAL_MS: a misbehaving peer cannot flood the list.
        const now = this.now();
        if (now - this.lastRefusedNoticeAt < REFUSED_NOTICE_INTERVAL_MS) return;
        this.lastRefusedNoticeAt = now;
        this.addNotice(`${Notices.refusedUpdate} (${reason})`);
      },
      onFrozen: () => this.onFrozen(replica),
      onThrew: (e) => console.error('An observer threw while applying a remote update', e),
      uploader: this.uploads,
      answered: () => {
        if (provider.ws) this.uploads.answered(provider.ws);
      },
    });
    provider.messageHandlers[MessageType.Ack] = (_encoder, decoder: decoding.Decoder) => this.onAck(decoder);

    doc.on('update', (update: Uint8Array, origin: unknown, _doc: Y.Doc, tr: Y.Transaction) => {
      // yjs picks a new client id only after a remote transaction: a local one used this one.
      if (tr.local) this.localWrites.track(doc.clientID);
      if (origin !== STORAGE_ORIGIN) this.append(update, doc);
      this.markMessagesChanged();
      this.scheduleSvPublish();
    });
    chat.messagesMap.observe((event) => this.onMessagesChanged(chat, event));
    chat.edits.observe((event) => this.onEditsChanged(chat, event));
    // STATE-5: the own reactions the loaded doc holds (one pass over its keys), then every change.
    this.openReactions.clear();
    const ownPart = `|${this.me.id}|`;
    for (const key of chat.reactionsMap.keys()) if (key.includes(ownPart)) this.trackReaction(chat, key);
    chat.reactionsMap.observe((event) => this.onReactionsChanged(chat, event));
    // CHAT-9: a rename may have lost while the room was closed (the lobby's refresh stores it),
    // or lose now to one arriving.
    this.checkOwnTitle(chat);
    chat.meta.observe((event) => {
      if (!event.transaction.local) this.checkOwnTitle(chat);
    });
    awareness.on('change', (e: { added: number[]; updated: number[] }) =>
      this.onAwarenessChange(replica, [...e.added, ...e.updated]),
    );
    provider.on('status', (e) => {
      if (e.status === 'connected') {
        this.maxShownAtConnect = this.maxShown;
        // UP-6: y-websocket sends its SyncStep1 right after this event; the relay's answers count from here.
        if (provider.ws) this.uploads.opened(provider.ws);
      }
      // UP-2: what was queued for the closed socket is dropped; the next SyncStep1 asks again.
      if (e.status === 'disconnected') this.uploads.stop();
      this.markDirty();
    });
    provider.on('sync', (synced) => {
      if (synced) {
        this.lastSyncedAt = this.now();
        this.publishSv(replica);
        // STATE-3: a session that syncs but never gets an ack (it sent nothing) would otherwise
        // leave "last synced" unsaved: a reload offline right after would say "not synced yet".
        // Saved outside scheduleMetaSave's pacing, so the first ack is still saved at once.
        if (!this.savedFirstSync) {
          this.savedFirstSync = true;
          this.saveSyncMeta();
        }
      }
      this.markDirty();
    });
    provider.on('connection-close', (event) => {
      const notice = event ? describeRetryableClose(event.code) : null;
      if (notice) {
        this.addNotice(notice);
        this.retryableNotices.add(notice);
      }
      this.markDirty();
    });
    provider.on('closed', (e) => {
      this.refusal = describeFatalClose(e.code, e.reason);
      this.addNotice(this.refusal);
    });

    this.replica = replica;
    this.markMessagesChanged();
    if (aheadNoted || lateNoted) this.scheduleMetaSave();
    if (this.mayConnect()) this.connect();
    else this.joinTabs();
    // STATE-7: acks another tab got since this one read the sync meta (saved at a pace).
    this.ackShare?.ask();
  }

  /**
   * OFF-1: switched off, a session still syncs with the profile's other tabs of the room over
   * BroadcastChannel. They are one device, switched off together; a message written in a tab that
   * is then closed must reach the tabs that stay, which upload it when switched on (cut off from
   * each other, it waited in IndexedDB for a reload). Never while partitioned (LAB-1).
   */
  private joinTabs(): void {
    const r = this.replica;
    if (!r || this.destroyed || !this.crossTab || this.lab.partitioned) return;
    r.provider.connectBc();
  }

  /**
   * STRUCT-4: own messages the relay has not acked with a stored text (first version or edit) over
   * the relay's known struct limit, in display order; none while the limits are unknown. A
   * deleted message holds no text (CHAT-5): its old structs go as deleted, a few bytes each.
   */
  private oversizedOwn(): readonly OversizedMessage[] {
    const limits = this.relayLimits();
    const chat = this.replica?.chat;
    if (!limits || !chat) return NONE_OVERSIZED;
    const maxBytes = Math.max(0, limits.maxStructBytes - TEXT_STRUCT_OVERHEAD);
    const out: OversizedMessage[] = [];
    for (const m of chat.orderedMessages()) {
      if (m.authorId !== this.me.id || m.deleted || this.isAcked(m)) continue;
      const bytes = Math.max(...chat.storedTexts(m.id).map(utf8Length));
      if (bytes > maxBytes) out.push({ id: m.id, text: m.text, bytes, maxBytes });
    }
    return out.length > 0 ? out : NONE_OVERSIZED;
  }

  private mayConnect(): boolean {
    return !this.destroyed && !this.manualOffline && this.refusal === null && this.replica !== null;
  }

  private connect(): void {
    const r = this.replica;
    if (!r || !this.mayConnect()) return;
    this.connecting();
    // STRUCT-4: an own message stored before the relay's limits were known (written offline) that
    // they do not let through: the relay would refuse the room's upload for good. Refused here,
    // naming it, without sending anything.
    const oversized = this.oversizedOwn();
    if (oversized.length > 0) {
      this.refusal = oversizedRefusal(oversized);
      this.addNotice(this.refusal);
      this.markDirty();
      return;
    }
    this.transport.connectNow();
    r.provider.connect();
  }

  /** REBUILD-1, REBUILD-2. */
  private onFrozen(replica: Replica): void {
    if (replica.frozen || this.destroyed) return;
    replica.frozen = true;
    const now = this.now();
    this.rebuildTimes = [...this.rebuildTimes.filter((t) => now - t < REBUILD_WINDOW_MS), now];
    this.rebuilding = (async () => {
      // Not inside the provider's message handler: the provider is destroyed here.
      await Promise.resolve();
      if (this.replica === replica) {
        this.replica = null;
        replica.dispose();
      }
      await Promise.allSettled([...this.appends]);
      if (this.destroyed) return;
      const loaded = await this.loadFromStore();
      if (this.destroyed) {
        loaded.doc.destroy();
        return;
      }
      this.loadedCleanly = loaded.clean;
      if (loaded.stored) this.storedCount = loaded.stored.updates.length;
      this.addNotice(Notices.rebuilt);
      // What the rebuilt doc shows came from the store.
      this.localWrites.reset();
      if (this.rebuildTimes.length >= MAX_REBUILDS && this.refusal === null) {
        this.refusal = REPEATED_FREEZE_REFUSAL;
        this.addNotice(REPEATED_FREEZE_REFUSAL);
      }
      this.install(loaded.doc);
    })()
      .catch((e: unknown) => {
        console.error(e);
        this.addNotice('The room could not be reloaded after an error; reload the page.');
      })
      .finally(() => {
        this.rebuilding = null;
        this.markDirty();
      });
  }

  /** Resolves when a rebuild in progress (if any) is done. For tests and the lab. */
  async whenRebuilt(): Promise<void> {
    while (this.rebuilding) await this.rebuilding;
  }

  private mutable(): Replica {
    const r = this.replica;
    if (!r || r.frozen || this.rebuilding) {
      throw new Error('The room is being reloaded from this device’s storage; try again in a moment.');
    }
    return r;
  }

  private requireReplica(): Replica {
    if (!this.replica) throw new Error('The room is being reloaded from this device’s storage; try again in a moment.');
    return this.replica;
  }

  private afterMutation(r: Replica): void {
    // A local edit can freeze a doc too (the same yjs cleanup path); the edit is then lost, the
    // rest is rebuilt from the store.
    if (isDocFrozen(r.doc)) {
      this.onFrozen(r);
      throw new Error('This change could not be applied; the room is being reloaded from this device’s storage.');
    }
  }

  // ---------------------------------------------------------------- storage

  private append(update: Uint8Array, doc: Y.Doc): void {
    const settle = this.localWrites.issue((client) => Y.getState(doc.store, client), false);
    const p = this.store.append(this.room, update).then(
      () => {
        this.storedCount++;
        this.onLocalWriteSettled(settle(true));
        this.onWriteOk();
        this.maybeCompact();
      },
      (e: unknown) => {
        this.onLocalWriteSettled(settle(false));
        this.onWriteFailed(e);
      },
    );
    this.appends.add(p);
    void p.finally(() => this.appends.delete(p));
  }

  /** LEAVE-1: see `RoomView.storage.onlyInPage`. */
  private onlyInPage(): boolean {
    const r = this.replica;
    if (!r) return false;
    return this.localWrites.failedToKeep(
      (client) => Y.getState(r.doc.store, client),
      (client) => this.acked.get(client) ?? 0,
    );
  }

  /** STATE-4: own messages (and reactions, STATE-5) the store now holds go from 'storing' to 'pending'. */
  private onLocalWriteSettled(grew: boolean): void {
    if (!grew) return;
    this.statesChanged = true;
    this.reactionStatesChanged = true;
    this.invalidateView();
    this.markDirty();
  }

  private onWriteOk(): void {
    if (this.needsFullWrite) this.heal();
    else if (this.storageError !== null) {
      this.storageError = null;
      this.markDirty();
    }
  }

  private onWriteFailed(e: unknown): void {
    this.setStorageError(e);
    this.needsFullWrite = true;
    if (this.storageRetryTimer === null && !this.destroyed) {
      this.storageRetryTimer = setTimeout(() => {
        this.storageRetryTimer = null;
        this.heal();
      }, STORAGE_RETRY_MS);
    }
  }

  /** STORE-C1: after failed writes, store the whole state once (the store then holds a superset). */
  private heal(): void {
    const r = this.replica;
    if (this.healing || this.destroyed || !r || r.frozen) return;
    this.healing = true;
    this.needsFullWrite = false;
    const settle = this.localWrites.issue((client) => Y.getState(r.doc.store, client), true);
    const p = this.store.append(this.room, Y.encodeStateAsUpdate(r.doc)).then(
      () => {
        this.storedCount++;
        this.storageError = null;
        this.onLocalWriteSettled(settle(true));
        this.markDirty();
      },
      (e: unknown) => {
        this.onLocalWriteSettled(settle(false));
        this.onWriteFailed(e);
      },
    );
    this.appends.add(p);
    void p.finally(() => {
      this.appends.delete(p);
      this.healing = false;
    });
  }

  private setStorageError(e: unknown): void {
    if (e instanceof TypeError || e instanceof RangeError) {
      // A programming error (LOCAL-2): report it, do not blame the device.
      console.error(e);
    }
    this.storageError = toStorageError(e).message;
    this.markDirty();
  }

  private onStorageError(e: StorageError): void {
    if (this.destroyed) return;
    this.storageError = e.message;
    this.markDirty();
    if (e.kind === StorageErrorKind.closed) void this.recheckAfterConnectionLoss();
  }

  /** LOCAL-8: after a lost connection, the room may be gone from the store: write our state back. */
  private async recheckAfterConnectionLoss(): Promise<void> {
    try {
      const stored = await this.store.load(this.room);
      const r = this.replica;
      if (!r || this.destroyed) return;
      if (stored.updates.length === 0 && r.doc.store.clients.size > 0) {
        this.needsFullWrite = true;
        this.heal();
      } else {
        this.storedCount = stored.updates.length;
        if (!this.needsFullWrite) {
          this.storageError = null;
          this.markDirty();
        }
      }
    } catch (e) {
      // Whether the room survived is unknown (the origin's data may be being cleared, and the
      // reopened database with it): write the whole state back now, to be sure; a failure of that
      // write is reported and retried (STORE-C1). Writing what the store still holds costs a
      // duplicate, never a loss.
      if (this.destroyed) return;
      this.setStorageError(e);
      this.needsFullWrite = true;
      this.heal();
    }
  }

  private maybeCompact(): void {
    if (
      !this.loadedCleanly ||
      this.compacting ||
      this.destroyed ||
      this.storedCount <= COMPACT_AFTER_UPDATES ||
      this.now() - this.lastCompactionAt < MIN_COMPACTION_INTERVAL_MS
    ) {
      return;
    }
    void this.compactFromStore();
  }

  /** STORE-C2: re-load what is stored, merge exactly that (in a scratch doc, so deletions are GC'd) and replace it. */
  private async compactFromStore(): Promise<void> {
    this.compacting = true;
    this.lastCompactionAt = this.now();
    try {
      const stored = await this.store.load(this.room);
      if (!shouldCompact(stored)) {
        this.storedCount = stored.updates.length;
        return;
      }
      const { doc, skipped } = buildDoc(stored.updates);
      const merged = Y.encodeStateAsUpdate(doc);
      doc.destroy();
      if (skipped > 0) return; // never replace what we could not read
      await this.compactWith(merged, stored);
    } catch (e) {
      this.setStorageError(e);
    } finally {
      this.compacting = false;
    }
  }

  private async compactWith(merged: Uint8Array, stored: StoredUpdates): Promise<void> {
    this.lastCompactionAt = this.now();
    try {
      const applied = await this.store.compact(this.room, merged, stored.keys);
      if (applied) this.storedCount = Math.max(1, this.storedCount - stored.keys.length + 1);
    } catch (e) {
      this.setStorageError(e);
    }
  }

  /**
   * Saves the sync meta at once (so a reload right after "Saved" appeared still knows it), then
   * at most once per META_SAVE_DELAY_MS while acks keep coming.
   */
  private scheduleMetaSave(): void {
    if (this.metaTimer !== null || this.destroyed || !this.syncMetaSupported) return;
    const wait = this.lastMetaSave + META_SAVE_DELAY_MS - this.now();
    const save = (): void => {
      this.metaTimer = null;
      this.lastMetaSave = this.now();
      this.saveSyncMeta();
    };
    if (wait <= 0) save();
    else this.metaTimer = setTimeout(save, wait);
  }

  /**
   * HLC-4: records how far ahead of this device's clock a message was when it first appeared here,
   * when beyond the tolerance; the first measure is kept (also across reloads, from the meta), for
   * the last `MAX_AHEAD_IDS` messages recorded.
   * True when newly recorded: the caller saves the meta.
   */
  private noteAhead(id: string, aheadMs: number): boolean {
    if (aheadMs <= CLOCK_AHEAD_TOLERANCE_MS || this.aheadMs.has(id)) return false;
    this.aheadMs.set(id, aheadMs);
    this.staleViewIds.add(id);
    // The last MAX_AHEAD_IDS, as the meta keeps them (what a reload shows): a catch-up of many
    // messages from a fast clock neither grows the map nor copies more of it at each meta save.
    if (this.aheadMs.size > MAX_AHEAD_IDS) {
      const dropped = this.aheadMs.keys().next().value!;
      this.aheadMs.delete(dropped);
      this.staleViewIds.add(dropped);
    }
    return true;
  }

  /**
   * Writes acks, seen clocks, late ids and clock-ahead amounts to the room's meta, merged with what
   * another tab may have written meanwhile (clocks only grow, late ids and amounts accumulate), so
   * tabs do not undo each other.
   */
  private saveSyncMeta(): void {
    if (!this.syncMetaSupported) return;
    // Bringing the view up to date makes a view of every message not viewed yet, which notes its
    // client if it is own (makeView): no walk over every message of a big room after each ack.
    this.view();
    const mine = {
      acked: new Map(this.acked),
      seen: new Map(this.seen),
      late: [...this.late],
      ahead: new Map(this.aheadMs),
      syncedAt: this.lastSyncedAt === null ? null : Math.round(this.lastSyncedAt),
    };
    const write = mergeSyncMeta(this.store, this.room, mine, new Set(this.ownClients)).catch((e: unknown) => {
      // A store without the field refuses the patch (TypeError): keep the states in memory.
      if (e instanceof TypeError) this.syncMetaSupported = false;
    });
    this.metaWrites.add(write);
    void write.finally(() => this.metaWrites.delete(write));
  }

  // ---------------------------------------------------------------- acks, seen, late

  /** Marks `key` late (LATE-1, LATE-2), keeping the newest MAX_LATE_IDS; false when it already was. */
  private noteLate(key: string): boolean {
    if (this.lateSet.has(key)) return false;
    this.lateSet.add(key);
    this.late.push(key);
    this.staleViewIds.add(key);
    if (this.late.length > MAX_LATE_IDS) {
      const dropped = this.late.shift()!;
      this.lateSet.delete(dropped);
      this.staleViewIds.add(dropped);
    }
    return true;
  }

  private onAck(decoder: decoding.Decoder): void {
    let clocks: Map<number, number>;
    try {
      clocks = readAckPayload(decoder);
    } catch {
      return;
    }
    // STATE-7: the other tabs of the room learn it too (the relay acks only this socket).
    this.ackShare?.publish(clocks);
    // The handshake ack comes before the relay's answer (ACK-2): "synced" only once that answer
    // came, or the room screen would end its catch-up before the missed messages are in.
    if (this.synced) this.lastSyncedAt = this.now();
    this.mergeAcks(clocks);
  }

  /**
   * Takes in ack pairs (ACK-3), the relay's or passed on by another tab (STATE-7, which is not the
   * relay heard from: "last synced" stays). Pairs only grow.
   */
  private mergeAcks(clocks: ReadonlyMap<number, number>): void {
    let changed = false;
    for (const [client, clock] of clocks) {
      if (clock > (this.acked.get(client) ?? 0)) {
        this.acked.set(client, clock);
        changed = true;
      }
    }
    if (changed) {
      // REFUSE-3: the relay stored something again (this socket's ack, or another tab's: STATE-7).
      if (this.retryableNotices.size > 0) {
        this.resolvedNotices = new Set([...this.resolvedNotices, ...this.retryableNotices]);
        this.retryableNotices.clear();
      }
      this.ackGrowths++;
      this.statesChanged = true;
      this.reactionStatesChanged = true;
      this.invalidateView();
      this.scheduleMetaSave();
    }
    this.markDirty();
  }

  /**
   * STATE-2: checked every second; asks once something was pending ACK_REFRESH_MS, then at doubling
   * intervals while no ack grows (up to ACK_REFRESH_MAX_MS). When re-checks on this socket brought no ack at all for longer than another tab's paced
   * upload waits between two pieces, the relay lacks what is pending and nobody is sending it:
   * another tab wrote it while cut off from the relay, and this tab got it over BroadcastChannel,
   * from where nothing is forwarded to the relay (which asks for what it lacks only when a
   * connection joins). Then this tab uploads what the relay has not acked.
   */
  private refreshAcks(): void {
    const r = this.replica;
    if (!r || !r.provider.wsconnected || !r.provider.synced || r.frozen || pendingWrites(this.view()) === 0) {
      this.pendingSince = null;
      this.quietSince = null;
      this.ackRefresh = { ws: null, ackGrowths: this.ackGrowths, everyMs: ACK_REFRESH_MS };
      return;
    }
    const now = this.now();
    const ws = r.provider.ws;
    if (this.ackRefresh.ws !== ws || this.ackRefresh.ackGrowths !== this.ackGrowths) {
      this.ackRefresh = { ws, ackGrowths: this.ackGrowths, everyMs: ACK_REFRESH_MS };
    }
    if (this.pendingSince === null) this.pendingSince = now;
    if (now - this.pendingSince < this.ackRefresh.everyMs) return;
    this.pendingSince = now;
    if (!ws || ws.readyState !== ws.OPEN) return;
    this.ackRefresh.everyMs = Math.min(this.ackRefresh.everyMs * 2, ACK_REFRESH_MAX_MS);
    // An ack that grew (another tab's upload under way, seen through a re-check's ACK-2, or this
    // tab's own), or pieces still queued here, mean the relay is getting it: no copy. ACK-2 is
    // complete for every client of this doc's state vector, so what lies above `acked` is what the
    // relay does not hold durably.
    let quiet = this.quietSince?.ws === ws && this.quietSince.ackGrowths === this.ackGrowths ? this.quietSince : null;
    const quietFor = ACK_REFRESH_MS + longestPieceGapMs(this.relayLimits());
    // LAB-2: not where the lab dropped an upload; its quiet spell goes on, for when the lab lets go.
    if (quiet && now - quiet.at >= quietFor && this.uploads.queuedBytes() === 0 && !this.lab.ownsRepair(ws)) {
      const missing = Y.encodeStateAsUpdate(r.doc, Y.encodeStateVector(this.acked));
      // UP-1, UP-2 (paced); UP-4: it replaces what is still queued of the previous one, which it
      // holds. An empty update is two zero bytes. The next one waits for another quiet spell.
      if (missing.byteLength > 2) this.uploads.resync(ws, missing, mapEntryLookup(r.doc));
      quiet = null;
    }
    // UP-6: counted, and paced with the user's edits.
    this.uploads.syncStep1(ws, Y.encodeStateVector(r.doc));
    // A quiet spell starts with this re-check unless one is running.
    this.quietSince = quiet ?? { ws, ackGrowths: this.ackGrowths, at: now };
  }

  /** SEEN-1: only the states that were added or updated are read (a room of 30 renews ~30 a second). */
  private onAwarenessChange(replica: Replica, clientIds: readonly number[]): void {
    let changed = false;
    const states = replica.awareness.getStates();
    for (const clientId of clientIds) {
      const state = states.get(clientId);
      if (clientId === replica.doc.clientID || state === undefined) continue;
      const p = this.parsedPresence(state);
      if (!p || p.userId === this.me.id) continue;
      for (const [c, k] of p.sv) {
        if (k > (this.seen.get(c) ?? 0)) {
          this.seen.set(c, k);
          changed = true;
        }
      }
    }
    if (changed) {
      this.statesChanged = true;
      this.invalidateView();
      this.scheduleMetaSave();
    }
    // Presence is derived on every view; the messages only when a seen clock grew.
    this.markDirty();
  }

  private onMessagesChanged(chat: ChatRoom, event: Y.YMapEvent<unknown>): void {
    try {
      const origin: unknown = event.transaction.origin;
      const remote = !event.transaction.local && origin !== STORAGE_ORIGIN;
      const mayBeLate = remote && origin !== IMPORT_ORIGIN;
      // During a connection's catch-up (open, not yet synced) compare with what was shown when
      // it opened: a multi-frame catch-up arrives in no particular order.
      const p = this.replica?.provider;
      const catchingUp = p !== undefined && p.wsconnected && !p.synced;
      const baseline = catchingUp ? this.maxShownAtConnect : this.maxShown;
      const added: Array<{ hlc: Hlc; id: string }> = [];
      for (const [key, change] of event.changes.keys) {
        if (change.action === 'update') {
          // A deletion rewrites the record (CHAT-5): its client is recent too (SEEN-1).
          const item = chat.messagesMap._map.get(key);
          if (item) this.recentClients.touch(item.id.client);
        }
        if (change.action !== 'add') continue;
        const rec = chat.record(key);
        const hlc = rec ? decodeHlc(rec.hlc) : null;
        if (!rec || !hlc) continue;
        added.push({ hlc, id: key });
        this.lab.noteArrival(key);
        const item = chat.messagesMap._map.get(key);
        if (item) this.recentClients.touch(item.id.client);
        // An own message is ahead when this HLC is ahead of this clock: it never goes back (HLC-2),
        // so a skew cleared after sending, or a timestamp up to 60 s ahead it took, leaves it there.
        const ahead = remote ? this.clock.observe(hlc).aheadMs : hlc.wall - Math.floor(this.now());
        if (this.noteAhead(key, ahead)) this.scheduleMetaSave();
        if (mayBeLate && baseline && byHlcThenId({ hlc, id: key }, baseline) < 0 && this.noteLate(key)) {
          this.scheduleMetaSave();
        }
      }
      for (const a of added) if (!this.maxShown || byHlcThenId(a, this.maxShown) > 0) this.maxShown = a;
    } catch (e) {
      // An observer must never throw into yjs (it would surface from applyUpdate).
      console.error(e);
    }
  }

  /**
   * SEEN-1: an edit's client is recent too. An edit is often made by a Yjs client that wrote no
   * message (another tab, or this one after a reload): without it in the published state vectors,
   * the edit could never be seen (STATE-1).
   */
  private onEditsChanged(chat: ChatRoom, event: Y.YMapEvent<unknown>): void {
    for (const [key, change] of event.changes.keys) {
      if (change.action === 'delete') continue;
      const item = chat.edits._map.get(key);
      if (item) this.recentClients.touch(item.id.client);
    }
  }

  // ---------------------------------------------------------------- presence

  private svEntries(doc: Y.Doc): Array<[number, number]> {
    return this.recentClients.list().map((c) => [c, Y.getState(doc.store, c)] as [number, number]);
  }

  private scheduleSvPublish(): void {
    if (this.svTimer !== null || this.destroyed) return;
    this.svTimer = setTimeout(() => {
      this.svTimer = null;
      if (this.replica) this.publishSv(this.replica);
    }, SV_PUBLISH_DELAY_MS);
  }

  /** SEEN-1. */
  private publishSv(r: Replica): void {
    if (r.frozen) return;
    const sv = this.svEntries(r.doc);
    const key = JSON.stringify(sv);
    const local = r.awareness.getLocalState();
    const svSame = key === this.lastPublishedSv && local?.sv !== undefined;
    this.lastPublishedSv = key;
    // Without a state (a background session, or after PRES-4's leave) there is nothing to publish,
    // as setLocalStateField does.
    if (local === null) return;
    // PRES-9: a new message changes the lab field too (its hash and SV total): one frame for both,
    // as each frame goes to everyone in the room. LAB-7's periodic publish waits while this one is
    // due, so the lab field goes out here also when the seen clocks did not change (a reaction or a
    // title by a client not among them): else changes coming every < 250 ms held it back.
    const lab = this.lab.takeChangedField();
    if (svSame && lab === null) return;
    r.awareness.setLocalState({ ...local, sv, ...(lab ? { [LAB_AWARENESS_FIELD]: lab } : {}) });
  }

  /** parsePresence, once per state object (awareness replaces the object on every update). */
  private parsedPresence(state: unknown): ReturnType<typeof parsePresence> {
    if (typeof state !== 'object' || state === null) return null;
    let p = this.presenceCache.get(state);
    if (p === undefined) {
      p = parsePresence(state);
      this.presenceCache.set(state, p);
    }
    return p;
  }

  private stopTyping(): void {
    if (this.typingTimer !== null) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    if (this.localTyping) {
      this.localTyping = false;
      this.replica?.awareness.setLocalStateField('typing', false);
    }
  }

  private onNetworkChange(online: boolean): void {
    this.networkOnline = online;
    this.transport.setNetworkDown(!online);
    const r = this.replica;
    // Back online: try at once instead of waiting out the backoff.
    if (online && r && r.provider.ws === null && this.mayConnect()) this.connect();
    // STATUS-2: the browser lost its network, yet a socket may look open for a while (a dead
    // link is noticed only by the stock client's 30 s silence timeout): close it. Attempts fail
    // as a lost network until the browser reports it back (the transport refuses them), so the
    // status says Offline rather than racing a reconnect that may slip through.
    if (!online) r?.provider.ws?.close();
    this.markDirty();
  }

  // ---------------------------------------------------------------- view

  /**
   * Notices only ever grow (the UI dismisses by count), but a notice equal to one of the last
   * few is not repeated, so a peer that keeps sending bad data cannot flood the list.
   */
  private addNotice(text: string): void {
    // True again (REFUSE-3: the relay's storage failed again): shown again where it stands in the list.
    if (this.resolvedNotices.has(text)) {
      this.resolvedNotices = new Set([...this.resolvedNotices].filter((n) => n !== text));
      this.markDirty();
    }
    if (this.notices.slice(-3).includes(text) || this.notices.length >= MAX_NOTICES) return;
    this.notices = [...this.notices, text];
    this.markDirty();
  }

  /** The display order (ChatRoom keeps it, the same array until the document changes). */
  private messages(): readonly ChatMessage[] {
    return this.replica ? this.replica.chat.orderedMessages() : [];
  }

  private markMessagesChanged(): void {
    this.invalidateView();
    this.markDirty();
  }

  private invalidateView(): void {
    this.viewMessagesStale = true;
  }

  private markDirty(): void {
    if (this.cachedView) this.lastView = this.cachedView;
    this.cachedView = null;
    if (this.notifyScheduled || this.destroyed) return;
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

  private computeView(): RoomView {
    const prev = this.lastView;
    const r = this.replica;
    let messages: readonly MessageView[];
    let pendingCount = 0;
    let pendingReactionCount = 0;
    if (!r && prev) {
      messages = prev.messages; // rebuilding: keep showing what was there
      ({ pendingCount, pendingReactionCount } = prev);
    } else if (!this.viewMessagesStale && prev) {
      messages = prev.messages;
      ({ pendingCount, pendingReactionCount } = prev);
    } else {
      ({ messages, pendingCount, pendingReactionCount } = this.messageViews());
      this.viewMessagesStale = false;
    }
    const status = deriveStatus({
      manualOffline: this.manualOffline,
      refused: this.refusal !== null,
      networkOnline: this.networkOnline,
      partitioned: this.lab.partitioned,
      wantsConnection: r?.provider.shouldConnect ?? false,
      socketOpen: r?.provider.wsconnected ?? false,
      synced: r?.provider.synced ?? false,
      failedAttempts: r?.provider.wsUnsuccessfulReconnects ?? 0,
    });
    const presence = r ? this.presence(r) : [];
    const pendingTitle = r ? this.titlePending(r.chat) : (prev?.pendingTitle ?? false);
    const view: RoomView = {
      room: this.room,
      title: r ? r.chat.title() : (prev?.title ?? ''),
      messages,
      connection: Object.freeze({
        status,
        manualOffline: this.manualOffline,
        lastSyncedAt: this.lastSyncedAt,
        refusal: this.refusal,
        upload: this.uploads.progress(),
        oversized:
          this.refusal === null || this.refusalPermanent
            ? NONE_OVERSIZED
            : sameOversized(prev?.connection.oversized ?? NONE_OVERSIZED, this.oversizedOwn()),
        textByteLimit: this.textByteLimit(),
      }),
      pendingCount,
      pendingReactionCount,
      pendingTitle,
      storage: Object.freeze({
        persistent: this.persistent,
        error: this.storageError,
        evicted: this.evicted,
        onlyInPage: this.onlyInPage(),
      }),
      presence:
        prev && JSON.stringify(prev.presence) === JSON.stringify(presence) ? prev.presence : Object.freeze(presence),
      notices:
        prev && prev.notices.length === this.notices.length && prev.notices.every((n, i) => n === this.notices[i])
          ? prev.notices
          : Object.freeze([...this.notices]),
      resolvedNotices: this.resolvedNotices,
    };
    if (prev && shallowSameView(prev, view)) return prev;
    return Object.freeze(view);
  }

  /**
   * The message views, made again only for messages whose message (a new ChatMessage object),
   * ack/seen state, late flag or clock-ahead changed; every other view is the same object as
   * before, and the array is the previous one when no element changed.
   *
   * Per change this costs one walk over the new display order alongside the previous one that
   * compares elements by identity (contiguous arrays, no hashing, no per-message objects touched)
   * and one array of views; only the messages that differ are looked up by id and made again. A
   * state change (an ack, a seen clock, a store write) re-checks the own messages not settled yet
   * and the own reactions not acked (STATE-5), and a view made stale by id (late, clock-ahead,
   * state, an own reaction set or removed) is found by binary search in the display order.
   * Neither array is frozen: V8 reads a frozen array of 100,000 elements several times slower.
   */
  private messageViews(): { messages: readonly MessageView[]; pendingCount: number; pendingReactionCount: number } {
    const list = this.messages();
    const source = this.viewSource;
    const prevOut = this.viewOut;
    const epoch = ++this.viewEpoch;
    const stale = this.staleViewIds;
    if (this.statesChanged) {
      this.statesChanged = false;
      for (const [id, c] of this.openOwn)
        if (c.acked !== this.isAcked(c.m) || c.seen !== this.isSeen(c.m) || c.stored !== this.isStored(c.m))
          stale.add(id);
    }
    if (this.reactionStatesChanged) {
      this.reactionStatesChanged = false;
      this.recheckReactions(stale);
    }
    let out: MessageView[] | null = null;
    if (list !== source) {
      const views: MessageView[] = [];
      out = views;
      let same = list.length === prevOut.length;
      let j = 0;
      for (let i = 0; i < list.length; i++) {
        const m = list[i]!;
        if (j < source.length && source[j] === m) {
          // Unchanged, and still in order.
          views.push(prevOut[j]!);
          if (i !== j) same = false;
          j++;
          continue;
        }
        if (j + 1 < source.length && source[j + 1] === m) {
          // Unchanged; the one before it is gone (or moved).
          views.push(prevOut[j + 1]!);
          if (same && prevOut[i] !== prevOut[j + 1]) same = false;
          j += 2;
          continue;
        }
        const old = this.viewById.get(m.id);
        const moved = old !== undefined && old.m === m;
        const c = moved ? old : this.makeView(m, old, epoch);
        if (j < source.length && source[j]!.id === m.id)
          j++; // changed in its place
        else if (moved) {
          // Unchanged but elsewhere before: carry on from there.
          const at = indexInOrder(source, m);
          if (at >= j) j = at + 1;
        }
        views.push(c.v);
        if (same && prevOut[i] !== c.v) same = false;
      }
      // Only forged data removes a message: then forget the ids that are gone.
      if (this.viewById.size > list.length) this.forgetGone(list);
      if (same) out = null;
    }
    for (const id of stale) {
      const c = this.viewById.get(id);
      if (c === undefined || c.epoch === epoch) continue; // gone, or made in this call
      const at = indexInOrder(list, c.m);
      if (at < 0) continue;
      const v = this.makeView(c.m, c, epoch).v;
      if (v === (out ?? prevOut)[at]) continue;
      out ??= prevOut.slice();
      out[at] = v;
    }
    stale.clear();
    this.viewSource = list;
    if (out !== null) this.viewOut = out;
    return {
      messages: this.viewOut,
      pendingCount: this.pendingIds.size,
      pendingReactionCount: this.openReactions.size,
    };
  }

  /**
   * STATE-5 after an ack or a store write: an own reaction now acked is no longer tracked, and a
   * message whose view shows another state for one of its own reactions than it has now is stale.
   */
  private recheckReactions(stale: Set<string>): void {
    this.openReactions.recheck(
      (client) => this.acked.get(client) ?? 0,
      (r) => this.reactionState(r.yId),
      ({ messageId, emoji }, state) => {
        const shown = this.viewById.get(messageId)?.v.pendingReactions.find((r) => r.emoji === emoji);
        if ((shown?.state ?? null) !== state) stale.add(messageId);
      },
    );
  }

  /**
   * STATE-6: the title shown is this user's and the relay has not acked it. Two map lookups, so
   * made on every view. Its client is kept as own (ownClients) acked or not, so the sync meta
   * keeps the ack and a reload offline still tells pending from saved.
   */
  private titlePending(chat: ChatRoom): boolean {
    const yId = chat.ownTitleYId(this.me.id);
    if (yId === null) return false;
    this.ownClients.add(yId.client);
    return !coversItem(this.acked, yId);
  }

  /** STATE-5: the state of an own reaction whose key holds the Yjs item `yId` (null once acked). */
  private reactionState(yId: ItemId): ReactionState | null {
    if (coversItem(this.acked, yId)) return null;
    return this.localWrites.holds(yId) ? 'pending' : 'storing';
  }

  /** STATE-5: this user's reactions on `m` the relay has not acked, read from the doc. */
  private pendingReactionsOf(m: ChatMessage): MessageView['pendingReactions'] {
    const chat = this.replica?.chat;
    if (!chat || m.reactions.length === 0) return NO_PENDING_REACTIONS;
    let out: Array<MessageView['pendingReactions'][number]> | null = null;
    for (const { emoji, users } of m.reactions) {
      if (!users.includes(this.me.id)) continue;
      const yId = chat.reactionYId(reactionKey(m.id, this.me.id, emoji));
      const state = yId && this.reactionState(yId);
      if (state) (out ??= []).push({ emoji, state });
    }
    return out ?? NO_PENDING_REACTIONS;
  }

  /**
   * STATE-5: takes in the own reaction `key` as the doc holds it now: tracked while set and not
   * acked, its Yjs client kept as own (ownClients), and its message's view made again. A key
   * another way than ChatRoom.react writes it (only forged data) is not tracked, nor shown pending.
   */
  private trackReaction(chat: ChatRoom, key: string): void {
    const parts = parseReactionKey(key);
    if (!parts || !isOwnReactionKey(key, this.me.id)) return;
    const yId = chat.reactionYId(key);
    if (yId !== null && !coversItem(this.acked, yId)) {
      this.openReactions.set(key, { messageId: parts.id, emoji: parts.emoji, yId });
      this.ownClients.add(yId.client);
    } else this.openReactions.delete(key);
    this.staleViewIds.add(parts.id);
  }

  /** STATE-5: the reactions map changed (any origin: this tab, another, the relay, an import). */
  private onReactionsChanged(chat: ChatRoom, event: Y.YMapEvent<unknown>): void {
    try {
      for (const key of event.changes.keys.keys()) this.trackReaction(chat, key);
    } catch (e) {
      // An observer must never throw into yjs (it would surface from applyUpdate).
      console.error(e);
    }
  }

  /** Drops what is kept for messages no longer in `list`. */
  private forgetGone(list: readonly ChatMessage[]): void {
    const ids = new Set<string>();
    for (const m of list) ids.add(m.id);
    for (const id of [...this.viewById.keys()]) {
      if (ids.has(id)) continue;
      this.viewById.delete(id);
      this.openOwn.delete(id);
      this.pendingIds.delete(id);
    }
  }

  /** STATE-1 (`coversMessage`): the record and, once edited, the edit shown. */
  private isAcked(m: ChatMessage): boolean {
    return coversMessage(this.acked, m);
  }

  private isSeen(m: ChatMessage): boolean {
    return coversMessage(this.seen, m);
  }

  /** STATE-4: the record and the edit shown are in the local store. */
  private isStored(m: ChatMessage): boolean {
    return this.localWrites.holds(m.yId) && this.localWrites.holds(m.editYId);
  }

  /** The view of `m` as the states are now (STATE-1, LATE-1, HLC clock-ahead). */
  private viewOf(m: ChatMessage): MessageView {
    const own = m.authorId === this.me.id;
    const acked = own && this.isAcked(m);
    const seen = own && this.isSeen(m);
    return {
      id: m.id,
      authorId: m.authorId,
      authorName: m.authorName,
      text: m.text,
      hlc: m.hlc,
      wall: m.wall,
      replyTo: m.replyTo,
      after: m.after,
      edited: m.edited,
      deleted: m.deleted,
      reactions: m.reactions,
      yId: m.yId,
      editYId: m.editYId,
      // STATE-1: each state holds what the one before it does; 'saved' and 'seen' need this device too.
      state: own ? (!this.isStored(m) ? 'storing' : seen ? 'seen' : acked ? 'saved' : 'pending') : null,
      pendingReactions: this.pendingReactionsOf(m),
      late: this.lateSet.has(m.id),
      clockAheadMs: this.aheadMs.get(m.id) ?? 0,
      own,
    };
  }

  /** @internal Test seam: the message views made from scratch, which `view().messages` must equal. */
  messageViewsFromScratch(): MessageView[] {
    return this.messages().map((m) => this.viewOf(m));
  }

  /** A view of `m` (the previous view object when nothing in it changed), recorded by id. */
  private makeView(m: ChatMessage, old: CachedView | undefined, epoch: number): CachedView {
    const v = this.viewOf(m);
    const own = v.own;
    // Both as read, not as shown: a message can be seen (by a peer) before its ack arrives.
    const acked = own && this.isAcked(m);
    const seen = own && this.isSeen(m);
    const stored = own && this.isStored(m);
    const c: CachedView = { m, v: old && sameView(old.v, v) ? old.v : v, acked, seen, stored, epoch };
    this.viewById.set(m.id, c);
    if (own && m.yId) this.ownClients.add(m.yId.client);
    if (own && m.editYId) this.ownClients.add(m.editYId.client);
    // Only an id made before as an own message can be in these (opening a room of 100,000 others'
    // messages then costs no lookups here).
    if (own && !(acked && seen && stored)) this.openOwn.set(m.id, c);
    else if (old?.v.own) this.openOwn.delete(m.id);
    if (own && !acked) this.pendingIds.add(m.id);
    else if (old?.v.own) this.pendingIds.delete(m.id);
    return c;
  }

  private presence(r: Replica): PresenceView[] {
    const out: PresenceView[] = [];
    for (const [clientId, state] of r.awareness.getStates()) {
      const p = this.parsedPresence(state);
      if (!p) continue;
      const self = clientId === r.doc.clientID;
      out.push(Object.freeze({ clientId, userId: p.userId, name: p.name, typing: p.typing, self }));
    }
    return out.sort(
      (a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name) || a.clientId - b.clientId,
    );
  }

  /** @internal Test and lab seam: the live doc, provider and awareness (null while rebuilding). */
  get internals(): {
    doc: Y.Doc;
    provider: WebsocketProvider;
    awareness: awarenessProtocol.Awareness;
    chat: ChatRoom;
  } | null {
    const r = this.replica;
    return r ? { doc: r.doc, provider: r.provider, awareness: r.awareness, chat: r.chat } : null;
  }
}

const NONE_OVERSIZED: readonly OversizedMessage[] = Object.freeze([]);

/** `next`, or `prev` when it lists the same (so an unchanged view stays the same object). */
const sameOversized = (
  prev: readonly OversizedMessage[],
  next: readonly OversizedMessage[],
): readonly OversizedMessage[] =>
  prev.length === next.length &&
  prev.every(
    (p, i) =>
      p.id === next[i]!.id &&
      p.text === next[i]!.text &&
      p.bytes === next[i]!.bytes &&
      p.maxBytes === next[i]!.maxBytes,
  )
    ? prev
    : next;

const shallowSameView = (a: RoomView, b: RoomView): boolean =>
  a.title === b.title &&
  a.messages === b.messages &&
  a.pendingCount === b.pendingCount &&
  a.pendingReactionCount === b.pendingReactionCount &&
  a.pendingTitle === b.pendingTitle &&
  a.presence === b.presence &&
  a.notices === b.notices &&
  a.resolvedNotices === b.resolvedNotices &&
  a.connection.status === b.connection.status &&
  a.connection.manualOffline === b.connection.manualOffline &&
  a.connection.lastSyncedAt === b.connection.lastSyncedAt &&
  a.connection.refusal === b.connection.refusal &&
  a.connection.oversized === b.connection.oversized &&
  a.connection.textByteLimit === b.connection.textByteLimit &&
  // UP-2's progress is a new object on every read: the same when the same bytes are sent of the same upload.
  a.connection.upload?.sentBytes === b.connection.upload?.sentBytes &&
  a.connection.upload?.totalBytes === b.connection.upload?.totalBytes &&
  a.storage.persistent === b.storage.persistent &&
  a.storage.error === b.storage.error &&
  a.storage.evicted === b.storage.evicted &&
  a.storage.onlyInPage === b.storage.onlyInPage;

/**
 * LOAD-C1: a fresh doc from stored updates, each validated and applied defensively. An update
 * that is refused or freezes the doc is skipped (the doc is rebuilt without it).
 */
export const buildDoc = (updates: readonly Uint8Array[]): { doc: Y.Doc; skipped: number } => {
  const skip = new Set<number>();
  for (;;) {
    const doc = new Y.Doc();
    let frozenAt = -1;
    for (let i = 0; i < updates.length && frozenAt < 0; i++) {
      if (skip.has(i)) continue;
      const r = applyUpdateDefensively(doc, updates[i]!, STORAGE_ORIGIN);
      if (r.status === 'refused') skip.add(i);
      else if (r.status === 'frozen') frozenAt = i;
    }
    if (frozenAt < 0) return { doc, skipped: skip.size };
    skip.add(frozenAt);
    doc.destroy();
  }
};
