/**
 * Three relay processes on one real Redis: clients on different relays converge (REDIS-4),
 * kill -9 of a relay mid-traffic loses nothing acked and its clients carry on through another relay
 * (REDIS-2, failover), its presence disappears at the others (REDIS-6), and a Redis restart closes
 * clients with storage-unavailable and they recover (REDIS-5). Then the same on a real Redis
 * Cluster of three masters (REDIS-1): rooms on every shard, failover, the whole cluster restarted.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CloseReason, Limits, UpgradeRefusal, encodeSyncUpdate } from '../../shared/protocol.js';
import { connectRedis, type RedisClient } from '../redisConnection.js';
import { RedisRoomStore } from '../redisRoomStore.js';
import { keySlot, migrateSlot, slotOwner, startRedisCluster, type RedisCluster } from '../testing/redisCluster.js';
import { DEFAULT_REDIS_PREFIX, roomKeys } from '../redisKeys.js';
import { startScaleOut, type ScaleOut, type ScaleOutRedis } from '../testing/scaleOut.js';
import { Harness, healthz, stopAwarenessRenewal, synced, waitFor, type StockClient } from './clients.js';
import { observeFor } from '../../shared/testing/waitFor.js';
import type { RelayProcess } from '../testing/relayProcess.js';

const h = new Harness();
let bed: ScaleOut<ScaleOutRedis> | undefined;
afterEach(async (ctx) => {
  const failed = ctx.task.result?.state === 'fail';
  if (failed && bed)
    for (const r of bed.relays) if (r) console.error(`--- relay :${r.port}\n${r.stderr().slice(-6000)}`);
  await h.cleanup(failed);
  await bed?.cleanup();
  bed = undefined;
});

/** What Redis durably holds of `room`, as a doc (read through a fresh RedisRoomStore). */
const storedDoc = async (url: string, room: string): Promise<Y.Doc> => {
  const store = new RedisRoomStore(await connectRedis(url, 'converge-test-reader'), { ownsClient: true });
  try {
    const stored = await store.load(room);
    const doc = new Y.Doc();
    for (const s of stored.segments) Y.applyUpdate(doc, s.update);
    for (const e of stored.log) Y.applyUpdate(doc, e.update);
    return doc;
  } finally {
    await store.close();
  }
};

const ownAcked = (c: StockClient): number => c.acked.get(c.doc.clientID) ?? 0;

/**
 * A writer on relay 1 writes every 5 ms; relay 1 is killed with SIGKILL and the writer's doc
 * reconnects through relay 2. Nothing acked before the kill is lost, a reader on relay 0 gets
 * every write, and Redis holds them all.
 */
const failoverMidTraffic = async (bed: ScaleOut<ScaleOutRedis>, room: string): Promise<void> => {
  const urls = bed.wsUrls();
  let writer = h.client(urls[1]!, room);
  const reader = h.client(urls[0]!, room);
  await synced(writer);
  await synced(reader);
  const doc = writer.doc;
  let n = 0;
  const tick = setInterval(() => doc.getArray<string>('messages').push([`w${n++}`]), 5);
  try {
    await waitFor(() => ownAcked(writer) > 20, 'some writes acked');
    const ackedBeforeKill = ownAcked(writer);
    await bed.killRelay(1);
    writer.provider.destroy();
    writer = h.client(urls[2]!, room, { doc });
    await synced(writer);
    await waitFor(() => n > 200, 'the writer kept writing through the failover');
    clearInterval(tick);
    await waitFor(() => reader.doc.getArray('messages').length === n, 'the reader on relay 0 holds every write');
    await waitFor(() => writer.allOwnEditsAcked(), 'every write acked');
    const stored = await storedDoc(bed.redis.url, room);
    expect(Y.getState(stored.store, doc.clientID)).toBeGreaterThanOrEqual(ackedBeforeKill);
    expect(stored.getArray('messages').length).toBe(n);
  } finally {
    clearInterval(tick);
  }
};

describe('scale-out: three relays on one Redis', () => {
  it('REDIS-4: clients spread over three relays converge, and every edit is acked', async () => {
    bed = await startScaleOut({ relays: 3 });
    const urls = bed.wsUrls();
    const room = 'spread';
    const clients = urls.flatMap((url) => [h.client(url, room), h.client(url, room)]);
    for (const c of clients) await synced(c);
    for (const [i, c] of clients.entries()) {
      for (let n = 0; n < 20; n++) c.doc.getArray<string>('messages').push([`c${i}-${n}`]);
    }
    await waitFor(
      () => clients.every((c) => c.doc.getArray('messages').length === 120),
      'every replica holds all 120 messages',
    );
    const reference = JSON.stringify(clients[0]!.doc.getArray('messages').toJSON());
    for (const c of clients) expect(JSON.stringify(c.doc.getArray('messages').toJSON())).toBe(reference);
    await waitFor(() => clients.every((c) => c.allOwnEditsAcked()), 'every edit acked');
  });

  it('REDIS-2 / failover: kill -9 of a relay mid-traffic loses nothing acked; its clients carry on elsewhere', async () => {
    bed = await startScaleOut({ relays: 3 });
    const urls = bed.wsUrls();
    const room = 'failover';
    let onOne = h.client(urls[1]!, room);
    const onZero = h.client(urls[0]!, room);
    const onTwo = h.client(urls[2]!, room);
    for (const c of [onOne, onZero, onTwo]) await synced(c);
    const write = (c: StockClient, tag: string, n: number): void => {
      for (let i = 0; i < n; i++) c.doc.getArray<string>('messages').push([`${tag}-${i}`]);
    };
    write(onOne, 'one', 100);
    write(onZero, 'zero', 100);
    await waitFor(() => ownAcked(onOne) > 0, 'some of one-* acked');
    const ackedBeforeKill = ownAcked(onOne);
    await bed.killRelay(1);
    // Failover: the same doc reconnects through relay 2 (the client's next URL).
    const doc = onOne.doc;
    onOne.provider.destroy();
    onOne = h.client(urls[2]!, room, { doc });
    await synced(onOne);
    write(onOne, 'one-after', 50);
    await waitFor(
      () => [onOne, onZero, onTwo].every((c) => c.doc.getArray('messages').length === 250),
      'all replicas hold 250 messages',
    );
    await waitFor(() => onOne.allOwnEditsAcked() && onZero.allOwnEditsAcked(), 'everything acked');
    const stored = await storedDoc(bed.redis.url, room);
    expect(Y.getState(stored.store, doc.clientID)).toBeGreaterThanOrEqual(ackedBeforeKill);
    expect(stored.getArray('messages').length).toBe(250);
  });

  it('REDIS-6: the presence of a killed relay’s clients disappears at the other relays', async () => {
    bed = await startScaleOut({ relays: 3 });
    const urls = bed.wsUrls();
    const room = 'presence';
    const watcher = h.client(urls[0]!, room);
    const leaving = h.client(urls[1]!, room);
    await synced(watcher);
    await synced(leaving);
    leaving.provider.awareness.setLocalStateField('user', { name: 'ann' });
    const seen = (): boolean => watcher.provider.awareness.getStates().has(leaving.doc.clientID);
    await waitFor(seen, 'ann visible through relay 0');
    await bed.killRelay(1);
    leaving.provider.disconnect(); // the client is gone too (its tab closed with the relay)
    await waitFor(() => !seen(), { timeout: 15_000, message: 'ann removed after relay 1 died' });
  });

  /**
   * Three relays; a watcher on relay 0 sees `name`, a stock client on relay 1, and relay 1 is
   * killed. `moveToRelay2` reconnects the same doc and awareness state through relay 2 (same client
   * id, same clock), with y-protocols' own renewal stopped unless `renews`.
   */
  const presenceOnKilledRelay = async (
    room: string,
    name: string,
  ): Promise<{ seen: () => boolean; moveToRelay2: (renews: boolean) => Promise<void> }> => {
    bed = await startScaleOut({ relays: 3 });
    const urls = bed.wsUrls();
    const watcher = h.client(urls[0]!, room);
    const moving = h.client(urls[1]!, room);
    await synced(watcher);
    await synced(moving);
    moving.provider.awareness.setLocalStateField('user', { name });
    const id = moving.doc.clientID;
    const seen = (): boolean => watcher.provider.awareness.getStates().has(id);
    await waitFor(seen, `${name} visible through relay 0`);
    await bed.killRelay(1);
    const moveToRelay2 = async (renews: boolean): Promise<void> => {
      const state = moving.provider.awareness.getLocalState();
      moving.provider.destroy();
      const back = h.client(urls[2]!, room, { doc: moving.doc });
      if (!renews) stopAwarenessRenewal(back);
      back.provider.awareness.setLocalState(state);
      await synced(back);
    };
    return { seen, moveToRelay2 };
  };

  it('REDIS-6: a client that moved off a killed relay stays present after the dead relay is reaped', async () => {
    const { seen, moveToRelay2 } = await presenceOnKilledRelay('presence-moved', 'bo');
    await moveToRelay2(true);
    // The survivors reap relay 1 (3 heartbeats) and publish the removal of bo's old entry, before
    // or after bo's move: y-protocols renews a state removed by someone else with clock + 1, and
    // a relay answers the old clock with the removal (AWR-8), so bo must be visible afterwards.
    await waitFor(seen, 'bo visible through relay 0 after the move');
    // Relay 1's heartbeat key expires (3 × 200 ms); the survivors reap it on their next ticks.
    const admin = await connectRedis(bed!.redis.url, 'converge-test-admin');
    try {
      await waitFor(async () => (await admin.keys('converge:relay:*')).length === 2, 'relay 1 counted dead');
    } finally {
      admin.disconnect();
    }
    await observeFor(1000); // a few reap ticks
    // If the reap removed bo's old entry, y-protocols renewed it (clock + 1): bo must be visible.
    await waitFor(seen, 'bo visible after the reap of relay 1');
  });

  it('REDIS-6, AWR-8: a client that reconnects through another relay after the reap is visible again', async () => {
    const { seen, moveToRelay2 } = await presenceOnKilledRelay('presence-reaped', 'cy');
    // The survivors reap relay 1 and publish the removal (clock + 1) before cy reconnects, through
    // relay 2, which has no record of the removal; nothing renews cy's state but the relays.
    await waitFor(() => !seen(), { timeout: 15_000, message: 'cy removed after relay 1 died' });
    await moveToRelay2(false);
    await waitFor(seen, 'cy visible through relay 0 again');
  });

  it('REDIS-5: a Redis restart closes clients with storage-unavailable; they come back and converge', async () => {
    bed = await startScaleOut({ relays: 2 });
    const urls = bed.wsUrls();
    const room = 'redis-restart';
    const a = h.client(urls[0]!, room);
    const b = h.client(urls[1]!, room);
    await synced(a);
    await synced(b);
    a.doc.getText('text').insert(0, 'before ');
    await waitFor(() => a.allOwnEditsAcked(), 'acked before the restart');
    await bed.redis.kill();
    await waitFor(
      () => [a, b].every((c) => c.closes.some((e) => e?.code === CloseReason.StorageUnavailable.code)),
      'both closed with 4503',
    );
    const relay0 = bed.relays[0]!;
    await waitFor(async () => (await healthz(relay0)).body.backplane === 'down', '/healthz reports the backplane down');
    // While Redis is away upgrades are refused with 503 and the retryable reason.
    const refused = await upgradeStatus(relay0, room);
    expect(refused).toEqual({
      status: UpgradeRefusal.StorageUnavailable.status,
      body: UpgradeRefusal.StorageUnavailable.reason,
    });
    a.doc.getText('text').insert(a.doc.getText('text').length, 'offline ');
    await bed.redis.restart();
    await waitFor(() => a.text() === b.text() && a.text() === 'before offline ', 'converged after Redis came back');
    await waitFor(() => a.allOwnEditsAcked(), 'acked after Redis came back');
    expect((await healthz(relay0)).body.backplane).toBe('up');
  });

  it('HEALTH-1: in scale-out mode /healthz reports the backplane up only while every Redis connection of the relay is ready', async () => {
    bed = await startScaleOut({ relays: 1 });
    const relay = bed.relays[0]!;
    const room = 'connections-ready';
    const admin = await connectRedis(bed.redis.url, 'converge-test-admin', false);
    const [, maxclients] = (await admin.config('GET', 'maxclients')) as [string, string];
    try {
      expect(await healthz(relay)).toMatchObject({ status: 200, body: { ok: true, backplane: 'up' } });
      const command = connectionId(await clientList(admin), 'converge-relay');
      // The store's first: the upgrade after it is back loads the room, which needs it.
      for (const name of ['converge-relay-store', 'converge-relay-sub', 'converge-relay-limits']) {
        const clients = await clientList(admin);
        // Redis keeps the connections it has when maxclients drops below their number, and refuses
        // new ones: with one fewer allowed, the one killed cannot come back until it is raised.
        await admin.config('SET', 'maxclients', String(clients.length - 1));
        try {
          await admin.client('KILL', 'ID', connectionId(clients, name));
          await waitFor(async () => (await healthz(relay)).status === 503, `/healthz 503 without ${name}`);
          // No upgrade is tried here: one refused by a failed load would keep `storage` failing
          // (HEALTH-1) for a minute after the connection is back.
          expect((await healthz(relay)).body).toMatchObject({ ok: false, backplane: 'down', storage: 'ok' });
        } finally {
          await admin.config('SET', 'maxclients', maxclients);
        }
        await waitFor(async () => (await healthz(relay)).status === 200, `/healthz 200 once ${name} is back`);
        expect((await healthz(relay)).body).toMatchObject({ ok: true, backplane: 'up' });
        // What the load balancer is told is what an upgrade gets (the room is loaded at the first).
        expect((await upgradeStatus(relay, room)).status).toBe(101);
      }
      // The backplane's command connection, all the relay asked before, was ready throughout.
      expect(connectionId(await clientList(admin), 'converge-relay')).toBe(command);
    } finally {
      admin.disconnect();
    }
  });

  it('REDIS-10: appendfsync weakened while a relay runs: nothing more is acked until it is restored, then everything is', async () => {
    bed = await startScaleOut({ relays: 1 });
    const relay = bed.relays[0]!;
    const c = h.client(bed.wsUrls()[0]!, 'weakened');
    await synced(c);
    const messages = c.doc.getArray<string>('messages');
    messages.push(['before']);
    await waitFor(() => c.allOwnEditsAcked(), 'the first edit acked');
    const admin = await connectRedis(bed.redis.url, 'converge-test-admin', false);
    try {
      expect((await healthz(relay)).body).toMatchObject({ ok: true, redisDurability: 'ok' });
      await admin.config('SET', 'appendfsync', 'everysec');
      await waitFor(() => relay.stderr().includes('"event":"redis-not-durable"'), 'the relay noticed');
      // HEALTH-1: not ok while nothing can be stored, before any commit fails too.
      const weakened = await healthz(relay);
      expect([weakened.status, weakened.body.ok, weakened.body.redisDurability]).toEqual([503, false, 'weakened']);
      // REDIS-10: a new full connection is refused at the upgrade (it could only be closed once it
      // uploads); the class view's observer, which stores nothing, is not.
      expect(await upgradeStatus(relay, 'weakened')).toEqual({
        status: UpgradeRefusal.StorageUnavailable.status,
        body: UpgradeRefusal.StorageUnavailable.reason,
      });
      expect((await upgradeStatus(relay, 'weakened', 'mode=awareness')).status).toBe(101);
      const acked = ownAcked(c);
      messages.push(['during']);
      await waitFor(() => /"event":"append-failed".*appendfsync everysec/.test(relay.stderr()), 'the commit refused');
      expect(ownAcked(c)).toBe(acked);
      expect(c.allOwnEditsAcked()).toBe(false);
      await admin.config('SET', 'appendfsync', 'always');
      await waitFor(() => c.allOwnEditsAcked(), 'acked once Redis is durable again');
      expect((await healthz(relay)).status).toBe(200);
    } finally {
      admin.disconnect();
    }
    expect((await storedDoc(bed.redis.url, 'weakened')).getArray('messages').toJSON()).toEqual(['before', 'during']);
  });

  it('REDIS-7: a client on another relay never receives an update before it is in Redis', async () => {
    bed = await startScaleOut({ relays: 2 });
    const urls = bed.wsUrls();
    const room = 'paused';
    const writer = h.client(urls[0]!, room);
    const sameRelay = h.client(urls[0]!, room);
    const otherRelay = h.client(urls[1]!, room);
    for (const c of [writer, sameRelay, otherRelay]) await synced(c);
    const admin = await connectRedis(bed.redis.url, 'converge-test-admin');
    try {
      await admin.call('CLIENT', 'PAUSE', '60000', 'WRITE');
      writer.doc.getText('text').insert(0, 'held');
      // FWD-1: the writer's own relay forwards at once; the commit (a write) is paused.
      await waitFor(() => sameRelay.text() === 'held', 'the same relay forwards before the commit');
      await observeFor(500);
      expect(otherRelay.text()).toBe('');
      expect(ownAcked(writer)).toBe(0);
      await admin.call('CLIENT', 'UNPAUSE');
      await waitFor(() => otherRelay.text() === 'held', 'delivered across relays once committed');
      await waitFor(() => writer.allOwnEditsAcked(), 'acked once committed');
    } finally {
      await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      admin.disconnect();
    }
  });

  it("DEDUPE-3: ranges past a gap planted through one relay are held by another, whose writer reaching limit + 1 of them is refused (too-many-gaps), nothing of it in Redis; the planter's relay forwards the fill as remote updates", async () => {
    const LIMIT = Limits.maxHeldRangesPerUpdate;
    bed = await startScaleOut({ relays: 2 });
    const urls = bed.wsUrls();
    const room = 'gaps';
    const reader = h.client(urls[1]!, room);
    await synced(reader);
    // Client 4242 types one letter per update; the letters at odd clocks are one range past a gap
    // each: LIMIT + 1 of them, planted through relay 0 in one update (which reaches none).
    const d = new Y.Doc();
    d.clientID = 4242;
    const each: Uint8Array[] = [];
    d.on('update', (u: Uint8Array) => each.push(u));
    for (let i = 0; i < 2 * LIMIT + 2; i++) d.getText('text').insert(i, String.fromCharCode(97 + (i % 26)));
    const planter = h.raw(`${urls[0]!}/${room}`);
    await planter.opened;
    planter.ws.send(encodeSyncUpdate(Y.mergeUpdates(each.filter((_, i) => i % 2 === 1))));
    // Pending in the reader's doc (the clocks under them are missing): relay 1 holds them.
    await waitFor(() => reader.doc.store.pendingStructs !== null, 'the planted ranges reached relay 1');

    const writer = h.raw(`${urls[1]!}/${room}`);
    await writer.opened;
    writer.ws.send(encodeSyncUpdate(Y.encodeStateAsUpdate(d)));
    expect(await writer.closed).toEqual({ code: CloseReason.TooManyGaps.code, reason: CloseReason.TooManyGaps.reason });
    const store = new RedisRoomStore(await connectRedis(bed.redis.url, 'converge-test-reader'), { ownsClient: true });
    try {
      expect((await store.load(room)).log).toHaveLength(1); // the plant only
    } finally {
      await store.close();
    }

    // The history through relay 0 in two updates, each within the limit: the reader on relay 1
    // gets them as remote updates and shows it all.
    planter.ws.send(encodeSyncUpdate(Y.mergeUpdates(each.slice(0, 2 * LIMIT))));
    planter.ws.send(encodeSyncUpdate(Y.mergeUpdates(each.slice(2 * LIMIT))));
    await waitFor(() => reader.text() === d.getText('text').toJSON(), 'the reader holds the whole history');
    expect(reader.doc.store.pendingStructs).toBeNull();
    expect(reader.closes).toEqual([]);
    expect((await storedDoc(bed.redis.url, room)).getText('text').toJSON()).toBe(d.getText('text').toJSON());
  });

  it('REDIS-2 / ACK-1: everything acked is in Redis after Redis itself is killed and restarted from its AOF', async () => {
    bed = await startScaleOut({ relays: 2 });
    const urls = bed.wsUrls();
    const room = 'aof';
    const a = h.client(urls[0]!, room);
    const b = h.client(urls[1]!, room);
    await synced(a);
    await synced(b);
    for (let i = 0; i < 50; i++) (i % 2 ? a : b).doc.getArray<string>('messages').push([`m${i}`]);
    await waitFor(() => ownAcked(a) > 0 && ownAcked(b) > 0, 'both writers acked');
    await bed.redis.kill();
    const acked = new Map([
      [a.doc.clientID, ownAcked(a)],
      [b.doc.clientID, ownAcked(b)],
    ]);
    await bed.redis.restart();
    const stored = await storedDoc(bed.redis.url, room);
    for (const [client, clock] of acked) expect(Y.getState(stored.store, client)).toBeGreaterThanOrEqual(clock);
  });

  it('failover mid-traffic: a writer keeps writing while its relay is killed; nothing acked is lost', async () => {
    bed = await startScaleOut({ relays: 3 });
    await failoverMidTraffic(bed, 'mid-traffic');
  });
});

/** CLIENT LIST: one line per connection ("id=… addr=… name=… …"). */
const clientList = async (admin: RedisClient): Promise<string[]> =>
  ((await admin.call('CLIENT', 'LIST')) as string).trim().split('\n');

/** The id of the one connection named `name` in `clients`. */
const connectionId = (clients: readonly string[], name: string): string => {
  const ids = clients.flatMap((line) => (line.includes(` name=${name} `) ? [/^id=(\d+) /.exec(line)![1]!] : []));
  expect(ids, `connections named ${name}`).toHaveLength(1);
  return ids[0]!;
};

/** The raw HTTP answer to a websocket upgrade of `room` at `relay`. */
/** The answer to a websocket upgrade at `room` (`query` after a `?`): a refusal, or 101 for an open socket (closed at once). */
const upgradeStatus = (relay: RelayProcess, room: string, query = ''): Promise<{ status: number; body: string }> => {
  return new Promise((resolve, reject) => {
    const req = request(`${relay.url}/sync/${room}${query ? `?${query}` : ''}`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
};

/**
 * A writer on relay 1 writes every 5 ms while the room's slot moves to the other master, one key
 * at a time with three writes between two keys (so the relays' scripts meet a slot split between
 * two masters: ASK and TRYAGAIN). Nothing acked is lost, a reader on relay 0 gets every write,
 * and the room's keys end up on the new master only.
 */
const reshardMidTraffic = async (cbed: ScaleOut<RedisCluster>, room: string): Promise<void> => {
  const urls = cbed.wsUrls();
  const writer = h.client(urls[1]!, room);
  const reader = h.client(urls[0]!, room);
  await synced(writer);
  await synced(reader);
  let n = 0;
  const tick = setInterval(() => writer.doc.getArray<string>('messages').push([`w${n++}`]), 5);
  try {
    await waitFor(() => ownAcked(writer) > 20, 'some writes acked');
    const keys = roomKeys(DEFAULT_REDIS_PREFIX, room);
    const slot = await keySlot(cbed.redis, keys.log);
    const from = await slotOwner(cbed.redis, slot);
    const to = cbed.redis.nodes.slice(0, 2).find((node) => node !== from)!;
    const source = await connectRedis(from.url, 'converge-test-admin', false);
    try {
      /** How often the old master redirected (ASK) or turned away (TRYAGAIN) a command so far. */
      const turnedAway = async (): Promise<number> =>
        [...(await source.info('errorstats')).matchAll(/errorstat_(?:ASK|TRYAGAIN):count=(\d+)/g)].reduce(
          (sum, m) => sum + Number(m[1]),
          0,
        );
      // Between two keys, the relays write: a write made after the key moved is committed, or a
      // command is turned away. (Timed by the writer's pushes alone, a relay starved of CPU on a
      // busy machine once slept through the whole move.)
      await migrateSlot(cbed.redis, slot, to, async () => {
        const [written, met] = [Y.getState(writer.doc.store, writer.doc.clientID), await turnedAway()];
        await waitFor(
          async () => ownAcked(writer) > written || (await turnedAway()) > met,
          'the relays write while the slot moves',
        );
      });
      expect(await slotOwner(cbed.redis, slot)).toBe(to);
      // The relays' commands really met the half-moved slot (redirected or told to try again).
      expect(await turnedAway()).toBeGreaterThan(0);
    } finally {
      source.disconnect();
    }
    const moved = n;
    await waitFor(() => n > moved + 50, 'writes go on after the move');
    clearInterval(tick);
    await waitFor(() => reader.doc.getArray('messages').length === n, 'the reader holds every write');
    await waitFor(() => writer.allOwnEditsAcked(), 'every write acked');
    const stored = await storedDoc(cbed.redis.url, room);
    expect(stored.getArray('messages').length).toBe(n);
    // No commit failed on the way: the relays followed every redirection (REDIS-9's pipeline too).
    for (const r of cbed.relays) expect(r?.stderr()).not.toContain('"event":"append-failed"');
    // The room's keys live on the new master only.
    for (const [node, holds] of [
      [to, true],
      [from, false],
    ] as const) {
      const admin = await connectRedis(node.url, 'converge-test-admin', false);
      try {
        expect(Number(await admin.call('CLUSTER', 'COUNTKEYSINSLOT', slot)) > 0).toBe(holds);
      } finally {
        admin.disconnect();
      }
    }
  } finally {
    clearInterval(tick);
  }
};

describe('scale-out: three relays on a Redis Cluster (REDIS-1)', () => {
  const startOnCluster = (relays: number): Promise<ScaleOut<RedisCluster>> =>
    startScaleOut({ relays, redis: () => startRedisCluster() });

  it('REDIS-1: rooms on every shard; clients spread over three relays converge and every edit is acked', async () => {
    const cbed = await startOnCluster(3);
    bed = cbed;
    const urls = cbed.wsUrls();
    const rooms = Array.from({ length: 6 }, (_, i) => `shard-room-${i}`);
    const clients = rooms.flatMap((room) => urls.map((url) => h.client(url, room)));
    for (const c of clients) await synced(c);
    for (const [i, c] of clients.entries()) {
      for (let n = 0; n < 10; n++) c.doc.getArray<string>('messages').push([`c${i}-${n}`]);
    }
    await waitFor(
      () => clients.every((c) => c.doc.getArray('messages').length === 30),
      'every replica holds its room’s 30 messages',
    );
    for (let r = 0; r < rooms.length; r++) {
      const inRoom = clients.slice(r * 3, r * 3 + 3).map((c) => JSON.stringify(c.doc.getArray('messages').toJSON()));
      expect(new Set(inRoom).size).toBe(1);
    }
    await waitFor(() => clients.every((c) => c.allOwnEditsAcked()), 'every edit acked');
    // The rooms really are spread: every shard holds some room's log.
    for (const node of cbed.redis.nodes) {
      const admin = await connectRedis(node.url, 'converge-test-admin', false);
      try {
        expect(await admin.keys('converge:{r:shard-room-*}:log')).not.toHaveLength(0);
      } finally {
        admin.disconnect();
      }
    }
    for (const room of rooms) expect((await storedDoc(cbed.redis.url, room)).getArray('messages').length).toBe(30);
  });

  it('failover mid-traffic on a cluster: kill -9 of the writer’s relay loses nothing acked', async () => {
    bed = await startOnCluster(3);
    await failoverMidTraffic(bed, 'cluster-mid-traffic');
  });

  it.each([
    ['without WAIT', {}, {}],
    ['with WAIT (REDIS-9)', { replicas: 1 }, { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '20000' }],
  ] as const)(
    'REDIS-1: resharding mid-traffic (%s): the room’s slot moves to another master key by key; nothing acked lost, every write arrives',
    async (_, clusterOptions, env) => {
      const cbed = await startScaleOut({
        relays: 2,
        redis: () => startRedisCluster({ masters: 2, ...clusterOptions }),
        env,
      });
      bed = cbed;
      await reshardMidTraffic(cbed, 'resharded');
    },
  );

  it('REDIS-5: the whole cluster killed and restarted: clients closed with 4503 come back, nothing acked lost', async () => {
    const cbed = await startOnCluster(2);
    bed = cbed;
    const urls = cbed.wsUrls();
    const room = 'cluster-restart';
    const a = h.client(urls[0]!, room);
    const b = h.client(urls[1]!, room);
    await synced(a);
    await synced(b);
    for (let i = 0; i < 40; i++) (i % 2 ? a : b).doc.getArray<string>('messages').push([`m${i}`]);
    await waitFor(() => a.allOwnEditsAcked() && b.allOwnEditsAcked(), 'acked before the outage');
    await cbed.redis.kill();
    await waitFor(
      () => [a, b].every((c) => c.closes.some((e) => e?.code === CloseReason.StorageUnavailable.code)),
      'both closed with 4503',
    );
    a.doc.getArray<string>('messages').push(['offline']);
    await cbed.redis.restart();
    await waitFor(
      () => [a, b].every((c) => c.doc.getArray('messages').length === 41),
      'converged after the cluster came back',
    );
    await waitFor(() => a.allOwnEditsAcked(), 'acked after the cluster came back');
    expect((await storedDoc(cbed.redis.url, room)).getArray('messages').length).toBe(41);
  });
});
