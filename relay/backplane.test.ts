/**
 * The backplane contract against both implementations: the in-process hub over a MemoryRoomStore,
 * and Redis (a real redis-server per test; "outage" kills it with SIGKILL and restarts it on the
 * same AOF). Plus what only Redis has: the bounded fan-out window.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../shared/testing/waitFor.js';
import { Recorder, backplaneContract } from './backplane.contract.js';
import { RedisBackplane } from './redisBackplane.js';
import { connectRedis } from './redisConnection.js';
import { inProcessHarness, redisHarness, type RedisHarness } from './testing/backplaneHarness.js';
import { startRedis } from './testing/redisServer.js';

backplaneContract('InProcessBackplaneHub', () => Promise.resolve(inProcessHarness()));

backplaneContract('RedisBackplane', () => redisHarness());

describe('RedisBackplane', () => {
  let harness: RedisHarness | undefined;

  afterEach(async () => {
    await harness?.cleanup();
    harness = undefined;
  });

  it('REDIS-4: a subscriber behind the fan-out window is caught up from the log, nothing skipped', async () => {
    harness = await redisHarness(1);
    const a = await harness.relay();
    const b = await harness.relay();
    // 300 entries through a stream that keeps about one: b reads from seq 0 while the stream
    // has long been trimmed, so its catch-up and every later jump go through the log.
    await a.publish(Array.from({ length: 200 }, (_, i) => ({ room: 'r', update: Uint8Array.of(i & 0xff) })));
    const rec = new Recorder();
    b.subscribe('r', 0, rec);
    for (let i = 200; i < 300; i++) await a.publish([{ room: 'r', update: Uint8Array.of(i & 0xff) }]);
    await waitFor(() => rec.entries.length === 300, 'all 300 entries');
    expect(rec.seqs()).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(rec.entries.map((e) => e.update[0])).toEqual(Array.from({ length: 300 }, (_, i) => i & 0xff));
  });

  it('REDIS-4: a live subscriber that the window left behind is caught up from the log (a seq jump)', async () => {
    harness = await redisHarness();
    const ops: string[] = [];
    const a = await RedisBackplane.connect({ url: harness.server.url, fanoutWindow: 4 });
    const b = await RedisBackplane.connect({
      url: harness.server.url,
      fanoutWindow: 4,
      observe: (op) => void ops.push(op),
    });
    try {
      const rec = new Recorder();
      b.subscribe('r', 0, rec);
      await a.publish([{ room: 'r', update: Uint8Array.of(0) }]);
      await waitFor(() => rec.entries.length === 1, 'b is live');
      const catchUps = ops.filter((op) => op === 'catchUp').length;
      // One script adds 50 entries at once: the stream keeps the last 4, b's next XREAD jumps.
      await a.publish(Array.from({ length: 50 }, (_, i) => ({ room: 'r', update: Uint8Array.of(i + 1) })));
      await waitFor(() => rec.entries.length === 51, 'all 51 entries at b');
      expect(rec.seqs()).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
      expect(rec.entries.map((e) => e.update[0])).toEqual(Array.from({ length: 51 }, (_, i) => i));
      expect(ops.filter((op) => op === 'catchUp').length).toBe(catchUps + 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('REDIS-5: connecting while Redis is down rejects (the relay does not start half-connected)', async () => {
    harness = await redisHarness();
    await harness.server.kill();
    await expect(RedisBackplane.connect({ url: harness.server.url })).rejects.toThrow();
    await harness.server.restart();
    const b = await RedisBackplane.connect({ url: harness.server.url });
    expect(b.status()).toBe('up');
    await b.close();
  });

  it('REDIS-1: room keys carry the room hash tag, so a cluster keeps a room on one shard', async () => {
    harness = await redisHarness();
    const a = await harness.relay();
    await a.publish([{ room: 'math-101', update: Uint8Array.of(1) }]);
    await a.publishAwareness('math-101', [{ clientID: 1, clock: 1, state: '{}' }]);
    const admin = await connectRedis(harness.server.url, 'converge-test-admin');
    try {
      const keys = (await admin.keys('*')).filter((k) => k.includes('math-101')).sort();
      expect(keys).toEqual([
        'converge:{r:math-101}:aw',
        'converge:{r:math-101}:fan',
        'converge:{r:math-101}:log',
        'converge:{r:math-101}:next',
      ]);
      // A cluster-mode redis-server (no slots needed) computes the slots the way a cluster would.
      const cluster = await startRedis({ extraArgs: ['--cluster-enabled', 'yes'] });
      const asker = await connectRedis(cluster.url, 'converge-test-keyslot');
      try {
        const slots = new Set(await Promise.all(keys.map((k) => asker.call('CLUSTER', 'KEYSLOT', k))));
        expect(slots.size).toBe(1);
        const other = await asker.call('CLUSTER', 'KEYSLOT', 'converge:{r:math-102}:log');
        expect(slots.has(other)).toBe(false);
      } finally {
        asker.disconnect();
        await cluster.cleanup();
      }
    } finally {
      admin.disconnect();
    }
  });
});
