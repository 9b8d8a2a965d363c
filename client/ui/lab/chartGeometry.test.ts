import { describe, expect, it } from 'vitest';
import { chartGeometry } from './chartGeometry.js';

describe('class view chart geometry', () => {
  it('merges equal neighbouring samples into one band and ends at now', () => {
    const g = chartGeometry(
      [
        { t: 0, converged: true, distinct: 1 },
        { t: 50, converged: true, distinct: 1 },
        { t: 100, converged: false, distinct: 2 },
        { t: 150, converged: null, distinct: 2 },
      ],
      200,
      200,
      400,
      100,
    );
    expect(g.bands).toEqual([
      { x: 0, w: 200, kind: 'converged' },
      { x: 200, w: 100, kind: 'diverged' },
      { x: 300, w: 100, kind: 'unknown' },
    ]);
    expect(g.yMax).toBe(2);
    expect(g.line.split(' ')[0]).toBe('0.0,50.0');
    expect(g.line.split(' ').at(-1)).toBe('400.0,0.0');
  });

  it('clips samples older than the window to its left edge', () => {
    const g = chartGeometry(
      [
        { t: 0, converged: false, distinct: 3 },
        { t: 900, converged: true, distinct: 1 },
      ],
      1000,
      200,
      100,
      10,
    );
    expect(g.bands).toEqual([
      { x: 0, w: 50, kind: 'diverged' },
      { x: 50, w: 50, kind: 'converged' },
    ]);
  });

  it('draws nothing without samples', () => {
    expect(chartGeometry([], 10, 10, 10, 10)).toEqual({ bands: [], line: '', yMax: 2 });
  });
});
