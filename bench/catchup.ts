/**
 * Catch-up: a chat room of N messages (default 20,000, ~2 MB V1) is loaded into each server by
 * one client sending one Update per message (as the chat would have), then a client joins and
 * sends SyncStep1 on open:
 *   - fresh: an empty state vector (a brand-new device);
 *   - behind: the state vector of the room minus its last `behind` messages (1 %).
 * Measured: time from sending SyncStep1 to receiving the SyncStep2 (Converge may send several
 * Update frames before it, SYNC-4), the largest frame received, and frames/bytes received.
 * After timing, the received updates are applied to a Y.Doc to check the client has every
 * message.
 *
 * Rooms: warm = loaded (the loading client stays connected); cold (Converge only) = every
 * client gone, the room unloaded (IDLE_UNLOAD_MS is set short for this server and /healthz
 * polled until roomsLoaded = 0), so the relay reads it back from SQLite. The reference keeps
 * every room in memory forever: it has no cold case.
 */
import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import { countMessages, makeChatRoom, type ChatRoomData } from './chat.js';
import { serverComplaints, startConverge, startReference, type BenchServer, type SystemName } from './servers.js';
import { sleep, waitMachineQuiet, waitQuiet } from './proc.js';
import { encodeSyncStep1, encodeSyncUpdate } from '../shared/protocol.js';
import { Kind, STEP1_EMPTY, STEP2_EMPTY, closeSocket, frameKind, openSocket, syncBody } from './wire.js';

export const CATCHUP_ROOM = 'catchup';

export type CatchupClient = 'fresh' | 'behind';
export type RoomState = 'warm' | 'cold';

export interface CatchupSample {
  readonly system: SystemName;
  readonly room: RoomState;
  readonly client: CatchupClient;
  readonly ms: number;
  readonly maxFrame: number;
  readonly frames: number;
  readonly bytes: number;
  /** The client ended with every message of the room. */
  readonly complete: boolean;
}

export interface LoadResult {
  readonly system: SystemName;
  readonly ms: number;
  readonly closes: string[];
}

/**
 * Sends every message of `room` as its own Update frame (at most `window` unechoed at a time)
 * and resolves with the still-open socket once every update came back (both servers echo
 * updates to their sender) and the server went quiet (Converge: commits and compaction done).
 */
export const loadRoom = async (
  server: BenchServer,
  room: ChatRoomData,
  window = 500,
): Promise<{ ws: WebSocket; result: LoadResult }> => {
  const closes: string[] = [];
  let echoed = 0;
  let synced!: () => void;
  const isSynced = new Promise<void>((r) => (synced = r));
  let progress: () => void = () => undefined;
  const t0 = performance.now();
  const ws = await openSocket(server.roomUrl(CATCHUP_ROOM), {
    onOpen: (s) => s.send(STEP1_EMPTY),
    onFrame: (f, s) => {
      const kind = frameKind(f);
      if (kind === Kind.Step1) s.send(STEP2_EMPTY);
      else if (kind === Kind.Step2) synced();
      else if (kind === Kind.Update) {
        echoed++;
        progress();
      }
    },
    onClose: (code, reason) => closes.push(`${code} ${reason}`),
  });
  await isSynced;
  let sent = 0;
  const total = room.updates.length;
  await new Promise<void>((resolve, reject) => {
    progress = () => {
      while (sent < total && sent - echoed < window) ws.send(encodeSyncUpdate(room.updates[sent++]!));
      if (echoed >= total) resolve();
    };
    ws.once('close', () => reject(new Error(`${server.name} closed the loading socket: ${closes.join(', ')}`)));
    progress();
  });
  await waitQuiet(server.pid, { timeoutMs: 60_000 });
  return { ws, result: { system: server.name, ms: performance.now() - t0, closes: [...closes] } };
};

/** One join: SyncStep1 on open, timed until the SyncStep2 arrives. */
export const measureCatchup = async (
  server: BenchServer,
  room: ChatRoomData,
  client: CatchupClient,
  roomState: RoomState,
): Promise<CatchupSample> => {
  const step1 = client === 'fresh' ? STEP1_EMPTY : encodeSyncStep1(room.prefixSv);
  const bodies: Uint8Array[] = [];
  let maxFrame = 0;
  let frames = 0;
  let bytes = 0;
  let t0 = 0;
  let t1 = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const closes: string[] = [];
  const ws = await openSocket(server.roomUrl(CATCHUP_ROOM), {
    onOpen: (s) => {
      t0 = performance.now();
      s.send(step1);
    },
    onFrame: (f, s) => {
      if (t1 !== 0) return;
      frames++;
      bytes += f.length;
      maxFrame = Math.max(maxFrame, f.length);
      const kind = frameKind(f);
      // The client has nothing the server lacks: its answer to the server's step 1 is empty.
      if (kind === Kind.Step1) s.send(STEP2_EMPTY);
      else if (kind === Kind.Update) bodies.push(syncBody(f).slice());
      else if (kind === Kind.Step2) {
        t1 = performance.now();
        bodies.push(syncBody(f).slice());
        done();
      }
    },
    onClose: (code, reason) => {
      closes.push(`${code} ${reason}`);
      done();
    },
  });
  await finished;
  await closeSocket(ws);
  if (t1 === 0) throw new Error(`${server.name}: socket closed before SyncStep2 (${closes.join(', ')})`);
  const got = countMessages(bodies, client === 'behind' ? room.prefix : undefined);
  return {
    system: server.name,
    room: roomState,
    client,
    ms: t1 - t0,
    maxFrame,
    frames,
    bytes,
    complete: got.count === room.updates.length && got.last === `m${room.updates.length - 1}`,
  };
};

/** Waits until Converge reports the room unloaded (polls /healthz). */
export const waitUnloaded = async (server: BenchServer, timeoutMs = 30_000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if ((await server.roomsLoaded()) === 0) return;
    await sleep(100);
  }
  throw new Error(`${server.name}: room still loaded after ${timeoutMs} ms`);
};

export interface CatchupOptions {
  readonly messages: number;
  readonly behind: number;
  /** Joins per (system, client kind) on the warm room. */
  readonly reps: number;
  /** Joins per client kind on Converge's cold room (0 = skip). */
  readonly coldReps: number;
  /** Converge's IDLE_UNLOAD_MS for this run (short, so the cold case does not wait long). */
  readonly idleUnloadMs: number;
}

export interface CatchupResult {
  readonly messages: number;
  readonly behind: number;
  readonly roomBytes: number;
  readonly loads: LoadResult[];
  readonly samples: CatchupSample[];
  readonly complaints: Partial<Record<SystemName, string[]>>;
}

/** Both servers up at once, each loaded with the same room; joins alternate between them. */
export const runCatchup = async (opts: CatchupOptions): Promise<CatchupResult> => {
  const room = makeChatRoom(opts.messages, { authors: 20, behind: opts.behind, seed: 1 });
  const servers = [await startReference(), await startConverge({ IDLE_UNLOAD_MS: String(opts.idleUnloadMs) })];
  const holders = new Map<BenchServer, WebSocket>();
  const loads: LoadResult[] = [];
  const samples: CatchupSample[] = [];
  try {
    for (const server of servers) {
      const { ws, result } = await loadRoom(server, room);
      holders.set(server, ws);
      loads.push(result);
    }
    // Before each join: both servers idle and nothing else busy on the machine.
    const quiet = async (): Promise<void> => {
      await Promise.all(servers.map((s) => waitQuiet(s.pid, { sampleMs: 100, maxMs: 2, timeoutMs: 10_000 })));
      await waitMachineQuiet([], { maxPct: 15, sampleMs: 300, timeoutMs: 600_000 });
    };
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const client of ['fresh', 'behind'] as const) {
        for (const server of rep % 2 === 0 ? servers : [...servers].reverse()) {
          await quiet();
          samples.push(await measureCatchup(server, room, client, 'warm'));
        }
      }
    }
    const converge = servers[1]!;
    if (opts.coldReps > 0) {
      await closeSocket(holders.get(converge)!);
      holders.delete(converge);
      for (let rep = 0; rep < opts.coldReps; rep++) {
        for (const client of ['fresh', 'behind'] as const) {
          await waitUnloaded(converge);
          await quiet();
          samples.push(await measureCatchup(converge, room, client, 'cold'));
        }
      }
    }
  } finally {
    await Promise.all([...holders.values()].map((ws) => closeSocket(ws)));
    await Promise.all(servers.map((s) => s.stop()));
  }
  const complaints: Partial<Record<SystemName, string[]>> = {};
  for (const s of servers) complaints[s.name] = serverComplaints(s);
  return { messages: opts.messages, behind: opts.behind, roomBytes: room.full.length, loads, samples, complaints };
};
