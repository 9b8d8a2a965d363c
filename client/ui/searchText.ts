/**
 * SEARCH-1: search ignores case, accents on Latin, Greek and Cyrillic letters, and compatibility forms:
 * "cafe" finds "Café", "strasse" finds "Straße", "ANGSTROM" finds "Ångström", "file" finds "ﬁle". Both
 * sides are folded the same way (`foldForSearch`), one user-perceived character (grapheme cluster) at a
 * time: compatibility-decomposed (NFKD), the accents on a Latin, Greek or Cyrillic letter dropped (and a
 * lone accent, which has no letter), re-composed (NFC), lower-cased, ß as "ss", ς as σ. Only accents go:
 * the vowel signs of Devanagari or Thai, the voicing marks of kana and the jamo of a Hangul syllable are
 * combining marks too but make a different letter, so "का" does not find "कि", "はか" does not find
 * "ばか", and "하" does not find "한". Nor does a match part a letter from the marks kept on it ("ไก" does not
 * find "ไก่": the tone mark makes another word), or begin with one (`indexOfFolded`). A match is highlighted
 * over the whole original characters it came from (`matchRanges`), whatever lengths folding changed.
 */

/** An accent: a mark of the combining diacritical marks, their extended and supplement blocks, or half marks. */
const isAccent = (mark: string): boolean => {
  const c = mark.codePointAt(0)!;
  return (
    (c >= 0x300 && c <= 0x36f) ||
    (c >= 0x1ab0 && c <= 0x1aff) ||
    (c >= 0x1dc0 && c <= 0x1dff) ||
    (c >= 0xfe20 && c <= 0xfe2f)
  );
};
const MARK = /\p{M}/gu;
/** A base character followed by its combining marks; the base is absent for a lone mark. */
const BASE_AND_MARKS = /([^\p{M}]?)(\p{M}+)/gu;
/** A letter of a script other than Latin, Greek and Cyrillic: marks on it, whatever block, are kept. */
const OTHER_SCRIPT_LETTER = /^[^\P{L}\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}]$/u;
/** Starts with a combining mark. */
const MARK_FIRST = /^\p{M}/u;
/** Nothing to fold but case (ASCII only, control characters included). */
const ASCII = /^[^\u0080-\uffff]*$/;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** One grapheme cluster (or any text whose marks sit on the base just before them) as search compares it. */
const foldCluster = (s: string): string =>
  s
    .normalize('NFKD')
    .replace(BASE_AND_MARKS, (_, base: string, marks: string) =>
      OTHER_SCRIPT_LETTER.test(base) ? base + marks : base + marks.replace(MARK, (m) => (isAccent(m) ? '' : m)),
    )
    .normalize('NFC')
    .toLowerCase()
    .replace(/ß/g, 'ss')
    // Final sigma as sigma: lower-cased, Σ is ς at a word's end but σ alone, so a whole text and its
    // characters one by one would fold apart.
    .replace(/ς/g, 'σ');

/**
 * `text` folded, cluster by cluster, with each cluster's [start, end) in `text`. Folding by cluster is what
 * keeps a highlight over whole characters; the whole text is folded the same way (`foldForSearch` joins
 * these), so what the filter finds, the highlight marks.
 */
const foldedClusters = (
  text: string,
): Array<{ readonly folded: string; readonly start: number; readonly end: number }> =>
  Array.from(graphemes.segment(text), ({ segment, index }) => ({
    folded: ASCII.test(segment) ? segment.toLowerCase() : foldCluster(segment),
    start: index,
    end: index + segment.length,
  }));

/** `s` as search compares it. */
export const foldForSearch = (s: string): string =>
  ASCII.test(s) ? s.toLowerCase() : foldedClusters(s).reduce((out, c) => out + c.folded, '');

/**
 * A query as search compares it: folded and trimmed, "" when nothing is left to find. A query of nothing but
 * accents (a dead key pressed alone; a spacing accent is a space and an accent in NFKD) is "": it matches
 * nothing.
 */
export const foldQuery = (query: string): string => foldForSearch(query.trim()).trim();

/**
 * The first index from `from` where folded `q` occurs in `folded` (a text folded by `foldForSearch`) without
 * beginning with a mark or ending before one, i.e. without parting a letter from its marks; -1 if none. The
 * search filter and the highlight (`matchRanges`) both find matches this way, so they agree.
 */
export const indexOfFolded = (folded: string, q: string, from = 0): number => {
  if (!q || MARK_FIRST.test(q)) return -1;
  for (let at = folded.indexOf(q, from); at >= 0; at = folded.indexOf(q, at + 1)) {
    if (!MARK_FIRST.test(folded.slice(at + q.length, at + q.length + 2))) return at;
  }
  return -1;
};

/**
 * Where `query` (folded here) occurs in `text`: [start, end) ranges of `text`, in order, not overlapping, each
 * over whole grapheme clusters; none for an empty query.
 */
export const matchRanges = (text: string, query: string): Array<readonly [number, number]> => {
  const q = foldQuery(query);
  if (!q) return [];
  // Folded text, and for each of its UTF-16 units the original cluster's [start, end).
  let folded = '';
  const from: number[] = [];
  const to: number[] = [];
  if (ASCII.test(text)) {
    folded = text.toLowerCase();
    for (let i = 0; i < text.length; i++) {
      from.push(i);
      to.push(i + 1);
    }
  } else {
    for (const c of foldedClusters(text)) {
      for (let k = 0; k < c.folded.length; k++) {
        from.push(c.start);
        to.push(c.end);
      }
      folded += c.folded;
    }
  }
  const out: Array<readonly [number, number]> = [];
  for (let at = indexOfFolded(folded, q); at >= 0; at = indexOfFolded(folded, q, at + q.length)) {
    const start = from[at]!;
    const end = to[at + q.length - 1]!;
    // A cluster split by the match ("ß" is "ss": a query ending in its first "s") is marked whole, once.
    if (out.length > 0 && start < out[out.length - 1]![1]) continue;
    out.push([start, end]);
  }
  return out;
};
