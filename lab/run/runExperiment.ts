/**
 * Runs one experiment in this Node process (EXP-1..EXP-6 in docs/SPEC.md): a relay (started here
 * unless a URL is given), N headless clients, the scenario's schedule, then the final heal and
 * quiesce, the final read, the checkers and the SLIs.
 *
 * EXP-5 final heal: the relay is up, every crashed client restarted from its store, every fault
 * cleared; then (unless the scenario says `finalResync: false`) each client resyncs once
 * (LAB-8) as soon as its socket is open, so frames lost to drops are repaired, handshake frames
 * included (a lost SyncStep2 leaves an open socket that never syncs). Quiesce: polled until
 * every client is online, nothing is pending, and all show the same content and hold the same
 * state vector — or `quiesceTimeout` passes, which is reported (the checkers then judge what is
 * there), never hidden.
 */
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { NO_FAULTS, cutOff } from '../../shared/lab/faults.js';
import { startRelay, type RelayProcess } from '../../relay/testing/relayProcess.js';
import { HistoryRecorder, type History } from '../history.js';
import { runCheckers, type CheckReport } from '../checkers/runCheckers.js';
import { computeSlis, type Slis } from '../sli.js';
import { ScenarioError, type Scenario } from '../scenario.js';
import { LabClient } from './labClient.js';
import { buildSchedule, type Action, type Schedule } from './schedule.js';
import { formatMs } from '../report/formatMs.js';
import { sampledStates, type Progress, type SampledStates } from '../report/progressLine.js';
import type { FaultStats } from '../../client/net/faultInjector.js';

export interface RunOptions {
  readonly scenario: Scenario;
  readonly scenarioFile: string | null;
  readonly seed: number;
  readonly clients: number;
  readonly durationMs: number;
  /** ws://host:port/sync of a running relay; default: start one. */
  readonly relayUrl?: string;
  /** Room name; default `lab-<scenario>-<seed>-<6 random hex>`, so runs against one relay never mix. */
  readonly room?: string;
  readonly onProgress?: (p: Progress) => void;
}

export interface QuiesceOutcome {
  readonly ok: boolean;
  /** From the final heal to quiet (or to the timeout). */
  readonly ms: number;
  readonly timeoutMs: number;
  /** What was still not settled at the timeout, in words ([] when ok). */
  readonly unsettled: readonly string[];
}

export interface RunResult {
  readonly history: History;
  readonly checks: CheckReport;
  readonly slis: Slis;
  readonly fingerprint: string;
  readonly quiesce: QuiesceOutcome;
  /**
   * How late the schedule ran: the largest delay of an action past its planned time, ms. A busy
   * machine stretches the timeline (the history records real times, so the checkers and SLIs
   * stay right; the run is then a different experiment than planned, and says so).
   */
  readonly maxLateMs: number;
  /** EXP-7: how long relay crashes were held back in all, part of `maxLateMs`'s lateness. */
  readonly heldBackMs: number;
  /**
   * What the fault injectors did, summed over clients. Frames are whatever the provider sent:
   * sync, awareness and ack frames alike. A partition closes the sockets, so it drops no frames.
   */
  readonly network: FaultStats;
  /** Every check passed and quiesce settled. */
  readonly ok: boolean;
}

/**
 * EXP-7: a relay crash that follows a restart waits until the relay has been up this long. A
 * restart takes from a fraction of a second to several on a loaded machine, and the steps after
 * it wait for it: a crash planned a few seconds later came as the restart finished, and the
 * report drew one relay-down window where the scenario has two, with nothing between them.
 */
export const MIN_RELAY_UP_MS = 2000;

/** A fresh room name per run (so runs against one --relay never mix). */
export const experimentRoom = (scenario: string, seed: number): string =>
  `lab-${scenario}-${seed}-${randomBytes(3).toString('hex')}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Runs `check` every `everyMs` until it returns true or `timeoutMs` passes; resolves with whether it held. */
const pollUntil = async (check: () => boolean, timeoutMs: number, everyMs = 50): Promise<boolean> => {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
};

const sameSv = (a: Map<number, number>, b: Map<number, number>): boolean =>
  a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

/** EXP-5: what keeps the clients from being quiet, in words ([] when quiet). */
const unsettled = (clients: readonly LabClient[]): string[] => {
  const out: string[] = [];
  const offline = clients.filter((c) => !c.online).map((c) => c.name);
  if (offline.length > 0) out.push(`not online: ${offline.join(', ')}`);
  const pending = clients.filter((c) => c.pending() > 0).map((c) => `${c.name} (${c.pending()})`);
  if (pending.length > 0) out.push(`pending: ${pending.join(', ')}`);
  const hashes = new Set(clients.map((c) => c.contentHash()));
  if (hashes.size > 1) out.push(`${hashes.size} different contents`);
  const svs = clients.map((c) => c.session?.lab.stateVector() ?? new Map<number, number>());
  if (svs.some((sv) => !sameSv(sv, svs[0]!))) out.push('state vectors differ');
  return out;
};

/**
 * The run's schedule, or a ScenarioError saying why this scenario cannot run with these options
 * (a step after the end of the run, a client the run does not have, --relay for a relay crash):
 * checked before anything starts, so the command can report it as a bad argument.
 */
export const planRun = (
  opts: Pick<RunOptions, 'scenario' | 'seed' | 'clients' | 'durationMs' | 'relayUrl'>,
): Schedule => {
  const { scenario } = opts;
  const schedule = buildSchedule(scenario, opts.clients, opts.durationMs, opts.seed);
  const needsOwnRelay = schedule.actions.some((a) => a.kind === 'relay-crash' || a.kind === 'relay-restart');
  if (opts.relayUrl !== undefined && needsOwnRelay) {
    throw new ScenarioError(
      `${scenario.name} crashes the relay: it needs a relay the runner starts itself (drop --relay)`,
    );
  }
  return schedule;
};

export const runExperiment = async (opts: RunOptions): Promise<RunResult> => {
  const { scenario, seed } = opts;
  const schedule = planRun(opts);
  // In Node every stock provider adds a process 'exit' listener (and a restarted client another).
  process.setMaxListeners(Math.max(process.getMaxListeners(), 2 * opts.clients + 10));
  let relay: RelayProcess | null = null;
  let relayUp = true;
  /** When the timeline's last relay-restart finished (EXP-7); null before any. */
  let restartedAt: number | null = null;
  let heldBackMs = 0;
  const relayUrl = opts.relayUrl ?? (relay = await startRelay()).wsUrl;
  const room = opts.room ?? experimentRoom(scenario.name, seed);
  let recorder: HistoryRecorder | null = null;
  const clients = Array.from(
    { length: opts.clients },
    (_, i) => new LabClient(`c${i}`, i, seed, room, () => recorder, scenario.antiEntropyMs),
  );
  let sent = 0;
  let step: string | null = 'starting';
  let states: SampledStates | null = null;
  /** Clients online in the sample `states` is from: both counts of the line describe one moment. */
  let sampledOnline = 0;
  const progress = (): void =>
    opts.onProgress?.({
      elapsedMs: recorder?.elapsed() ?? 0,
      totalMs: opts.durationMs,
      step: relayUp ? step : `${step ?? ''} (relay down)`,
      clients: clients.length,
      // From the last sample once there is one: a live count beside a sample's verdict read
      // "1/3 online · unknown: 3 unreachable".
      online: states === null ? clients.filter((c) => c.online).length : sampledOnline,
      sent,
      delivered: clients.reduce((n, c) => n + c.shownCount, 0),
      states,
    });
  const progressTimer = setInterval(progress, 1000);
  let sampleTimer: ReturnType<typeof setInterval> | null = null;
  try {
    await Promise.all(clients.map((c) => c.start(relayUrl)));
    const allOnline = await pollUntil(() => clients.every((c) => c.online), 30_000);
    if (!allOnline) throw new Error(`clients did not connect within 30 s: ${unsettled(clients).join('; ')}`);

    recorder = new HistoryRecorder(
      {
        scenario: { name: scenario.name, file: opts.scenarioFile, slo: scenario.slo },
        seed,
        options: {
          clients: opts.clients,
          durationMs: opts.durationMs,
          relay: opts.relayUrl ?? 'started by the runner',
          room,
          schedule: schedule.fingerprint,
          scheduledSends: schedule.sends,
          antiEntropyMs: scenario.antiEntropyMs,
          finalResync: scenario.finalResync,
        },
        clients: clients.map((c) => ({ id: c.name, authorId: c.identity.id, name: c.identity.name })),
      },
      () => performance.now(),
    );
    const rec = recorder;
    const sample = (): void => {
      const samples = clients.map((c) => c.sample());
      states = sampledStates(samples.map((x, i) => ({ ...x, cutOff: cutOff(clients[i]!.faults) })));
      sampledOnline = samples.filter((x) => x.online).length;
      rec.sample(samples);
    };
    sampleTimer = setInterval(sample, scenario.sampleMs);
    step = null;
    progress();

    const byName = new Map(clients.map((c) => [c.name, c]));
    const pick = (names: readonly string[]): LabClient[] => names.map((n) => byName.get(n)!);
    const act = async (a: Action): Promise<void> => {
      if (a.kind !== 'send') step = a.label;
      switch (a.kind) {
        case 'label':
          rec.step(a.label);
          return;
        case 'send': {
          const c = byName.get(a.client)!;
          const r = c.send(a.text, a.reply, a.pick);
          if (r.ok) {
            sent++;
            rec.send(c.name, {
              msgId: r.view.id,
              replyTo: r.replyTo,
              wall: r.view.wall,
              hlc: r.view.hlc,
              text: r.view.text,
            });
          } else rec.sendRefused(c.name, r.reason, r.replyTo);
          return;
        }
        case 'relay-crash': {
          const hold = restartedAt === null ? 0 : restartedAt + MIN_RELAY_UP_MS - performance.now();
          const label =
            hold > 0
              ? `${a.label}, held back ${formatMs(hold)}: the relay had not been up ${formatMs(MIN_RELAY_UP_MS)} since its restart`
              : a.label;
          if (hold > 0) {
            step = label; // the progress line says why nothing happens meanwhile
            await sleep(hold);
            heldBackMs += hold;
          }
          rec.step(label);
          if (relay && relayUp) {
            await relay.kill();
            relayUp = false;
            rec.relayCrash();
          }
          return;
        }
        case 'relay-restart':
          rec.step(a.label);
          if (relay && !relayUp) {
            if (a.wipe) rmSync(relay.dataDir, { recursive: true, force: true });
            relay = await startRelay({ port: relay.port, dataDir: relay.dataDir });
            relayUp = true;
            restartedAt = performance.now();
            rec.relayRestart();
          }
          return;
        case 'partition':
          rec.step(a.label);
          for (const c of pick(a.clients)) c.setFaults({ ...c.faults, partitioned: true });
          rec.partition(a.clients);
          return;
        case 'heal':
          rec.step(a.label);
          for (const c of pick(a.clients)) c.setFaults({ ...c.faults, partitioned: false });
          rec.heal(a.clients);
          return;
        case 'faults':
          rec.step(a.label);
          for (const c of pick(a.clients)) rec.faults(c.name, c.mergeFaults(a.faults));
          return;
        case 'clear-faults':
          rec.step(a.label);
          for (const c of pick(a.clients)) {
            c.setFaults(NO_FAULTS);
            rec.faults(c.name, NO_FAULTS);
          }
          return;
        case 'resync':
          rec.step(a.label);
          for (const c of pick(a.clients)) c.resync();
          return;
        case 'replay':
          rec.step(a.label);
          for (const c of pick(a.clients)) c.replay();
          return;
        case 'client-crash':
          rec.step(a.label);
          for (const c of pick(a.clients)) {
            if (!c.running) continue;
            c.crash();
            rec.clientCrash(c.name);
          }
          return;
        case 'client-restart':
          rec.step(a.label);
          for (const c of pick(a.clients)) {
            if (c.running) continue;
            await c.start(relayUrl);
            rec.clientRestart(c.name);
          }
          return;
      }
    };

    const t0 = performance.now();
    let maxLateMs = 0;
    for (const a of schedule.actions) {
      await sleep(t0 + a.t - performance.now());
      maxLateMs = Math.max(maxLateMs, performance.now() - t0 - a.t);
      await act(a);
    }
    await sleep(t0 + opts.durationMs - performance.now());

    // EXP-5: heal everything.
    step = 'final heal';
    rec.step(step);
    const healStart = performance.now();
    if (relay && !relayUp) {
      relay = await startRelay({ port: relay.port, dataDir: relay.dataDir });
      relayUp = true;
      rec.relayRestart();
    }
    for (const c of clients) {
      if (!c.running) {
        await c.start(relayUrl);
        rec.clientRestart(c.name);
      }
      if (c.faults !== NO_FAULTS) {
        c.setFaults(NO_FAULTS);
        rec.faults(c.name, NO_FAULTS);
      }
    }
    rec.heal(clients.map((c) => c.name));
    step = 'quiescing';
    const resynced = new Set<LabClient>();
    const quiet = await pollUntil(() => {
      if (scenario.finalResync) {
        // As soon as the socket is open, not once "online": a handshake frame lost to a drop
        // (the relay's SyncStep2, our SyncStep1) leaves an open socket that never syncs, and
        // only this resync repairs it. `resync()` is false until the socket is open.
        for (const c of clients) if (!resynced.has(c) && c.resync()) resynced.add(c);
      }
      return unsettled(clients).length === 0;
    }, scenario.quiesceTimeoutMs);
    const quiesce: QuiesceOutcome = {
      ok: quiet,
      ms: Math.round(performance.now() - healStart),
      timeoutMs: scenario.quiesceTimeoutMs,
      unsettled: quiet ? [] : unsettled(clients),
    };
    sample();
    clearInterval(sampleTimer);
    sampleTimer = null;
    step = 'checking';
    progress();
    for (const c of clients) c.track(true);
    const network = clients
      .map((c) => c.faultStats())
      .reduce((a, b) => ({
        droppedIn: a.droppedIn + b.droppedIn,
        droppedOut: a.droppedOut + b.droppedOut,
        duplicated: a.duplicated + b.duplicated,
        reordered: a.reordered + b.reordered,
      }));
    rec.finish(clients.map((c) => c.finalReplica()));
    const history = rec.history();
    const checks = runCheckers(history);
    const slis = computeSlis(history);
    return {
      history,
      checks,
      slis,
      fingerprint: schedule.fingerprint,
      quiesce,
      maxLateMs: Math.round(maxLateMs),
      heldBackMs: Math.round(heldBackMs),
      network,
      ok: checks.ok && quiesce.ok,
    };
  } finally {
    clearInterval(progressTimer);
    if (sampleTimer !== null) clearInterval(sampleTimer);
    for (const c of clients) c.destroy();
    if (relay) await relay.cleanup();
  }
};
