/**
 * Service-level indicators of one experiment, computed from its recorded history
 * (docs/lab/checkers.md, SLI-1..SLI-4):
 *
 * - SLI-1 delivery latency: for every message and every client other than its sender that
 *   displayed it, deliver t − send t; p50/p95/p99 by nearest rank over all (message, other
 *   client) pairs, a pair that never displayed the message counting as infinitely slow (a
 *   percentile that lands on one is null: not reached). Otherwise lost messages would vanish
 *   from the SLI and a latency SLO would hold while most messages never arrived.
 * - SLI-2 time to converge after each heal (a `heal`, or faults lifting a client's partition):
 *   heal t → the first state sample where every healed client is online and every online client
 *   shows the same content hash. Null when that never
 *   happens before one of the healed clients is cut off or crashes again, or the run ends.
 * - SLI-3 availability of sending during partitions: of the sends attempted by a client while it
 *   was partitioned, the share the client accepted locally (offline-first: should be 1).
 * - SLI-4 the SLO verdict, when the scenario declares one: every declared target must hold; a
 *   target with nothing measured does not hold (an SLO nobody can check is not met).
 */
import type { History, Slo } from './history.js';

export interface LatencySample {
  /** When the message was delivered (ms since start). */
  readonly t: number;
  /** When it was sent. */
  readonly sentAt: number;
  readonly ms: number;
  readonly from: string;
  readonly to: string;
  readonly msgId: string;
}

export interface LatencySli {
  /** Deliveries measured. */
  readonly count: number;
  /** (message, other client) pairs where the message was never displayed. */
  readonly undelivered: number;
  /** Null when nothing was delivered, or when the rank falls among the undelivered pairs. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  /** The slowest delivery measured. */
  readonly max: number | null;
  /** Every sample, in delivery order (the report's latency-over-time chart). */
  readonly samples: readonly LatencySample[];
}

export interface HealConvergence {
  /** When the heal happened. */
  readonly t: number;
  readonly clients: readonly string[];
  /** The first sample where everyone agreed, or null. */
  readonly convergedAt: number | null;
  readonly ms: number | null;
}

export interface SendAvailability {
  readonly attempted: number;
  readonly succeeded: number;
  /** succeeded / attempted; null when no client tried to send while partitioned. */
  readonly ratio: number | null;
}

export interface SloCheck {
  readonly name: keyof Slo;
  readonly target: number;
  /** What was measured; null when nothing was. */
  readonly actual: number | null;
  readonly ok: boolean;
}

export interface SloVerdict {
  readonly ok: boolean;
  readonly checks: readonly SloCheck[];
}

export interface Slis {
  readonly latency: LatencySli;
  readonly heals: readonly HealConvergence[];
  readonly availability: SendAvailability;
  /** null when the scenario declares no SLO. */
  readonly slo: SloVerdict | null;
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100); null when empty. */
export const percentile = (sorted: readonly number[], p: number): number | null => {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
};

export const deliveryLatency = (h: History): LatencySli => {
  const sent = new Map<string, { t: number; client: string }>();
  const samples: LatencySample[] = [];
  for (const e of h.events) {
    if (e.kind === 'send' && !sent.has(e.msgId)) sent.set(e.msgId, { t: e.t, client: e.client });
    if (e.kind !== 'deliver') continue;
    const s = sent.get(e.msgId);
    if (!s || s.client === e.client) continue;
    samples.push({ t: e.t, sentAt: s.t, ms: e.t - s.t, from: s.client, to: e.client, msgId: e.msgId });
  }
  const delivered = samples.map((s) => s.ms).sort((a, b) => a - b);
  const expected = sent.size * Math.max(0, h.clients.length - 1);
  const undelivered = Math.max(0, expected - samples.length);
  const all = [...delivered, ...Array<number>(undelivered).fill(Infinity)];
  const reached = (p: number): number | null => {
    const v = percentile(all, p);
    return v === null || v === Infinity ? null : v;
  };
  return {
    count: samples.length,
    undelivered,
    p50: reached(50),
    p95: reached(95),
    p99: reached(99),
    max: delivered.at(-1) ?? null,
    samples,
  };
};

/**
 * The heals of a history: `heal` events, and `faults` events that lift the partition of a
 * partitioned client (a `clear-faults` step, or `faults` with `partitioned: false`); adjacent ones
 * of the latter (one step over several clients), and those right before a `heal`, are one heal.
 * `at` is the index of its last event.
 */
const heals = (h: History): { t: number; clients: string[]; at: number }[] => {
  const out: { t: number; clients: string[]; at: number }[] = [];
  const partitioned = new Set<string>();
  let previousWasFaultHeal = false;
  h.events.forEach((e, i) => {
    let faultHeal = false;
    if (e.kind === 'partition') for (const c of e.clients) partitioned.add(c);
    else if (e.kind === 'heal') {
      for (const c of e.clients) partitioned.delete(c);
      // The runner's final heal clears faults first (lifting partitions), then heals everyone: one heal.
      const lifted = previousWasFaultHeal ? out.pop() : undefined;
      out.push({ t: lifted?.t ?? e.t, clients: [...new Set([...(lifted?.clients ?? []), ...e.clients])], at: i });
    } else if (e.kind === 'faults') {
      if (e.config.partitioned) partitioned.add(e.client);
      else if (partitioned.delete(e.client)) {
        faultHeal = true;
        const last = out.at(-1);
        if (previousWasFaultHeal && last) {
          last.clients.push(e.client);
          last.at = i;
        } else out.push({ t: e.t, clients: [e.client], at: i });
      }
    }
    previousWasFaultHeal = faultHeal;
  });
  return out;
};

export const healConvergence = (h: History): HealConvergence[] => {
  const out: HealConvergence[] = [];
  for (const heal of heals(h)) {
    const healed = new Set(heal.clients);
    let convergedAt: number | null = null;
    for (const later of h.events.slice(heal.at + 1)) {
      if (later.kind === 'partition' && later.clients.some((c) => healed.has(c))) break;
      if (later.kind === 'faults' && later.config.partitioned && healed.has(later.client)) break;
      if (later.kind === 'client-crash' && healed.has(later.client)) break;
      if (later.kind !== 'sample') continue;
      const online = later.clients.filter((s) => s.online);
      const hashes = new Set(online.map((s) => s.contentHash));
      const allHealedOnline = [...healed].every((c) => online.some((s) => s.client === c));
      if (allHealedOnline && hashes.size === 1 && !hashes.has(null)) {
        convergedAt = later.t;
        break;
      }
    }
    out.push({
      t: heal.t,
      clients: heal.clients,
      convergedAt,
      ms: convergedAt === null ? null : convergedAt - heal.t,
    });
  }
  return out;
};

export const partitionedSendAvailability = (h: History): SendAvailability => {
  const partitioned = new Set<string>();
  let attempted = 0;
  let succeeded = 0;
  for (const e of h.events) {
    if (e.kind === 'partition') for (const c of e.clients) partitioned.add(c);
    else if (e.kind === 'heal') for (const c of e.clients) partitioned.delete(c);
    else if (e.kind === 'faults') {
      if (e.config.partitioned) partitioned.add(e.client);
      else partitioned.delete(e.client);
    } else if ((e.kind === 'send' || e.kind === 'send-refused') && partitioned.has(e.client)) {
      attempted++;
      if (e.kind === 'send') succeeded++;
    }
  }
  return { attempted, succeeded, ratio: attempted === 0 ? null : succeeded / attempted };
};

const atMost = (name: keyof Slo, target: number, actual: number | null): SloCheck => ({
  name,
  target,
  actual,
  ok: actual !== null && actual <= target,
});

export const sloVerdict = (
  slo: Slo,
  latency: LatencySli,
  heals: readonly HealConvergence[],
  availability: SendAvailability,
): SloVerdict => {
  const checks: SloCheck[] = [];
  if (slo.deliveryP50Ms !== undefined) checks.push(atMost('deliveryP50Ms', slo.deliveryP50Ms, latency.p50));
  if (slo.deliveryP95Ms !== undefined) checks.push(atMost('deliveryP95Ms', slo.deliveryP95Ms, latency.p95));
  if (slo.deliveryP99Ms !== undefined) checks.push(atMost('deliveryP99Ms', slo.deliveryP99Ms, latency.p99));
  if (slo.convergeMs !== undefined) {
    // The slowest heal; any heal that never converged makes it unmeasured (and so not met).
    const worst =
      heals.length === 0 || heals.some((x) => x.ms === null) ? null : Math.max(...heals.map((x) => x.ms ?? 0));
    checks.push(atMost('convergeMs', slo.convergeMs, worst));
  }
  if (slo.partitionedSendAvailability !== undefined) {
    const target = slo.partitionedSendAvailability;
    checks.push({
      name: 'partitionedSendAvailability',
      target,
      actual: availability.ratio,
      ok: availability.ratio !== null && availability.ratio >= target,
    });
  }
  return { ok: checks.every((c) => c.ok), checks };
};

export const computeSlis = (h: History): Slis => {
  const latency = deliveryLatency(h);
  const heals = healConvergence(h);
  const availability = partitionedSendAvailability(h);
  const slo = h.scenario.slo ? sloVerdict(h.scenario.slo, latency, heals, availability) : null;
  return { latency, heals, availability, slo };
};
