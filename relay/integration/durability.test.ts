/**
 * Durability across relay crashes and restarts, with the real relay process and its SQLite
 * store: ACK-1/ACK-2/STORE-1 (an acked edit survives SIGKILL), SYNC-1/SYNC-3 (clients that
 * kept editing while the relay was down converge after it comes back on the same port) and
 * CLOSE-4 (SIGTERM commits and acks what is pending, closes with 1001 and exits 0), and ACK-4
 * with a real full database (`MAX_DB_BYTES`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CloseReason } from '../../shared/protocol.js';
import { Harness, healthz, isAlive, synced, waitFor } from './clients.js';

const h = new Harness();
afterEach(async (ctx) => h.cleanup(ctx.task.result?.state === 'fail'));

describe('durability', () => {
  it('ACK-1 / STORE-1: every acked edit survives a SIGKILL right after the ack; ACK-2 re-acks it', async () => {
    const relay = await h.relay();
    const room = 'ack-1';
    const a = h.client(relay.wsUrl, room);
    await synced(a);

    // N separate transactions, so N separate Update frames (and several group commits).
    const N = 300;
    const text = a.doc.getText('text');
    const items = a.doc.getArray<string>('items');
    for (let i = 0; i < N; i++) {
      if (i % 3 === 0) text.insert(text.length, `line ${i}\n`);
      else if (i % 3 === 1) items.push([`item ${i}`]);
      else a.doc.getMap('meta').set(`k${i % 7}`, i);
    }
    const clock = Y.getState(a.doc.store, a.doc.clientID);
    await waitFor(() => (a.acked.get(a.doc.clientID) ?? 0) >= clock, { interval: 2, message: 'all edits acked' });
    await relay.kill(); // no flush, no goodbye
    // ACK-3: the pairs never exceed what was sent and never decrease.
    expect(a.acked.get(a.doc.clientID)).toBe(clock);
    let last = 0;
    for (const frame of a.ackFrames) {
      const c = frame.get(a.doc.clientID) ?? last;
      expect(c).toBeGreaterThanOrEqual(last);
      last = c;
    }

    const restarted = await h.relay({ dataDir: relay.dataDir });
    const fresh = h.client(restarted.wsUrl, room);
    await synced(fresh);
    expect(fresh.text()).toBe(a.text());
    expect(fresh.doc.getArray('items').toArray()).toEqual(items.toArray());
    expect(fresh.doc.getMap('meta').toJSON()).toEqual(a.doc.getMap('meta').toJSON());
    expect(Y.getState(fresh.doc.store, a.doc.clientID)).toBe(clock);

    // ACK-2: a replica holding a's edits learns on its handshake that they are durable.
    const replica = new Y.Doc();
    Y.applyUpdate(replica, Y.encodeStateAsUpdate(a.doc));
    const again = h.client(restarted.wsUrl, room, { doc: replica });
    await synced(again);
    await waitFor(() => again.acked.get(a.doc.clientID) === clock, { timeout: 3_000, message: 'ACK-2 ack' });
  });

  it('SYNC-1 / SYNC-3: clients keep editing while the relay is down and converge when it restarts on the same port', async () => {
    const relay = await h.relay();
    const room = 'restart';
    const a = h.client(relay.wsUrl, room);
    const b = h.client(relay.wsUrl, room);
    await Promise.all([synced(a), synced(b)]);
    a.doc.getText('text').insert(0, 'before-crash ');
    await waitFor(() => b.text() === 'before-crash ');

    await relay.kill();
    await waitFor(() => !a.provider.wsconnected && !b.provider.wsconnected, { message: 'both saw the relay go' });
    a.doc.getText('text').insert(a.text().length, 'a-while-down ');
    b.doc.getText('text').insert(0, 'b-while-down ');
    b.doc.getArray('list').push(['b item']);
    // Let the stock clients fail a reconnect attempt or two against the dead port.
    await waitFor(() => a.provider.wsUnsuccessfulReconnects >= 2 && b.provider.wsUnsuccessfulReconnects >= 2);

    // Same data dir and same port: the stock providers reconnect to the URL they know.
    const restarted = await h.relay({ dataDir: relay.dataDir, port: relay.port });
    await Promise.all([synced(a, 15_000), synced(b, 15_000)]);
    await waitFor(() => a.text() === b.text() && a.doc.getArray('list').length === 1, { message: 'converged' });
    for (const part of ['before-crash', 'a-while-down', 'b-while-down']) expect(a.text()).toContain(part);

    // The relay stored what both uploaded: a fresh client gets everything.
    const fresh = h.client(restarted.wsUrl, room);
    await synced(fresh);
    expect(fresh.text()).toBe(a.text());
    expect(fresh.doc.getArray('list').toArray()).toEqual(['b item']);
  });

  it('CLOSE-4: SIGTERM commits and acks the pending update, closes sockets with 1001 and exits 0', async () => {
    // A long group-commit window keeps the update pending until the shutdown flush.
    const relay = await h.relay({ env: { COMMIT_DELAY_MS: '60000' } });
    const room = 'close-4';
    const a = h.client(relay.wsUrl, room);
    const b = h.client(relay.wsUrl, room);
    await Promise.all([synced(a), synced(b)]);
    a.doc.getText('text').insert(0, 'sent just before SIGTERM');
    await waitFor(() => b.text() === 'sent just before SIGTERM', { message: 'relay forwarded it (FWD-1)' });
    // ACK-1: forwarded, but not committed yet, so not acked.
    expect(a.acked.has(a.doc.clientID)).toBe(false);

    expect(await relay.stop()).toBe(0);
    expect(isAlive(relay)).toBe(false);
    await waitFor(() => a.closes.length > 0 && b.closes.length > 0, { message: 'both saw the close' });
    expect(a.closes[0]).toEqual({ code: CloseReason.GoingAway.code, reason: CloseReason.GoingAway.reason });
    expect(b.closes[0]).toEqual({ code: CloseReason.GoingAway.code, reason: CloseReason.GoingAway.reason });
    // The ack came before the close frame.
    expect(a.allOwnEditsAcked()).toBe(true);
    a.destroy();
    b.destroy();

    const restarted = await h.relay({ dataDir: relay.dataDir });
    const fresh = h.client(restarted.wsUrl, room);
    await synced(fresh);
    expect(fresh.text()).toBe('sent just before SIGTERM');
  });

  it('ACK-4 / MAX_DB_BYTES: a full database closes with storage-unavailable and acks nothing more; nothing acked is lost and the rest goes up once there is room', async () => {
    const relay = await h.relay({ env: { MAX_DB_BYTES: String(256 * 1024) } });
    const room = 'full';
    const a = h.client(relay.wsUrl, room);
    await synced(a);
    const text = a.doc.getText('text');
    // 16 KiB at a time, each waited for, until the relay runs out of room.
    let ackedText = '';
    for (let i = 0; a.closes.length === 0; i++) {
      expect(i, 'the database never filled up').toBeLessThan(64);
      text.insert(text.length, `[${i}]`.padEnd(16 * 1024, '.'));
      await waitFor(() => a.allOwnEditsAcked() || a.closes.length > 0, { message: `edit ${i} acked or refused` });
      if (a.closes.length === 0) ackedText = text.toJSON();
    }
    expect(ackedText.length).toBeGreaterThan(0);
    expect(a.closes[0]).toEqual({
      code: CloseReason.StorageUnavailable.code,
      reason: CloseReason.StorageUnavailable.reason,
    });
    expect(a.allOwnEditsAcked()).toBe(false);
    // Surfaced, not swallowed: the operator's log says why; the process keeps serving.
    expect(relay.stderr()).toMatch(/"event":"append-failed".*full/);
    // HEALTH-1: the process keeps serving, and /healthz tells a monitor that it cannot store.
    expect(await healthz(relay)).toMatchObject({ status: 503, body: { ok: false, storage: 'failing' } });
    a.provider.disconnect(); // it would keep re-uploading into the full database

    // Space freed (here: the limit lifted): what was acked is there, and the rest uploads.
    await relay.kill();
    const roomy = await h.relay({ dataDir: relay.dataDir });
    const fresh = h.client(roomy.wsUrl, room);
    await synced(fresh);
    expect(fresh.text().startsWith(ackedText)).toBe(true);
    const again = h.client(roomy.wsUrl, room, { doc: a.doc });
    await synced(again);
    await waitFor(() => again.allOwnEditsAcked() && fresh.text() === text.toJSON(), {
      message: 'the refused edits uploaded, acked and forwarded',
    });
    expect(await healthz(roomy)).toMatchObject({ status: 200, body: { ok: true, storage: 'ok' } });
  });
});
