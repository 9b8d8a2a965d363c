import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Prng, seedFromEnv } from '../../shared/testing/prng.js';
import { RichText } from './richText.js';
import { foldForSearch, foldQuery, indexOfFolded, matchRanges } from './searchText.js';

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

  it('SEARCH-1 only accents on Latin, Greek and Cyrillic letters are dropped: other marks make another letter', () => {
    // Devanagari vowel signs: "का" (kā) is not "कि" (ki), and "कता" is not in "किताब" (kitāb).
    expect(marked('किताब', 'का')).toBe('किताब');
    expect(marked('किताब', 'कता')).toBe('किताब');
    expect(marked('किताब', 'किता')).toBe('[किता]ब');
    // Hangul syllables stay whole: "하" is not "한".
    expect(marked('한국어 공부', '하')).toBe('한국어 공부');
    expect(marked('한국어 공부', '한국')).toBe('[한국]어 공부');
    // Kana voicing marks: "はか" is not "ばか".
    expect(marked('ばかな', 'はか')).toBe('ばかな');
    expect(marked('ばかな', 'ばか')).toBe('[ばか]な');
    // A decomposed syllable or kana is the same letter as its composed form.
    expect(foldForSearch('\u1112\u1161\u11ab')).toBe(foldForSearch('한'));
    expect(marked('\u306f\u3099かな', 'ばか')).toBe('[\u306f\u3099か]な');
    // Cyrillic and Greek accents do go.
    expect(marked('Ёлка', 'елка')).toBe('[Ёлка]');
    expect(marked('Αθήνα', 'αθηνα')).toBe('[Αθήνα]');
  });

  it('SEARCH-1 a match does not part a letter from a mark kept on it, nor begin with one', () => {
    // Thai: the tone mark makes "ไก่" (chicken) another word than "ไก".
    expect(marked('ไก่ ไก', 'ไก')).toBe('ไก่ [ไก]');
    expect(marked('ไก่ ไก', 'ไก่')).toBe('[ไก่] ไก');
    expect(marked('किताब', 'क')).toBe('किताब');
    expect(marked('ไก่', '\u0e48')).toBe('ไก่');
    expect(indexOfFolded(foldForSearch('ไก่ ไก'), foldQuery('ไก'))).toBe(4);
  });

  it('SEARCH-1 compatibility forms fold to their plain letters, marked over the original characters', () => {
    expect(marked('office ﬁle', 'file')).toBe('office [ﬁle]');
    expect(marked('ＦＵＬＬ width', 'full')).toBe('[ＦＵＬＬ] width');
    expect(marked('ﾊﾞｶ', 'バカ')).toBe('[ﾊﾞｶ]');
    // A spacing accent is a space and an accent: alone, it is a query of nothing.
    expect(foldQuery('¨')).toBe('');
    expect(matchRanges('a ¨ b', '¨')).toEqual([]);
  });

  it('SEARCH-1 the filter and the highlight agree (seeded)', () => {
    const seed = seedFromEnv();
    const rng = new Prng(seed);
    const pieces = [
      ...['a', 'e', 'E', '\u0301', 'é', 'ß', 's', 'S', 'ς', 'Σ', 'ﬁ', 'f', 'i', 'İ', 'ё', 'е', '\u0308', '¨'],
      ...['क', 'ि', 'ा', 'त', '한', '하', '\u1112', '\u1161', '\u11ab', 'は', '\u3099', 'ば', 'ﾊ', 'ﾞ'],
      ...['ไ', 'ก', '\u0e48', ' ', '\n', '🎉'],
    ];
    const word = (n: number): string => Array.from({ length: n }, () => rng.pick(pieces)).join('');
    const disagree: Array<{ text: string; query: string; found: boolean }> = [];
    for (let i = 0; i < 2000 && disagree.length === 0; i++) {
      const text = word(rng.int(0, 12));
      const query = word(rng.int(1, 3));
      const found = indexOfFolded(foldForSearch(text), foldQuery(query)) >= 0;
      if (found !== matchRanges(text, query).length > 0) disagree.push({ text, query, found });
    }
    if (disagree.length > 0) console.error(`SEARCH-1 agreement failed with SEED=${seed}`);
    expect(disagree).toEqual([]);
  });

  it('SEARCH-1 a match across the edge of a link is marked on both sides', () => {
    const html = renderToStaticMarkup(
      createElement(RichText, { text: 'see https://example.com/x now', query: 'SEE HTTPS' }),
    );
    expect(html).toBe(
      '<mark>see </mark><a href="https://example.com/x" target="_blank" rel="noopener noreferrer"><mark>https</mark>://example.com/x</a> now',
    );
  });
});
