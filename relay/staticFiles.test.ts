import { describe, expect, it } from 'vitest';
import { chooseEncoding, matchesEtag } from './staticFiles.js';

describe('STATIC-1 negotiation', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['gzip, deflate', 'gzip'],
    ['gzip, deflate, br, zstd', 'br'],
    ['BR;q=0.5, GZIP', 'br'],
    ['br;q=0, gzip', 'gzip'],
    ['br; q=0 , gzip;q=0', 'identity'],
    ['deflate', 'identity'],
    ['*', 'identity'],
  ] as const)('Accept-Encoding %j → %s', (accept, encoding) => {
    expect(chooseEncoding(accept)).toBe(encoding);
  });

  it('matches If-None-Match weakly, in a list, and *', () => {
    const etag = 'W/"abc-1"';
    expect(matchesEtag(undefined, etag)).toBe(false);
    expect(matchesEtag('W/"abc-1"', etag)).toBe(true);
    expect(matchesEtag('"abc-1"', etag)).toBe(true);
    expect(matchesEtag('"x", W/"abc-1"', etag)).toBe(true);
    expect(matchesEtag('*', etag)).toBe(true);
    expect(matchesEtag('W/"abc-1-br"', etag)).toBe(false);
  });
});
