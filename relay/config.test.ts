/**
 * Tests of relay/config.ts: defaults, environment variables, command-line flags (flags win) and
 * errors that name the bad setting; and that the README's configuration table lists exactly the
 * settings, with the defaults the code has.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Limits } from '../shared/protocol.js';
import {
  ConfigError,
  SETTINGS,
  configHelp,
  loadConfig,
  publishedLimits,
  wantsHelp,
  type RelayConfig,
} from './config.js';

type Key = keyof typeof SETTINGS;
const KEYS = Object.keys(SETTINGS) as Key[];

/** The value of setting `key` in a loaded config (top-level or under `limits`). */
const valueOf = (config: RelayConfig, key: Key): unknown =>
  key in config
    ? (config as unknown as Record<string, unknown>)[key]
    : (config.limits as unknown as Record<string, unknown>)[key];

/** A valid, non-default raw value for each setting, and the value it loads as. */
const sample = (key: Key): [string, unknown] => {
  switch (key) {
    case 'host':
      return ['0.0.0.0', '0.0.0.0'];
    case 'dataDir':
      return ['/tmp/converge-data', '/tmp/converge-data'];
    case 'logLevel':
      return ['warn', 'warn'];
    case 'maxDbBytes':
      return ['1073741824', 1073741824];
    case 'redisUrl':
      return ['redis://127.0.0.1:6380', 'redis://127.0.0.1:6380'];
    case 'redisPrefix':
      return ['school-7', 'school-7'];
    case 'redisDurability':
      return ['trust', 'trust'];
    case 'metricsToken':
      return ['s3cr3t-t0ken_for.metrics~+/A==', 's3cr3t-t0ken_for.metrics~+/A=='];
    case 'relayUrls':
      return ['ws://10.0.0.1:8787, wss://b.example.org', ['ws://10.0.0.1:8787', 'wss://b.example.org']];
    case 'trustProxy':
      return [
        '127.0.0.1, ::1, 10.0.0.0/8, ::ffff:172.16.0.0/108, fd00::/8',
        [
          { family: 4, network: 0x7f000001n, prefix: 32 },
          { family: 6, network: 1n, prefix: 128 },
          { family: 4, network: 0x0a000000n, prefix: 8 },
          { family: 4, network: 0xac100000n, prefix: 12 },
          { family: 6, network: 0xfdn << 120n, prefix: 8 },
        ],
      ];
    default:
      return ['5000', 5000]; // at or above every numeric setting's minimum, a valid port
  }
};

/** `--env-name` for an env var: "the same name in lower-kebab case" (config.ts header). */
const flagOfEnv = (env: string): string => '--' + env.toLowerCase().replace(/_/g, '-');

/** Settings that must move together for one value to be valid (a small send frame needs small presence states). */
const baseEnv = (key: string): Record<string, string> =>
  key === 'maxSendFrameBytes' || key === 'maxAwarenessBytesPerConnection'
    ? { MAX_AWARENESS_STATE_BYTES: '1024' }
    : key === 'byteBurst'
      ? { MAX_FRAME_BYTES: '1024', MAX_CLIENTS_PER_UPDATE: '1' }
      : key === 'maxTotalBufferedBytes'
        ? { MAX_BUFFERED_BYTES: '1024' }
        : {};

describe('loadConfig', () => {
  it('uses the defaults when nothing is set', () => {
    const config = loadConfig({}, []);
    expect(config).toEqual({
      port: 8787,
      host: '127.0.0.1',
      dataDir: './data',
      maxDbBytes: 0,
      logLevel: 'info',
      commitDelayMs: 10,
      idleUnloadMs: 30_000,
      storeCallTimeoutMs: 30_000,
      redisUrl: '',
      redisPrefix: 'converge',
      redisDurability: 'verify',
      redisHeartbeatMs: 2000,
      redisWaitReplicas: 0,
      redisWaitTimeoutMs: 1000,
      relayUrls: [],
      metricsToken: '',
      maxConnectionsPerIp: 128,
      maxUpgradesPerIpPerMinute: 1200,
      trustProxy: [],
      warnings: [],
      limits: {
        maxFrameBytes: Limits.maxFrameBytes,
        maxSendFrameBytes: Limits.maxSendFrameBytes,
        maxMessagesPerSecond: 200,
        messageBurst: 1000,
        maxBytesPerSecond: 2 * 1024 * 1024,
        byteBurst: 2 * Limits.maxFrameBytes,
        maxBufferedBytes: 16 * 1024 * 1024,
        maxTotalBufferedBytes: 256 * 1024 * 1024,
        maxRooms: 10_000,
        maxConnections: 2000,
        maxAwarenessStateBytes: Limits.maxAwarenessStateBytes,
        maxNestingDepth: Limits.maxNestingDepth,
        maxHeldRangesPerUpdate: Limits.maxHeldRangesPerUpdate,
        maxAwarenessEntriesPerFrame: Limits.maxAwarenessEntriesPerFrame,
        maxAwarenessClientsPerConnection: Limits.maxAwarenessClientsPerConnection,
        maxAwarenessBytesPerConnection: Limits.maxAwarenessBytesPerConnection,
        maxClientsPerUpdate: Limits.maxClientsPerUpdate,
      },
    });
    for (const key of KEYS) expect(String(valueOf(config, key))).toBe(SETTINGS[key].default);
  });

  it('reads every setting from its environment variable', () => {
    for (const key of KEYS) {
      const [raw, loaded] = sample(key);
      expect(valueOf(loadConfig({ ...baseEnv(key), [SETTINGS[key].env]: raw }, []), key), key).toEqual(loaded);
    }
  });

  it('reads PORT=0 from the environment and --port 0 / --port=0 from the flags', () => {
    expect(loadConfig({ PORT: '0' }, []).port).toBe(0);
    expect(loadConfig({}, ['--port', '0']).port).toBe(0);
    expect(loadConfig({}, ['--port=0']).port).toBe(0);
    expect(loadConfig({}, ['--port=0', '--host', '0.0.0.0', '--data-dir=/x'])).toMatchObject({
      port: 0,
      host: '0.0.0.0',
      dataDir: '/x',
    });
  });

  it('lets flags win over the environment', () => {
    const env = { PORT: '1234', HOST: '10.0.0.1', MAX_ROOMS: '7' };
    expect(loadConfig(env, ['--port', '0', '--max-rooms=9'])).toMatchObject({
      port: 0,
      host: '10.0.0.1',
      limits: { maxRooms: 9 },
    });
    expect(loadConfig(env, ['--port=5', '--port=6']).port).toBe(6); // the last flag wins
  });

  it('makes every setting a flag named after its environment variable in lower-kebab case', () => {
    for (const key of KEYS) {
      const [raw, loaded] = sample(key);
      const flag = flagOfEnv(SETTINGS[key].env);
      expect(() => loadConfig(baseEnv(key), [flag, raw]), flag).not.toThrow();
      expect(valueOf(loadConfig(baseEnv(key), [`${flag}=${raw}`]), key), flag).toEqual(loaded);
    }
  });

  it.each([
    [{ PORT: 'abc' }, [], /PORT/],
    [{ PORT: '-1' }, [], /PORT/],
    [{ PORT: '70000' }, [], /PORT must be an integer from 0 to 65535, got "70000"/],
    [{ PORT: '1.5' }, [], /PORT must be an integer from 0 to 65535, got "1.5"/],
    [{ PORT: '' }, [], /PORT/],
    [{}, ['--port', 'x'], /PORT/],
    [{}, ['--port=-3'], /PORT/],
    [{ MAX_FRAME_BYTES: '1023' }, [], /MAX_FRAME_BYTES/],
    [{ MAX_DB_BYTES: '65535' }, [], /MAX_DB_BYTES must be 0 or at least 65536/],
    [{ MAX_AWARENESS_BYTES_PER_CONNECTION: '16383' }, [], /MAX_AWARENESS_BYTES_PER_CONNECTION must be at least/],
    [{ MAX_DB_BYTES: '-1' }, [], /MAX_DB_BYTES/],
    [{ MAX_SEND_FRAME_BYTES: '4095' }, [], /MAX_SEND_FRAME_BYTES/],
    [{ MAX_ROOMS: '0' }, [], /MAX_ROOMS/],
    [{ MAX_AWARENESS_STATE_BYTES: '63' }, [], /MAX_AWARENESS_STATE_BYTES/],
    [{ COMMIT_DELAY_MS: 'soon' }, [], /COMMIT_DELAY_MS/],
    [{ IDLE_UNLOAD_MS: '1e3' }, [], /IDLE_UNLOAD_MS must be an integer from \d+ to 2147483647, got "1e3"/],
    // Longer than Node.js timers hold: they would fire after 1 ms (rooms unloaded at once).
    [{ IDLE_UNLOAD_MS: '3000000000' }, [], /IDLE_UNLOAD_MS must be an integer from 0 to 2147483647/],
    [{ COMMIT_DELAY_MS: '2147483648' }, [], /COMMIT_DELAY_MS/],
    [{ STORE_CALL_TIMEOUT_MS: '99999999999' }, [], /STORE_CALL_TIMEOUT_MS/],
    [{ REDIS_HEARTBEAT_MS: '2147483648' }, [], /REDIS_HEARTBEAT_MS/],
    [{ REDIS_WAIT_TIMEOUT_MS: '2147483648' }, [], /REDIS_WAIT_TIMEOUT_MS/],
    [{ LOG_LEVEL: 'loud' }, [], /LOG_LEVEL/],
    [{ LOG_LEVEL: 'constructor' }, [], /LOG_LEVEL/],
    [{ LOG_LEVEL: 'toString' }, [], /LOG_LEVEL/],
    [{ REDIS_URL: 'localhost:6379' }, [], /REDIS_URL/],
    [{ REDIS_URL: 'http://localhost:6379' }, [], /REDIS_URL/],
    [{ REDIS_PREFIX: 'a{b}' }, [], /REDIS_PREFIX/],
    [{ REDIS_PREFIX: '' }, [], /REDIS_PREFIX/],
    [{ REDIS_DURABILITY: 'maybe' }, [], /REDIS_DURABILITY/],
    [{ REDIS_HEARTBEAT_MS: '99' }, [], /REDIS_HEARTBEAT_MS/],
    [{ REDIS_WAIT_TIMEOUT_MS: '0' }, [], /REDIS_WAIT_TIMEOUT_MS/],
    [{ MAX_BUFFERED_BYTES: '2000', MAX_TOTAL_BUFFERED_BYTES: '1000' }, [], /MAX_TOTAL_BUFFERED_BYTES/],
    [{ REDIS_WAIT_REPLICAS: '-1' }, [], /REDIS_WAIT_REPLICAS/],
    [{ RELAY_URLS: 'http://a:1' }, [], /RELAY_URLS/],
    [{ RELAY_URLS: 'ws://a:1/sync' }, [], /RELAY_URLS/],
    [{ MAX_CONNECTIONS_PER_IP: '-1' }, [], /MAX_CONNECTIONS_PER_IP/],
    // SEC-3: too short to resist guessing, or characters a bearer token cannot carry.
    [{ METRICS_TOKEN: 'short-secret-15' }, [], /METRICS_TOKEN must be empty or at least 16 characters/],
    [{ METRICS_TOKEN: 'sixteen chars ok!' }, [], /METRICS_TOKEN/],
    [{ MAX_UPGRADES_PER_IP_PER_MINUTE: '1.5' }, [], /MAX_UPGRADES_PER_IP_PER_MINUTE/],
    // CLOSE-7: one bad entry refuses the whole list, naming it.
    [{ TRUST_PROXY: '10.0.0.1, proxy.example.org' }, [], /TRUST_PROXY entry "proxy.example.org" is not an IP address/],
    [
      { TRUST_PROXY: '10.0.0.0/8, 10.0.0.0/33' },
      [],
      /TRUST_PROXY entry "10.0.0.0\/33" has a prefix length that is not 0–32/,
    ],
    [{ TRUST_PROXY: 'fd00::/129' }, [], /TRUST_PROXY entry "fd00::\/129" has a prefix length that is not 0–128/],
    [{ TRUST_PROXY: '172.17.0.1/16' }, [], /TRUST_PROXY entry "172.17.0.1\/16" has host bits set .*172\.17\.0\.0\/16/],
    [{}, ['--trust-proxy=10.0.0.0/8,fd00::1/8'], /TRUST_PROXY entry "fd00::1\/8" has host bits set/],
    [{ MAX_FRAME_BYTES: '2000000', BYTE_BURST: '1999999' }, [], /BYTE_BURST/],
    // RATE-1: the largest frame with the most clients must be payable (8 MiB + 32,768 × 256 = 16 MiB).
    // The message says the number it needs, from the values used (8 MiB default frame).
    [
      { MAX_CLIENTS_PER_UPDATE: '32769' },
      [],
      /BYTE_BURST must be at least MAX_FRAME_BYTES \+ MAX_CLIENTS_PER_UPDATE × 256 = 8388608 \+ 32769 × 256 = 16777472 \(RATE-1\), got 16777216/,
    ],
    [{ MAX_SEND_FRAME_BYTES: '8192', MAX_AWARENESS_STATE_BYTES: '8192' }, [], /MAX_AWARENESS_STATE_BYTES/],
    // Past 2^53 a number is not exact: refused, not rounded.
    [{ MAX_ROOMS: '99999999999999999999' }, [], /MAX_ROOMS must be an integer from 1 to 9007199254740991/],
    [{}, ['--max-connections', '9007199254740992'], /MAX_CONNECTIONS/],
    // An empty line in an env file: HOST= listened on every interface.
    [{ HOST: '' }, [], /HOST must not be empty \(leave it out for 127\.0\.0\.1\)/],
    [{ HOST: ' ' }, [], /HOST must not be empty/],
    [{ DATA_DIR: '' }, [], /DATA_DIR must not be empty/],
    [{}, ['--port'], /--port/],
    [{}, ['--no-such-option', '1'], /--no-such-option/],
    [{}, ['port=1'], /port=1/],
  ] as Array<[Record<string, string>, string[], RegExp]>)(
    'refuses %o %o with an error naming the setting',
    (env, argv, names) => {
      expect(() => loadConfig(env, argv)).toThrow(ConfigError);
      expect(() => loadConfig(env, argv)).toThrow(names);
    },
  );

  it('SEC-3: an error about METRICS_TOKEN never quotes the token', () => {
    const thrown = (() => {
      try {
        loadConfig({ METRICS_TOKEN: 'not a token, yet secret' }, []);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(String(thrown)).not.toContain('secret');
  });

  it('accepts each numeric setting at its minimum, and durations up to 2^31 − 1 ms', () => {
    expect(
      loadConfig(
        {
          MAX_FRAME_BYTES: '1024',
          MAX_SEND_FRAME_BYTES: '4096',
          MAX_AWARENESS_STATE_BYTES: '1024',
          COMMIT_DELAY_MS: '0',
        },
        [],
      ),
    ).toMatchObject({
      commitDelayMs: 0,
      limits: { maxFrameBytes: 1024, maxSendFrameBytes: 4096 },
    });
    expect(loadConfig({ MAX_CONNECTIONS_PER_IP: '0', MAX_UPGRADES_PER_IP_PER_MINUTE: '0' }, [])).toMatchObject({
      maxConnectionsPerIp: 0,
      maxUpgradesPerIpPerMinute: 0,
    });
    expect(loadConfig({ PORT: '65535' }, []).port).toBe(65535);
    expect(loadConfig({ IDLE_UNLOAD_MS: '2147483647' }, []).idleUnloadMs).toBe(2147483647);
  });
});

describe('UP-1 warnings', () => {
  it('UP-1: a frame limit or client cap below what Converge clients upload in is allowed, and said', () => {
    const low = loadConfig(
      { MAX_FRAME_BYTES: String(Limits.maxSendFrameBytes - 1), MAX_CLIENTS_PER_UPDATE: '100' },
      [],
    );
    expect(low.warnings).toHaveLength(2);
    expect(low.warnings[0]).toMatch(/^MAX_FRAME_BYTES \(1048575\) is below .* frame-too-large/);
    expect(low.warnings[1]).toMatch(/^MAX_CLIENTS_PER_UPDATE \(100\) is below .* too-many-clients/);
    const atThem = {
      MAX_FRAME_BYTES: String(Limits.maxSendFrameBytes),
      MAX_CLIENTS_PER_UPDATE: String(Limits.maxUploadClientsPerFrame),
    };
    expect(loadConfig(atThem, []).warnings).toEqual([]);
  });

  it('STRUCT-1: frames that cannot carry a message at its length limit are allowed, and said', () => {
    const env = (bytes: number): Record<string, string> => ({
      MAX_SEND_FRAME_BYTES: String(bytes),
      MAX_AWARENESS_STATE_BYTES: '2048',
    });
    const small = loadConfig(env(4096), []);
    expect(small.warnings).toHaveLength(1);
    expect(small.warnings[0]).toMatch(
      new RegExp(
        `^MAX_SEND_FRAME_BYTES \\(4096\\) passes on structs of at most 4032 bytes .* ${Limits.clientStructBytes} bytes`,
      ),
    );
    // Just enough: a struct of clientStructBytes fits (VAL-10 keeps 64 bytes for the headers).
    expect(loadConfig(env(Limits.clientStructBytes + 64), []).warnings).toEqual([]);
    expect(loadConfig(env(Limits.clientStructBytes + 63), []).warnings).toHaveLength(1);
    expect(publishedLimits(small.limits).maxStructBytes).toBe(4032);
  });
});

/**
 * The README's configuration table (under `## Configuration`): `| name | default | meaning |`, one
 * row a setting, e.g. | `PORT` | `8787` | HTTP + websocket port … |. Returns name → default cell.
 */
const readmeConfigTable = (): { rows: Map<string, string>; duplicates: string[] } => {
  const readme = join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md');
  expect(existsSync(readme), 'README.md at the repository root').toBe(true);
  const lines = readFileSync(readme, 'utf8').split('\n');
  const heading = lines.findIndex((line) => line.trim() === '## Configuration');
  expect(heading, 'a "## Configuration" section in README.md').toBeGreaterThanOrEqual(0);
  // The first table after the heading: its lines run from the first line starting with `|`.
  const start = lines.findIndex((line, i) => i > heading && line.startsWith('|'));
  expect(start, 'a table under "## Configuration"').toBeGreaterThan(heading);
  const end = lines.findIndex((line, i) => i > start && !line.startsWith('|'));
  const table = lines.slice(start, end === -1 ? undefined : end);
  /** The cells of a table line, trimmed (a `\|` inside a cell is not a separator). */
  const cells = (line: string): string[] =>
    line
      .trim()
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
  expect(cells(table[0]!), 'the header row').toEqual(['name', 'default', 'meaning']);
  expect(
    cells(table[1]!).every((cell) => /^:?-+:?$/.test(cell)),
    'the separator row',
  ).toBe(true);
  const rows = new Map<string, string>();
  const duplicates: string[] = [];
  for (const line of table.slice(2)) {
    const [name, def, meaning] = cells(line);
    const env = /^`([A-Z][A-Z0-9_]*)`$/.exec(name ?? '')?.[1];
    // A name cell is one environment variable in backticks; anything else is a malformed row.
    expect(env, `README configuration row with a name cell other than \`ENV_NAME\`: ${line}`).toBeDefined();
    expect(meaning, `README configuration row ${env} has no meaning`).toBeTruthy();
    if (rows.has(env!)) duplicates.push(env!);
    rows.set(env!, def ?? '');
  }
  return { rows, duplicates };
};

/**
 * A README default cell as the raw value `SETTINGS[key].default` would hold: `` `8787` `` is "8787",
 * and (empty) is "" (TRUST_PROXY, REDIS_URL, RELAY_URLS: the code's default is the empty string, the
 * README says it in words because an empty code span does not render). Every default the README
 * gives today is one of these two forms, so every row is compared; a cell in any other form (a
 * word, an expression such as `2 × MAX_FRAME_BYTES`) is returned as null and fails the test below,
 * so a new form is mapped here, not skipped.
 */
const readmeDefault = (cell: string): string | null => {
  if (cell === '(empty)') return '';
  return /^`([^`]+)`$/.exec(cell)?.[1] ?? null;
};

describe('README', () => {
  it('its configuration table lists exactly the SETTINGS environment variables, each once', () => {
    const { rows, duplicates } = readmeConfigTable();
    expect(duplicates, 'rows listed twice').toEqual([]);
    const inCode = KEYS.map((k) => SETTINGS[k].env).sort();
    expect([...rows.keys()].sort()).toEqual(inCode);
  });

  it("its configuration table gives each setting's default as SETTINGS has it", () => {
    const { rows } = readmeConfigTable();
    const wrong = KEYS.flatMap((k) => {
      const { env, default: inCode } = SETTINGS[k];
      const cell = rows.get(env);
      if (cell === undefined) return []; // a missing row fails the test above
      const inReadme = readmeDefault(cell);
      return inReadme === inCode ? [] : [`${env}: README says ${cell}, the code has ${JSON.stringify(inCode)}`];
    });
    expect(wrong).toEqual([]);
  });
});

describe('--help', () => {
  it('lists every setting with its flag, environment variable and default, and every listed flag is read', () => {
    const help = configHelp();
    for (const s of Object.values(SETTINGS)) {
      const flag = '--' + s.env.toLowerCase().replaceAll('_', '-');
      expect(help).toMatch(new RegExp(`^  ${flag} +${s.env} +${s.default === '' ? '\\(empty\\)' : s.default}$`, 'm'));
      expect(() => loadConfig({}, [`${flag}=${s.default}`])).not.toThrow();
    }
    expect(wantsHelp(['--port', '1', '--help'])).toBe(true);
    expect(wantsHelp(['-h'])).toBe(true);
    expect(wantsHelp(['--port', '1'])).toBe(false);
  });
});
