/**
 * The backplane contract against both implementations: the in-process hub over a MemoryRoomStore,
 * and Redis (a real redis-server per test; "outage" kills it with SIGKILL and restarts it on the
 * same AOF). Plus what only Redis has: catching up after lost live messages, waiting for replicas,
 * hash-tagged keys. The same suite on a real Redis Cluster is in relay/redisCluster.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../shared/testing/waitFor.js';
import { Recorder, backplaneContract } from './backplane.contract.js';
import { RedisBackplane } from './redisBackplane.js';
import { ReplicaWaitError } from './redisScript.js';
import { connectRedis } from './redisConnection.js';
import { inProcessHarness, redisHarness, type RedisServerHarness } from './testing/backplaneHarness.js';
import { startRedis } from './testing/redisServer.js';

backplaneContract('InProcessBackplaneHub', () => Promise.resolve(inProcessHarness()));

backplaneContract('RedisBackplane', () => redisHarness());

describe('RedisBackplane', () => {
  let harness: RedisServerHarness | undefined;

  afterEach(async () => {
    await harness?.cleanup();
    harness = undefined;
  });

  it('REDIS-4: a subscriber far behind is caught up from the log, then continues live, nothing skipped', async () => {
    harness = await redisHarness();
    const a = await harness.relay();
    const b = await harness.relay();
    await a.publish(Array.from({ length: 200 }, (_, i) => ({ room: 'r', update: Uint8Array.of(i & 0xff) })));
    const rec = new Recorder();
    b.subscribe('r', 0, rec);
    for (let i = 200; i < 300; i++) await a.publish([{ room: 'r', update: Uint8Array.of(i & 0xff) }]);
    await waitFor(() => rec.entries.length === 300, 'all 300 entries');
    expect(rec.seqs()).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(rec.entries.map((e) => e.update[0])).toEqual(Array.from({ length: 300 }, (_, i) => i & 0xff));
  });

  it('REDIS-4: live messages lost with the pub/sub connection are caught up from the log, in order', async () => {
    harness = await redisHarness();
    const a = await harness.relay();
    const b = await harness.relay();
    const rec = new Recorder();
    b.subscribe('r', 0, rec);
    await a.publish([{ room: 'r', update: Uint8Array.of(0) }]);
    await waitFor(() => rec.entries.length === 1, 'b is live');
    const admin = await connectRedis(harness.server.url, 'converge-test-admin', false);
    try {
      // Redis drops every subscriber connection (as it does one over its output buffer limit)
      // while entries keep coming: the messages sent meanwhile are gone for good.
      const publishing = (async () => {
        for (let i = 1; i <= 60; i++) await a.publish([{ room: 'r', update: Uint8Array.of(i) }]);
      })();
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await publishing;
    } finally {
      admin.disconnect();
    }
    await waitFor(() => rec.entries.length === 61, 'all 61 entries at b');
    expect(rec.seqs()).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
    expect(rec.entries.map((e) => e.update[0])).toEqual(Array.from({ length: 61 }, (_, i) => i));
  });

  it('REDIS-4: an entry that reached the log with no live message arrives with the next heartbeat check', async () => {
    harness = await redisHarness();
    const ops: string[] = [];
    const a = await harness.relay();
    const b = await RedisBackplane.connect({
      url: harness.server.url,
      heartbeatMs: 100,
      observe: (op) => void ops.push(op),
    });
    try {
      const rec = new Recorder();
      b.subscribe('r', 0, rec);
      await a.publish([{ room: 'r', update: Uint8Array.of(1) }]);
      await waitFor(() => rec.entries.length === 1, 'b is live');
      // A plain store append: in the log, with no message on the fan-out channel (as when the
      // last message of a burst is lost and nothing follows it to reveal the gap).
      await harness.store.append([{ room: 'r', seq: 2, update: Uint8Array.of(2) }]);
      await waitFor(() => rec.entries.length === 2, 'the entry reached b');
      expect(rec.entries[1]).toMatchObject({ seq: 2, origin: '', update: Uint8Array.of(2) });
      expect(ops).toContain('positions');
    } finally {
      await b.close();
    }
  });

  it('REDIS-9: with a replica to wait for, publish resolves once the replica has the write and rejects without it', async () => {
    harness = await redisHarness();
    const replica = await startRedis({ extraArgs: ['--replicaof', '127.0.0.1', String(harness.server.port)] });
    // A generous WAIT where the replica must confirm (a loaded CI machine fsyncs slowly), a short
    // one where no replica can: the outcome then does not depend on the timeout.
    const b = await RedisBackplane.connect({ url: harness.server.url, wait: { replicas: 1, timeoutMs: 20_000 } });
    const impatient = await RedisBackplane.connect({ url: harness.server.url, wait: { replicas: 1, timeoutMs: 300 } });
    // No heartbeat during the test: its position check (REDIS-4) would read the entry from the
    // log while a slow WAIT holds back the live message, and the test is about the live one.
    const other = await RedisBackplane.connect({ url: harness.server.url, heartbeatMs: 600_000 });
    const reader = await connectRedis(replica.url, 'converge-test-replica', false);
    try {
      await waitFor(async () => /master_link_status:up/.test(await reader.info('replication')), 'replica linked');
      const rec = new Recorder();
      other.subscribe('r', 0, rec);
      await b.publish([{ room: 'r', update: Uint8Array.of(6) }]);
      await waitFor(() => rec.entries.length === 1, 'the other relay is live');
      const [seq] = await b.publish([{ room: 'r', update: Uint8Array.of(7), receivedAt: 1234 }]);
      // The reply came after WAIT: the replica already holds the entry, no polling needed.
      expect(await reader.hget('converge:{r:r}:log', String(seq))).toBe('\x07');
      // Its live message went out once confirmed: origin and receivedAt say it came live.
      await waitFor(() => rec.entries.length === 2, 'the confirmed entry reached another relay');
      expect(rec.entries[1]).toMatchObject({ seq, origin: b.relayId, receivedAt: 1234, update: Uint8Array.of(7) });
      await replica.kill();
      const rejected = impatient.publish([{ room: 'r', update: Uint8Array.of(8) }]);
      await expect(rejected).rejects.toThrow(ReplicaWaitError);
      await expect(rejected).rejects.toThrow(/0 of 1 replicas confirmed the write within 300 ms/);
    } finally {
      reader.disconnect();
      await b.close();
      await impatient.close();
      await other.close();
      await replica.cleanup();
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

  it('REDIS-5: a Redis that stops answering (no connection closes) is reported down after two silent heartbeats, and up once it answers', async () => {
    harness = await redisHarness();
    const a = await harness.relay();
    const statuses: string[] = [];
    a.onStatus((s) => statuses.push(s));
    const server = harness.server;
    process.kill(server.pid()!, 'SIGSTOP');
    try {
      await waitFor(() => a.status() === 'down', 'the backplane reports down while Redis is stopped');
    } finally {
      process.kill(server.pid()!, 'SIGCONT');
    }
    await waitFor(() => a.status() === 'up', 'the backplane reports up once Redis answers again');
    expect(statuses).toEqual(['down', 'up']);
    // The relay works again: what it publishes now is stored and read back.
    await a.publish([{ room: 'after-stop', update: Uint8Array.of(7) }]);
    expect((await harness.load('after-stop')).log.length).toBe(1);
  });

  it('REDIS-1: room keys carry the room hash tag, so a cluster keeps a room on one shard', async () => {
    harness = await redisHarness();
    const a = await harness.relay();
    await a.publish([{ room: 'math-101', update: Uint8Array.of(1) }]);
    await a.publishAwareness('math-101', [{ clientID: 1, clock: 1, state: '{}' }]);
    const admin = await connectRedis(harness.server.url, 'converge-test-admin');
    try {
      const keys = (await admin.keys('*')).filter((k) => k.includes('math-101')).sort();
      expect(keys).toEqual(['converge:{r:math-101}:aw', 'converge:{r:math-101}:log', 'converge:{r:math-101}:next']);
      // A cluster-mode redis-server (no slots needed) computes the slots the way a cluster would.
      const cluster = await startRedis({ extraArgs: ['--cluster-enabled', 'yes'] });
      const asker = await connectRedis(cluster.url, 'converge-test-keyslot', false);
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
