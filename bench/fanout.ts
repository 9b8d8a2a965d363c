/**
 * Fan-out: R rooms × C clients, every client sending chat messages at a fixed rate (open loop:
 * the schedule does not wait for the server), every client receiving every update of its room
 * (the sender's own echo included: both servers send it). Each client is a raw `ws` socket that
 * does the y-websocket handshake (SyncStep1 → server; the server's SyncStep1 answered with an
 * empty SyncStep2) and then sends pre-generated Update frames made with real Y.Docs.
 *
 * Latency: the generator remembers when it sent each update (keyed by the id of the update's
 * first struct, see wire.ts) and a receiver looks the key up. Only updates sent inside the
 * measurement window count; deliveries that arrive after the window still count for latency
 * and loss (a drain period waits for them).
 *
 * Server CPU: utime + stime of the server process over the window, divided by the deliveries
 * received in the window. Converge's acks (after fsync) are part of its cost; their latency
 * (send → ack covering the update) is reported too.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import { makeSenderScript, type SenderScript } from './chat.js';
import { serverComplaints, startServer, type SystemName } from './servers.js';
import { foreignLoad, sleep, waitMachineQuiet } from './proc.js';
import { Samples } from './stats.js';
import {
  Kind,
  STEP1_EMPTY,
  STEP2_EMPTY,
  ackPairs,
  closeSocket,
  firstStructKey,
  frameKind,
  newSender,
  openSocket,
  type Sender,
} from './wire.js';

export interface FanoutLevel {
  readonly rooms: number;
  readonly clients: number;
  /** Updates per second sent by each client. */
  readonly rate: number;
}

export interface FanoutTiming {
  readonly warmupS: number;
  readonly windowS: number;
  /** Longest wait after the window for the window's updates to arrive (and be acked). */
  readonly drainS: number;
}

/** Foreign CPU load (% of one core) below which the machine counts as quiet enough to measure. */
export const QUIET_PCT = 15;

export const levelName = (l: FanoutLevel): string => `${l.rooms}×${l.clients}×${l.rate}/s`;

/** Deliveries per second the level offers: every update goes to every client of its room. */
export const offeredDeliveries = (l: FanoutLevel): number => l.rooms * l.clients * l.rate * l.clients;

export interface FanoutResult {
  readonly system: SystemName;
  readonly level: FanoutLevel;
  readonly round: number;
  readonly windowS: number;
  /** Updates sent inside the window. */
  readonly sent: number;
  /** Deliveries received inside the window, per second. */
  readonly deliveredPerS: number;
  readonly latency: { count: number; p50: number; p99: number; max: number };
  /** Converge only: send → ack covering the update. */
  readonly ackLatency: { count: number; p50: number; p99: number; max: number } | null;
  /** Server CPU time over the window, as a percentage of one core. */
  readonly serverCpuPct: number;
  /** The kernel's share of it (system time: socket writes, fsync, …), % of one core. */
  readonly serverSysPct: number;
  /** Server CPU time per delivery received in the window, µs. */
  readonly cpuUsPerDelivery: number;
  readonly rssMiB: number;
  readonly hwmMiB: number;
  /** CPU of the generator (this process) over the window, % of one core. */
  readonly generatorCpuPct: number;
  /** CPU used by other programs on the machine during the window, % of one core. */
  readonly otherCpuPct: number;
  /** Deliveries of window updates still missing after the drain. */
  readonly lost: number;
  /** Update frames whose key matched nothing sent (duplicates or unknown). */
  readonly unexpected: number;
  /** Window updates never acked (Converge only). */
  readonly unacked: number;
  /** Sockets the server closed during the run ("code reason"). */
  readonly closes: string[];
  readonly complaints: string[];
}

/** Pre-generated scripts for a level: scripts[room][client]. */
export const makeFanoutScripts = (level: FanoutLevel, timing: FanoutTiming): SenderScript[][] => {
  const count = Math.ceil((timing.warmupS + timing.windowS + 2) * level.rate) + 5;
  return Array.from({ length: level.rooms }, (_, r) =>
    Array.from({ length: level.clients }, (_, c) => {
      const client = 1 + r * level.clients + c;
      return makeSenderScript(client, count, 7919 * client);
    }),
  );
};

interface Tracked {
  readonly t: number;
  readonly win: boolean;
  left: number;
}

export const runFanout = async (
  system: SystemName,
  level: FanoutLevel,
  scripts: SenderScript[][],
  timing: FanoutTiming,
  round: number,
  /** Write a CPU profile of the server over the window (DevTools .cpuprofile JSON) to this file. */
  cpuProfileFile?: string,
): Promise<FanoutResult> => {
  await waitMachineQuiet([], { maxPct: QUIET_PCT, timeoutMs: 600_000 });
  const server = await startServer(system);
  const track = new Map<number, Tracked>();
  const latency = new Samples();
  const ackLatency = new Samples();
  const closes: string[] = [];
  let inWindow = false;
  let windowDeliveries = 0;
  let pendingWindowDeliveries = 0;
  let pendingWindowAcks = 0;
  let unexpected = 0;
  let stopping = false;
  let gotAck = false;
  const senders: Sender[] = [];
  let result: Omit<FanoutResult, 'complaints'>;
  try {
    const rooms = scripts.map((roomScripts, r) => ({ name: `fanout-${r}`, roomScripts }));
    await Promise.all(
      rooms.flatMap(({ name, roomScripts }) =>
        roomScripts.map(async (script) => {
          const s = newSender(script);
          senders.push(s);
          let synced!: () => void;
          const isSynced = new Promise<void>((res) => (synced = res));
          const onFrame = (f: Uint8Array, ws: WebSocket): void => {
            const kind = frameKind(f);
            if (kind === Kind.Update) {
              const now = performance.now();
              const key = firstStructKey(f);
              const tr = track.get(key);
              if (!tr) {
                unexpected++;
                return;
              }
              if (inWindow) windowDeliveries++;
              if (tr.win) {
                latency.push(now - tr.t);
                pendingWindowDeliveries--;
              }
              if (--tr.left === 0) track.delete(key);
            } else if (kind === Kind.Ack) {
              gotAck = true;
              const now = performance.now();
              for (const [client, clock] of ackPairs(f)) {
                if (client !== script.client) continue;
                while (s.acked < s.sent && script.clockAfter[s.acked]! <= clock) {
                  if (s.inWindow[s.acked]) {
                    ackLatency.push(now - s.sentAt[s.acked]!);
                    pendingWindowAcks--;
                  }
                  s.acked++;
                }
              }
            } else if (kind === Kind.Step1) {
              ws.send(STEP2_EMPTY);
            } else if (kind === Kind.Step2) {
              synced();
            }
          };
          s.ws = await openSocket(server.roomUrl(name), {
            onOpen: (ws) => ws.send(STEP1_EMPTY),
            onFrame,
            onClose: (code, reason) => {
              if (!stopping) closes.push(`${code} ${reason}`);
            },
          });
          await isSynced;
        }),
      ),
    );

    const send = (s: Sender, now: number): void => {
      const i = s.sent;
      const key = s.script.keys[i]!;
      track.set(key, { t: now, win: inWindow, left: level.clients });
      s.sentAt[i] = now;
      if (inWindow) {
        s.inWindow[i] = 1;
        pendingWindowDeliveries += level.clients;
        pendingWindowAcks++;
      }
      s.sent++;
      s.ws!.send(s.script.frames[i]!);
    };
    const start = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      const elapsed = (now - start) / 1000;
      for (const s of senders) {
        const due = Math.min(s.script.frames.length, Math.floor(elapsed * level.rate + s.phase));
        while (s.sent < due) send(s, now);
      }
    }, 5);

    await sleep(timing.warmupS * 1000);
    const stopProfile = cpuProfileFile ? await server.profile() : null;
    const cpu0 = server.cpuTimes();
    const gen0 = process.cpuUsage();
    const other = foreignLoad([server.pid]);
    const t0 = performance.now();
    inWindow = true;
    await sleep(timing.windowS * 1000);
    inWindow = false;
    const t1 = performance.now();
    const cpu1 = server.cpuTimes();
    const gen1 = process.cpuUsage(gen0);
    const otherCpuPct = other();
    const mem = server.mem();
    clearInterval(timer);
    if (stopProfile) writeFileSync(cpuProfileFile!, JSON.stringify(await stopProfile()));

    const drainEnd = performance.now() + timing.drainS * 1000;
    const waitAcks = (): boolean => system === 'converge' && pendingWindowAcks > 0;
    while ((pendingWindowDeliveries > 0 || waitAcks()) && performance.now() < drainEnd) await sleep(50);

    const windowMs = t1 - t0;
    const cpuMs = cpu1.userMs + cpu1.systemMs - cpu0.userMs - cpu0.systemMs;
    let sent = 0;
    for (const s of senders) for (let i = 0; i < s.sent; i++) sent += s.inWindow[i]!;
    result = {
      system,
      level,
      round,
      windowS: windowMs / 1000,
      sent,
      deliveredPerS: windowDeliveries / (windowMs / 1000),
      latency: latency.summary(),
      ackLatency: gotAck ? ackLatency.summary() : null,
      serverCpuPct: (cpuMs / windowMs) * 100,
      serverSysPct: ((cpu1.systemMs - cpu0.systemMs) / windowMs) * 100,
      cpuUsPerDelivery: (cpuMs * 1000) / windowDeliveries,
      rssMiB: mem.rssMiB,
      hwmMiB: mem.hwmMiB,
      generatorCpuPct: ((gen1.user + gen1.system) / 1000 / windowMs) * 100,
      otherCpuPct,
      lost: pendingWindowDeliveries,
      unexpected,
      unacked: system === 'converge' ? pendingWindowAcks : 0,
      closes,
    };
  } finally {
    stopping = true;
    await Promise.all(senders.map((s) => (s.ws ? closeSocket(s.ws) : Promise.resolve())));
    await server.stop();
  }
  return { ...result, complaints: serverComplaints(server) };
};
