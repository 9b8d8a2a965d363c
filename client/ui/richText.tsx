/**
 * Message text as React text nodes: never HTML. URLs become links only when they parse as
 * http(s) URLs, and open in a new tab without access to this page (rel="noopener noreferrer").
 * An optional search query is highlighted with <mark>.
 */
import { Fragment, type ReactNode } from 'react';
import { matchRanges } from './searchText.js';

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?'"»)\]}]+$/;

export type TextPart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'link'; readonly text: string; readonly href: string };

/** Splits `text` into plain parts and safe http(s) links. */
export const splitLinks = (text: string): TextPart[] => {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let candidate = match[0];
    // Trailing punctuation usually ends the sentence, not the URL; keep a closing paren that
    // balances one inside the URL (https://en.wikipedia.org/wiki/Foo_(bar)).
    const trail = TRAILING_PUNCTUATION.exec(candidate);
    if (trail) {
      let cut = trail[0];
      if (
        cut.startsWith(')') &&
        (candidate.match(/\(/g)?.length ?? 0) > (candidate.slice(0, -cut.length).match(/\)/g)?.length ?? 0)
      ) {
        cut = cut.slice(1);
      }
      candidate = candidate.slice(0, candidate.length - cut.length);
    }
    const start = match.index;
    let href: string | null = null;
    try {
      const url = new URL(candidate);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname) href = url.href;
    } catch {
      href = null;
    }
    if (href === null) continue;
    if (start > last) parts.push({ kind: 'text', text: text.slice(last, start) });
    parts.push({ kind: 'link', text: candidate, href });
    last = start + candidate.length;
  }
  if (last < text.length) parts.push({ kind: 'text', text: text.slice(last) });
  return parts;
};

type Ranges = ReadonlyArray<readonly [number, number]>;

/** `text[from, to)` with the parts in `ranges` (ranges of the whole text) wrapped in <mark>. */
const marked = (text: string, from: number, to: number, ranges: Ranges): ReactNode => {
  const out: ReactNode[] = [];
  let at = from;
  for (const [start, end] of ranges) {
    const s = Math.max(start, from);
    const e = Math.min(end, to);
    if (s >= e) continue;
    if (s > at) out.push(text.slice(at, s));
    out.push(<mark key={s}>{text.slice(s, e)}</mark>);
    at = e;
  }
  if (out.length === 0) return text.slice(from, to);
  if (at < to) out.push(text.slice(at, to));
  return out;
};

/** `text` with every occurrence of `query` (SEARCH-1: ignoring case and accents) wrapped in <mark>. */
export const highlight = (text: string, query: string): ReactNode =>
  marked(text, 0, text.length, matchRanges(text, query));

/**
 * SEARCH-1: matches are found in the whole text, as the search filter finds them, then marked part by
 * part: a match running into or out of a link ("see https") is marked on both sides of its edge.
 */
export const RichText = ({ text, query = '' }: { text: string; query?: string }): ReactNode => {
  const ranges = matchRanges(text, query);
  // The parts cover the text in order, end to end.
  let at = 0;
  return splitLinks(text).map((part, i) => {
    const from = at;
    at += part.text.length;
    const shown = marked(text, from, at, ranges);
    return part.kind === 'link' ? (
      <a key={i} href={part.href} target="_blank" rel="noopener noreferrer">
        {shown}
      </a>
    ) : (
      <Fragment key={i}>{shown}</Fragment>
    );
  });
};
