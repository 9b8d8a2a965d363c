/**
 * Seeded simulated-network fuzz of the real relay logic (Relay + RoomCore + MemoryRoomStore):
 * several real Y.Doc clients in two rooms make random edits while frames are delivered in a
 * random interleaving, clients are partitioned and restarted, the relay commits at random
 * moments and crashes (losing its uncommitted batch) and restarts from its store.
 *
 * Checked: at every relay crash, everything any client was acked for is in the store (ACK-1);
 * at the end, after everyone reconnects and the network drains, every replica of a room and
 * the relay's stored state are identical, and nothing is left pending in any replica.
 *
 * The same fuzz runs with three relays on one backplane (REDIS-4..6): on the in-process hub and
 * on a real redis-server (small budget; fan-out window 4, so subscribers often catch up from the
 * log), a crash killing one relay (no goodbye) and starting a fresh one in its place.
 *
 * `npm test` runs a small budget with a fresh seed each run; `SEED=… npm run test:extensive`
 * reruns one seed with a large budget (FUZZ_BUDGET=extensive). A failing seed prints itself and
 * must be added to REGRESSION_SEEDS.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Prng, seedFromEnv } from '../shared/testing/prng.js';
import { MemoryRoomStore } from './memoryRoomStore.js';
import { SimClient, SimNetwork, contentOf, unthrottledLimits, type SimCluster } from './testing/simNetwork.js';
import { inProcessHarness, redisHarness } from './testing/backplaneHarness.js';
import type { RoomStore } from './roomStore.js';
import type { RelayLimits } from './relay.js';

const extensive = process.env.FUZZ_BUDGET === 'extensive';
const RUNS = extensive ? 200 : 6;
const STEPS = extensive ? 1500 : 400;

/** Seeds that once failed, with the number of steps they failed at; each runs on every `npm test`. */
const REGRESSION_SEEDS: ReadonlyArray<{ seed: number; steps: number; hub?: true; why: string }> = [
  {
    seed: 1221,
    steps: 1500,
    hub: true,
    why: 'converged replicas listed a Y.Map’s keys in different orders; contentOf compared them as written and the drain waited for ever',
  },
];

const edit = (prng: Prng, c: SimClient): void => {
  const doc = c.doc;
  const text = doc.getText('text');
  const messages = doc.getArray<Y.Map<unknown>>('messages');
  const r = prng.next();
  if (r < 0.45) {
    const m = new Y.Map<unknown>();
    m.set('author', c.name);
    m.set('text', `hi ${prng.int(0, 1e6)} ${'x'.repeat(prng.int(0, 300))}`);
    messages.push([m]);
  } else if (r < 0.75) {
    text.insert(prng.int(0, text.length), prng.pick(['a', 'bc', 'déf', '🙂', 'long '.repeat(prng.int(1, 40))]));
  } else if (r < 0.9 && text.length > 0) {
    const at = prng.int(0, text.length - 1);
    text.delete(at, prng.int(1, Math.min(5, text.length - at)));
  } else if (messages.length > 0) {
    const at = prng.int(0, messages.length - 1);
    if (prng.bool()) messages.delete(at, 1);
    else messages.get(at).set('text', 'edited');
  }
};

type MakeNet = (limits: RelayLimits, prng: Prng) => Promise<SimNetwork>;

const embedded: MakeNet = (limits, prng) => Promise.resolve(new SimNetwork(new MemoryRoomStore(), limits, prng));

const runSeed = async (seed: number, steps: number, makeNet: MakeNet = embedded): Promise<void> => {
  const prng = new Prng(seed);
  // Small frames so catch-ups are streamed (SYNC-4) and compaction runs often.
  const net = await makeNet(unthrottledLimits(prng.pick([2048, 8192, 1 << 20])), prng);
  const rooms = ['alpha', 'beta'];
  const nClients = prng.int(2, 5);
  // Yjs client ids from their own stream of the seed (not from `prng`, whose draws are the history).
  const ids = new Prng((seed ^ 0x5eed1d5) >>> 0);
  const newClientId = (): number => ids.int(1, 2 ** 32 - 1);
  for (let i = 0; i < nClients; i++) net.clients.push(new SimClient(`c${i}`, rooms[i % 2]!, newClientId));
  for (const c of net.clients) if (prng.bool(0.7)) await net.connect(c);

  for (let step = 0; step < steps; step++) {
    const c = prng.pick(net.clients);
    const r = prng.next();
    if (r < 0.3) edit(prng, c);
    else if (r < 0.55) await net.deliver(c, 'up');
    else if (r < 0.8) await net.deliver(c, 'down');
    else if (r < 0.87) await net.flush();
    else if (r < 0.92) {
      if (c.link) net.disconnect(c);
      else await net.connect(c);
    } else if (r < 0.94) {
      net.disconnect(c);
      c.restart();
    } else if (r < 0.96) {
      const problems = await net.checkAcksDurable();
      expect(problems, `ACK-1 before relay crash, seed ${seed} step ${step}`).toEqual([]);
      await net.crashRelay();
    } else if (r < 0.97) {
      // Lose one in-flight frame's worth of connection: the socket drops (a partition).
      net.disconnect(c);
    } else await net.connect(c);
  }

  await net.healAndDrain();
  expect(await net.checkAcksDurable(), `ACK-1 at the end, seed ${seed}`).toEqual([]);
  for (const room of rooms) {
    const replicas = net.clients.filter((c) => c.room === room);
    const stored = new Y.Doc();
    Y.applyUpdate(stored, await net.storedUpdate(room));
    const want = contentOf(stored);
    for (const c of replicas) {
      expect(contentOf(c.doc), `seed ${seed}: ${c.name} in ${room} converged with the stored state`).toBe(want);
      expect(c.doc.store.pendingStructs, `seed ${seed}: ${c.name} has pending structs`).toBeNull();
      expect(c.closeCodes, `seed ${seed}: no relay-initiated closes`).toEqual([]);
    }
    expect(Y.encodeStateVector(stored)).toEqual(Y.encodeStateVector(replicas[0]!.doc));
  }
  for (const c of net.clients) c.doc.destroy();
  await net.stopCluster();
};

/** Three relays on one backplane over `store`. */
const clustered =
  (store: RoomStore, cluster: Omit<SimCluster, 'relays'>): MakeNet =>
  (limits, prng) =>
    SimNetwork.cluster(store, limits, prng, { relays: 3, ...cluster });

describe('relay simulated-network fuzz', () => {
  for (const { seed, steps, why } of REGRESSION_SEEDS.filter((r) => !r.hub)) {
    it(`regression seed ${seed}: ${why}`, async () => {
      await runSeed(seed, steps);
    });
  }

  const first = seedFromEnv();
  for (let i = 0; i < RUNS; i++) {
    const seed = (first + i) >>> 0;
    it(`converges and loses nothing acked (seed ${seed}; rerun: SEED=${seed} npm run test:extensive)`, async () => {
      await runSeed(seed, STEPS);
    });
  }
});

/** One seed on three relays over the in-process hub. */
const runHubSeed = async (seed: number, steps: number): Promise<void> => {
  const h = inProcessHarness();
  try {
    await runSeed(seed, steps, clustered(h.store, { backplane: () => h.relay(), kill: (b) => h.kill(b) }));
  } finally {
    await h.cleanup();
  }
};

describe('relay simulated-network fuzz, three relays on one backplane', () => {
  for (const { seed, steps, why } of REGRESSION_SEEDS.filter((r) => r.hub)) {
    it(`in-process hub: regression seed ${seed}: ${why}`, async () => {
      await runHubSeed(seed, steps);
    });
  }
  const first = seedFromEnv();
  for (let i = 0; i < (extensive ? 50 : 3); i++) {
    const seed = (first + i) >>> 0;
    it(`in-process hub: converges and loses nothing acked (seed ${seed})`, async () => {
      await runHubSeed(seed, STEPS);
    });
  }
  const seed = (first + 1000) >>> 0;
  it(`Redis: converges and loses nothing acked (seed ${seed})`, { timeout: 120_000 }, async () => {
    const h = await redisHarness();
    try {
      await runSeed(
        seed,
        extensive ? STEPS : 150,
        clustered(h.store, { backplane: () => h.relay(), kill: (b) => h.kill(b), fencedStore: h.store }),
      );
    } finally {
      await h.cleanup();
    }
  });
});
