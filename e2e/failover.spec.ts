/**
 * NET-3 in the browser: the built app served by two relays in scale-out mode on one real Redis,
 * both started with `RELAY_URLS` naming them. The page reads the list from `/config.json`; when
 * the relay it is connected to is SIGKILLed, it moves to the other one and keeps sending: a
 * message sent after the kill is saved there, and nothing acked before the kill is lost.
 */
import { freePort } from '../relay/testing/freePort.js';
import { startRedis } from '../relay/testing/redisServer.js';
import { startRelay, type RelayProcess } from '../relay/testing/relayProcess.js';
import { expect, test, type AppUser } from './appFixtures.js';

const connections = async (relay: RelayProcess): Promise<number> =>
  ((await (await fetch(relay.url + '/healthz')).json()) as { connections: number }).connections;

test('NET-3: the page fails over to the other relay when its relay is killed and its messages are saved there', async ({
  openUser,
  room,
}) => {
  const redis = await startRedis();
  const relays: RelayProcess[] = [];
  try {
    const ports = [await freePort(), await freePort()];
    const env = {
      REDIS_URL: redis.url,
      REDIS_HEARTBEAT_MS: '200',
      RELAY_URLS: ports.map((p) => `ws://127.0.0.1:${p}`).join(','),
    };
    for (const port of ports) relays.push(await startRelay({ port, env }));
    const served = await (await fetch(relays[0]!.url + '/config.json')).json();
    // Beside the list, the per-connection limits uploads are paced by (UP-2).
    expect(served).toMatchObject({ relays: ports.map((p) => `ws://127.0.0.1:${p}`) });

    const alice: AppUser = await openUser('Alice', { relay: relays[0]! });
    await alice.gotoRoom(room);
    await alice.send('before the kill');
    await expect(alice.message('before the kill')).toContainText(/Saved|Seen/);
    // Whichever relay the page picked from the list holds its connection: kill that one.
    await expect.poll(async () => (await connections(relays[0]!)) + (await connections(relays[1]!))).toBe(1);
    const victim = (await connections(relays[0]!)) === 1 ? 0 : 1;
    const survivor = relays[1 - victim]!;
    await relays[victim]!.kill();

    await alice.send('after the kill');
    await expect(alice.message('after the kill')).toContainText(/Saved|Seen/, { timeout: 25_000 });
    await expect(alice.connection()).toContainText('Online');
    expect(await connections(survivor)).toBe(1);

    // A newcomer served by the surviving relay gets both messages.
    const bob = await openUser('Bob', { relay: survivor });
    await bob.gotoRoom(room);
    for (const text of ['before the kill', 'after the kill']) await expect(bob.message(text)).toBeVisible();
  } finally {
    for (const r of relays) await r.kill();
    for (const r of relays) await r.cleanup();
    await redis.cleanup();
  }
});
