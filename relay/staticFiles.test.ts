import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../shared/testing/waitFor.js';
import { chooseEncoding, matchesEtag, StaticFiles } from './staticFiles.js';

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

describe('STATIC-1 memory', () => {
  it('keeps no version of a file a rebuild removed or changed once a new version is read', async () => {
    const site = mkdtempSync(join(tmpdir(), 'converge-static-kept-'));
    try {
      const file = (name: string, text: string): string => {
        writeFileSync(join(site, name), text);
        return join(site, name);
      };
      mkdirSync(join(site, 'assets'));
      const files = new StaticFiles();
      const oldScript = file('assets/index-OLD.js', 'export const old = 1;'.repeat(100));
      const sw = file('sw.js', 'self.v = 1;');
      const manifest = file('manifest.webmanifest', '{}');
      for (const f of [oldScript, sw, manifest]) await (await files.body(f, 'text/javascript', 'br')).body();
      expect(files.keptFiles().sort()).toEqual([oldScript, manifest, sw].sort());

      // The rebuild: the old hashed script is deleted, sw.js changes, the manifest stays.
      rmSync(oldScript);
      file('sw.js', 'self.v = 22;');
      const newScript = file('assets/index-NEW.js', 'export const fresh = 2;');
      await (await files.body(newScript, 'text/javascript', 'br')).body();

      await waitFor(
        () => !files.keptFiles().includes(oldScript) && !files.keptFiles().includes(sw),
        'old versions dropped',
      );
      expect(files.keptFiles().sort()).toEqual([newScript, manifest].sort());
      // What is asked for again is read again, at its new version.
      expect((await (await files.body(sw, 'text/javascript', undefined)).body()).toString()).toBe('self.v = 22;');
    } finally {
      rmSync(site, { recursive: true, force: true });
    }
  });
});
