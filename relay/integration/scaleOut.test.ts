/**
 * Three relay processes on one real Redis: clients on different relays converge (REDIS-4),
 * kill -9 of a relay mid-traffic loses nothing acked and its clients carry on through another relay
 * (REDIS-2, failover), its presence disappears at the others (REDIS-6), and a Redis restart closes
 * clients with storage-unavailable and they recover (REDIS-5).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CloseReason } from '../../shared/protocol.js';
import { connectRedis } from '../redisConnection.js';
import { RedisRoomStore } from '../redisRoomStore.js';
import { startScaleOut, type ScaleOut } from '../testing/scaleOut.js';
import { Harness, synced, waitFor, type StockClient } from './clients.js';

const h = new Harness();
let bed: ScaleOut | undefined;
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
    a.doc.getText('text').insert(a.doc.getText('text').length, 'offline ');
    await bed.redis.restart();
    await waitFor(() => a.text() === b.text() && a.text() === 'before offline ', 'converged after Redis came back');
    await waitFor(() => a.allOwnEditsAcked(), 'acked after Redis came back');
  });
});
