/**
 * SEARCH-1: search ignores case and accents: "cafe" finds "Café", "strasse" finds "Straße", and
 * "ANGSTROM" finds "Ångström". Both sides are folded the same way (`foldForSearch`): decomposed
 * (NFD), combining marks dropped, lower-cased, ß as "ss", ς as σ. A match is highlighted over the original
 * characters it came from (`matchRanges`), marks included, whatever lengths folding changed.
 */

const MARKS = /\p{M}/gu;
/** Nothing to fold but case (ASCII only, control characters included). */
const ASCII = /^[^\u0080-\uffff]*$/;

/** `s` as search compares it. */
export const foldForSearch = (s: string): string =>
  ASCII.test(s)
    ? s.toLowerCase()
    : // Final sigma as sigma: lower-cased, Σ is ς at a word's end but σ alone, so a whole text
      // and its letters one by one (matchRanges) would fold apart.
      s.normalize('NFD').replace(MARKS, '').toLowerCase().replace(/ß/g, 'ss').replace(/ς/g, 'σ');

/**
 * Where `query` (folded here) occurs in `text`: [start, end) ranges of `text`, in order, not
 * overlapping; none for an empty query.
 */
export const matchRanges = (text: string, query: string): Array<readonly [number, number]> => {
  const q = foldForSearch(query.trim());
  if (!q) return [];
  // Folded text, and for each of its UTF-16 units the original code point's [start, end).
  let folded = '';
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < text.length;) {
    const cp = String.fromCodePoint(text.codePointAt(i)!);
    const f = foldForSearch(cp);
    for (let k = 0; k < f.length; k++) {
      from.push(i);
      to.push(i + cp.length);
    }
    folded += f;
    i += cp.length;
  }
  const out: Array<readonly [number, number]> = [];
  for (let at = folded.indexOf(q); at >= 0; at = folded.indexOf(q, at + q.length)) {
    const start = from[at]!;
    let end = to[at + q.length - 1]!;
    // A decomposed accent after the match belongs to its last letter.
    while (end < text.length && foldForSearch(String.fromCodePoint(text.codePointAt(end)!)) === '') end++;
    // A folded letter split by the match ("ß" is "ss": a query ending in its first "s") is whole.
    if (out.length > 0 && start < out[out.length - 1]![1]) continue;
    out.push([start, end]);
  }
  return out;
};
