/**
 * The `npm run experiment` command end to end (a child process, its own relay): the files it
 * writes, and exit code 1 when a checker fails. The failing run is a scenario that loses frames
 * and repairs nothing (finalResync false): replicas cannot converge.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SHIVIZ_REGEX } from '../shared/lab/shiviz.js';
import { parseScenario } from './scenario.js';
import { MIN_RELAY_UP_MS, runExperiment } from './run/runExperiment.js';

/** A TCP port nothing listens on (free when this resolves). */
const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

const dropsNoRepair = {
  name: 'drops-no-repair',
  description: 'Frames are lost and nothing repairs them.',
  clients: 3,
  duration: '3s',
  small: { clients: 3, duration: '3s' },
  finalResync: false,
  quiesceTimeout: '2s',
  chatter: { clients: ['all'], perClientPerSec: 3, replyPct: 0 },
  timeline: [{ at: '0%', do: 'faults', clients: ['all'], faults: { dropPct: 30 } }],
};

describe('npm run experiment', () => {
  it('EXP-5: a run whose replicas cannot converge fails with exit code 1, and still writes every file', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'converge-experiment-'));
    try {
      const file = join(tmp, 'drops-no-repair.json');
      const out = join(tmp, 'out');
      writeFileSync(file, JSON.stringify(dropsNoRepair));
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, 'experiment.ts'), file, '--seed', '3', '--out', out],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.status, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toContain('seed 3');
      expect(r.stdout).toContain('Did NOT quiesce');
      const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as {
        ok: boolean;
        seed: number;
        quiesce: { ok: boolean };
        checks: { verdicts: { rule: string; ok: boolean }[] };
        network: { droppedIn: number; droppedOut: number };
      };
      expect(result).toMatchObject({ ok: false, seed: 3, quiesce: { ok: false } });
      expect(result.checks.verdicts.find((v) => v.rule === 'CHK-1')?.ok).toBe(false);
      expect(result.network.droppedIn + result.network.droppedOut).toBeGreaterThan(0);
      for (const f of ['history.json', 'report.html']) expect(existsSync(join(out, f))).toBe(true);
      expect(readFileSync(join(out, 'shiviz.log'), 'utf8').split('\n')[0]).toBe(SHIVIZ_REGEX);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 90_000);

  it('a scenario that does not fit the run asked for (--small, --clients, --duration), or a --relay nobody answers at, is a bad argument: exit code 2, one line naming it', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'converge-experiment-'));
    try {
      const file = join(tmp, 'six-clients.json');
      const scenario = {
        name: 'six-clients',
        clients: 6,
        duration: '20s',
        small: { clients: 2, duration: '2s' },
        timeline: [{ at: '2s', do: 'partition', clients: ['c5'] }],
      };
      writeFileSync(file, JSON.stringify(scenario));
      const run = (...args: string[]): ReturnType<typeof spawnSync> =>
        spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'experiment.ts'), file, ...args], {
          encoding: 'utf8',
          timeout: 60_000,
        });
      const small = run('--small', '--out', join(tmp, 'out'));
      expect(small.status, String(small.stderr)).toBe(2);
      expect(small.stderr).toBe(
        `${file}: timeline[0].clients[0]: there is no client c5 in a run with 2 clients (c0..c1)\n`,
      );
      const short = run('--duration', '1s', '--out', join(tmp, 'out'));
      expect(short.status, String(short.stderr)).toBe(2);
      expect(short.stderr).toBe(`${file}: timeline[0].at: 2000 ms is after the end of the run (1000 ms)\n`);
      // A --relay nobody answers at is a bad argument too (a port that was free a moment ago).
      const port = await freePort();
      const dead = run(
        '--small',
        '--clients',
        '6',
        '--relay',
        `ws://127.0.0.1:${port}/sync`,
        '--out',
        join(tmp, 'out'),
      );
      expect(dead.status, String(dead.stderr)).toBe(2);
      expect(dead.stderr).toMatch(
        new RegExp(
          `^--relay ws://127\\.0\\.0\\.1:${port}/sync: no relay answers at http://127\\.0\\.0\\.1:${port}/healthz \\(.*ECONNREFUSED.*\\); start one`,
        ),
      );
      expect(existsSync(join(tmp, 'out'))).toBe(false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 90_000);

  it('EXP-5: the final resync repairs a client whose handshake was lost to drops (socket open, never synced), seeds 1-2', async () => {
    // c0 restarts while 95 % of its frames are dropped: its SyncStep1 or the relay's SyncStep2 is
    // lost and the open socket never syncs. The final resync used to wait for "online", which
    // such a client never reaches: the run did not quiesce and CHK-1/CHK-2 failed.
    const scenario = parseScenario({
      name: 'lost-handshake',
      clients: 2,
      duration: '3s',
      small: { clients: 2, duration: '3s' },
      quiesceTimeout: '10s',
      chatter: { clients: ['all'], perClientPerSec: 2 },
      timeline: [
        { at: '10%', do: 'faults', clients: ['c0'], faults: { dropPct: 95 } },
        { at: '20%', do: 'client-crash', clients: ['c0'] },
        { at: '30%', do: 'client-restart', clients: ['c0'] },
      ],
    });
    for (const seed of [1, 2]) {
      const r = await runExperiment({ scenario, scenarioFile: null, seed, clients: 2, durationMs: 3000 });
      expect(r.quiesce, `seed ${seed}`).toMatchObject({ ok: true });
      expect(r.ok, `seed ${seed}: ${r.checks.verdicts.map((v) => `${v.rule} ${v.summary}`).join('; ')}`).toBe(true);
    }
  }, 90_000);

  it('EXP-7: a relay crash soon after a restart waits until the relay has been up MIN_RELAY_UP_MS: two down windows, not one', async () => {
    // The second crash is planned 150 ms after the restart starts; a restart takes longer than that.
    const scenario = parseScenario({
      name: 'quick-crashes',
      clients: 2,
      duration: '3s',
      small: { clients: 2, duration: '3s' },
      chatter: { clients: ['all'], perClientPerSec: 2 },
      timeline: [
        { at: '10%', do: 'relay-crash' },
        { at: '20%', do: 'relay-restart' },
        { at: '25%', do: 'relay-crash' },
        { at: '30%', do: 'relay-restart' },
      ],
    });
    const r = await runExperiment({ scenario, scenarioFile: null, seed: 1, clients: 2, durationMs: 3000 });
    expect(r.ok, r.checks.verdicts.map((v) => `${v.rule} ${v.summary}`).join('; ')).toBe(true);
    const relay = r.history.events.filter((e) => e.kind === 'relay-crash' || e.kind === 'relay-restart');
    expect(relay.map((e) => e.kind)).toEqual(['relay-crash', 'relay-restart', 'relay-crash', 'relay-restart']);
    expect(relay[2]!.t - relay[1]!.t).toBeGreaterThanOrEqual(MIN_RELAY_UP_MS);
    const steps = r.history.events.flatMap((e) => (e.kind === 'step' ? [e.label] : []));
    expect(steps.filter((l) => l.startsWith('relay'))).toEqual([
      'relay crash (SIGKILL)',
      'relay restart started',
      expect.stringMatching(
        /^relay crash \(SIGKILL\), held back \d+ ms: the relay had not been up 2000 ms since its restart$/,
      ),
      'relay restart started',
    ]);
  }, 90_000);

  it('a scenario that crashes the relay refuses --relay before starting anything', async () => {
    const scenario = parseScenario(
      JSON.parse(readFileSync(join(import.meta.dirname, 'scenarios', 'relay-crash.json'), 'utf8')),
    );
    await expect(
      runExperiment({
        scenario,
        scenarioFile: null,
        seed: 1,
        clients: 2,
        durationMs: 1000,
        relayUrl: 'ws://127.0.0.1:9/sync',
      }),
    ).rejects.toThrow('relay-crash crashes the relay: it needs a relay the runner starts itself (drop --relay)');
  });
});
