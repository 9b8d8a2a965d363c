import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration, parseScenario, resolveClients, ScenarioError, stepTime } from './scenario.js';
import { buildSchedule, MAX_SENDS } from './run/schedule.js';
import { parseArgs } from './run/args.js';

const dir = join(import.meta.dirname, 'scenarios');
const shipped = readdirSync(dir).filter((f) => f.endsWith('.json'));
const load = (f: string): unknown => JSON.parse(readFileSync(join(dir, f), 'utf8'));

const base = {
  name: 'x',
  clients: 4,
  duration: '10s',
  small: { clients: 2, duration: '2s' },
  timeline: [{ at: '50%', do: 'partition', clients: ['c0'] }],
};
const errorOf = (x: unknown): string => {
  try {
    parseScenario(x);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as Error).message;
  }
  throw new Error('expected a ScenarioError');
};
const withStep = (step: unknown, at = 0): unknown => {
  const timeline: unknown[] = [...base.timeline, ...base.timeline, ...base.timeline];
  timeline[at] = step;
  return { ...base, timeline };
};

describe('EXP-2 scenario files', () => {
  it('every shipped scenario parses, its name is its file name, and its schedules build', () => {
    expect(shipped.length).toBeGreaterThanOrEqual(8);
    for (const f of shipped) {
      const s = parseScenario(load(f));
      expect(`${s.name}.json`).toBe(f);
      expect(s.description.length).toBeGreaterThan(20);
      expect(buildSchedule(s, s.clients, s.durationMs, 1).actions.length).toBeGreaterThan(0);
      expect(buildSchedule(s, s.small.clients, s.small.durationMs, 1).actions.length).toBeGreaterThan(0);
    }
  });

  it('a bad file gets an error naming the field path', () => {
    expect(errorOf([])).toBe('(top level): expected an object');
    expect(errorOf({ ...base, name: 'Has Spaces' })).toMatch(/^name: /);
    expect(errorOf({ ...base, clients: 0 })).toMatch(/^clients: expected a whole number from 1 to 200/);
    expect(errorOf({ ...base, duration: '10 parsecs' })).toMatch(/^duration: expected a duration like "30s"/);
    expect(errorOf({ ...base, small: { clients: 2 } })).toMatch(/^small\.duration: expected a duration/);
    expect(errorOf({ ...base, colour: 'red' })).toBe('colour: unknown field');
    expect(errorOf({ ...base, timeline: {} })).toBe('timeline: expected an array of steps');
    expect(errorOf(withStep({ at: '10%', do: 'partition', clients: 'c0' }, 2))).toBe(
      'timeline[2].clients: expected an array of client names',
    );
    expect(errorOf(withStep({ at: '10%', do: 'partition', clients: ['c0', 'bob'] }, 1))).toMatch(
      /^timeline\[1\]\.clients\[1\]: expected a client name like "c0"/,
    );
    expect(errorOf(withStep({ at: '10%', do: 'explode', clients: ['c0'] }))).toMatch(
      /^timeline\[0\]\.do: expected one of send, /,
    );
    expect(errorOf(withStep({ do: 'heal', clients: ['c0'] }))).toMatch(/^timeline\[0\]\.at: missing/);
    expect(errorOf(withStep({ at: '120%', do: 'heal', clients: ['c0'] }))).toMatch(/^timeline\[0\]\.at: /);
    expect(errorOf(withStep({ at: '1s', do: 'send', clients: ['all'], count: 1.5 }))).toMatch(
      /^timeline\[0\]\.count: /,
    );
    expect(errorOf(withStep({ at: '1s', do: 'faults', clients: ['all'], faults: { dropPct: 150 } }))).toMatch(
      /^timeline\[0\]\.faults\.dropPct: expected a number from 0 to 100/,
    );
    expect(errorOf(withStep({ at: '1s', do: 'faults', clients: ['all'], faults: { up: { fixed: 5 } } }))).toBe(
      'timeline[0].faults.up.fixed: unknown field',
    );
    expect(errorOf(withStep({ at: '1s', do: 'relay-restart', wipe: 'yes' }))).toBe(
      'timeline[0].wipe: expected true or false',
    );
    expect(errorOf({ ...base, slo: { deliveryP95Ms: 'fast' } })).toMatch(/^slo\.deliveryP95Ms: expected a duration/);
    expect(errorOf({ ...base, slo: { partitionedSendAvailability: 2 } })).toMatch(/^slo\.partitionedSendAvailability/);
    expect(errorOf({ ...base, chatter: { perClientPerSec: 0 } })).toMatch(/^chatter\.perClientPerSec: /);
  });

  it('client groups and times resolve against the run; out-of-range ones name the field', () => {
    expect(resolveClients(['first-half'], 5, 'p')).toEqual(['c0', 'c1', 'c2']);
    expect(resolveClients(['second-half', 'c0'], 5, 'p')).toEqual(['c0', 'c3', 'c4']);
    expect(resolveClients(['all', 'c1'], 3, 'p')).toEqual(['c0', 'c1', 'c2']);
    expect(() => resolveClients(['c1', 'c7'], 4, 'timeline[1].clients')).toThrow(
      'timeline[1].clients[1]: there is no client c7 in a run with 4 clients (c0..c3)',
    );
    expect(stepTime({ kind: 'pct', pct: 25 }, 60_000, 'p')).toBe(15_000);
    expect(() => stepTime({ kind: 'ms', ms: 20_000 }, 10_000, 'timeline[0].at')).toThrow(/^timeline\[0\]\.at: /);
    expect([parseDuration('1.5s', 'd'), parseDuration('2min', 'd'), parseDuration(250, 'd')]).toEqual([
      1500, 120_000, 250,
    ]);
  });

  it('a run that would send more than MAX_SENDS messages is refused with a ScenarioError, before the plan is built', () => {
    const s = parseScenario({
      ...base,
      clients: 200,
      duration: '10min',
      chatter: { clients: ['all'], perClientPerSec: 50 },
      timeline: [{ at: '1%', do: 'send', clients: ['all'], count: 100_000 }],
    });
    expect(() => buildSchedule(s, 200, 600_000, 1)).toThrow(
      new ScenarioError(
        `this run would send more than ${MAX_SENDS} messages (200 clients, 600 s): use fewer clients, a shorter duration, a lower count or chatter.perClientPerSec`,
      ),
    );
  });

  it('a relay-restart with no relay-crash before it, or a second crash without a restart, is refused naming the step', () => {
    const run = (timeline: unknown[]) => () => buildSchedule(parseScenario({ ...base, timeline }), 3, 10_000, 1);
    expect(run([{ at: '50%', do: 'relay-restart' }])).toThrow(
      new ScenarioError('timeline[0]: relay-restart at 5000 ms, but the relay is not down (no relay-crash before it)'),
    );
    // Listed out of order: the times decide (the restart at 20% comes before the crash at 40%).
    expect(
      run([
        { at: '40%', do: 'relay-crash' },
        { at: '20%', do: 'relay-restart' },
      ]),
    ).toThrow(/^timeline\[1\]: relay-restart at 2000 ms, but the relay is not down/);
    expect(
      run([
        { at: '10%', do: 'relay-crash' },
        { at: '30%', do: 'relay-crash' },
      ]),
    ).toThrow(/^timeline\[1\]: relay-crash at 3000 ms, but the relay is already down/);
    expect(
      run([
        { at: '10%', do: 'relay-crash' },
        { at: '30%', do: 'relay-restart' },
        { at: '50%', do: 'relay-crash' },
      ]),
    ).not.toThrow();
    expect(run([{ at: '10%', do: 'relay-crash' }])).not.toThrow(); // down until the runner's final heal
  });

  it('EXP-1: the schedule is a function of the scenario, the budget and the seed', () => {
    const s = parseScenario(load('partition-and-heal.json'));
    const a = buildSchedule(s, 6, 20_000, 99);
    expect(buildSchedule(s, 6, 20_000, 99)).toEqual(a);
    expect(buildSchedule(s, 6, 20_000, 100).fingerprint).not.toBe(a.fingerprint);
    expect(a.actions.every((x, i) => i === 0 || a.actions[i - 1]!.t <= x.t)).toBe(true);
  });

  it('command line arguments', () => {
    expect(parseArgs(['f.json', '--seed', '5', '--clients=30', '--duration', '60s', '--small'])).toEqual({
      file: 'f.json',
      seed: 5,
      out: null,
      relay: null,
      clients: 30,
      durationMs: 60_000,
      small: true,
    });
    expect(() => parseArgs([])).toThrow(/^usage: /);
    expect(() => parseArgs(['f.json', '--seed', 'x'])).toThrow(/^--seed: /);
    expect(() => parseArgs(['f.json', '--relay', 'http://h'])).toThrow(/^--relay: /);
    expect(() => parseArgs(['f.json', '--nope'])).toThrow(/unexpected argument --nope/);
  });

  it('the CLI refuses a bad scenario file with the field path and exit code 2, before starting anything', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'converge-scenario-'));
    try {
      const file = join(tmp, 'bad.json');
      writeFileSync(file, JSON.stringify(withStep({ at: '10%', do: 'heal', clients: 'c0' }, 3)));
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'experiment.ts'), file], {
        encoding: 'utf8',
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`${file}: timeline[3].clients: expected an array of client names`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
