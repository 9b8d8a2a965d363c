/**
 * The network lab's fault injection (LAB-1, LAB-2 in docs/SPEC.md), installed as the `outgoing`
 * and `incoming` frame hooks of a Transport (./transport.ts), so the stock provider, the relay
 * and the frames on the wire are the real ones; only what reaches each side changes.
 *
 * Per frame and direction, in this order, with one random draw per decision (seeded in
 * experiments, so a seed replays the same decisions for the same frames):
 * 1. partitioned: nothing passes (and the transport's sockets are closed: `partition()`);
 * 2. drop with `dropPct`;
 * 3. duplicate with `duplicatePct` (the copy right after the original);
 * 4. reorder with `reorderPct`: the frame is held and delivered right after the next frame in
 *    the same direction, or after `reorderHoldMs` when no next frame comes (a held frame is
 *    late, never lost);
 * 5. latency: fixed + uniform jitter; deliveries in one direction stay in order (FIFO, as on
 *    a TCP connection: jitter delays, it does not reorder).
 * Frames already queued when the config changes are delivered as scheduled (or dropped with their
 * socket, when a partition closes it). `unfaulted` sends past all of this (LAB-7's announcement).
 */
import { NO_FAULTS, type FaultConfig, type LinkFault } from '../../shared/lab/faults.js';
import type { Transport } from './transport.js';

export type FrameDirection = 'in' | 'out';

export interface FaultStats {
  droppedIn: number;
  droppedOut: number;
  duplicated: number;
  reordered: number;
}

export interface FaultInjectorOptions {
  /** Uniform in [0, 1); default Math.random. Experiments pass a seeded PRNG. */
  readonly random?: () => number;
  readonly now?: () => number;
  readonly setTimeout?: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout?: (handle: unknown) => void;
  /** Every frame as it is handed on (after the faults), for the lab's traffic log. */
  readonly onFrame?: (dir: FrameDirection, bytes: Uint8Array) => void;
  /** Every frame the drop fault or a partition drops, as it is dropped (LAB-2: the lab owns its repair). */
  readonly onDrop?: (dir: FrameDirection, bytes: Uint8Array) => void;
  /** Default 200 ms. */
  readonly reorderHoldMs?: number;
}

type Forward = (data: Uint8Array) => void;

interface Queued {
  readonly due: number;
  readonly data: Uint8Array;
  readonly forward: Forward;
}

/** One direction's delivery queue, held frame and timers. */
class Link {
  readonly queue: Queued[] = [];
  timer: unknown = null;
  held: { data: Uint8Array; forward: Forward } | null = null;
  holdTimer: unknown = null;
}

export class FaultInjector {
  private cfg: FaultConfig = NO_FAULTS;
  private readonly counts: FaultStats = { droppedIn: 0, droppedOut: 0, duplicated: 0, reordered: 0 };
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly onFrame: ((dir: FrameDirection, bytes: Uint8Array) => void) | undefined;
  private readonly onDrop: ((dir: FrameDirection, bytes: Uint8Array) => void) | undefined;
  private readonly reorderHoldMs: number;
  private readonly links: Record<FrameDirection, Link> = { in: new Link(), out: new Link() };
  /** True while `unfaulted` runs: outgoing frames are handed on at once. */
  private passing = false;

  constructor(
    readonly transport: Transport,
    opts: FaultInjectorOptions = {},
  ) {
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.setTimer = opts.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = opts.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    this.onFrame = opts.onFrame;
    this.onDrop = opts.onDrop;
    this.reorderHoldMs = opts.reorderHoldMs ?? 200;
    transport.hooks = {
      ...transport.hooks,
      outgoing: (data, forward) => this.frame('out', data, forward),
      incoming: (data, forward) => this.frame('in', data, forward),
    };
  }

  get config(): FaultConfig {
    return this.cfg;
  }

  /** LAB-1: a partition closes every socket and refuses connections until a config without it. */
  set(config: FaultConfig): void {
    const was = this.cfg.partitioned;
    this.cfg = config;
    if (config.partitioned && !was) this.transport.partition();
    else if (!config.partitioned && was) this.transport.heal();
  }

  /**
   * LAB-7: runs `send`, handing on the frames it sends at once, past every fault in effect (no
   * drop, reorder hold or latency, no random draw), ahead of frames queued earlier. For the faults
   * a session announces as it goes cut off: through the faults the announcement could be dropped,
   * or held in a queue the partition's closing socket then empties, and the room would never learn
   * why the session went quiet. Frames `send` does not send synchronously are not covered.
   */
  unfaulted(send: () => void): void {
    const was = this.passing;
    this.passing = true;
    try {
      send();
    } finally {
      this.passing = was;
    }
  }

  stats(): FaultStats {
    return { ...this.counts };
  }

  /** Stops pending timers (the frames they hold are dropped with their socket anyway). */
  dispose(): void {
    for (const l of Object.values(this.links)) {
      if (l.timer !== null) this.clearTimer(l.timer);
      if (l.holdTimer !== null) this.clearTimer(l.holdTimer);
      l.timer = l.holdTimer = l.held = null;
      l.queue.length = 0;
    }
  }

  private frame(dir: FrameDirection, data: Uint8Array, forward: Forward): void {
    if (this.passing && dir === 'out') {
      this.deliver(dir, data, forward);
      return;
    }
    const c = this.cfg;
    if (c.partitioned || this.random() * 100 < c.dropPct) {
      if (dir === 'in') this.counts.droppedIn++;
      else this.counts.droppedOut++;
      this.onDrop?.(dir, data);
      return;
    }
    const copies = this.random() * 100 < c.duplicatePct ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    const link = this.links[dir];
    const held = link.held;
    if (held) {
      link.held = null;
      if (link.holdTimer !== null) this.clearTimer(link.holdTimer);
      link.holdTimer = null;
      for (let i = 0; i < copies; i++) this.schedule(dir, data, forward);
      this.schedule(dir, held.data, held.forward);
      return;
    }
    if (this.random() * 100 < c.reorderPct) {
      this.counts.reordered++;
      link.held = { data, forward };
      link.holdTimer = this.setTimer(() => {
        link.holdTimer = null;
        const h = link.held;
        link.held = null;
        if (h) this.schedule(dir, h.data, h.forward);
      }, this.reorderHoldMs);
      // A duplicated frame that is held back goes twice when released: the copy goes now.
      if (copies === 2) this.schedule(dir, data, forward);
      return;
    }
    for (let i = 0; i < copies; i++) this.schedule(dir, data, forward);
  }

  private latency(l: LinkFault): number {
    return l.fixedMs + (l.jitterMs > 0 ? this.random() * l.jitterMs : 0);
  }

  private schedule(dir: FrameDirection, data: Uint8Array, forward: Forward): void {
    const link = this.links[dir];
    const delay = this.latency(dir === 'in' ? this.cfg.down : this.cfg.up);
    if (delay <= 0 && link.queue.length === 0) {
      this.deliver(dir, data, forward);
      return;
    }
    const last = link.queue[link.queue.length - 1];
    const due = Math.max(this.now() + delay, last?.due ?? 0);
    link.queue.push({ due, data, forward });
    if (link.timer === null) this.arm(dir);
  }

  private arm(dir: FrameDirection): void {
    const link = this.links[dir];
    const head = link.queue[0];
    if (!head) return;
    link.timer = this.setTimer(
      () => {
        link.timer = null;
        const now = this.now();
        while (link.queue.length > 0 && link.queue[0]!.due <= now) {
          const q = link.queue.shift()!;
          this.deliver(dir, q.data, q.forward);
        }
        this.arm(dir);
      },
      Math.max(0, head.due - this.now()),
    );
  }

  private deliver(dir: FrameDirection, data: Uint8Array, forward: Forward): void {
    this.onFrame?.(dir, data);
    forward(data);
  }
}
