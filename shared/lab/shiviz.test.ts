import { describe, expect, it } from 'vitest';
import { SHIVIZ_REGEX, toShiViz, VectorClocks, type LabEvent } from './shiviz.js';

describe('LAB-6 ShiViz export', () => {
  it('vector clocks: own entry +1 per event, a receive dominates its send', () => {
    const v = new VectorClocks();
    expect(v.send('A', 'm1')).toEqual({ A: 1 });
    expect(v.local('B')).toEqual({ B: 1 });
    expect(v.receive('B', 'm1')).toEqual({ A: 1, B: 2 });
    expect(v.send('B', 'm2')).toEqual({ A: 1, B: 3 });
    expect(v.receive('A', 'm2')).toEqual({ A: 2, B: 3 });
  });

  it('writes the regex line, an empty delimiter line, then two lines per event that the regex parses', () => {
    const events: LabEvent[] = [
      { t: 1, host: 'Alice #1', kind: 'send', text: 'hi\nthere', vc: { 'Alice #1': 1 } },
      { t: 2, host: 'Bob', kind: 'receive', text: 'hi', vc: { 'Alice #1': 1, Bob: 1 } },
    ];
    const out = toShiViz(events);
    const lines = out.split('\n');
    expect(lines[0]).toBe(SHIVIZ_REGEX);
    expect(lines[1]).toBe('');
    // ShiViz's named groups are JS named groups with the same syntax.
    const re = new RegExp(SHIVIZ_REGEX, 'g');
    const parsed = [...lines.slice(2).join('\n').matchAll(re)].map((m) => [
      m.groups!.event,
      m.groups!.host,
      JSON.parse(m.groups!.clock!) as unknown,
    ]);
    expect(parsed).toEqual([
      ['send hi there', 'Alice_#1', { 'Alice_#1': 1 }],
      ['receive hi', 'Bob', { 'Alice_#1': 1, Bob: 1 }],
    ]);
  });
});
