/**
 * The network lab's fault model for one client (LAB-1..LAB-3 in docs/SPEC.md): what the
 * fault-injecting transport (client/net/faultInjector.ts) and the session's skewable clock apply.
 * Pure data: used by the app's Lab panel, the class view (published in awareness) and scripted
 * experiments (lab/scenario.ts), so it is validated wherever it comes from.
 */
export interface LinkFault {
  /** Added one-way latency, ms. */
  readonly fixedMs: number;
  /** Extra latency uniform in [0, jitterMs), ms. */
  readonly jitterMs: number;
}

export interface FaultConfig {
  /** No traffic either way, including cross-tab sync. */
  readonly partitioned: boolean;
  /** Client → relay. */
  readonly up: LinkFault;
  /** Relay → client. */
  readonly down: LinkFault;
  /** 0..100: each frame, each direction, is lost with this probability. */
  readonly dropPct: number;
  /** 0..100: each frame, each direction, is delivered twice with this probability. */
  readonly duplicatePct: number;
  /** 0..100: a frame is held back and delivered after the next one. */
  readonly reorderPct: number;
  /** Offset applied to this client's wall clock (and so to its HLC), ms. */
  readonly skewMs: number;
}

export const NO_LINK_FAULT: LinkFault = Object.freeze({ fixedMs: 0, jitterMs: 0 });

export const NO_FAULTS: FaultConfig = Object.freeze({
  partitioned: false,
  up: NO_LINK_FAULT,
  down: NO_LINK_FAULT,
  dropPct: 0,
  duplicatePct: 0,
  reorderPct: 0,
  skewMs: 0,
});

/** Largest latency and skew accepted: a day (anything larger is a typo). */
export const MAX_LATENCY_MS = 60_000;
export const MAX_SKEW_MS = 24 * 3600_000;

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

const num = (x: unknown, path: string, min: number, max: number): number => {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${path}: expected a number`);
  if (x < min || x > max) throw new Error(`${path}: expected a number from ${min} to ${max}, got ${x}`);
  return x;
};

const link = (x: unknown, path: string): LinkFault => {
  if (!isRecord(x)) throw new Error(`${path}: expected an object { fixedMs, jitterMs }`);
  for (const k of Object.keys(x))
    if (k !== 'fixedMs' && k !== 'jitterMs') throw new Error(`${path}.${k}: unknown field`);
  return Object.freeze({
    fixedMs: num(x.fixedMs ?? 0, `${path}.fixedMs`, 0, MAX_LATENCY_MS),
    jitterMs: num(x.jitterMs ?? 0, `${path}.jitterMs`, 0, MAX_LATENCY_MS),
  });
};

const FIELDS = ['partitioned', 'up', 'down', 'dropPct', 'duplicatePct', 'reorderPct', 'skewMs'];

/**
 * A complete, frozen FaultConfig from untrusted input; missing fields take their NO_FAULTS value.
 * Throws an Error whose message starts with the path of the bad field (`path` prefixes it).
 */
export const validateFaultConfig = (x: unknown, path = 'faults'): FaultConfig => {
  if (!isRecord(x)) throw new Error(`${path}: expected an object`);
  for (const k of Object.keys(x)) if (!FIELDS.includes(k)) throw new Error(`${path}.${k}: unknown field`);
  if (x.partitioned !== undefined && typeof x.partitioned !== 'boolean') {
    throw new Error(`${path}.partitioned: expected true or false`);
  }
  return Object.freeze({
    partitioned: x.partitioned ?? false,
    up: x.up === undefined ? NO_LINK_FAULT : link(x.up, `${path}.up`),
    down: x.down === undefined ? NO_LINK_FAULT : link(x.down, `${path}.down`),
    dropPct: num(x.dropPct ?? 0, `${path}.dropPct`, 0, 100),
    duplicatePct: num(x.duplicatePct ?? 0, `${path}.duplicatePct`, 0, 100),
    reorderPct: num(x.reorderPct ?? 0, `${path}.reorderPct`, 0, 100),
    skewMs: num(x.skewMs ?? 0, `${path}.skewMs`, -MAX_SKEW_MS, MAX_SKEW_MS),
  });
};

const sameLink = (a: LinkFault, b: LinkFault): boolean => a.fixedMs === b.fixedMs && a.jitterMs === b.jitterMs;

export const sameFaults = (a: FaultConfig, b: FaultConfig): boolean =>
  a.partitioned === b.partitioned &&
  sameLink(a.up, b.up) &&
  sameLink(a.down, b.down) &&
  a.dropPct === b.dropPct &&
  a.duplicatePct === b.duplicatePct &&
  a.reorderPct === b.reorderPct &&
  a.skewMs === b.skewMs;

export const hasFaults = (c: FaultConfig): boolean => !sameFaults(c, NO_FAULTS);

/**
 * No frame to or from the relay gets through: partitioned, or every frame dropped (LAB-UI-1 counts
 * both as out of reach). A drop leaves cross-tab sync alone; a partition does not (LAB-1).
 */
export const cutOff = (c: FaultConfig): boolean => c.partitioned || c.dropPct >= 100;

const latency = (dir: string, l: LinkFault): string =>
  `latency ${dir} ${l.fixedMs}${l.jitterMs > 0 ? `±${l.jitterMs}` : ''} ms`;

/** "+1 day", "+2 h", "+5 min", "-30 s", "+250 ms": the largest unit that states the offset exactly. */
export const formatSkew = (ms: number): string => {
  const sign = ms < 0 ? '-' : '+';
  const a = Math.abs(ms);
  if (a >= 86_400_000 && a % 86_400_000 === 0) return `${sign}${a / 86_400_000} day${a === 86_400_000 ? '' : 's'}`;
  if (a >= 3_600_000 && a % 3_600_000 === 0) return `${sign}${a / 3_600_000} h`;
  if (a >= 60_000 && a % 60_000 === 0) return `${sign}${a / 60_000} min`;
  if (a >= 1000 && a % 1000 === 0) return `${sign}${a / 1000} s`;
  return `${sign}${a} ms`;
};

/** Every active fault in plain words, e.g. "partitioned", "latency up 200±50 ms", "drops 10 %", "clock +5 min"; [] when none. */
export const describeFaults = (c: FaultConfig): string[] => {
  const out: string[] = [];
  if (c.partitioned) out.push('partitioned');
  if (!sameLink(c.up, NO_LINK_FAULT)) out.push(latency('up', c.up));
  if (!sameLink(c.down, NO_LINK_FAULT)) out.push(latency('down', c.down));
  if (c.dropPct > 0) out.push(`drops ${c.dropPct} %`);
  if (c.duplicatePct > 0) out.push(`duplicates ${c.duplicatePct} %`);
  if (c.reorderPct > 0) out.push(`reorders ${c.reorderPct} %`);
  if (c.skewMs !== 0) out.push(`clock ${formatSkew(c.skewMs)}`);
  return out;
};

/**
 * LAB-UI-6: what the active faults do, in one or two sentences for the banner ('' when none).
 * Only effects the faults can have: a skewed clock alone loses and delays nothing, it only makes
 * this device's messages claim other times.
 */
export const describeFaultEffects = (c: FaultConfig): string => {
  if (c.partitioned)
    return 'Nothing is sent or received until the partition is lifted; messages you write stay Pending.';
  const effects: string[] = [];
  if (!sameLink(c.up, NO_LINK_FAULT) || !sameLink(c.down, NO_LINK_FAULT)) effects.push('slow');
  if (c.dropPct > 0) effects.push('lost');
  if (c.duplicatePct > 0) effects.push('repeated');
  if (c.reorderPct > 0) effects.push('out of order');
  const out: string[] = [];
  if (effects.length > 0) {
    const list = effects.length === 1 ? effects[0]! : `${effects.slice(0, -1).join(', ')} or ${effects.at(-1)!}`;
    out.push(`Messages may be ${list} on purpose.`);
  }
  // LAB-8: nothing re-sends a lost frame, not even the handshake, which would leave the room
  // "Connecting" with its socket open for as long as the connection lasts.
  if (c.dropPct > 0) out.push('A lost message is not sent again by itself: use “Resync now”.');
  if (c.skewMs !== 0) out.push('This device’s clock is off on purpose, and so are the times its messages claim.');
  return out.join(' ');
};
