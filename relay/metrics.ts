/**
 * The relay's Prometheus metrics (`GET /metrics`, text format, prom-client). Each `RelayMetrics`
 * has its own registry, so several relays in one process (tests, the fuzz) never mix their
 * numbers. The SLIs built from these series, with their PromQL, are in docs/slo.md; a metric name
 * changed here must change there too.
 *
 * What is measured where (the relay calls the small typed methods below):
 * - frames and bytes in/out by frame kind, at the socket boundary;
 * - ack latency: from the arrival of an update to the ack that covers it (ACK-1), i.e. what a
 *   sender waits before its message shows "Saved";
 * - commit latency: one store transaction (SQLite commit + fsync, or the Redis publish script
 *   + AOF fsync), labelled with the outcome — the availability SLI counts its failures;
 * - delivery latency: from the arrival of an update at any relay to its broadcast by this one
 *   (`local` for its own clients' updates, `backplane` for updates from other relays);
 * - catch-up sizes, closes by reason, refused upgrades, how many client addresses the per-IP
 *   limits track (CLOSE-7), compactions, Redis round trips, the backplane status, the store
 *   worker's status and restarts (STORE-5), plus Node's default process metrics (CPU, memory,
 *   event-loop lag).
 * Nothing here carries message contents, room names or client addresses (labels are closed sets).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MessageType, SyncType } from '../shared/protocol.js';

export const FrameKind = {
  SyncStep1: 'sync-step1',
  SyncStep2: 'sync-step2',
  SyncUpdate: 'sync-update',
  Awareness: 'awareness',
  QueryAwareness: 'query-awareness',
  Ack: 'ack',
  Other: 'other',
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];
const FRAME_KINDS = Object.values(FrameKind);

/** Counts per frame kind not yet added to their prom-client counter. */
const emptyTally = (): Record<FrameKind, number> =>
  Object.fromEntries(FRAME_KINDS.map((k) => [k, 0])) as Record<FrameKind, number>;

/**
 * The kind of a frame from its first bytes (outer and inner types are single-byte varUints for
 * every type the protocol defines; anything else is 'other').
 */
export const frameKind = (frame: Uint8Array): FrameKind => {
  switch (frame[0]) {
    case MessageType.Sync:
      if (frame[1] === SyncType.Step1) return FrameKind.SyncStep1;
      if (frame[1] === SyncType.Step2) return FrameKind.SyncStep2;
      if (frame[1] === SyncType.Update) return FrameKind.SyncUpdate;
      return FrameKind.Other;
    case MessageType.Awareness:
      return FrameKind.Awareness;
    case MessageType.QueryAwareness:
      return FrameKind.QueryAwareness;
    case MessageType.Ack:
      return FrameKind.Ack;
    default:
      return FrameKind.Other;
  }
};

export type StoreBackend = 'sqlite' | 'redis' | 'memory';
export type CommitOutcome = 'ok' | 'failed';
export type CompactionOutcome = 'compacted' | 'busy' | 'failed';
export type DeliveryPath = 'local' | 'backplane';
export type RestartOutcome = 'ok' | 'failed';

/** Latency buckets (seconds) from 0.5 ms to 10 s: fsyncs are ~0.5 ms, a bad p99 is seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BYTES_BUCKETS = [1024, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024];
const FRAMES_BUCKETS = [1, 2, 4, 8, 16, 64, 256];

export interface RelayMetricsOptions {
  /** Also collect Node's process metrics (CPU, memory, event-loop lag). Default true. */
  readonly defaultMetrics?: boolean;
  /** Read when rendering: the relay's current counts. */
  readonly stats?: () => { readonly roomsLoaded: number; readonly connections: number };
  /** Read when rendering: client addresses the per-IP limits hold an entry for (CLOSE-7). */
  readonly trackedAddresses?: () => number;
  /** Read when rendering: rooms the store holds, which `MAX_ROOMS` caps (rooms are never removed). */
  readonly roomsStored?: () => Promise<number>;
  /** Read when rendering: bytes of the SQLite database and its WAL on disk (embedded mode). */
  readonly storeBytes?: () => number;
}

export class RelayMetrics {
  readonly registry = new Registry();
  private readonly framesIn = emptyTally();
  private readonly framesOut = emptyTally();
  private readonly bytesIn = emptyTally();
  private readonly bytesOut = emptyTally();
  private readonly ackLatency: Histogram;
  private readonly commitLatency: Histogram<'store' | 'outcome'>;
  private readonly deliveryLatency: Histogram<'path'>;
  private readonly catchUpBytes: Histogram;
  private readonly catchUpFrames: Histogram;
  private readonly closes: Counter<'reason'>;
  private readonly refusals: Counter<'reason'>;
  private readonly socketsRefused: Counter;
  private readonly socketsDropped: Counter;
  private readonly opened: Counter;
  private readonly compactions: Counter<'outcome'>;
  private readonly redisRoundTrips: Histogram<'op' | 'outcome'>;
  private readonly backplaneUp: Gauge;
  private readonly storeWorkerRestarts: Counter<'outcome'>;
  private readonly storeWorkerUpGauge: Gauge;
  private readonly storeWorkerHangs: Counter;

  constructor(options: RelayMetricsOptions = {}) {
    const registers = [this.registry];
    const stats = options.stats;
    new Gauge({
      name: 'converge_connections',
      help: 'Open websocket connections.',
      registers,
      collect() {
        if (stats) this.set(stats().connections);
      },
    });
    const trackedAddresses = options.trackedAddresses;
    new Gauge({
      name: 'converge_tracked_addresses',
      help: 'Client addresses the per-IP limits keep an entry for: with an open websocket or an upgrade attempt in the last minute (CLOSE-7).',
      registers,
      collect() {
        if (trackedAddresses) this.set(trackedAddresses());
      },
    });
    const roomsStored = options.roomsStored;
    new Gauge({
      name: 'converge_rooms_stored',
      help: 'Rooms the store holds (every room ever written to; MAX_ROOMS caps it). Kept at its last value while the store cannot answer.',
      registers,
      async collect() {
        if (!roomsStored) return;
        try {
          this.set(await roomsStored());
        } catch {
          // A failing store is reported by the commit outcomes and /healthz; the scrape still works.
        }
      },
    });
    // Only where there is a database file: absent in scale-out mode rather than a false 0.
    const storeBytes = options.storeBytes;
    if (storeBytes) {
      new Gauge({
        name: 'converge_store_bytes',
        help: 'Bytes of the SQLite database and its write-ahead log on disk (embedded mode; MAX_DB_BYTES caps the database).',
        registers,
        collect() {
          this.set(storeBytes());
        },
      });
    }
    new Gauge({
      name: 'converge_rooms_loaded',
      help: 'Rooms held in memory.',
      registers,
      collect() {
        if (stats) this.set(stats().roomsLoaded);
      },
    });
    // Frame counts are tallied in plain numbers (one call per frame sent: the broadcast hot path)
    // and added to these counters when they are read.
    const byType = (name: string, help: string, tally: Record<FrameKind, number>): void => {
      new Counter({
        name,
        help,
        labelNames: ['type'] as const,
        registers,
        collect() {
          for (const type of FRAME_KINDS) {
            if (tally[type] === 0) continue;
            this.inc({ type }, tally[type]);
            tally[type] = 0;
          }
        },
      });
    };
    byType('converge_frames_received_total', 'Frames received.', this.framesIn);
    byType('converge_frames_sent_total', 'Frames sent.', this.framesOut);
    byType('converge_bytes_received_total', 'Frame bytes received.', this.bytesIn);
    byType('converge_bytes_sent_total', 'Frame bytes sent.', this.bytesOut);
    this.ackLatency = new Histogram({
      name: 'converge_ack_latency_seconds',
      help: 'From the arrival of an update to the ack that covers it.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.commitLatency = new Histogram({
      name: 'converge_commit_seconds',
      help: 'One store commit (group commit), fsync included.',
      labelNames: ['store', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: 'converge_delivery_seconds',
      help: "From an update's arrival at a relay to its broadcast by this relay.",
      labelNames: ['path'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.catchUpBytes = new Histogram({
      name: 'converge_catchup_bytes',
      help: 'Bytes of one catch-up reply to a SyncStep1.',
      buckets: BYTES_BUCKETS,
      registers,
    });
    this.catchUpFrames = new Histogram({
      name: 'converge_catchup_frames',
      help: 'Frames of one catch-up reply to a SyncStep1.',
      buckets: FRAMES_BUCKETS,
      registers,
    });
    this.closes = new Counter({
      name: 'converge_closes_total',
      help: 'Connections the relay closed, by close reason.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.opened = new Counter({
      name: 'converge_connections_opened_total',
      help: 'Websocket upgrades accepted.',
      registers,
    });
    this.refusals = new Counter({
      name: 'converge_upgrades_refused_total',
      help: 'Websocket upgrades refused, by reason.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.socketsRefused = new Counter({
      name: 'converge_sockets_refused_total',
      help: 'TCP connections closed as accepted: their address held MAX_CONNECTIONS_PER_IP + 32 already (CLOSE-7).',
      registers,
    });
    this.socketsDropped = new Counter({
      name: 'converge_sockets_dropped_total',
      help: 'TCP connections closed as accepted: the relay held MAX_CONNECTIONS + 256 already (CLOSE-6).',
      registers,
    });
    this.compactions = new Counter({
      name: 'converge_compactions_total',
      help: 'Compaction runs, by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.redisRoundTrips = new Histogram({
      name: 'converge_redis_round_trip_seconds',
      help: 'Redis round trips, by operation and outcome.',
      labelNames: ['op', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.backplaneUp = new Gauge({
      name: 'converge_backplane_up',
      help: '1 while the shared store (Redis) is reachable, 0 while it is down; absent in embedded mode.',
      registers,
    });
    this.storeWorkerRestarts = new Counter({
      name: 'converge_store_worker_restarts_total',
      help: 'Starts of a fresh store worker thread after the previous one died, by outcome (STORE-5).',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.storeWorkerUpGauge = new Gauge({
      name: 'converge_store_worker_up',
      help: '1 while the store worker thread (SQLite, or merges only in scale-out mode) runs, 0 while it is hung, restarting or down.',
      registers,
    });
    this.storeWorkerHangs = new Counter({
      name: 'converge_store_worker_hangs_total',
      help: 'Store worker threads terminated because a call got no reply within STORE_CALL_TIMEOUT_MS (STORE-6).',
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  frameIn(frame: Uint8Array): void {
    const type = frameKind(frame);
    this.framesIn[type]++;
    this.bytesIn[type] += frame.length;
  }

  frameOut(frame: Uint8Array): void {
    const type = frameKind(frame);
    this.framesOut[type]++;
    this.bytesOut[type] += frame.length;
  }

  ack(seconds: number): void {
    this.ackLatency.observe(seconds);
  }

  commit(store: StoreBackend, outcome: CommitOutcome, seconds: number): void {
    this.commitLatency.observe({ store, outcome }, seconds);
  }

  delivery(path: DeliveryPath, seconds: number): void {
    this.deliveryLatency.observe({ path }, seconds);
  }

  catchUp(bytes: number, frames: number): void {
    this.catchUpBytes.observe(bytes);
    this.catchUpFrames.observe(frames);
  }

  /** `reason` is a CloseReason token from shared/protocol.ts. */
  closed(reason: string): void {
    this.closes.inc({ reason });
  }

  connectionOpened(): void {
    this.opened.inc();
  }

  /** `reason` is the token before ':' of an UpgradeRefusal reason. */
  refused(reason: string): void {
    this.refusals.inc({ reason });
  }

  socketRefused(): void {
    this.socketsRefused.inc();
  }

  socketDropped(): void {
    this.socketsDropped.inc();
  }

  compaction(outcome: CompactionOutcome): void {
    this.compactions.inc({ outcome });
  }

  /** Has the `RedisObserver` signature: pass `metrics.redis` to the Redis store and backplane. */
  readonly redis = (op: string, seconds: number, ok: boolean): void => {
    this.redisRoundTrips.observe({ op, outcome: ok ? 'ok' : 'failed' }, seconds);
  };

  backplane(up: boolean): void {
    this.backplaneUp.set(up ? 1 : 0);
  }

  /** STORE-5: one attempt to start a fresh store worker after a death. */
  storeWorkerRestart(outcome: RestartOutcome): void {
    this.storeWorkerRestarts.inc({ outcome });
  }

  storeWorkerHung(): void {
    this.storeWorkerHangs.inc();
  }

  storeWorkerUp(up: boolean): void {
    this.storeWorkerUpGauge.set(up ? 1 : 0);
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type header for `render()`'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
