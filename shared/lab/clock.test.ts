import { describe, expect, it } from 'vitest';
import { SkewableClock } from './clock.js';

describe('LAB-3 skewable clock', () => {
  it('adds the skew to the base clock', () => {
    let t = 1000;
    const c = new SkewableClock(() => t);
    expect(c.now()).toBe(1000);
    c.skewMs = -300;
    t = 2000;
    expect(c.now()).toBe(1700);
    expect(c.base()).toBe(2000);
  });
});
