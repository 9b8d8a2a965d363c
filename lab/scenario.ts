/**
 * Scenario files (lab/scenarios/*.json): what an experiment does, in a form a teacher can read
 * and edit. The schema is documented in docs/lab/README.md ("Writing a scenario"); `parseScenario`
 * checks a parsed JSON value against it and throws a ScenarioError whose message starts with the
 * path of the first bad field, e.g. `timeline[3].clients: expected an array of client names`.
 *
 * Times are durations ("30s", "1500ms", "2min" or a number of ms). A step's `at` is either a
 * duration from the start or a percentage of the run ("25%"), so one file works for the small
 * budget of `npm test` and for a long run (`--duration 60s`). Client sets are arrays of client
 * names (`c0`, `c1`, ...) or the groups `all`, `first-half`, `second-half` (resolved against the
 * number of clients of the run, EXP-2).
 */
import { validateFaultConfig, type FaultConfig } from '../shared/lab/faults.js';
import type { Slo } from './history.js';

export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

export type ClientSelector = string;

export type At = { readonly kind: 'ms'; readonly ms: number } | { readonly kind: 'pct'; readonly pct: number };

interface StepBase {
  readonly at: At;
}

export type Step =
  | (StepBase & {
      readonly do: 'send';
      readonly clients: readonly ClientSelector[];
      /** Messages per client. */
      readonly count: number;
      /** Spread over this long (0: all at once). */
      readonly overMs: number;
      /** Share of the messages that reply to a message the client shows, 0..100. */
      readonly replyPct: number;
    })
  | (StepBase & {
      readonly do: 'partition' | 'heal' | 'clear-faults' | 'resync' | 'replay' | 'client-crash' | 'client-restart';
      readonly clients: readonly ClientSelector[];
    })
  | (StepBase & {
      readonly do: 'faults';
      readonly clients: readonly ClientSelector[];
      /** The fields given replace the client's current ones. */
      readonly faults: Partial<FaultConfig>;
    })
  | (StepBase & { readonly do: 'relay-crash' })
  | (StepBase & {
      readonly do: 'relay-restart';
      /** Start with an empty data directory: the relay lost its disk, the history must come back from the clients. */
      readonly wipe: boolean;
    });

export type StepKind = Step['do'];

export interface Chatter {
  readonly clients: readonly ClientSelector[];
  /** Messages per second per client, on average (random intervals). */
  readonly perClientPerSec: number;
  readonly replyPct: number;
}

export interface Budget {
  readonly clients: number;
  readonly durationMs: number;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Default number of clients and run length (`--clients`, `--duration` override them). */
  readonly clients: number;
  readonly durationMs: number;
  /** The budget `npm test` runs it with (lab/scenarios.test.ts). */
  readonly small: Budget;
  readonly chatter: Chatter | null;
  readonly timeline: readonly Step[];
  readonly slo: Slo | null;
  /** Every client runs anti-entropy (LAB-8) at this interval; null: off. */
  readonly antiEntropyMs: number | null;
  /** After the final heal every client resyncs once (LAB-8) before quiesce; default true. */
  readonly finalResync: boolean;
  /** How long quiesce may take before the run reports it did not settle; default 30 s. */
  readonly quiesceTimeoutMs: number;
  /** State samples every this many ms; default 250. */
  readonly sampleMs: number;
}

export const MAX_CLIENTS = 200;
const STEP_KINDS: readonly StepKind[] = [
  'send',
  'partition',
  'heal',
  'faults',
  'clear-faults',
  'resync',
  'replay',
  'relay-crash',
  'relay-restart',
  'client-crash',
  'client-restart',
];
const GROUPS = ['all', 'first-half', 'second-half'];
const CLIENT_NAME = /^c(0|[1-9]\d*)$/;

const fail = (path: string, msg: string): never => {
  throw new ScenarioError(`${path}: ${msg}`);
};

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

const onlyFields = (x: Record<string, unknown>, path: string, allowed: readonly string[]): void => {
  for (const k of Object.keys(x)) if (!allowed.includes(k)) fail(path === '' ? k : `${path}.${k}`, 'unknown field');
};

/** "30s", "1500ms", "2min", "1.5s" or a number of ms. */
export const parseDuration = (x: unknown, path: string): number => {
  if (typeof x === 'number' && Number.isFinite(x) && x >= 0) return x;
  if (typeof x === 'string') {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|min|m)$/.exec(x.trim());
    if (m) return Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000));
  }
  return fail(path, `expected a duration like "30s", "500ms" or "2min", got ${JSON.stringify(x)}`);
};

const int = (x: unknown, path: string, min: number, max: number): number => {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
    fail(path, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(x)}`);
  }
  return x as number;
};

const pct = (x: unknown, path: string): number => {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 100) {
    fail(path, `expected a percentage from 0 to 100, got ${JSON.stringify(x)}`);
  }
  return x as number;
};

const str = (x: unknown, path: string): string => (typeof x === 'string' ? x : fail(path, 'expected a string'));

const parseAt = (x: unknown, path: string): At => {
  if (typeof x === 'string' && /^\d+(\.\d+)?\s*%$/.test(x.trim())) {
    const p = parseFloat(x);
    if (p > 100) fail(path, 'a percentage of the run must be at most 100%');
    return { kind: 'pct', pct: p };
  }
  return { kind: 'ms', ms: parseDuration(x, path) };
};

const parseClients = (x: unknown, path: string): ClientSelector[] => {
  if (!Array.isArray(x) || x.length === 0 || !x.every((c) => typeof c === 'string')) {
    return fail(path, 'expected an array of client names');
  }
  x.forEach((c: string, i) => {
    if (!CLIENT_NAME.test(c) && !GROUPS.includes(c)) {
      fail(
        `${path}[${i}]`,
        `expected a client name like "c0" or one of ${GROUPS.join(', ')}, got ${JSON.stringify(c)}`,
      );
    }
  });
  return x;
};

const SLO_FIELDS = ['deliveryP50Ms', 'deliveryP95Ms', 'deliveryP99Ms', 'convergeMs', 'partitionedSendAvailability'];

const parseSlo = (x: unknown, path: string): Slo => {
  if (!isRecord(x)) return fail(path, 'expected an object');
  onlyFields(x, path, SLO_FIELDS);
  const out: Record<string, number> = {};
  for (const k of SLO_FIELDS) {
    if (x[k] === undefined) continue;
    out[k] =
      k === 'partitionedSendAvailability'
        ? (() => {
            const v = x[k];
            if (typeof v !== 'number' || v < 0 || v > 1) fail(`${path}.${k}`, 'expected a number from 0 to 1');
            return v as number;
          })()
        : parseDuration(x[k], `${path}.${k}`);
  }
  if (Object.keys(out).length === 0) fail(path, `expected at least one of ${SLO_FIELDS.join(', ')}`);
  return out;
};

const parsePartialFaults = (x: unknown, path: string): Partial<FaultConfig> => {
  if (!isRecord(x)) return fail(path, 'expected an object');
  // Validated as a whole config (every given field checked, paths named), then only the given fields kept.
  let full: FaultConfig;
  try {
    full = validateFaultConfig(x, path);
  } catch (e) {
    throw new ScenarioError(e instanceof Error ? e.message : String(e));
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(x)) out[k] = full[k as keyof FaultConfig];
  return out;
};

const parseStep = (x: unknown, path: string): Step => {
  if (!isRecord(x)) return fail(path, 'expected an object with "at" and "do"');
  if (x.at === undefined) fail(`${path}.at`, 'missing (when the step happens: "25%" or "10s")');
  const at = parseAt(x.at, `${path}.at`);
  const kind = x.do;
  if (typeof kind !== 'string' || !STEP_KINDS.includes(kind as StepKind)) {
    return fail(`${path}.do`, `expected one of ${STEP_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
  switch (kind as StepKind) {
    case 'relay-crash':
      onlyFields(x, path, ['at', 'do', 'note']);
      return { at, do: 'relay-crash' };
    case 'relay-restart':
      onlyFields(x, path, ['at', 'do', 'note', 'wipe']);
      if (x.wipe !== undefined && typeof x.wipe !== 'boolean') fail(`${path}.wipe`, 'expected true or false');
      return { at, do: 'relay-restart', wipe: x.wipe === true };
    case 'send':
      onlyFields(x, path, ['at', 'do', 'note', 'clients', 'count', 'over', 'replyPct']);
      return {
        at,
        do: 'send',
        clients: parseClients(x.clients, `${path}.clients`),
        count: x.count === undefined ? 1 : int(x.count, `${path}.count`, 1, 100_000),
        overMs: x.over === undefined ? 0 : parseDuration(x.over, `${path}.over`),
        replyPct: x.replyPct === undefined ? 0 : pct(x.replyPct, `${path}.replyPct`),
      };
    case 'faults':
      onlyFields(x, path, ['at', 'do', 'note', 'clients', 'faults']);
      return {
        at,
        do: 'faults',
        clients: parseClients(x.clients, `${path}.clients`),
        faults: parsePartialFaults(x.faults, `${path}.faults`),
      };
    default:
      onlyFields(x, path, ['at', 'do', 'note', 'clients']);
      return {
        at,
        do: kind as Exclude<StepKind, 'send' | 'faults' | 'relay-crash' | 'relay-restart'>,
        clients: parseClients(x.clients, `${path}.clients`),
      };
  }
};

const parseBudget = (x: unknown, path: string): Budget => {
  if (!isRecord(x)) return fail(path, 'expected an object { "clients": n, "duration": "5s" }');
  onlyFields(x, path, ['clients', 'duration']);
  return {
    clients: int(x.clients, `${path}.clients`, 1, MAX_CLIENTS),
    durationMs: parseDuration(x.duration, `${path}.duration`),
  };
};

const FIELDS = [
  '$schema',
  'name',
  'description',
  'clients',
  'duration',
  'small',
  'chatter',
  'timeline',
  'slo',
  'antiEntropy',
  'finalResync',
  'quiesceTimeout',
  'sample',
];

/** A validated Scenario from parsed JSON; throws ScenarioError naming the bad field. */
export const parseScenario = (x: unknown): Scenario => {
  if (!isRecord(x)) return fail('(top level)', 'expected an object');
  onlyFields(x, '', FIELDS);
  const name = str(x.name, 'name');
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(name)) fail('name', 'expected lower-case letters, digits and dashes');
  let chatter: Chatter | null = null;
  if (x.chatter !== undefined && x.chatter !== null) {
    if (!isRecord(x.chatter)) fail('chatter', 'expected an object');
    const c = x.chatter as Record<string, unknown>;
    onlyFields(c, 'chatter', ['clients', 'perClientPerSec', 'replyPct']);
    const rate = c.perClientPerSec;
    if (typeof rate !== 'number' || !(rate > 0) || rate > 50) {
      fail('chatter.perClientPerSec', 'expected a number of messages per second, above 0 and at most 50');
    }
    chatter = {
      clients: parseClients(c.clients ?? ['all'], 'chatter.clients'),
      perClientPerSec: rate as number,
      replyPct: c.replyPct === undefined ? 0 : pct(c.replyPct, 'chatter.replyPct'),
    };
  }
  if (!Array.isArray(x.timeline)) fail('timeline', 'expected an array of steps');
  const timeline = (x.timeline as unknown[]).map((s, i) => parseStep(s, `timeline[${i}]`));
  if (x.finalResync !== undefined && typeof x.finalResync !== 'boolean') fail('finalResync', 'expected true or false');
  const antiEntropyMs =
    x.antiEntropy === undefined || x.antiEntropy === null ? null : parseDuration(x.antiEntropy, 'antiEntropy');
  if (antiEntropyMs !== null && antiEntropyMs < 50) fail('antiEntropy', 'expected at least 50ms');
  const sampleMs = x.sample === undefined ? 250 : parseDuration(x.sample, 'sample');
  if (sampleMs < 50) fail('sample', 'expected at least 50ms');
  return {
    name,
    description: str(x.description ?? '', 'description'),
    clients: int(x.clients, 'clients', 1, MAX_CLIENTS),
    durationMs: parseDuration(x.duration, 'duration'),
    small: parseBudget(x.small, 'small'),
    chatter,
    timeline,
    slo: x.slo === undefined || x.slo === null ? null : parseSlo(x.slo, 'slo'),
    antiEntropyMs,
    finalResync: (x.finalResync as boolean | undefined) ?? true,
    quiesceTimeoutMs: x.quiesceTimeout === undefined ? 30_000 : parseDuration(x.quiesceTimeout, 'quiesceTimeout'),
    sampleMs,
  };
};

/** EXP-2: client names of a selector list for a run with `n` clients (c0..c{n-1}), deduplicated, in order. */
export const resolveClients = (selectors: readonly ClientSelector[], n: number, path: string): string[] => {
  const out = new Set<string>();
  const half = Math.ceil(n / 2);
  selectors.forEach((s, i) => {
    if (s === 'all') for (let k = 0; k < n; k++) out.add(`c${k}`);
    else if (s === 'first-half') for (let k = 0; k < half; k++) out.add(`c${k}`);
    else if (s === 'second-half') for (let k = half; k < n; k++) out.add(`c${k}`);
    else if (Number(s.slice(1)) < n) out.add(s);
    else fail(`${path}[${i}]`, `there is no client ${s} in a run with ${n} clients (c0..c${n - 1})`);
  });
  return [...out].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
};

/** The time of a step in a run of `durationMs`. */
export const stepTime = (at: At, durationMs: number, path: string): number => {
  const ms = at.kind === 'pct' ? Math.round((at.pct / 100) * durationMs) : at.ms;
  if (ms > durationMs) fail(path, `${ms} ms is after the end of the run (${durationMs} ms)`);
  return ms;
};
