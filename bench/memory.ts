/**
 * Memory: many rooms of a chat of M messages each (default 1,000 rooms × 2,000 messages), each
 * uploaded by one client the way an offline client uploads its document (its SyncStep2 in the
 * handshake), then idle. Measured: server RSS empty, with every room loaded and its client still
 * connected, and then with the clients gone — for Converge after the idle rooms were unloaded
 * (IDLE_UNLOAD_MS short, /healthz polled until roomsLoaded = 0); the reference never unloads
 * an in-memory room.
 *
 * Every room holds the same 2,000 messages (generated once): neither server shares anything
 * between rooms, so this measures the same as distinct contents would.
 */
import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import { makeChatRoom } from './chat.js';
import { serverComplaints, startServer, type NodeMemory, type SystemName } from './servers.js';
import { sleep, waitMachineQuiet, waitQuiet } from './proc.js';
import { encodeSyncStep1, encodeSyncStep2 } from '../shared/protocol.js';
import { Kind, closeSocket, frameKind, mapLimit, openSocket } from './wire.js';

export interface MemoryOptions {
  readonly rooms: number;
  readonly messagesPerRoom: number;
  /** Converge's IDLE_UNLOAD_MS for this run. */
  readonly idleUnloadMs: number;
  /** Seconds to let the process settle before reading RSS. */
  readonly settleS: number;
  /** After the idle reading, force a full GC in the server (servers.ts `forceGc`) and read RSS again. */
  readonly forceGc: boolean;
  /**
   * The reference's V8 heap limit (`--max-old-space-size`), 0 = Node's default. Node's default
   * (about 4 GiB here) is too small: the reference dies of "heap out of memory" at about 900 of
   * 1,000 rooms × 2,000 messages.
   */
  readonly referenceHeapMiB: number;
}

export interface MemoryResult {
  readonly system: SystemName;
  readonly rooms: number;
  readonly messagesPerRoom: number;
  readonly referenceHeapMiB: number;
  /** Rooms whose upload the server echoed (all of them unless it crashed). */
  readonly uploadedRooms: number;
  /** Why the server died during the load (its fatal error line), or null. */
  readonly crashed: string | null;
  /** V1 bytes of one room. */
  readonly roomBytes: number;
  readonly loadS: number;
  readonly emptyMiB: number;
  /** Every room loaded, clients connected (if it crashed: the last reading before it died). */
  readonly loadedMiB: number;
  /** After the clients left (Converge: after the rooms were unloaded). */
  readonly idleMiB: number;
  /** After the idle reading and a forced full GC (null when not measured). */
  readonly afterGcMiB: number | null;
  /** The server's own view after that GC: live JS heap and buffers. */
  readonly afterGcNode: NodeMemory | null;
  readonly peakMiB: number;
  /** Rooms Converge still held after the clients left (null for the reference). */
  readonly roomsLoadedAfter: number | null;
  readonly closes: string[];
  readonly complaints: string[];
}

export const runMemory = async (system: SystemName, opts: MemoryOptions): Promise<MemoryResult> => {
  const room = makeChatRoom(opts.messagesPerRoom, { authors: 10, behind: 0, seed: 42 });
  const step1 = encodeSyncStep1(room.fullSv);
  const step2 = encodeSyncStep2(room.full);
  await waitMachineQuiet([], { maxPct: 15, timeoutMs: 600_000 });
  const server = await startServer(system, {
    converge: { IDLE_UNLOAD_MS: String(opts.idleUnloadMs) },
    referenceNodeOptions: opts.referenceHeapMiB > 0 ? `--max-old-space-size=${opts.referenceHeapMiB}` : '',
  });
  const closes: string[] = [];
  const sockets: WebSocket[] = [];
  let stopping = false;
  let lastRssMiB = NaN;
  const sampler = setInterval(() => {
    if (server.exited() === null) lastRssMiB = server.mem().rssMiB;
  }, 500);
  let result: Omit<MemoryResult, 'complaints'>;
  try {
    await sleep(opts.settleS * 1000);
    const emptyMiB = server.mem().rssMiB;
    const t0 = performance.now();
    let uploadedRooms = 0;
    await mapLimit(
      Array.from({ length: opts.rooms }, (_, i) => i),
      8,
      async (i) => {
        if (server.exited() !== null) return;
        let uploaded!: () => void;
        const done = new Promise<void>((r) => (uploaded = r));
        let ok = false;
        const ws = await openSocket(server.roomUrl(`mem-${i}`), {
          onOpen: (s) => s.send(step1),
          onFrame: (f, s) => {
            const kind = frameKind(f);
            // Answer the server's step 1 with the whole room: the server lacks all of it.
            if (kind === Kind.Step1) s.send(step2);
            // Both servers broadcast what they accepted to the room, the sender included.
            else if (kind === Kind.Update && f.length > room.full.length / 2) {
              ok = true;
              uploaded();
            }
          },
          onClose: (code, reason) => {
            if (!stopping) closes.push(`${code} ${reason}`);
            uploaded();
          },
        }).catch(() => null); // the server died (see `crash` below)
        if (!ws) return;
        sockets.push(ws);
        await done;
        if (ok) uploadedRooms++;
      },
    );
    const loadS = (performance.now() - t0) / 1000;
    const crash = server.exited();
    if (crash !== null) {
      clearInterval(sampler);
      const why = /FATAL ERROR: [^\n]*/.exec(server.stderr())?.[0] ?? crash;
      result = {
        ...base(system, opts, room.full.length),
        loadS,
        emptyMiB,
        loadedMiB: lastRssMiB,
        uploadedRooms,
        crashed: why,
        closes,
      };
    } else {
      await waitQuiet(server.pid, { timeoutMs: 120_000 });
      await sleep(opts.settleS * 1000);
      const loadedMiB = server.mem().rssMiB;
      stopping = true;
      await mapLimit(sockets, 64, (ws) => closeSocket(ws));
      let roomsLoadedAfter: number | null = null;
      if (system === 'converge') {
        const end = Date.now() + opts.idleUnloadMs + 60_000;
        while (Date.now() < end && (roomsLoadedAfter = await server.roomsLoaded()) !== 0) await sleep(200);
      }
      await waitQuiet(server.pid, { timeoutMs: 60_000 });
      await sleep(opts.settleS * 1000);
      const idleMiB = server.mem().rssMiB;
      let afterGcMiB: number | null = null;
      let afterGcNode: NodeMemory | null = null;
      if (opts.forceGc) {
        afterGcNode = await server.gc();
        await waitQuiet(server.pid, { timeoutMs: 60_000 });
        await sleep(opts.settleS * 1000);
        afterGcMiB = server.mem().rssMiB;
      }
      result = {
        ...base(system, opts, room.full.length),
        loadS,
        emptyMiB,
        loadedMiB,
        uploadedRooms,
        idleMiB,
        afterGcMiB,
        afterGcNode,
        peakMiB: server.mem().hwmMiB,
        roomsLoadedAfter,
        closes,
      };
    }
  } finally {
    clearInterval(sampler);
    stopping = true;
    await mapLimit(sockets, 64, (ws) => closeSocket(ws));
    await server.stop();
  }
  return { ...result, complaints: serverComplaints(server) };
};

const base = (system: SystemName, opts: MemoryOptions, roomBytes: number) => ({
  system,
  rooms: opts.rooms,
  messagesPerRoom: opts.messagesPerRoom,
  referenceHeapMiB: system === 'reference' ? opts.referenceHeapMiB : 0,
  roomBytes,
  idleMiB: NaN,
  afterGcMiB: null,
  afterGcNode: null,
  peakMiB: NaN,
  roomsLoadedAfter: null,
  crashed: null,
});
