/**
 * The /metrics text: every metric docs/slo.md relies on is there, with its labels and the values
 * recorded, and relays in one process keep separate numbers.
 */
import { describe, expect, it } from 'vitest';
import { encodeAck, encodeAwareness, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate } from '../shared/protocol.js';
import { FrameKind, RelayMetrics, frameKind } from './metrics.js';

/** The value of the sample `name{labels}` in a text exposition, or undefined. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('frameKind', () => {
  it('names every frame type of the protocol', () => {
    expect(frameKind(encodeSyncStep1(Uint8Array.of(0)))).toBe(FrameKind.SyncStep1);
    expect(frameKind(encodeSyncStep2(Uint8Array.of(0, 0)))).toBe(FrameKind.SyncStep2);
    expect(frameKind(encodeSyncUpdate(Uint8Array.of(0, 0)))).toBe(FrameKind.SyncUpdate);
    expect(frameKind(encodeAwareness(Uint8Array.of(0)))).toBe(FrameKind.Awareness);
    expect(frameKind(Uint8Array.of(3))).toBe(FrameKind.QueryAwareness);
    expect(frameKind(encodeAck(new Map([[1, 2]])))).toBe(FrameKind.Ack);
    expect(frameKind(Uint8Array.of(0, 9))).toBe(FrameKind.Other);
    expect(frameKind(Uint8Array.of(77))).toBe(FrameKind.Other);
    expect(frameKind(new Uint8Array(0))).toBe(FrameKind.Other);
  });
});

describe('RelayMetrics', () => {
  it('renders every metric with its labels and the recorded values', async () => {
    const m = new RelayMetrics({ stats: () => ({ roomsLoaded: 3, connections: 7 }), trackedAddresses: () => 4 });
    const update = encodeSyncUpdate(new Uint8Array(100));
    m.frameIn(update);
    m.frameIn(update);
    m.frameIn(encodeSyncStep1(Uint8Array.of(0)));
    m.frameOut(update);
    m.frameOut(encodeAck(new Map([[1, 2]])));
    m.ack(0.003);
    m.ack(0.2);
    m.commit('redis', 'ok', 0.0007);
    m.commit('redis', 'failed', 1.5);
    m.delivery('local', 0.0001);
    m.delivery('backplane', 0.004);
    m.catchUp(3 * 1024 * 1024, 4);
    m.closed('storage-unavailable');
    m.closed('storage-unavailable');
    m.closed('invalid-update');
    m.refused('too-many-connections');
    m.connectionOpened();
    m.connectionOpened();
    m.compaction('compacted');
    m.compaction('busy');
    m.redis('publish', 0.0009, true);
    m.redis('publish', 0.1, false);
    m.backplane(false);
    m.storeWorkerRestart('failed');
    m.storeWorkerRestart('failed');
    m.storeWorkerRestart('ok');
    m.storeWorkerUp(true);
    const text = await m.render();

    expect(sample(text, 'converge_connections')).toBe(7);
    expect(sample(text, 'converge_rooms_loaded')).toBe(3);
    expect(sample(text, 'converge_tracked_addresses')).toBe(4);
    expect(sample(text, 'converge_frames_received_total{type="sync-update"}')).toBe(2);
    expect(sample(text, 'converge_frames_received_total{type="sync-step1"}')).toBe(1);
    expect(sample(text, 'converge_bytes_received_total{type="sync-update"}')).toBe(2 * update.length);
    expect(sample(text, 'converge_frames_sent_total{type="ack"}')).toBe(1);
    expect(sample(text, 'converge_bytes_sent_total{type="sync-update"}')).toBe(update.length);
    expect(sample(text, 'converge_ack_latency_seconds_count')).toBe(2);
    expect(sample(text, 'converge_ack_latency_seconds_sum')).toBeCloseTo(0.203);
    expect(sample(text, 'converge_ack_latency_seconds_bucket{le="0.005"}')).toBe(1);
    expect(sample(text, 'converge_ack_latency_seconds_bucket{le="+Inf"}')).toBe(2);
    expect(sample(text, 'converge_commit_seconds_count{store="redis",outcome="ok"}')).toBe(1);
    expect(sample(text, 'converge_commit_seconds_count{store="redis",outcome="failed"}')).toBe(1);
    expect(sample(text, 'converge_delivery_seconds_count{path="backplane"}')).toBe(1);
    expect(sample(text, 'converge_delivery_seconds_bucket{le="0.005",path="backplane"}')).toBe(1);
    expect(sample(text, 'converge_catchup_bytes_bucket{le="4194304"}')).toBe(1);
    expect(sample(text, 'converge_catchup_bytes_bucket{le="1048576"}')).toBe(0);
    expect(sample(text, 'converge_catchup_frames_sum')).toBe(4);
    expect(sample(text, 'converge_closes_total{reason="storage-unavailable"}')).toBe(2);
    expect(sample(text, 'converge_closes_total{reason="invalid-update"}')).toBe(1);
    expect(sample(text, 'converge_upgrades_refused_total{reason="too-many-connections"}')).toBe(1);
    expect(sample(text, 'converge_connections_opened_total')).toBe(2);
    expect(sample(text, 'converge_compactions_total{outcome="compacted"}')).toBe(1);
    expect(sample(text, 'converge_compactions_total{outcome="busy"}')).toBe(1);
    expect(sample(text, 'converge_redis_round_trip_seconds_count{op="publish",outcome="ok"}')).toBe(1);
    expect(sample(text, 'converge_redis_round_trip_seconds_count{op="publish",outcome="failed"}')).toBe(1);
    expect(sample(text, 'converge_backplane_up')).toBe(0);
    expect(sample(text, 'converge_store_worker_restarts_total{outcome="failed"}')).toBe(2);
    expect(sample(text, 'converge_store_worker_restarts_total{outcome="ok"}')).toBe(1);
    expect(sample(text, 'converge_store_worker_up')).toBe(1);
    // Node's process metrics come along (CPU for the benchmark, event-loop lag for latency).
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('counts frames cumulatively across renders (tallied between them)', async () => {
    const m = new RelayMetrics({ defaultMetrics: false });
    const update = encodeSyncUpdate(new Uint8Array(10));
    m.frameOut(update);
    expect(sample(await m.render(), 'converge_frames_sent_total{type="sync-update"}')).toBe(1);
    expect(sample(await m.render(), 'converge_frames_sent_total{type="sync-update"}')).toBe(1);
    m.frameOut(update);
    m.frameOut(update);
    m.frameIn(update);
    const text = await m.render();
    expect(sample(text, 'converge_frames_sent_total{type="sync-update"}')).toBe(3);
    expect(sample(text, 'converge_bytes_sent_total{type="sync-update"}')).toBe(3 * update.length);
    expect(sample(text, 'converge_frames_received_total{type="sync-update"}')).toBe(1);
  });

  it('keeps relays in one process apart', async () => {
    const a = new RelayMetrics({ defaultMetrics: false });
    const b = new RelayMetrics({ defaultMetrics: false });
    a.closed('slow-consumer');
    expect(sample(await a.render(), 'converge_closes_total{reason="slow-consumer"}')).toBe(1);
    expect(sample(await b.render(), 'converge_closes_total{reason="slow-consumer"}')).toBeUndefined();
    expect(await b.render()).not.toMatch(/^process_/m);
  });
});
