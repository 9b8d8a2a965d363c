/**
 * Test harness: RoomSessions in Node against one real relay process per test file (`ws` as the
 * WebSocket, an in-memory store, no cross-tab sync: every session in one process would otherwise
 * share one BroadcastChannel namespace and sync without the relay). Registers the file's
 * beforeAll/afterAll/afterEach hooks: call it once at the top level of a test file.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import WebSocket from 'ws';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { newId } from '../../shared/ids.js';
import { startRelay, type RelayProcess } from '../../relay/testing/relayProcess.js';
import type { Identity } from '../identity.js';
import { Transport } from '../net/transport.js';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import { RoomSession, type RoomSessionOptions } from '../sync/roomSession.js';

export const WS = WebSocket as unknown as typeof globalThis.WebSocket;
export const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));
export const person = (name: string): Identity => ({ id: newId(randomBytes), name });

/** A transport with short reconnect jitter (tests reconnect often). */
export const testTransport = (): Transport => new Transport({ WebSocketImpl: WS, jitterBaseMs: 20, jitterMaxMs: 100 });

export interface RelaySessions {
  /** The file's relay (started before the first test). */
  readonly relay: () => RelayProcess;
  /** A room name no other test uses. */
  readonly freshRoom: () => string;
  /** Opens a session on the file's relay; destroyed after the test. */
  readonly open: (room: string, identity: Identity, extra?: Partial<RoomSessionOptions>) => Promise<RoomSession>;
  /** Runs `cleanup` after the current test. */
  readonly afterTest: (cleanup: () => void) => void;
}

export const useRelaySessions = (prefix: string): RelaySessions => {
  let relay: RelayProcess | null = null;
  const cleanups: Array<() => void> = [];
  let counter = 0;
  beforeAll(async () => {
    relay = await startRelay();
  });
  afterAll(async () => {
    await relay?.cleanup();
  });
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
  const current = (): RelayProcess => {
    if (!relay) throw new Error('the relay starts in beforeAll: use it inside tests');
    return relay;
  };
  return {
    relay: current,
    freshRoom: () => `${prefix}-${process.pid}-${Date.now()}-${counter++}`,
    open: async (room, identity, extra = {}) => {
      const s = await RoomSession.open({
        room,
        relayUrl: current().wsUrl,
        identity,
        store: new MemoryRoomUpdateStore(),
        persistent: false,
        randomBytes,
        crossTab: false,
        transport: testTransport(),
        ...extra,
      });
      cleanups.push(() => s.destroy());
      return s;
    },
    afterTest: (cleanup) => {
      cleanups.push(cleanup);
    },
  };
};
