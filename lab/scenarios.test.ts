/**
 * Every shipped scenario (lab/scenarios/*.json) runs with its small budget and every checker must
 * pass (EXP-6). Real relay processes, real RoomSessions over `ws`. Scenarios that do not crash the
 * relay share one relay (each run uses a fresh room); the others start their own.
 * The seed is $SEED or fresh, and printed on failure (rerun: SEED=n npx vitest run lab/scenarios.test.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedFromEnv } from '../shared/testing/prng.js';
import { startRelay, type RelayProcess } from '../relay/testing/relayProcess.js';
import { parseScenario, type Scenario } from './scenario.js';
import { runExperiment, type RunResult } from './run/runExperiment.js';
import type { Progress } from './report/progressLine.js';

const dir = join(import.meta.dirname, 'scenarios');
const scenarios = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => parseScenario(JSON.parse(readFileSync(join(dir, f), 'utf8'))));
const crashesRelay = (s: Scenario): boolean => s.timeline.some((x) => x.do === 'relay-crash');
const seed = seedFromEnv();

let shared: RelayProcess;
beforeAll(async () => {
  shared = await startRelay();
});
afterAll(async () => {
  await shared.cleanup();
});

/** The last result per scenario (the EXP-1 test replays one of them instead of running it twice). */
const results = new Map<string, RunResult>();

/** A client that drops every frame is online yet unreachable (LAB-UI-1). */
const cutsOff = (s: Scenario): boolean => s.timeline.some((x) => x.do === 'faults' && (x.faults.dropPct ?? 0) >= 100);

const run = async (s: Scenario, withSeed = seed): Promise<RunResult> => {
  const lines: Progress[] = [];
  const r = await runExperiment({
    scenario: s,
    scenarioFile: null,
    seed: withSeed,
    clients: s.small.clients,
    durationMs: s.small.durationMs,
    ...(crashesRelay(s) ? {} : { relayUrl: shared.wsUrl }),
    onProgress: (p) => lines.push(p),
  });
  // The progress line's counts describe one moment: without a client cut off by drops, the
  // unreachable are exactly those not online (it read "1/3 online · unknown: 3 unreachable").
  for (const p of lines) {
    if (p.states === null) continue;
    if (cutsOff(s)) expect(p.states.unreachable, `seed ${withSeed}`).toBeGreaterThanOrEqual(p.clients - p.online);
    else expect(p.states.unreachable, `seed ${withSeed}`).toBe(p.clients - p.online);
  }
  return r;
};

const failures = (r: RunResult): string =>
  [
    `seed ${r.history.seed}`,
    ...(r.quiesce.ok ? [] : [`did not quiesce: ${r.quiesce.unsettled.join('; ')}`]),
    ...r.checks.verdicts.filter((v) => !v.ok).map((v) => `${v.rule} ${v.summary}: ${v.evidence[0]?.text ?? ''}`),
    ...(r.slis.slo && !r.slis.slo.ok ? [`SLO not met: ${JSON.stringify(r.slis.slo.checks)}`] : []),
  ].join('\n');

/** Runs `s` and asserts the run passed: every checker, quiesce, the SLO, and every scheduled send accounted for. */
const expectPasses = async (s: Scenario, withSeed = seed): Promise<RunResult> => {
  const r = await run(s, withSeed);
  expect(r.ok, failures(r)).toBe(true);
  expect(r.checks.verdicts.map((v) => [v.rule, v.ok])).toEqual([
    ['CHK-1', true],
    ['CHK-2', true],
    ['CHK-3', true],
    ['CHK-4', true],
    ['CHK-5', true],
  ]);
  // CHK-7 is counted, not judged, but with no skewed clock the HLC must stamp every message above
  // what its sender displayed (HLC-1): only HLC-3's refusal of a far-ahead timestamp allows less.
  const skewed = s.timeline.some((x) => x.do === 'faults' && (x.faults.skewMs ?? 0) !== 0);
  if (!skewed) expect(r.checks.shownBeforeSeen, failures(r)).toEqual({ stampedBelow: 0, count: 0, examples: [] });
  // Every scheduled send was made, or refused because its client was crashed at the time, and
  // every client shows every message that was made.
  const sends = r.history.events.filter((e) => e.kind === 'send').length;
  const refused = r.history.events.filter((e) => e.kind === 'send-refused');
  expect(
    refused.map((e) => e.reason).filter((x) => x !== 'crashed'),
    failures(r),
  ).toEqual([]);
  expect(sends + refused.length, failures(r)).toBe(r.history.options.scheduledSends);
  for (const rep of r.history.final!.replicas) expect(rep.displayed).toHaveLength(sends);
  if (s.slo) expect(r.slis.slo?.ok, failures(r)).toBe(true);
  return r;
};

const scenario = (name: string): Scenario => scenarios.find((x) => x.name === name)!;

describe('EXP-6 every shipped scenario passes with its small budget', () => {
  for (const s of scenarios) {
    it(
      s.name,
      async () => {
        results.set(s.name, await expectPasses(s));
      },
      90_000,
    );
  }

  it('EXP-4 regression, seed 2563797597: reconnect-gap chatter hits c1 while it is crashed (refused, not lost)', async () => {
    const r = await expectPasses(scenario('reconnect-gap'), 2563797597);
    expect(r.history.events.some((e) => e.kind === 'send-refused' && e.client === 'c1')).toBe(true);
  }, 90_000);

  it('EXP-1: the same seed replays the same schedule and the same verdict', async () => {
    const s = scenario('partition-and-heal');
    const a = results.get(s.name) ?? (await run(s));
    const b = await run(s);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(b.history.events.filter((e) => e.kind === 'send' || e.kind === 'send-refused').length).toBe(
      a.history.events.filter((e) => e.kind === 'send' || e.kind === 'send-refused').length,
    );
    expect(b.checks.verdicts.map((v) => v.ok)).toEqual(a.checks.verdicts.map((v) => v.ok));
  }, 90_000);
});
