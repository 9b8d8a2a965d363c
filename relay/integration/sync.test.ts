/**
 * Sync and awareness through the real relay process with stock y-websocket 3 providers:
 * FWD-1/FWD-3 (forwarding), SYNC-1 (offline edits reach the relay), AWR-2/AWR-4 (presence, no
 * ghosts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConnectionMode } from '../../shared/protocol.js';
import { Harness, stopAwarenessRenewal, synced, waitFor, type StockClient } from './clients.js';

const h = new Harness();
afterEach(async (ctx) => h.cleanup(ctx.task.result?.state === 'fail'));

describe('forwarding and sync', () => {
  it('FWD-1: an edit typed in one stock client appears in the other, in both directions', async () => {
    const relay = await h.relay();
    const a = h.client(relay.wsUrl, 'fwd-1');
    const b = h.client(relay.wsUrl, 'fwd-1');
    const other = h.client(relay.wsUrl, 'fwd-1-other-room');
    await Promise.all([synced(a), synced(b), synced(other)]);

    a.doc.getText('text').insert(0, 'hello from a');
    await waitFor(() => b.text() === 'hello from a');

    b.doc.getText('text').insert(b.text().length, ', hi from b');
    await waitFor(() => a.text() === 'hello from a, hi from b');

    // Deletions and other shared types travel too.
    a.doc.transact(() => {
      a.doc.getText('text').delete(0, 6);
      a.doc.getMap('meta').set('title', 'notes');
    });
    await waitFor(() => b.text() === 'from a, hi from b' && b.doc.getMap('meta').get('title') === 'notes');
    expect(a.doc.getMap('meta').toJSON()).toEqual({ title: 'notes' });

    // FWD-3: nothing reached the connection of another room.
    expect(other.text()).toBe('');
    expect(other.doc.store.clients.size).toBe(0);
  });

  it('SYNC-1: edits made while disconnected reach the other client after reconnect', async () => {
    const relay = await h.relay();
    const a = h.client(relay.wsUrl, 'sync-1');
    const b = h.client(relay.wsUrl, 'sync-1');
    await Promise.all([synced(a), synced(b)]);
    a.doc.getText('text').insert(0, 'shared ');
    await waitFor(() => b.text() === 'shared ');

    a.provider.disconnect();
    expect(a.provider.wsconnected).toBe(false);
    a.doc.getText('text').insert(a.text().length, 'offline-a ');
    a.doc.getArray('list').push(['made offline']);
    b.doc.getText('text').insert(0, 'online-b ');
    await waitFor(() => a.provider.ws === null);
    expect(b.text()).toBe('online-b shared ');

    a.provider.connect();
    await synced(a);
    // The relay's SyncStep1 made a upload what it lacked; b's edit came down in the SyncStep2.
    await waitFor(() => b.text() === a.text() && b.doc.getArray('list').length === 1, { message: 'converged' });
    expect(a.text()).toContain('offline-a');
    expect(a.text()).toContain('online-b');

    // ...and the relay kept it: a brand-new client gets all of it.
    const fresh = h.client(relay.wsUrl, 'sync-1');
    await synced(fresh);
    expect(fresh.text()).toBe(a.text());
    expect(fresh.doc.getArray('list').toArray()).toEqual(['made offline']);
  });
});

describe('awareness', () => {
  const userOf = (c: StockClient, clientID: number): unknown =>
    (c.provider.awareness.getStates().get(clientID) as { user?: unknown } | undefined)?.user;

  it('AWR-2: two stock clients see each other’s awareness state, and a newcomer sees both', async () => {
    const relay = await h.relay();
    const a = h.client(relay.wsUrl, 'awr-2');
    const b = h.client(relay.wsUrl, 'awr-2');
    a.provider.awareness.setLocalStateField('user', { name: 'alice' });
    b.provider.awareness.setLocalStateField('user', { name: 'bob' });
    await waitFor(
      () =>
        JSON.stringify(userOf(a, b.doc.clientID)) === '{"name":"bob"}' &&
        JSON.stringify(userOf(b, a.doc.clientID)) === '{"name":"alice"}',
      { message: 'a and b see each other' },
    );
    a.provider.awareness.setLocalStateField('user', { name: 'alice', cursor: 3 });
    await waitFor(() => JSON.stringify(userOf(b, a.doc.clientID)) === '{"name":"alice","cursor":3}');

    const c = h.client(relay.wsUrl, 'awr-2');
    await waitFor(() => userOf(c, a.doc.clientID) !== undefined && userOf(c, b.doc.clientID) !== undefined, {
      message: 'newcomer sees both',
    });
  });

  it('AWR-4: when a provider is destroyed the other client sees its state removed (no ghost)', async () => {
    const relay = await h.relay();
    const a = h.client(relay.wsUrl, 'awr-4-destroy');
    const b = h.client(relay.wsUrl, 'awr-4-destroy');
    a.provider.awareness.setLocalStateField('user', { name: 'alice' });
    await waitFor(() => userOf(b, a.doc.clientID) !== undefined);

    a.destroy();
    // Far below the 30 s after which y-protocols would drop an unrenewed remote state by itself.
    await waitFor(() => !b.provider.awareness.getStates().has(a.doc.clientID), { timeout: 3_000 });
  });

  it('AWR-4: a socket that drops without a goodbye has its states removed by the relay (no ghost)', async () => {
    const relay = await h.relay();
    const a = h.client(relay.wsUrl, 'awr-4-drop');
    const b = h.client(relay.wsUrl, 'awr-4-drop');
    a.provider.awareness.setLocalStateField('user', { name: 'alice' });
    b.provider.awareness.setLocalStateField('user', { name: 'bob' });
    await waitFor(() => userOf(b, a.doc.clientID) !== undefined && userOf(a, b.doc.clientID) !== undefined);
    const removed: number[] = [];
    b.provider.awareness.on('change', ({ removed: r }: { removed: number[] }) => removed.push(...r));

    // Kill a's TCP connection without the null state the provider sends on disconnect(), and
    // keep the provider from reconnecting: only the relay can tell b that a is gone.
    a.provider.shouldConnect = false;
    (a.provider.ws as unknown as WebSocket).terminate();
    await waitFor(() => !b.provider.awareness.getStates().has(a.doc.clientID), { timeout: 3_000 });
    expect(removed).toEqual([a.doc.clientID]);

    // A newcomer gets b's state but no ghost of a.
    const c = h.client(relay.wsUrl, 'awr-4-drop');
    await waitFor(() => userOf(c, b.doc.clientID) !== undefined);
    expect(c.provider.awareness.getStates().has(a.doc.clientID)).toBe(false);
  });
});

describe('reconnecting presence', () => {
  it('AWR-8: a stock client that reconnects is visible again without waiting for its awareness to renew', async () => {
    const relay = await h.relay();
    const a = h.client(relay.wsUrl, 'awr-8');
    const b = h.client(relay.wsUrl, 'awr-8');
    await Promise.all([synced(a), synced(b)]);
    stopAwarenessRenewal(b);
    b.provider.awareness.setLocalStateField('user', { name: 'bob' });
    const seen = (): boolean => a.provider.awareness.getStates().has(b.doc.clientID);
    await waitFor(seen, 'bob visible');
    b.provider.disconnect(); // a network blip: the relay removes bob's state (AWR-4, clock + 1)
    await waitFor(() => !seen(), 'bob removed');
    b.provider.connect(); // re-announces the state at the clock it had, which the removal supersedes
    await synced(b);
    await waitFor(seen, 'bob visible again');
    expect(a.provider.awareness.getStates().get(b.doc.clientID)).toEqual({ user: { name: 'bob' } });
  });
});

describe('awareness-only connections', () => {
  it('WATCH-1: a stock client opened with ?mode=awareness sees presence and gets none of the room', async () => {
    const relay = await h.relay();
    const writer = h.client(relay.wsUrl, 'watch-1');
    await synced(writer);
    writer.doc.getText('text').insert(0, 'x'.repeat(5000));
    await waitFor(() => writer.allOwnEditsAcked(), 'the room holds data');
    writer.provider.awareness.setLocalStateField('user', { name: 'ann' });

    const watcher = h.client(relay.wsUrl, 'watch-1', {
      params: { [ConnectionMode.param]: ConnectionMode.awarenessOnly },
    });
    await synced(watcher); // an empty SyncStep2 answers its SyncStep1
    await waitFor(() => watcher.provider.awareness.getStates().has(writer.doc.clientID), 'ann visible');
    writer.doc.getText('text').insert(0, 'more ');
    await waitFor(() => writer.allOwnEditsAcked(), 'the edit is stored');
    const probe = h.client(relay.wsUrl, 'watch-1');
    await waitFor(() => probe.text().startsWith('more '), 'a normal client receives the edit');
    expect(watcher.text()).toBe('');
    expect(watcher.acked.size).toBe(0);
  });
});
