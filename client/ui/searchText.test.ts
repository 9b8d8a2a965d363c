import { describe, expect, it } from 'vitest';
import { foldForSearch, matchRanges } from './searchText.js';

const marked = (text: string, query: string): string => {
  let out = '';
  let at = 0;
  for (const [start, end] of matchRanges(text, query)) {
    out += `${text.slice(at, start)}[${text.slice(start, end)}]`;
    at = end;
  }
  return out + text.slice(at);
};

describe('SEARCH-1: search ignores case and accents', () => {
  it('SEARCH-1 folds accents, case and ß on both sides', () => {
    expect(foldForSearch('Café')).toBe('cafe');
    expect(foldForSearch('Straße')).toBe('strasse');
    expect(foldForSearch('ÅNGSTRÖM')).toBe('angstrom');
    expect(foldForSearch('İstanbul')).toBe('istanbul');
    expect(foldForSearch('plain ASCII')).toBe('plain ascii');
    expect(foldForSearch('Café')).toBe(foldForSearch('Cafe\u0301')); // precomposed and decomposed alike
  });

  it('SEARCH-1 highlights the original characters a match came from', () => {
    expect(marked('Meet at the Café, café or CAFE', 'cafe')).toBe('Meet at the [Café], [café] or [CAFE]');
    expect(marked('Große Straße', 'STRASSE')).toBe('Große [Straße]');
    expect(marked('Große Straße', 'grosse')).toBe('[Große] Straße');
    // A decomposed accent stays with its letter, inside the mark.
    expect(marked('cafe\u0301 noir', 'cafe')).toBe('[cafe\u0301] noir');
    // Astral characters keep their surrogate pairs whole.
    expect(marked('🎉 fête 🎉', 'fete')).toBe('🎉 [fête] 🎉');
  });

  it('SEARCH-1 a match inside a folded letter takes the whole letter, once', () => {
    // "ß" folds to "ss": the query "s" matches both halves, marked as one letter.
    expect(marked('ß', 's')).toBe('[ß]');
    expect(marked('aßb', 'as')).toBe('[aß]b');
  });

  it('SEARCH-1 Greek final sigma folds as sigma, in a whole text and letter by letter alike', () => {
    expect(foldForSearch('ΟΔΟΣ')).toBe(foldForSearch('οδοσ'));
    expect(foldForSearch('ΟΔΟΣ')).toContain(foldForSearch('οδός'));
    expect(marked('ΟΔΟΣ ΑΘΗΝΩΝ', 'οδος')).toBe('[ΟΔΟΣ] ΑΘΗΝΩΝ');
  });

  it('SEARCH-1 a query of nothing but an accent folds to nothing', () => {
    expect(foldForSearch('\u0301')).toBe('');
    expect(matchRanges('café', '\u0301')).toEqual([]);
  });

  it('SEARCH-1 an empty or blank query matches nothing', () => {
    expect(matchRanges('anything', '')).toEqual([]);
    expect(matchRanges('anything', '   ')).toEqual([]);
  });
});
