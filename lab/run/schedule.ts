/**
 * EXP-1: the whole timeline of a run, expanded before it starts into concrete actions at fixed
 * offsets — every send (who, when, whether it replies), every fault, crash and heal — from the
 * scenario, the number of clients, the run length and the seed alone. The same inputs give the
 * same schedule (and the same `fingerprint`); what the network then does with the frames is
 * decided by each client's own seeded random source (LAB-2).
 */
import type { FaultConfig } from '../../shared/lab/faults.js';
import { fnv1a } from '../../shared/lab/contentHash.js';
import { Prng } from '../../shared/testing/prng.js';
import { resolveClients, ScenarioError, stepTime, type Scenario } from '../scenario.js';

export type Action =
  | {
      readonly t: number;
      readonly kind: 'send';
      readonly client: string;
      readonly text: string;
      /** Reply to a message the client shows (picked with `pick` in [0, 1) among them), if any. */
      readonly reply: boolean;
      readonly pick: number;
    }
  | {
      readonly t: number;
      readonly kind: 'partition' | 'heal' | 'clear-faults' | 'resync' | 'replay' | 'client-crash' | 'client-restart';
      readonly clients: readonly string[];
      readonly label: string;
    }
  | {
      readonly t: number;
      readonly kind: 'faults';
      readonly clients: readonly string[];
      readonly faults: Partial<FaultConfig>;
      readonly label: string;
    }
  | { readonly t: number; readonly kind: 'relay-crash'; readonly label: string }
  | { readonly t: number; readonly kind: 'relay-restart'; readonly wipe: boolean; readonly label: string }
  | { readonly t: number; readonly kind: 'label'; readonly label: string };

export interface Schedule {
  readonly actions: readonly Action[];
  readonly fingerprint: string;
  readonly sends: number;
}

/** A 32-bit seed for stream `k` of `seed` (splitmix-style mixing, so nearby seeds differ). */
export const subSeed = (seed: number, k: number): number => {
  let z = (seed + Math.imul(k + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
};

const listClients = (cs: readonly string[]): string => (cs.length > 6 ? `${cs.length} clients` : cs.join(','));

/**
 * Most sends one run may schedule. Every field of a scenario has its own limit, but together
 * (200 clients, `count` 100000, 50 messages a second for an hour) they would build a plan of
 * millions of sends and exhaust the memory before a clear word could be said; the shipped
 * scenarios' largest documented run sends about 1500.
 */
export const MAX_SENDS = 50_000;

/**
 * The relay is up when a run starts; a crash needs it up and a restart needs it down. Either step
 * out of turn would do nothing (runExperiment skips it), so a scenario that asks for one is refused
 * with the step named rather than run without the fault the teacher planned.
 */
const checkRelaySteps = (steps: ReadonlyArray<{ t: number; path: string; crash: boolean }>): void => {
  let up = true;
  for (const s of [...steps].sort((x, y) => x.t - y.t)) {
    if (s.crash && !up) {
      throw new ScenarioError(
        `${s.path}: relay-crash at ${s.t} ms, but the relay is already down (no relay-restart since the last crash)`,
      );
    }
    if (!s.crash && up) {
      throw new ScenarioError(
        `${s.path}: relay-restart at ${s.t} ms, but the relay is not down (no relay-crash before it)`,
      );
    }
    up = !s.crash;
  }
};

export const buildSchedule = (scenario: Scenario, clients: number, durationMs: number, seed: number): Schedule => {
  const prng = new Prng(subSeed(seed, 0));
  const out: Action[] = [];
  const counters = new Map<string, number>();
  let sends = 0;
  const send = (t: number, client: string, replyPct: number): void => {
    if (++sends > MAX_SENDS) {
      throw new ScenarioError(
        `this run would send more than ${MAX_SENDS} messages (${clients} clients, ${durationMs / 1000} s): use fewer clients, a shorter duration, a lower count or chatter.perClientPerSec`,
      );
    }
    const k = (counters.get(client) ?? 0) + 1;
    counters.set(client, k);
    const reply = prng.next() * 100 < replyPct;
    out.push({ t: Math.round(t), kind: 'send', client, text: `${client} #${k}`, reply, pick: prng.next() });
  };
  const relaySteps: Array<{ t: number; path: string; crash: boolean }> = [];
  scenario.timeline.forEach((step, i) => {
    const path = `timeline[${i}]`;
    const t = stepTime(step.at, durationMs, `${path}.at`);
    switch (step.do) {
      case 'relay-crash':
        relaySteps.push({ t, path, crash: true });
        out.push({ t, kind: 'relay-crash', label: 'relay crash (SIGKILL)' });
        return;
      case 'relay-restart':
        relaySteps.push({ t, path, crash: false });
        out.push({
          t,
          kind: 'relay-restart',
          wipe: step.wipe,
          // Started here; the history's relay-restart event is when it is done (EXP-7).
          label: step.wipe ? 'relay restart started, disk wiped' : 'relay restart started',
        });
        return;
      case 'send': {
        const cs = resolveClients(step.clients, clients, `${path}.clients`);
        out.push({ t, kind: 'label', label: `send ${step.count} each: ${listClients(cs)}` });
        for (const c of cs) {
          for (let n = 0; n < step.count; n++) send(t + prng.next() * step.overMs, c, step.replyPct);
        }
        return;
      }
      case 'faults': {
        const cs = resolveClients(step.clients, clients, `${path}.clients`);
        out.push({ t, kind: 'faults', clients: cs, faults: step.faults, label: `faults ${listClients(cs)}` });
        return;
      }
      default: {
        const cs = resolveClients(step.clients, clients, `${path}.clients`);
        // A restart takes a while: the history's client-restart event is when it is done.
        const label = `${step.do} ${listClients(cs)}${step.do === 'client-restart' ? ' started' : ''}`;
        out.push({ t, kind: step.do, clients: cs, label });
      }
    }
  });
  checkRelaySteps(relaySteps);
  if (scenario.chatter) {
    const cs = resolveClients(scenario.chatter.clients, clients, 'chatter.clients');
    const meanGap = 1000 / scenario.chatter.perClientPerSec;
    for (const c of cs) {
      for (let t = -Math.log(1 - prng.next()) * meanGap; t < durationMs; t += -Math.log(1 - prng.next()) * meanGap) {
        send(t, c, scenario.chatter.replyPct);
      }
    }
  }
  // Stable: equal times keep the order they were listed in (timeline order, then chatter).
  const actions = out
    .map((a, i) => ({ a, i }))
    .sort((x, y) => x.a.t - y.a.t || x.i - y.i)
    .map((x) => x.a);
  return {
    actions,
    fingerprint: fnv1a(JSON.stringify(actions)),
    sends: actions.filter((a) => a.kind === 'send').length,
  };
};
