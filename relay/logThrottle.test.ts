import { describe, expect, it } from 'vitest';
import { LogThrottle } from './logThrottle.js';

describe('LogThrottle', () => {
  it('lets `limit` lines a window through per key, then says how many it left out', () => {
    let t = 0;
    const throttle = new LogThrottle(3, 1_000, () => t);
    const seen = Array.from({ length: 10 }, () => throttle.allow('too-many-upgrades-per-ip'));
    expect(seen.slice(0, 3)).toEqual([{ suppressed: 0 }, { suppressed: 0 }, { suppressed: 0 }]);
    expect(seen.slice(3).every((x) => x === null)).toBe(true);
    // Another key has its own window.
    expect(throttle.allow('bad-path')).toEqual({ suppressed: 0 });
    t += 999;
    expect(throttle.allow('too-many-upgrades-per-ip')).toBeNull();
    t += 1;
    expect(throttle.allow('too-many-upgrades-per-ip')).toEqual({ suppressed: 8 });
    expect(throttle.allow('too-many-upgrades-per-ip')).toEqual({ suppressed: 0 });
    t += 5_000;
    expect(throttle.allow('too-many-upgrades-per-ip')).toEqual({ suppressed: 0 });
  });
});
