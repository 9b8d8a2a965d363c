/**
 * Relay configuration: every setting is an environment variable, and the same name in
 * lower-kebab case is a command-line flag (`PORT=0` or `--port 0` / `--port=0`); flags win.
 * The README's configuration table lists every entry of `SETTINGS`, its default and its meaning
 * (a test checks the names and defaults).
 */
import { CLIENT_CHARGE_BYTES, Limits, maxStructBytes, type PublishedLimits } from '../shared/protocol.js';
import type { RelayLimits } from './relay.js';
import { addressRange, type AddressRange } from './clientAddress.js';
import { LogLevel, type LogLevelName } from './log.js';
import type { RedisDurabilityMode } from './redisConnection.js';

const MiB = 1024 * 1024;
/** The longest delay `setTimeout`/`setInterval` honour (2^31 − 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Setting {
  readonly env: string;
  readonly default: string;
}

export const SETTINGS = {
  port: { env: 'PORT', default: '8787' },
  host: { env: 'HOST', default: '127.0.0.1' },
  dataDir: { env: 'DATA_DIR', default: './data' },
  maxDbBytes: { env: 'MAX_DB_BYTES', default: '0' },
  logLevel: { env: 'LOG_LEVEL', default: 'info' },
  maxFrameBytes: { env: 'MAX_FRAME_BYTES', default: String(Limits.maxFrameBytes) },
  maxSendFrameBytes: { env: 'MAX_SEND_FRAME_BYTES', default: String(Limits.maxSendFrameBytes) },
  maxMessagesPerSecond: { env: 'MAX_MSGS_PER_SEC', default: '200' },
  messageBurst: { env: 'MSG_BURST', default: '1000' },
  maxBytesPerSecond: { env: 'MAX_BYTES_PER_SEC', default: String(2 * MiB) },
  byteBurst: { env: 'BYTE_BURST', default: String(2 * Limits.maxFrameBytes) },
  maxBufferedBytes: { env: 'MAX_BUFFERED_BYTES', default: String(16 * MiB) },
  maxTotalBufferedBytes: { env: 'MAX_TOTAL_BUFFERED_BYTES', default: String(256 * MiB) },
  maxRooms: { env: 'MAX_ROOMS', default: '10000' },
  maxConnections: { env: 'MAX_CONNECTIONS', default: '2000' },
  maxConnectionsPerIp: { env: 'MAX_CONNECTIONS_PER_IP', default: '128' },
  maxUpgradesPerIpPerMinute: { env: 'MAX_UPGRADES_PER_IP_PER_MINUTE', default: '1200' },
  trustProxy: { env: 'TRUST_PROXY', default: '' },
  maxAwarenessStateBytes: { env: 'MAX_AWARENESS_STATE_BYTES', default: String(Limits.maxAwarenessStateBytes) },
  maxClientsPerUpdate: { env: 'MAX_CLIENTS_PER_UPDATE', default: String(Limits.maxClientsPerUpdate) },
  maxAwarenessBytesPerConnection: {
    env: 'MAX_AWARENESS_BYTES_PER_CONNECTION',
    default: String(Limits.maxAwarenessBytesPerConnection),
  },
  commitDelayMs: { env: 'COMMIT_DELAY_MS', default: '10' },
  idleUnloadMs: { env: 'IDLE_UNLOAD_MS', default: '30000' },
  storeCallTimeoutMs: { env: 'STORE_CALL_TIMEOUT_MS', default: '30000' },
  redisUrl: { env: 'REDIS_URL', default: '' },
  redisPrefix: { env: 'REDIS_PREFIX', default: 'converge' },
  redisDurability: { env: 'REDIS_DURABILITY', default: 'verify' },
  redisHeartbeatMs: { env: 'REDIS_HEARTBEAT_MS', default: '2000' },
  redisWaitReplicas: { env: 'REDIS_WAIT_REPLICAS', default: '0' },
  redisWaitTimeoutMs: { env: 'REDIS_WAIT_TIMEOUT_MS', default: '1000' },
  relayUrls: { env: 'RELAY_URLS', default: '' },
  metricsToken: { env: 'METRICS_TOKEN', default: '' },
} as const satisfies Record<string, Setting>;

export interface RelayConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Upper bound on the SQLite database's size in bytes (0 = none; embedded mode only). */
  readonly maxDbBytes: number;
  readonly logLevel: LogLevelName;
  readonly limits: RelayLimits;
  readonly commitDelayMs: number;
  readonly idleUnloadMs: number;
  /** STORE-6: the store worker watchdog's limit (0 = off). */
  readonly storeCallTimeoutMs: number;
  /** '' = embedded mode (SQLite); otherwise the shared Redis of scale-out mode. */
  readonly redisUrl: string;
  readonly redisPrefix: string;
  readonly redisDurability: RedisDurabilityMode;
  readonly redisHeartbeatMs: number;
  /** REDIS-9: replicas every commit waits for (0 = none), and for how long. */
  readonly redisWaitReplicas: number;
  readonly redisWaitTimeoutMs: number;
  /** Relay origins the client may fail over between ([] = only the one that served the page). */
  readonly relayUrls: readonly string[];
  /** SEC-3: the bearer token `/metrics` asks for ('' = none, /metrics is public). A secret: never logged. */
  readonly metricsToken: string;
  /** CLOSE-7: websockets one client address may hold (0 = no limit); across all relays in scale-out mode (REDIS-11). */
  readonly maxConnectionsPerIp: number;
  /** CLOSE-7: upgrade attempts one client address may make per minute (0 = no limit); across all relays too. */
  readonly maxUpgradesPerIpPerMinute: number;
  /** CLOSE-7: addresses and ranges of reverse proxies whose X-Forwarded-For is believed ([] = none). */
  readonly trustProxy: readonly AddressRange[];
  /** Settings that work but break a promise, in words; logged at start. */
  readonly warnings: readonly string[];
}

export class ConfigError extends Error {}

/**
 * UP-1: Converge's client uploads in frames of up to `Limits.maxSendFrameBytes` naming up to
 * `Limits.maxUploadClientsPerFrame` Yjs clients, smaller only when it read this relay's limits
 * from `/config.json` (UP-2). A relay set below either refuses such a frame with a fatal close, so
 * a device that could not read them and holds that much the relay lacks (a long offline stretch,
 * a room file, a room the relay lost) could never sync it. The same for a relay whose frames
 * cannot carry a message at its length limit (VAL-10, STRUCT-1). Allowed (a relay for small
 * rooms, tests of the refusals), but said at start.
 */
const uploadWarnings = (limits: {
  maxFrameBytes: number;
  maxClientsPerUpdate: number;
  maxSendFrameBytes: number;
}): string[] => {
  const warnings: string[] = [];
  const structs = maxStructBytes(limits.maxSendFrameBytes);
  if (structs < Limits.clientStructBytes) {
    warnings.push(
      `MAX_SEND_FRAME_BYTES (${limits.maxSendFrameBytes}) passes on structs of at most ${structs} bytes (VAL-10), below the ${Limits.clientStructBytes} bytes of a Converge message at its length limit: clients that read this relay's /config.json refuse longer messages when they are written (STRUCT-1), others (a page served elsewhere, an older client) are refused with struct-too-large for such a message and cannot sync that room`,
    );
  }
  if (limits.maxFrameBytes < Limits.maxSendFrameBytes) {
    warnings.push(
      `MAX_FRAME_BYTES (${limits.maxFrameBytes}) is below the ${Limits.maxSendFrameBytes}-byte frames Converge clients upload in (UP-1) unless they read this relay's /config.json (UP-2): a device that did not (a page served elsewhere, a stock client) with more than that to upload (a long offline stretch, a room file) is refused with frame-too-large and cannot sync that room`,
    );
  }
  if (limits.maxClientsPerUpdate < Limits.maxUploadClientsPerFrame) {
    warnings.push(
      `MAX_CLIENTS_PER_UPDATE (${limits.maxClientsPerUpdate}) is below the ${Limits.maxUploadClientsPerFrame} Yjs clients a Converge client's upload frame may name (UP-1) unless it read this relay's /config.json (UP-2): a device that did not, re-uploading a room of more writing sessions, is refused with too-many-clients and cannot sync that room`,
    );
  }
  return warnings;
};

/**
 * UP-2: what `/config.json` tells clients this relay charges a connection. Relays behind one
 * address or one relay list (NET-3) should be configured alike: a client paces by the limits of
 * the relay that served its page.
 */
export const publishedLimits = (limits: RelayLimits): PublishedLimits => ({
  maxBytesPerSecond: limits.maxBytesPerSecond,
  byteBurst: limits.byteBurst,
  maxMessagesPerSecond: limits.maxMessagesPerSecond,
  messageBurst: limits.messageBurst,
  maxFrameBytes: limits.maxFrameBytes,
  maxClientsPerUpdate: limits.maxClientsPerUpdate,
  maxStructBytes: maxStructBytes(limits.maxSendFrameBytes),
});

const flagName = (key: keyof typeof SETTINGS): string => '--' + SETTINGS[key].env.toLowerCase().replaceAll('_', '-');

/** Asks for `configHelp` instead of a relay. */
export const wantsHelp = (argv: readonly string[]): boolean => argv.includes('--help') || argv.includes('-h');

/** What `npm start -- --help` prints: every setting's flag, environment variable and default. */
export const configHelp = (): string => {
  const rows = (Object.keys(SETTINGS) as Array<keyof typeof SETTINGS>).map((k) => [
    flagName(k),
    SETTINGS[k].env,
    SETTINGS[k].default === '' ? '(empty)' : SETTINGS[k].default,
  ]);
  const width = (i: number): number => Math.max(...rows.map((r) => r[i]!.length));
  return [
    'usage: npm start -- [--flag value | --flag=value] ...',
    "Each setting is a flag or an environment variable (the flag wins); the README's Configuration",
    'section says what each means and what it accepts. A setting out of range stops the relay with',
    'exit code 2 and a message naming it.',
    '',
    ...rows.map((r) => `  ${r[0]!.padEnd(width(0))}  ${r[1]!.padEnd(width(1))}  ${r[2]}`),
    '',
  ].join('\n');
};

/** Reads settings from `env` and `argv` (flags win). Throws ConfigError naming the bad setting. */
export const loadConfig = (env: Record<string, string | undefined>, argv: readonly string[]): RelayConfig => {
  const raw = new Map<string, string>();
  for (const [key, s] of Object.entries(SETTINGS)) raw.set(key, env[s.env] ?? s.default);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const keys = Object.keys(SETTINGS) as Array<keyof typeof SETTINGS>;
    const entry = keys.find((k) => arg === flagName(k) || arg.startsWith(flagName(k) + '='));
    if (!entry) throw new ConfigError(`unknown option ${arg} (options: ${keys.map(flagName).join(' ')})`);
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`${arg} needs a value`);
    raw.set(entry, value);
  }
  const int = (key: keyof typeof SETTINGS, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = raw.get(key)!;
    const n = Number(v);
    // Past 2^53 a number is no longer exact (99999999999999999999 would be read as 1e20).
    if (!/^\d+$/.test(v) || n < min || n > max || !Number.isSafeInteger(n)) {
      throw new ConfigError(`${SETTINGS[key].env} must be an integer from ${min} to ${max}, got "${v}"`);
    }
    return n;
  };
  /** A text setting an empty value would silently change: `HOST=` listened on every interface. */
  const text = (key: keyof typeof SETTINGS): string => {
    const v = raw.get(key)!;
    if (v.trim() === '') {
      throw new ConfigError(`${SETTINGS[key].env} must not be empty (leave it out for ${SETTINGS[key].default})`);
    }
    return v;
  };
  /** A duration: Node.js runs a longer timer after 1 ms (IDLE_UNLOAD_MS=3000000000 unloaded rooms at once). */
  const ms = (key: keyof typeof SETTINGS, min: number): number => int(key, min, MAX_TIMER_MS);
  const logLevel = raw.get('logLevel')!;
  if (!Object.hasOwn(LogLevel, logLevel))
    throw new ConfigError(`LOG_LEVEL must be one of ${Object.keys(LogLevel).join(', ')}`);
  const port = int('port', 0, 65535);
  const limits: RelayLimits = {
    maxFrameBytes: int('maxFrameBytes', 1024),
    maxSendFrameBytes: int('maxSendFrameBytes', 4096),
    maxMessagesPerSecond: int('maxMessagesPerSecond', 1),
    messageBurst: int('messageBurst', 1),
    maxBytesPerSecond: int('maxBytesPerSecond', 1),
    byteBurst: int('byteBurst', 1),
    maxBufferedBytes: int('maxBufferedBytes', 1),
    maxTotalBufferedBytes: int('maxTotalBufferedBytes', 1),
    maxRooms: int('maxRooms', 1),
    maxConnections: int('maxConnections', 1),
    maxAwarenessStateBytes: int('maxAwarenessStateBytes', 64),
    maxNestingDepth: Limits.maxNestingDepth,
    maxHeldRangesPerUpdate: Limits.maxHeldRangesPerUpdate,
    maxAwarenessEntriesPerFrame: Limits.maxAwarenessEntriesPerFrame,
    maxAwarenessClientsPerConnection: Limits.maxAwarenessClientsPerConnection,
    maxAwarenessBytesPerConnection: int('maxAwarenessBytesPerConnection', 64),
    maxClientsPerUpdate: int('maxClientsPerUpdate', 1),
  };
  // A frame the burst can never pay for would be refused as "rate-limited" (retryable) forever.
  // RATE-1: the largest frame with the most clients must be payable.
  const minByteBurst = limits.maxFrameBytes + limits.maxClientsPerUpdate * CLIENT_CHARGE_BYTES;
  if (limits.byteBurst < minByteBurst) {
    throw new ConfigError(
      `BYTE_BURST must be at least MAX_FRAME_BYTES + MAX_CLIENTS_PER_UPDATE × ${CLIENT_CHARGE_BYTES} = ` +
        `${limits.maxFrameBytes} + ${limits.maxClientsPerUpdate} × ${CLIENT_CHARGE_BYTES} = ${minByteBurst} (RATE-1), got ${limits.byteBurst}`,
    );
  }
  if (limits.maxTotalBufferedBytes < limits.maxBufferedBytes) {
    throw new ConfigError('MAX_TOTAL_BUFFERED_BYTES must be at least MAX_BUFFERED_BYTES');
  }
  // One awareness state must fit in one frame the relay sends.
  if (limits.maxAwarenessStateBytes + 64 > limits.maxSendFrameBytes) {
    throw new ConfigError('MAX_AWARENESS_STATE_BYTES + 64 must fit in MAX_SEND_FRAME_BYTES');
  }
  // Else a connection could never announce one state of the largest size.
  if (limits.maxAwarenessBytesPerConnection < limits.maxAwarenessStateBytes) {
    throw new ConfigError('MAX_AWARENESS_BYTES_PER_CONNECTION must be at least MAX_AWARENESS_STATE_BYTES');
  }
  const maxDbBytes = int('maxDbBytes', 0);
  // Smaller than a few pages, not even the schema would fit.
  if (maxDbBytes !== 0 && maxDbBytes < 64 * 1024) throw new ConfigError('MAX_DB_BYTES must be 0 or at least 65536');
  const redisUrl = raw.get('redisUrl')!;
  if (redisUrl !== '' && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) {
    throw new ConfigError('REDIS_URL must be empty or a redis:// or rediss:// URL');
  }
  /** A comma-separated list, blanks ignored. */
  const list = (key: string): string[] =>
    raw
      .get(key)!
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  const relayUrls = list('relayUrls');
  for (const u of relayUrls) {
    if (!/^wss?:\/\/[^\s/?#]+$/.test(u))
      throw new ConfigError(`RELAY_URLS entries must be ws:// or wss:// origins, got "${u}"`);
  }
  // Every entry or none: a relay that skipped one would count that proxy's clients as one address.
  const trustProxy = list('trustProxy').map((entry) => {
    const range = addressRange(entry);
    if (typeof range === 'string') throw new ConfigError(`TRUST_PROXY entry "${entry}" ${range}`);
    return range;
  });
  // SEC-3: the error never quotes the value, a secret (RFC 6750's token characters; 16 or more).
  const metricsToken = raw.get('metricsToken')!;
  if (metricsToken !== '' && !/^[A-Za-z0-9._~+/-]{16,}=*$/.test(metricsToken)) {
    throw new ConfigError(
      'METRICS_TOKEN must be empty or at least 16 characters of A-Z a-z 0-9 - . _ ~ + / (then = padding)',
    );
  }
  const redisPrefix = raw.get('redisPrefix')!;
  // Braces would interfere with the room hash tags (REDIS-1).
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(redisPrefix)) {
    throw new ConfigError('REDIS_PREFIX must be 1-64 characters of A-Z a-z 0-9 _ . : -');
  }
  const redisDurability = raw.get('redisDurability')!;
  if (redisDurability !== 'verify' && redisDurability !== 'trust') {
    throw new ConfigError('REDIS_DURABILITY must be verify or trust');
  }
  return {
    warnings: uploadWarnings(limits),
    port,
    host: text('host'),
    dataDir: text('dataDir'),
    maxDbBytes,
    logLevel: logLevel as LogLevelName,
    commitDelayMs: ms('commitDelayMs', 0),
    idleUnloadMs: ms('idleUnloadMs', 0),
    storeCallTimeoutMs: ms('storeCallTimeoutMs', 0),
    limits,
    redisUrl,
    redisPrefix,
    redisDurability,
    redisHeartbeatMs: ms('redisHeartbeatMs', 100),
    redisWaitReplicas: int('redisWaitReplicas', 0),
    redisWaitTimeoutMs: ms('redisWaitTimeoutMs', 1),
    relayUrls,
    metricsToken,
    maxConnectionsPerIp: int('maxConnectionsPerIp', 0),
    maxUpgradesPerIpPerMinute: int('maxUpgradesPerIpPerMinute', 0),
    trustProxy,
  };
};
