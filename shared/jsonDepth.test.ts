import { describe, expect, it } from 'vitest';
import { isBoundedJson, jsonNestingDepth } from './jsonDepth.js';

describe('jsonNestingDepth', () => {
  const deep = '['.repeat(20000) + ']'.repeat(20000);
  it.each<[string, number]>([
    ['1', 0],
    ['"text"', 0],
    ['null', 0],
    ['[]', 1],
    ['{}', 1],
    ['[1, [2, [3]]]', 3],
    ['{"a": {"b": [1, {"c": null}]}}', 4],
    ['[[], [], [[]]]', 3],
    ['"[[[[{{{{"', 0],
    ['["]]]]", ["x"]]', 2],
    ['"\\"[[["', 0],
    ['["\\\\", [1]]', 2],
    ['{"k\\"]": [[]]}', 3],
    ['[[[[[', 5],
    [']]]]', 0],
    ['', 0],
  ])('%s → %i', (text, depth) => {
    expect(jsonNestingDepth(text)).toBe(depth);
  });

  it('scans 20000 levels without recursion', () => {
    expect(jsonNestingDepth(deep)).toBe(20000);
  });
});

describe('isBoundedJson', () => {
  it.each<[string, number, boolean]>([
    ['{"a":[1,2]}', 2, true],
    ['{"a":[1,2]}', 1, false],
    ['[]', 0, false],
    ['1', 0, true],
    ['{', 5, false],
    ['[1,]', 5, false],
    ['undefined', 5, false],
    ['', 5, false],
    ['"unterminated', 5, false],
    [' {"x": "]]]]"} ', 1, true],
    ['['.repeat(33) + ']'.repeat(33), 32, false],
    ['['.repeat(32) + ']'.repeat(32), 32, true],
  ])('%s within depth %i → %s', (text, maxDepth, expected) => {
    expect(isBoundedJson(text, maxDepth)).toBe(expected);
  });

  it('refuses 20000 levels before JSON.parse sees them', () => {
    const parse = JSON.parse;
    let parsed = false;
    JSON.parse = (...args: Parameters<typeof JSON.parse>): unknown => {
      parsed = true;
      return parse(...args) as unknown;
    };
    try {
      expect(isBoundedJson('['.repeat(20000) + ']'.repeat(20000), 32)).toBe(false);
    } finally {
      JSON.parse = parse;
    }
    expect(parsed).toBe(false);
  });
});
