/**
 * The recorded history of one scripted experiment (issue 4, "Scripted experiments").
 *
 * The runner (lab/run/**) records it through `HistoryRecorder`; the checkers (lab/checkers/**),
 * the SLIs (lab/sli.ts) and the report (lab/report/**) only read it. It is plain data — no Maps,
 * no classes, no undefined fields — so `JSON.stringify` and `JSON.parse` round-trip it exactly and
 * a saved history can be re-checked later.
 *
 * Invariants the recorder keeps (the checkers rely on them):
 * - `events` are in recording order and `t` never decreases (ms since the recorder started);
 * - at most one `deliver` per (client, msgId): the first time the message appears in that
 *   client's display, even across a crash and restart of the client;
 * - every `client` field names a client in `clients`.
 *
 * Client ids here are the runner's short names ('c0', 'c1', ...), not the chat identities
 * (those are `authorId`) and not Yjs client ids (those are the state-vector keys).
 */
import type { ChatMessage } from '../shared/chat/chatRoom.js';
import type { Hlc } from '../shared/chat/hlc.js';
import type { FaultConfig } from '../shared/lab/faults.js';

export const HISTORY_VERSION = 2;

/** A service-level objective a scenario may declare; every field optional, all must hold. */
export interface Slo {
  /** Delivery latency p50, in ms, must be at most this. */
  readonly deliveryP50Ms?: number;
  /** Delivery latency p95, in ms, must be at most this. */
  readonly deliveryP95Ms?: number;
  /** Delivery latency p99, in ms, must be at most this. */
  readonly deliveryP99Ms?: number;
  /** Every heal must converge within this many ms. */
  readonly convergeMs?: number;
  /** Availability of sending during partitions, 0..1, must be at least this. */
  readonly partitionedSendAvailability?: number;
}

export interface HistoryScenario {
  /** Scenario name (the file's `name`), recorded by the runner at start. */
  readonly name: string;
  /** Path of the scenario file as given on the command line; null when built in code. */
  readonly file: string | null;
  /** The scenario's SLO, copied by the runner at start; null when it declares none. */
  readonly slo: Slo | null;
}

/** Run options as the runner resolved them (clients, duration, relay URL, budget...), at start. */
export type HistoryOptions = Readonly<Record<string, string | number | boolean | null>>;

export interface HistoryClient {
  /** The runner's short name for this client ('c0'...), used in every event. */
  readonly id: string;
  /** The chat identity's id (MessageRecord.authorId) of this client. */
  readonly authorId: string;
  /** The chat identity's display name. */
  readonly name: string;
}

interface EventBase {
  /** ms since the recorder started; never decreases along `events`. */
  readonly t: number;
}

/** A send the chat model accepted locally (ChatRoom.send returned): recorded by the runner right after. */
export interface SendEvent extends EventBase {
  readonly kind: 'send';
  readonly client: string;
  readonly msgId: string;
  /** The parent message id when this is a reply, else null. */
  readonly replyTo: string | null;
  /** The sender's (possibly skewed) wall clock stored in the record. */
  readonly wall: number;
  /** The record's HLC, decoded. */
  readonly hlc: Hlc;
  /** The message text (untrusted: the report escapes it). */
  readonly text: string;
}

/** A send attempt the client refused locally (ChatError, crashed client...): recorded by the runner. */
export interface SendRefusedEvent extends EventBase {
  readonly kind: 'send-refused';
  readonly client: string;
  /** Why, in plain words (the ChatError code or 'crashed'). */
  readonly reason: string;
  readonly replyTo: string | null;
}

/** The relay acked the message durably to its sender (ack frame covering the record): runner. */
export interface AckEvent extends EventBase {
  readonly kind: 'ack';
  readonly client: string;
  readonly msgId: string;
}

/** The message first appeared in this client's displayed list (the sender's own too): runner. */
export interface DeliverEvent extends EventBase {
  readonly kind: 'deliver';
  readonly client: string;
  readonly msgId: string;
}

/** The client's fault configuration changed (the full new config): runner, when it applies it. */
export interface FaultsEvent extends EventBase {
  readonly kind: 'faults';
  readonly client: string;
  readonly config: FaultConfig;
}

/** These clients were cut off from the relay (scenario step): runner, when applied. */
export interface PartitionEvent extends EventBase {
  readonly kind: 'partition';
  readonly clients: readonly string[];
}

/** These clients were reconnected (scenario step): runner, when applied. */
export interface HealEvent extends EventBase {
  readonly kind: 'heal';
  readonly clients: readonly string[];
}

/** The relay process was killed (SIGKILL): runner, after the kill. */
export interface RelayCrashEvent extends EventBase {
  readonly kind: 'relay-crash';
}

/** The relay process was started again and listens: runner. */
export interface RelayRestartEvent extends EventBase {
  readonly kind: 'relay-restart';
}

/** The client was stopped abruptly (its stored state kept): runner. */
export interface ClientCrashEvent extends EventBase {
  readonly kind: 'client-crash';
  readonly client: string;
}

/** The client was started again from its stored state: runner. */
export interface ClientRestartEvent extends EventBase {
  readonly kind: 'client-restart';
  readonly client: string;
}

/** A scenario step began (for the report's timeline): runner. */
export interface StepEvent extends EventBase {
  readonly kind: 'step';
  /** Plain words, e.g. "partition c0,c1" (untrusted in the report: escaped). */
  readonly label: string;
}

/** One client's state at a sample instant. */
export interface ClientSample {
  readonly client: string;
  /** Running (not crashed) and connected to the relay (not partitioned, socket open). */
  readonly online: boolean;
  /** chatContentHash of its displayed messages and title (null when crashed). */
  readonly contentHash: string | null;
  /** Sum of its state vector's clocks (0 when crashed). */
  readonly svTotal: number;
  /** Local updates not yet acked by the relay. */
  readonly pending: number;
  /** How many messages it displays. */
  readonly messages: number;
}

/** Periodic state sample of every client at one instant: runner, on its sampling timer. */
export interface SampleEvent extends EventBase {
  readonly kind: 'sample';
  /** One entry per client in `clients`, same order. */
  readonly clients: readonly ClientSample[];
}

export type HistoryEvent =
  | SendEvent
  | SendRefusedEvent
  | AckEvent
  | DeliverEvent
  | FaultsEvent
  | PartitionEvent
  | HealEvent
  | RelayCrashEvent
  | RelayRestartEvent
  | ClientCrashEvent
  | ClientRestartEvent
  | StepEvent
  | SampleEvent;

/** One message as a replica displays it at the end. */
export interface FinalMessage {
  readonly id: string;
  readonly hlc: Hlc;
  readonly wall: number;
  readonly authorId: string;
  readonly replyTo: string | null;
  /** CHAT-8: the message its sender displayed last when sending it (CHK-7), null when none. */
  readonly after: string | null;
}

/** One client's replica after the final heal and quiesce: runner, once, at the end. */
export interface FinalReplica {
  readonly client: string;
  /** The displayed order (ChatRoom.messages()), first to last. */
  readonly displayed: readonly FinalMessage[];
  /** chatContentHash of the displayed messages and title. */
  readonly contentHash: string;
  /** Yjs state vector: Yjs client id (decimal string) → clock. */
  readonly stateVector: Readonly<Record<string, number>>;
}

export interface HistoryFinal {
  /** When the final read was taken (ms since start). */
  readonly t: number;
  /** One per client in `clients` (a crashed client is restarted from storage to be read). */
  readonly replicas: readonly FinalReplica[];
}

export interface History {
  readonly version: typeof HISTORY_VERSION;
  readonly scenario: HistoryScenario;
  /** The seed every random choice of the run derives from. */
  readonly seed: number;
  readonly options: HistoryOptions;
  readonly clients: readonly HistoryClient[];
  /** Wall-clock time the run started (ISO 8601), for the report header only. */
  readonly startedAt: string;
  readonly events: readonly HistoryEvent[];
  /** null when the run ended before the final read (it crashed or was interrupted). */
  readonly final: HistoryFinal | null;
}

export interface HistoryStart {
  readonly scenario: HistoryScenario;
  readonly seed: number;
  readonly options: HistoryOptions;
  readonly clients: readonly HistoryClient[];
}

/** An event before the recorder stamps its time. */
type Unstamped<E> = E extends HistoryEvent ? Omit<E, 't'> : never;

/** The FinalMessage of a displayed ChatMessage. */
export const finalMessage = (m: ChatMessage): FinalMessage => ({
  id: m.id,
  hlc: { wall: m.hlc.wall, counter: m.hlc.counter, node: m.hlc.node },
  wall: m.wall,
  authorId: m.authorId,
  replyTo: m.replyTo,
  after: m.after,
});

/** A Yjs state vector (Y.decodeStateVector) as plain JSON. */
export const stateVectorRecord = (sv: ReadonlyMap<number, number>): Record<string, number> =>
  Object.fromEntries([...sv].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]));

/**
 * Builds a History while the experiment runs. Every method stamps `t` from the injected clock, so
 * the runner never writes event objects by hand. Unknown client ids throw (a runner bug, not data).
 */
export class HistoryRecorder {
  private readonly start: number;
  private readonly events: HistoryEvent[] = [];
  private readonly known: Set<string>;
  private readonly delivered = new Set<string>();
  private lastT = 0;
  private final: HistoryFinal | null = null;

  constructor(
    private readonly meta: HistoryStart,
    /** Monotonic ms clock (performance.now in the runner); t = now() - now() at construction. */
    private readonly now: () => number,
    private readonly startedAt: string = new Date().toISOString(),
  ) {
    this.start = now();
    this.known = new Set(meta.clients.map((c) => c.id));
    if (this.known.size !== meta.clients.length) throw new Error('HistoryRecorder: duplicate client id');
  }

  /** ms since start, never less than the previous event's. */
  elapsed(): number {
    this.lastT = Math.max(this.lastT, this.now() - this.start);
    return this.lastT;
  }

  /** Copies exactly the fields of a SendEvent (so a richer object passed in leaves no extra data). */
  send(client: string, m: Omit<SendEvent, 't' | 'kind' | 'client'>): void {
    const hlc = { wall: m.hlc.wall, counter: m.hlc.counter, node: m.hlc.node };
    this.push({
      kind: 'send',
      client: this.check(client),
      msgId: m.msgId,
      replyTo: m.replyTo,
      wall: m.wall,
      hlc,
      text: m.text,
    });
  }

  sendRefused(client: string, reason: string, replyTo: string | null = null): void {
    this.push({ kind: 'send-refused', client: this.check(client), reason, replyTo });
  }

  ack(client: string, msgId: string): void {
    this.push({ kind: 'ack', client: this.check(client), msgId });
  }

  /** Records the first appearance only; later calls for the same (client, msgId) are ignored. */
  deliver(client: string, msgId: string): void {
    const key = `${this.check(client)}\u0000${msgId}`;
    if (this.delivered.has(key)) return;
    this.delivered.add(key);
    this.push({ kind: 'deliver', client, msgId });
  }

  faults(client: string, config: FaultConfig): void {
    this.push({ kind: 'faults', client: this.check(client), config });
  }

  partition(clients: readonly string[]): void {
    this.push({ kind: 'partition', clients: clients.map((c) => this.check(c)) });
  }

  heal(clients: readonly string[]): void {
    this.push({ kind: 'heal', clients: clients.map((c) => this.check(c)) });
  }

  relayCrash(): void {
    this.push({ kind: 'relay-crash' });
  }

  relayRestart(): void {
    this.push({ kind: 'relay-restart' });
  }

  clientCrash(client: string): void {
    this.push({ kind: 'client-crash', client: this.check(client) });
  }

  clientRestart(client: string): void {
    this.push({ kind: 'client-restart', client: this.check(client) });
  }

  step(label: string): void {
    this.push({ kind: 'step', label });
  }

  sample(clients: readonly ClientSample[]): void {
    for (const s of clients) this.check(s.client);
    this.push({ kind: 'sample', clients: clients.map((s) => ({ ...s })) });
  }

  /** The final read; call once, after the final heal and quiesce. */
  finish(replicas: readonly FinalReplica[]): void {
    if (this.final) throw new Error('HistoryRecorder: finish called twice');
    for (const r of replicas) this.check(r.client);
    this.final = { t: this.elapsed(), replicas };
  }

  /** The history so far (a snapshot; `final` is null until finish). */
  history(): History {
    return {
      version: HISTORY_VERSION,
      scenario: this.meta.scenario,
      seed: this.meta.seed,
      options: this.meta.options,
      clients: this.meta.clients,
      startedAt: this.startedAt,
      events: [...this.events],
      final: this.final,
    };
  }

  private check(client: string): string {
    if (!this.known.has(client)) throw new Error(`HistoryRecorder: unknown client ${JSON.stringify(client)}`);
    return client;
  }

  private push(e: Unstamped<HistoryEvent>): void {
    this.events.push({ t: this.elapsed(), ...e });
  }
}
