/**
 * `GET /metrics` of real relay processes after real traffic (stock y-websocket clients): the
 * relay calls every metric docs/slo.md relies on — embedded (SQLite) and in scale-out mode on a
 * real Redis (backplane delivery, Redis round trips, store compaction REDIS-3). And the JSON log
 * lines, at the most verbose level, never contain what the users wrote.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startScaleOut, type ScaleOut } from '../testing/scaleOut.js';
import type { RelayProcess } from '../testing/relayProcess.js';
import { Harness, synced, waitFor } from './clients.js';

const h = new Harness();
let bed: ScaleOut | undefined;
afterEach(async (ctx) => {
  const failed = ctx.task.result?.state === 'fail';
  await h.cleanup(failed);
  await bed?.cleanup();
  bed = undefined;
});

const scrape = async (relay: RelayProcess): Promise<string> => {
  const res = await fetch(relay.url + '/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
};

/** The value of the sample `series` (name plus exact label set) in a text exposition; 0 when absent. */
const sample = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

const SECRET = 'zebra-quartz-secret';

describe('GET /metrics after real traffic', () => {
  it('embedded: connections, frames, commits, acks, catch-ups, closes; logs never hold contents', async () => {
    const relay = await h.relay({ env: { LOG_LEVEL: 'debug' } });
    const a = h.client(relay.wsUrl, 'metrics-room');
    const b = h.client(relay.wsUrl, 'metrics-room');
    await synced(a);
    await synced(b);
    for (let i = 0; i < 10; i++) a.doc.getArray<string>('messages').push([`${SECRET} ${i}`]);
    await waitFor(() => a.allOwnEditsAcked() && b.doc.getArray('messages').length === 10, 'delivered and acked');
    const text = await scrape(relay);
    expect(sample(text, 'converge_connections')).toBe(2);
    expect(sample(text, 'converge_rooms_loaded')).toBe(1);
    // What MAX_ROOMS and MAX_DB_BYTES cap: the rooms stored, the database's bytes on disk.
    expect(sample(text, 'converge_rooms_stored')).toBe(1);
    expect(sample(text, 'converge_store_bytes')).toBeGreaterThan(10 * SECRET.length);
    expect(sample(text, 'converge_connections_opened_total')).toBe(2);
    expect(sample(text, 'converge_frames_received_total{type="sync-update"}')).toBe(10);
    expect(sample(text, 'converge_frames_sent_total{type="sync-update"}')).toBeGreaterThanOrEqual(20);
    expect(sample(text, 'converge_frames_sent_total{type="ack"}')).toBeGreaterThan(0);
    expect(sample(text, 'converge_bytes_received_total{type="sync-update"}')).toBeGreaterThan(10 * SECRET.length);
    expect(sample(text, 'converge_ack_latency_seconds_count')).toBe(10);
    expect(sample(text, 'converge_commit_seconds_count{store="sqlite",outcome="ok"}')).toBeGreaterThan(0);
    expect(sample(text, 'converge_delivery_seconds_count{path="local"}')).toBe(10);
    expect(sample(text, 'converge_catchup_frames_count')).toBeGreaterThanOrEqual(2);
    // A relay-initiated close is counted by reason.
    const raw = h.raw(relay.wsUrl + '/metrics-room');
    await waitFor(() => raw.ws.readyState === raw.ws.OPEN, 'raw socket open');
    raw.ws.send('text is refused');
    await waitFor(async () => sample(await scrape(relay), 'converge_closes_total{reason="text-frame"}') === 1, {
      message: 'the text-frame close counted',
    });
    expect(relay.stderr()).toContain('"event":"close"');
    expect(relay.stderr()).not.toContain(SECRET);
  });

  it('scale-out: commits and round trips on Redis, backplane delivery, store compaction', async () => {
    bed = await startScaleOut({ relays: 2, env: { LOG_LEVEL: 'debug' } });
    const [r0, r1] = [bed.relays[0]!, bed.relays[1]!];
    const a = h.client(r0.wsUrl, 'metrics-scale');
    const b = h.client(r1.wsUrl, 'metrics-scale');
    await synced(a);
    await synced(b);
    // More than one store-compaction period (256 entries), in separate transactions.
    for (let i = 0; i < 300; i++) a.doc.getArray<string>('messages').push([`${SECRET} ${i}`]);
    await waitFor(() => a.allOwnEditsAcked() && b.doc.getArray('messages').length === 300, 'delivered and acked');
    // REDIS-3: one compactor per room at a time; whichever relay took the lease reports it.
    const compacted = async (): Promise<number> =>
      sample(await scrape(r0), 'converge_compactions_total{outcome="compacted"}') +
      sample(await scrape(r1), 'converge_compactions_total{outcome="compacted"}');
    await waitFor(async () => (await compacted()) >= 1, 'the room compacted in the shared store');
    const t0 = await scrape(r0);
    const t1 = await scrape(r1);
    expect(sample(t0, 'converge_backplane_up')).toBe(1);
    expect(sample(t0, 'converge_commit_seconds_count{store="redis",outcome="ok"}')).toBeGreaterThan(0);
    expect(sample(t0, 'converge_ack_latency_seconds_count')).toBe(300);
    expect(sample(t0, 'converge_redis_round_trip_seconds_count{op="publish",outcome="ok"}')).toBeGreaterThan(0);
    expect(sample(t1, 'converge_delivery_seconds_count{path="backplane"}')).toBeGreaterThan(0);
    expect(sample(t1, 'converge_frames_sent_total{type="sync-update"}')).toBeGreaterThanOrEqual(300);
    // The shared store's rooms, as every relay sees them; no database file of their own.
    for (const t of [t0, t1]) {
      expect(sample(t, 'converge_rooms_stored')).toBe(1);
      expect(t).not.toMatch(/^converge_store_bytes /m);
    }
    for (const r of [r0, r1]) expect(r.stderr()).not.toContain(SECRET);
  });
});
