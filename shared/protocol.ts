/**
 * The Converge wire protocol: every frame, close code and limit that crosses the socket.
 *
 * The relay speaks the y-protocols sync + awareness protocol exactly as the stock y-websocket 3
 * client (`WebsocketProvider`) expects, and adds one frame type of its own (Ack). Each websocket
 * message is one binary frame:
 *
 *     varUint(outer type) · payload
 *
 * | outer | name           | payload                                           | direction |
 * |-------|----------------|---------------------------------------------------|-----------|
 * | 0     | Sync           | varUint(inner) · varUint8Array(body)               | both      |
 * |       |  inner 0       | SyncStep1: body = encoded state vector             | both      |
 * |       |  inner 1       | SyncStep2: body = Yjs V1 update (what peer lacks)  | both      |
 * |       |  inner 2       | Update:    body = Yjs V1 update                    | both      |
 * | 1     | Awareness      | varUint8Array(awareness update)                    | both      |
 * | 2     | Auth           | varUint(0 = denied) · varString(reason)            | relay →   |
 * | 3     | QueryAwareness | (empty)                                            | both      |
 * | 100   | Ack            | varUint(n) · n × (varUint client, varUint clock)   | relay →   |
 *
 * The room is not in any frame: it is the last path segment of the websocket URL
 * (`/sync/<room>`), the way the stock client builds it (`serverUrl + '/' + room`).
 *
 * Connection mode (WATCH-1): `?mode=awareness` (the stock client's `params: { mode: 'awareness' }`)
 * opens an awareness-only connection, for an observer such as the class view: the relay sends it
 * awareness frames only — no SyncStep1, no updates, no acks — answers its SyncStep1 with an
 * empty SyncStep2 (so the stock client reports itself synced), and closes it with
 * `invalid-update` if it sends an update. Any other `mode` (another value, or the parameter twice)
 * is refused at the upgrade with 400 `bad-mode` (WATCH-2): a client asking for a mode this relay
 * does not know must not be served as a full connection it did not ask for.
 *
 * Ack (see docs/SPEC.md, ACK-1..ACK-5): each pair (client, clock) means "every Yjs struct of
 * `client` with a clock below `clock` is on the relay's disk (fsync'd)". Pairs only ever grow.
 * The stock client has no handler for type 100; it logs once per frame and carries on, and an
 * app registers `provider.messageHandlers[MessageType.Ack]` to use it.
 *
 * Closing: the relay closes a socket with a code from `CloseReason`. Codes 4400–4499 are fatal
 * (the stock client stops reconnecting: retrying cannot help); 4500–4599 and 1001 are
 * retryable (the client reconnects with backoff). Reasons are short ASCII tokens a UI can map to
 * text; `closeReasonByCode` is the reverse lookup. A client that does not know a code (an older
 * one, after a reason was added) treats it by its range: 4400–4499 stop, others reconnect.
 *
 * Besides the socket, the relay serves `GET /config.json` (`RELAY_CONFIG_PATH`): `relays`, the
 * origins a client may fail over between (NET-3), and `limits`, its per-connection allowance
 * (`PublishedLimits`, UP-2), which a Converge client paces big uploads by. A relay that
 * publishes no limits (older than protocol 7) leaves the client sending as fast as it can.
 *
 * Changing anything in this file that changes bytes on the wire requires bumping
 * `PROTOCOL_VERSION`; a test hashes these tables and fails until the version moves.
 *
 * This module uses neither DOM nor Node APIs.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

/** Bumped on every wire change (see the schema-hash test in shared/protocol.test.ts). */
export const PROTOCOL_VERSION = 9;

/** Outer message types. 0–3 are y-protocols'; 100 is Converge's own. */
export const MessageType = {
  Sync: 0,
  Awareness: 1,
  Auth: 2,
  QueryAwareness: 3,
  Ack: 100,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Inner types of a Sync frame (y-protocols/sync). */
export const SyncType = {
  Step1: 0,
  Step2: 1,
  Update: 2,
} as const;
export type SyncType = (typeof SyncType)[keyof typeof SyncType];

/**
 * The closed set of reasons the relay closes a socket for. `fatal: true` → a code in 4400–4499
 * (the stock client gives up); otherwise retryable.
 */
export const CloseReason = {
  /** A frame that does not decode: unknown type, bad varint, trailing bytes. */
  BadFrame: { code: 4400, reason: 'bad-frame', fatal: true },
  /** A text frame: this protocol is binary only. */
  TextFrame: { code: 4401, reason: 'text-frame', fatal: true },
  /** A websocket framing error (bad opcode, bad UTF-8 in a close frame, unmasked frame…). */
  ProtocolError: { code: 4402, reason: 'protocol-error', fatal: true },
  /** A frame larger than `Limits.maxFrameBytes`. */
  FrameTooLarge: { code: 4413, reason: 'frame-too-large', fatal: true },
  /** A Yjs update that fails validation (see shared/updateV1.ts). */
  InvalidUpdate: { code: 4422, reason: 'invalid-update', fatal: true },
  /**
   * VAL-10: a well-formed update holding one struct larger than the relay's frames can carry
   * (MAX_SEND_FRAME_BYTES − 64). Its own code, not `invalid-update` (REFUSE-4): the data is not
   * malformed, it is too large for this relay.
   */
  StructTooLarge: { code: 4424, reason: 'struct-too-large', fatal: true },
  /**
   * VAL-11: a well-formed update naming more Yjs clients (writing sessions) than the relay's
   * MAX_CLIENTS_PER_UPDATE (REFUSE-4).
   */
  TooManyClients: { code: 4425, reason: 'too-many-clients', fatal: true },
  /**
   * DEDUPE-3: a well-formed update reaching more struct clock ranges the relay holds past a gap
   * than `Limits.maxHeldRangesPerUpdate`, the ranges it would be cut around (REFUSE-4). Fatal: a
   * reconnecting client sends the same structs again.
   */
  TooManyGaps: { code: 4426, reason: 'too-many-gaps', fatal: true },
  /** An awareness update that fails validation (size, depth, JSON, too many clients). */
  InvalidAwareness: { code: 4423, reason: 'invalid-awareness', fatal: true },
  /** Over the per-connection message or byte rate. */
  RateLimited: { code: 4529, reason: 'rate-limited', fatal: false },
  /** The client stopped reading: too many bytes queued for it. */
  SlowConsumer: { code: 4508, reason: 'slow-consumer', fatal: false },
  /** The relay cannot load or store this room right now (disk error, storage down). */
  StorageUnavailable: { code: 4503, reason: 'storage-unavailable', fatal: false },
  /** An unexpected relay bug; the relay keeps running. */
  InternalError: { code: 4500, reason: 'internal-error', fatal: false },
  /** The relay is shutting down (SIGTERM/SIGINT) after flushing everything. */
  GoingAway: { code: 1001, reason: 'going-away', fatal: false },
} as const;
export type CloseReasonName = keyof typeof CloseReason;
export type CloseReasonInfo = (typeof CloseReason)[CloseReasonName];

/** Fatal close codes: the stock client stops reconnecting (CLOSE-1). */
export const FATAL_CLOSE_CODES = { min: 4400, max: 4499 } as const;

/** Whether `code` is fatal by its range, known reason or not (a newer relay's). */
export const isFatalCloseCode = (code: number): boolean =>
  code >= FATAL_CLOSE_CODES.min && code <= FATAL_CLOSE_CODES.max;

/** Reverse lookup from a close code to the reason, or undefined for codes we never send. */
export const closeReasonByCode = (code: number): CloseReasonInfo | undefined =>
  Object.values(CloseReason).find((r) => r.code === code);

/**
 * Reasons the relay refuses an HTTP upgrade (before any websocket exists, so the stock
 * client's accept-then-close reconnect loop never starts). Sent as the status line's body.
 */
export const UpgradeRefusal = {
  BadPath: { status: 404, reason: 'not-found: websocket endpoint is /sync/<room>' },
  BadRoomName: {
    status: 400,
    reason: 'bad-room-name: 1-128 characters of A-Z a-z 0-9 - _ . ~, not starting with "."',
  },
  /** WATCH-2: a `mode` query parameter other than one `mode=awareness` (`ConnectionMode`). */
  BadMode: { status: 400, reason: 'bad-mode: the only mode is mode=awareness; leave mode out for a full connection' },
  TooManyRooms: { status: 507, reason: 'too-many-rooms: the relay holds its maximum number of rooms' },
  TooManyConnections: { status: 503, reason: 'too-many-connections: try again later' },
  ShuttingDown: { status: 503, reason: 'shutting-down: try again later' },
  /** Scale-out mode: the relay cannot reach Redis (REDIS-5); retry, possibly at another relay. */
  StorageUnavailable: { status: 503, reason: 'storage-unavailable: try again later' },
  /** CLOSE-7: the client's address holds MAX_CONNECTIONS_PER_IP websockets already. */
  TooManyConnectionsPerIp: {
    status: 429,
    reason: 'too-many-connections-per-ip: this address holds its maximum number of connections',
  },
  /** CLOSE-7: the client's address made MAX_UPGRADES_PER_IP_PER_MINUTE upgrade attempts within the last minute. */
  TooManyUpgradesPerIp: { status: 429, reason: 'too-many-upgrades-per-ip: try again later' },
} as const;

/**
 * Room names: 1–128 characters from the URL-unreserved set, not starting with '.', so a name is
 * one path segment that no URL normalisation (`.`, `..`, percent-encoding) can change.
 */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,127}$/;
export const isValidRoomName = (name: string): boolean => ROOM_NAME_PATTERN.test(name);

/** The websocket path prefix; the stock client appends `/<room>`. */
export const SYNC_PATH = '/sync';

/** WATCH-1: the query parameter and value of an awareness-only connection. */
export const ConnectionMode = { param: 'mode', awarenessOnly: 'awareness' } as const;

/** Bytes a sync frame's header takes beyond its update: an update may use a frame limit minus this. */
export const FRAME_HEADROOM = 16;

/**
 * RATE-1: an update is charged to its sender's byte allowance (`MAX_BYTES_PER_SEC`, `BYTE_BURST`)
 * for its size and, once parsed, this many bytes for each Yjs client it names: the larger of its
 * struct sections' clients and its delete set's (the room core reports the count,
 * relay/roomCore.ts effect 'clients'; known updates too, the parse is the cost). A Converge
 * client counts the same when it paces an upload (UP-2).
 *
 * Why: the relay's work per client (the parse, the clock ranges it keeps while the room is
 * loaded) is several microseconds, against nanoseconds per byte of content (bench/manyClients.ts):
 * one socket sending frames of tens of thousands of one-struct clients, or of one-range delete
 * sets, within its byte rate would keep the process busy. At 256 bytes a client, the default
 * 2 MiB/s allows about 8,000 clients a second per connection (a few tens of milliseconds of
 * work). VAL-11 (`MAX_CLIENTS_PER_UPDATE`) bounds one frame, and the configuration requires
 * `BYTE_BURST` to pay for the largest frame with the most clients, so an honest frame never
 * gets its sender closed. Over the allowance, the sender is closed with `rate-limited`.
 */
export const CLIENT_CHARGE_BYTES = 256;

/** The relay's HTTP path of its client configuration (NET-3's relay list, UP-2's limits). */
export const RELAY_CONFIG_PATH = '/config.json';

/**
 * UP-2: what a relay charges one connection, as `/config.json` publishes it under `limits`
 * (the relay's settings of the same names, relay/config.ts). Every frame costs one message and
 * its bytes; an update also `CLIENT_CHARGE_BYTES` per Yjs client it names (RATE-1). Over either
 * allowance the relay closes the connection with `rate-limited`.
 */
export interface PublishedLimits {
  /** MAX_BYTES_PER_SEC and BYTE_BURST: the byte allowance's rate and size. */
  readonly maxBytesPerSecond: number;
  readonly byteBurst: number;
  /** MAX_MSGS_PER_SEC and MSG_BURST: the message allowance's. */
  readonly maxMessagesPerSecond: number;
  readonly messageBurst: number;
  /** MAX_FRAME_BYTES: the largest frame accepted. */
  readonly maxFrameBytes: number;
  /** MAX_CLIENTS_PER_UPDATE: the most Yjs clients one update may name (VAL-11). */
  readonly maxClientsPerUpdate: number;
  /**
   * VAL-10: the largest struct passed on (`maxStructBytes(MAX_SEND_FRAME_BYTES)`). STRUCT-1: a
   * client refuses to write a message text larger than this holds, instead of storing a struct
   * the relay refuses for good.
   */
  readonly maxStructBytes: number;
}

const PUBLISHED_LIMIT_KEYS = [
  'maxBytesPerSecond',
  'byteBurst',
  'maxMessagesPerSecond',
  'messageBurst',
  'maxFrameBytes',
  'maxClientsPerUpdate',
  'maxStructBytes',
] as const satisfies ReadonlyArray<keyof PublishedLimits>;

/**
 * UP-2: `value` (the `limits` of a `/config.json`, untrusted) as PublishedLimits, or null when it
 * is missing or not what a relay publishes: every field a positive safe integer, and the byte
 * burst paying for the largest frame with the most clients (RATE-1; a relay refuses to start
 * otherwise). Null means "unknown": the client then sends as it did before UP-2.
 */
export const readPublishedLimits = (value: unknown): PublishedLimits | null => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const key of PUBLISHED_LIMIT_KEYS) {
    const n = record[key];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) return null;
    out[key] = n;
  }
  const limits = out as unknown as PublishedLimits;
  if (limits.byteBurst < limits.maxFrameBytes + limits.maxClientsPerUpdate * CLIENT_CHARGE_BYTES) return null;
  return limits;
};

/**
 * VAL-10: the largest struct a relay sending frames of at most `maxSendFrameBytes` passes on, so
 * that an update holding it alone (section and delete-set headers included) still fits a frame:
 * splitUpdateV1 cannot cut a struct.
 */
export const maxStructBytes = (maxSendFrameBytes: number): number => maxSendFrameBytes - 64;

/** Limits both sides agree on. The relay's are configurable (relay/config.ts); these are defaults. */
export const Limits = {
  /**
   * Largest frame the relay accepts. The stock client sends a first sync of a big offline room as
   * one frame; Converge's client sends it in frames of at most `maxSendFrameBytes` (UP-1).
   */
  maxFrameBytes: 8 * 1024 * 1024,
  /**
   * Largest frame the relay sends: catch-ups larger than this are streamed as several frames
   * (SYNC-4). Also the largest upload frame Converge's client sends (UP-1).
   */
  maxSendFrameBytes: 1024 * 1024,
  /** Largest JSON text of one awareness state, in bytes. */
  maxAwarenessStateBytes: 16 * 1024,
  /** Deepest nesting of arrays/objects in an awareness state or a JSON/Any value in an update. */
  maxNestingDepth: 32,
  /** Most awareness client ids one connection may announce (tabs of one browser share a socket's view). */
  maxAwarenessClientsPerConnection: 64,
  /**
   * Most bytes of live awareness states one connection may own (AWR-7): keeps the relay's presence
   * memory within MAX_CONNECTIONS × this, where 64 clients × the largest state would allow 1 MiB each.
   */
  maxAwarenessBytesPerConnection: 32 * 1024,
  /**
   * Most Yjs clients among one update's struct sections, and among its delete set (VAL-11). Every
   * session that writes is a new client; a re-upload of a whole room holds all of them.
   */
  maxClientsPerUpdate: 32_768,
  /**
   * DEDUPE-3: most struct clock ranges held past a gap in their client's clocks (not in the
   * contiguous prefix) that one incoming update may reach, summed over its runs. DEDUPE-2 cuts an
   * update around every held range it reaches, at about 3–15 µs a range: without a bound, a writer
   * that planted many tiny ranges (structs at clocks 10, 12, 14, … of clients, about 9 bytes each)
   * made one update covering them cost the relay up to seconds. Per update, not per room or client:
   * planting is bounded by the planter's own bytes and rate, and a room-wide budget could be filled
   * by an attacker, or by honest Lab clients dropping frames, and then refuse honest writers.
   * 1,024 ranges cost about 3–16 ms to cut around (docs/benchmarks.md). A run held whole counts
   * none (it is dropped uncut): an app's update reaches such ranges only with its own structs, one
   * range per frame of its own the relay got after a dropped one.
   */
  maxHeldRangesPerUpdate: 1024,
  /**
   * Most Yjs clients Converge's client names in one upload frame (UP-1), well below
   * `maxClientsPerUpdate`: a relay configured below this refuses such an upload (VAL-11).
   */
  maxUploadClientsPerFrame: 1024,
  /** Most entries in one awareness update (a client re-announces the states it learned). */
  maxAwarenessEntriesPerFrame: 256,
  /**
   * STRUCT-1: the largest single struct Converge's client writes: a message record with its text
   * at the limit (4,000 UTF-16 units, at most 3 bytes each in UTF-8) and the rest of the record
   * (shared/chat's `TEXT_STRUCT_OVERHEAD`; its tests check both). A relay passing on less
   * (`maxStructBytes`) warns at start.
   */
  clientStructBytes: 12_512,
} as const;

/** Thrown by the decoders below; `reason` says which rule the bytes broke. */
export class FrameError extends Error {
  constructor(
    readonly closeReason: CloseReasonInfo,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/** A decoded frame from a client. Bodies are subarrays of the input (no copy). */
export type ClientFrame =
  | { type: 'sync-step1'; stateVector: Uint8Array }
  | { type: 'sync-step2'; update: Uint8Array }
  | { type: 'sync-update'; update: Uint8Array }
  | { type: 'awareness'; update: Uint8Array }
  | { type: 'query-awareness' };

/**
 * Decodes one client→relay frame, checking only framing (types, lengths, no trailing bytes).
 * The update and awareness bodies are validated separately (shared/updateV1.ts,
 * shared/awarenessUpdate.ts). Throws FrameError.
 */
export const decodeClientFrame = (frame: Uint8Array): ClientFrame => {
  const bad = (why: string): never => {
    throw new FrameError(CloseReason.BadFrame, why);
  };
  if (frame.length === 0) bad('empty frame');
  const d = decoding.createDecoder(frame);
  // Every type this protocol defines is below 128, one byte as lib0 writes it. An over-long form
  // ([0x83, 0x00] for 3) is refused: the relay and its metrics recognise a frame by its first
  // bytes (AWR-6 charges a query-awareness by them), and no client writes one.
  const readType = (): number => {
    const at = d.pos;
    const type = decoding.readVarUint(d);
    return d.pos - at === 1 ? type : bad(`message type ${type} not written in one byte`);
  };
  let result: ClientFrame;
  try {
    const outer = readType();
    switch (outer) {
      case MessageType.Sync: {
        const inner = readType();
        const body = readBytes(d);
        if (inner === SyncType.Step1) result = { type: 'sync-step1', stateVector: body };
        else if (inner === SyncType.Step2) result = { type: 'sync-step2', update: body };
        else if (inner === SyncType.Update) result = { type: 'sync-update', update: body };
        else return bad(`unknown sync type ${inner}`);
        break;
      }
      case MessageType.Awareness:
        result = { type: 'awareness', update: readBytes(d) };
        break;
      case MessageType.QueryAwareness:
        result = { type: 'query-awareness' };
        break;
      default:
        return bad(`unknown or relay-only message type ${outer}`);
    }
  } catch (e) {
    if (e instanceof FrameError) throw e;
    return bad('truncated frame');
  }
  if (decoding.hasContent(d)) bad('trailing bytes after frame');
  return result;
};

/** A varUint8Array whose length is checked against what is left (lib0 would read past it). */
const readBytes = (d: decoding.Decoder): Uint8Array => {
  const len = decoding.readVarUint(d);
  if (len > d.arr.length - d.pos) throw new FrameError(CloseReason.BadFrame, 'length past end of frame');
  return decoding.readUint8Array(d, len);
};

const frame = (write: (e: encoding.Encoder) => void): Uint8Array => {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
};

export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MessageType.Sync);
    encoding.writeVarUint(e, SyncType.Step1);
    encoding.writeVarUint8Array(e, stateVector);
  });

export const encodeSyncStep2 = (update: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MessageType.Sync);
    encoding.writeVarUint(e, SyncType.Step2);
    encoding.writeVarUint8Array(e, update);
  });

export const encodeSyncUpdate = (update: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MessageType.Sync);
    encoding.writeVarUint(e, SyncType.Update);
    encoding.writeVarUint8Array(e, update);
  });

export const encodeAwareness = (awarenessUpdate: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MessageType.Awareness);
    encoding.writeVarUint8Array(e, awarenessUpdate);
  });

export const encodeQueryAwareness = (): Uint8Array =>
  frame((e) => encoding.writeVarUint(e, MessageType.QueryAwareness));

/** A clock per Yjs client id; the shape of a state vector and of an ack. */
export type ClockMap = ReadonlyMap<number, number>;

/** Ack frame: `(client, clock)` pairs, each meaning "structs of client below clock are durable". */
export const encodeAck = (clocks: ClockMap): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MessageType.Ack);
    writeClockMap(e, clocks);
  });

/** Decodes an Ack frame (outer type included). Throws FrameError on anything else. */
export const decodeAck = (frameBytes: Uint8Array): Map<number, number> => {
  const d = decoding.createDecoder(frameBytes);
  try {
    if (decoding.readVarUint(d) !== MessageType.Ack) throw new FrameError(CloseReason.BadFrame, 'not an ack');
    const clocks = readClockMap(d);
    if (decoding.hasContent(d)) throw new FrameError(CloseReason.BadFrame, 'trailing bytes after ack');
    return clocks;
  } catch (e) {
    if (e instanceof FrameError) throw e;
    throw new FrameError(CloseReason.BadFrame, 'truncated ack');
  }
};

/** Reads the payload of an Ack frame after its outer type (for `provider.messageHandlers`). */
export const readAckPayload = (d: decoding.Decoder): Map<number, number> => readClockMap(d);

/**
 * Encodes a state vector exactly as Yjs does (`varUint(n)`, then `client, clock` pairs), so
 * the relay can build SyncStep1 without a Y.Doc.
 */
export const encodeStateVector = (clocks: ClockMap): Uint8Array => frame((e) => writeClockMap(e, clocks));

/** Decodes a Yjs-encoded state vector. Throws FrameError on malformed or duplicate entries. */
export const decodeStateVector = (bytes: Uint8Array): Map<number, number> => {
  const d = decoding.createDecoder(bytes);
  try {
    const clocks = readClockMap(d);
    if (decoding.hasContent(d)) throw new FrameError(CloseReason.BadFrame, 'trailing bytes after state vector');
    return clocks;
  } catch (e) {
    if (e instanceof FrameError) throw e;
    throw new FrameError(CloseReason.BadFrame, 'truncated state vector');
  }
};

const writeClockMap = (e: encoding.Encoder, clocks: ClockMap): void => {
  encoding.writeVarUint(e, clocks.size);
  for (const [client, clock] of clocks) {
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, clock);
  }
};

const readClockMap = (d: decoding.Decoder): Map<number, number> => {
  // lib0's readVarUint trusts its input (a long run of continuation bytes reads as NaN or past
  // 2^53): every integer is checked, every failure is a FrameError.
  const uint = (): number => {
    let n: number;
    try {
      n = decoding.readVarUint(d);
    } catch {
      throw new FrameError(CloseReason.BadFrame, 'truncated clock map');
    }
    if (!Number.isSafeInteger(n)) throw new FrameError(CloseReason.BadFrame, 'integer out of range');
    return n;
  };
  const n = uint();
  // Each entry takes at least two bytes: refuse counts the frame cannot hold before allocating.
  if (n * 2 > d.arr.length - d.pos) throw new FrameError(CloseReason.BadFrame, 'clock count past end');
  const clocks = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const client = uint();
    const clock = uint();
    if (clocks.has(client)) throw new FrameError(CloseReason.BadFrame, `duplicate client ${client}`);
    clocks.set(client, clock);
  }
  return clocks;
};
