/**
 * Real Chromium against the real relay process (one relay per test, see fixtures.ts).
 * Rule ids refer to docs/SPEC.md.
 */
import { expect, openOnRelayOrigin, test } from './fixtures.js';

/** A room name unique to the running test (rooms never leak between tests anyway: one relay each). */
const roomFor = (title: string): string => title.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 60) + '-' + Date.now();

test.describe('HTTP', () => {
  test('GET / answers 200 with a page, and /healthz answers ok:true to the page fetch', async ({ page, relay }) => {
    const response = await page.goto(relay.url + '/');
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);

    const health = await page.evaluate(async () => {
      const r = await fetch('/healthz');
      return { status: r.status, type: r.headers.get('content-type'), body: await r.json() };
    });
    expect(health.status).toBe(200);
    expect(health.type).toMatch(/^application\/json/);
    expect(health.body).toMatchObject({ ok: true, protocol: expect.any(Number) });
  });
});

test.describe('SYNC-1: the relay speaks first', () => {
  test('SYNC-1: a browser WebSocket receives the relay SyncStep1 as its first message without sending anything', async ({
    page,
    relay,
  }) => {
    await openOnRelayOrigin(page, relay);
    const first = await page.evaluate(
      (url) =>
        new Promise<{ isArrayBuffer: boolean; bytes: number[] }>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.binaryType = 'arraybuffer';
          ws.onmessage = (e) => {
            const data: unknown = e.data;
            const isArrayBuffer = data instanceof ArrayBuffer;
            resolve({ isArrayBuffer, bytes: isArrayBuffer ? Array.from(new Uint8Array(data)) : [] });
            ws.close();
          };
          ws.onclose = (e) => reject(new Error(`closed before any message: ${e.code} ${e.reason}`));
        }),
      `${relay.wsUrl}/${roomFor('sync-1')}`,
    );
    expect(first.isArrayBuffer).toBe(true);
    // Outer type 0 = sync, inner type 0 = SyncStep1.
    expect(first.bytes.slice(0, 2)).toEqual([0, 0]);
  });
});

test.describe('stock y-websocket provider in Chromium', () => {
  test('SYNC-1, FWD-1: two stock WebsocketProviders in separate browsers converge both ways through the relay', async ({
    openStockClient,
  }) => {
    const room = roomFor('converge');
    const a = await openStockClient(room);
    const b = await openStockClient(room);
    await Promise.all([a.waitSynced(), b.waitSynced()]);

    await a.append('hello from A');
    await expect.poll(() => b.text()).toBe('hello from A');

    await b.append(', hello from B');
    await expect.poll(() => a.text()).toBe('hello from A, hello from B');
    expect(await b.text()).toBe('hello from A, hello from B');

    // SYNC-2: a late joiner gets everything from the relay alone (the others' tabs are in
    // other browser contexts, so nothing reaches it over BroadcastChannel).
    const c = await openStockClient(room);
    await c.waitSynced();
    expect(await c.text()).toBe('hello from A, hello from B');
  });

  test('SYNC-1: a stock client that edited offline (provider.disconnect) uploads on provider.connect and both converge', async ({
    openStockClient,
  }) => {
    const room = roomFor('offline');
    const a = await openStockClient(room);
    const b = await openStockClient(room);
    await Promise.all([a.waitSynced(), b.waitSynced()]);
    await a.append('base');
    await expect.poll(() => b.text()).toBe('base');

    await a.disconnect();
    expect(await a.status()).toEqual({ connected: false, synced: false });
    await a.append(' offline-A');
    await b.append(' online-B');
    expect(await a.text()).toBe('base offline-A');
    await expect.poll(() => b.text()).toBe('base online-B');

    await a.connect();
    await a.waitSynced();
    await expect.poll(() => b.text()).toContain(' offline-A');
    await expect.poll(() => a.text()).toContain(' online-B');
    const converged = await a.text();
    expect(converged).toMatch(/^base( offline-A online-B| online-B offline-A)$/);
    expect(await b.text()).toBe(converged);

    // What A made offline is on the relay now, not only in B's tab.
    const c = await openStockClient(room);
    await c.waitSynced();
    expect(await c.text()).toBe(converged);
  });
});

test.describe('CLOSE-3: refusals before the websocket exists', () => {
  test('CLOSE-3: a bad room name is refused at upgrade: the browser WebSocket errors and closes without opening', async ({
    page,
    relay,
  }) => {
    await openOnRelayOrigin(page, relay);
    const badNames = ['.starts-with-dot', 'x'.repeat(129), 'has space', 'semi;colon'];
    const outcomes = await page.evaluate(
      ({ base, names }) =>
        Promise.all(
          names.map(
            (name) =>
              new Promise<{ name: string; events: string[] }>((resolve) => {
                const events: string[] = [];
                const ws = new WebSocket(`${base}/${encodeURIComponent(name)}`);
                ws.onopen = () => events.push('open');
                ws.onerror = () => events.push('error');
                ws.onclose = (e) => {
                  events.push(`close:${e.code}`);
                  resolve({ name, events });
                };
              }),
          ),
        ),
      { base: relay.wsUrl, names: badNames },
    );
    for (const { name, events } of outcomes) {
      expect(events, `room name ${JSON.stringify(name)}`).toEqual(['error', 'close:1006']);
    }

    // The relay refused each with 400 bad-room-name and created no room.
    await expect
      .poll(() =>
        relay
          .stderr()
          .split('\n')
          .filter((l) => l.includes('"upgrade-refused"'))
          .map((l) => JSON.parse(l) as { status: number; reason: string }),
      )
      .toEqual(badNames.map(() => ({ status: 400, reason: 'bad-room-name' })).map((e) => expect.objectContaining(e)));
    const health = await page.evaluate(async () => (await (await fetch('/healthz')).json()) as unknown);
    expect(health).toMatchObject({ roomsLoaded: 0, connections: 0 });

    // A good name on the same relay opens (the refusal was about the name).
    const opened = await page.evaluate(
      (url) =>
        new Promise<boolean>((resolve) => {
          const ws = new WebSocket(url);
          ws.onopen = () => {
            resolve(true);
            ws.close();
          };
          ws.onclose = () => resolve(false);
        }),
      `${relay.wsUrl}/good-name_1.~`,
    );
    expect(opened).toBe(true);
  });
});
