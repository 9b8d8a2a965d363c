/**
 * The scale-out test bed itself: three relay processes and one Redis start, a relay killed with
 * SIGKILL comes back on its port, Redis restarts under them. (What the relays do with Redis is
 * tested once relay/main.ts honours REDIS_URL; until then they run embedded.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startScaleOut, type ScaleOut } from './scaleOut.js';

const healthy = async (url: string): Promise<boolean> => {
  try {
    const res = await fetch(`${url}/healthz`);
    return res.ok && ((await res.json()) as { ok: boolean }).ok;
  } catch {
    return false;
  }
};

describe('startScaleOut', () => {
  let bed: ScaleOut | undefined;

  afterEach(async () => {
    await bed?.cleanup();
    bed = undefined;
  });

  it('starts three relays on one Redis; kill -9 and restart a relay on its port; restart Redis', async () => {
    bed = await startScaleOut();
    expect(bed.relays).toHaveLength(3);
    const urls = bed.relays.map((r) => r!.url);
    expect(new Set(urls).size).toBe(3);
    for (const url of urls) expect(await healthy(url)).toBe(true);
    expect(bed.wsUrls()).toEqual(bed.relays.map((r) => `ws://127.0.0.1:${r!.port}/sync`));

    await bed.killRelay(1);
    expect(bed.relays[1]).toBeNull();
    expect(await healthy(urls[1]!)).toBe(false);
    const again = await bed.restartRelay(1);
    expect(again.url).toBe(urls[1]);
    expect(await healthy(urls[1]!)).toBe(true);

    await bed.redis.kill();
    await bed.redis.restart();
    expect(bed.redis.running()).toBe(true);
    for (const r of bed.relays) expect(r!.child.exitCode).toBeNull();
  });
});
