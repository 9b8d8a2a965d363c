/**
 * STATIC-1: how the relay sends a file of the built client. Every answer carries a validator
 * (`ETag`), so a browser's re-check of `sw.js` and the workbox script (every page load, every
 * update check: UPD-2, UPD-4) is answered 304 without the file; before, each check downloaded
 * them in full (about 18 KB), which on a metered phone cost more than a day's messages. Text files
 * go compressed when the browser takes it (Brotli, else gzip): the app's script is about 600 KB,
 * 180 KB compressed.
 *
 * A file's version is its size and modification time, the same validator most static servers
 * use; a rebuild under a running relay gives new versions. Compressed bodies are made once per
 * version, asynchronously (zlib's thread pool, never the event loop), and kept: dist/ is a
 * handful of files. Invariant: what is kept is at most one version of each file that existed at
 * the last sweep, which runs whenever a new version is read (a rebuild under a running relay
 * deletes the old build's hashed files; nobody asks for those names again, so without the sweep
 * their bytes would stay until a restart). Brotli runs at quality 5: 11 took 9 s for the app's
 * script here, 5 takes 0.2 s and is within 11 % of it.
 */
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

export type ContentEncoding = 'br' | 'gzip' | 'identity';

/** Smaller than this, compressing saves less than it costs (a header and a round through zlib). */
const MIN_COMPRESS_BYTES = 1024;
const BROTLI_QUALITY = 5;

/** A file's version: its size and modification time. */
const versionKey = (s: Stats): string => `${s.size.toString(36)}-${Math.floor(s.mtimeMs).toString(36)}`;

/** Content types worth compressing (images and fonts are compressed already). */
const compressible = (type: string): boolean =>
  /^(text\/|application\/(javascript|json|manifest\+json|xml)|image\/svg\+xml)/.test(type);

/** The encoding to send: the best one `accept` (an `Accept-Encoding` header) allows. */
export const chooseEncoding = (accept: string | undefined): ContentEncoding => {
  const allowed = new Set<string>();
  for (const part of (accept ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (name && (q === undefined || Number(q) > 0)) allowed.add(name);
  }
  if (allowed.has('br')) return 'br';
  if (allowed.has('gzip')) return 'gzip';
  return 'identity';
};

/** Whether `ifNoneMatch` (an `If-None-Match` header) names `etag` (weak comparison, as for GET). */
export const matchesEtag = (ifNoneMatch: string | undefined, etag: string): boolean => {
  if (!ifNoneMatch) return false;
  const bare = (t: string): string => t.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || bare(t) === bare(etag));
};

export interface StaticBody {
  readonly etag: string;
  /** The encoding of `body` (identity when the type is not worth compressing or too small). */
  readonly encoding: ContentEncoding;
  /** Whether the answer depends on `Accept-Encoding` (then it says `Vary: Accept-Encoding`). */
  readonly varies: boolean;
  readonly body: () => Promise<Buffer>;
}

interface Version {
  readonly key: string;
  readonly raw: Promise<Buffer>;
  readonly encoded: Map<ContentEncoding, Promise<Buffer>>;
}

export class StaticFiles {
  private readonly versions = new Map<string, Version>();
  private sweeping = false;
  private sweepAgain = false;

  /** The files a version is kept of (what the memory holds). */
  keptFiles(): string[] {
    return [...this.versions.keys()];
  }

  /** What to send for `file` (which exists) of content type `type` to a browser that accepts `accept`. */
  async body(file: string, type: string, accept: string | undefined): Promise<StaticBody> {
    const s = await stat(file);
    const key = versionKey(s);
    let version = this.versions.get(file);
    if (version?.key !== key) {
      version = { key, raw: readFile(file), encoded: new Map() };
      // A failed read is not kept: the next request reads again.
      version.raw.catch(() => this.versions.delete(file));
      this.versions.set(file, version);
      this.sweep();
    }
    const varies = compressible(type) && s.size >= MIN_COMPRESS_BYTES;
    const encoding = varies ? chooseEncoding(accept) : 'identity';
    // One validator per representation: a cache must not answer a gzip request with Brotli bytes.
    const etag = `W/"${key}${encoding === 'identity' ? '' : '-' + encoding}"`;
    const v = version;
    return { etag, encoding, varies, body: () => this.encoded(v, encoding) };
  }

  /** Drops the versions whose file is gone or changed since it was read; one sweep at a time, another after it if asked meanwhile. */
  private sweep(): void {
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    this.sweeping = true;
    const check = async (): Promise<void> => {
      for (const [file, version] of [...this.versions]) {
        const current = await stat(file).then(
          (s) => versionKey(s) === version.key,
          (err: NodeJS.ErrnoException) => err.code !== 'ENOENT' && err.code !== 'ENOTDIR',
        );
        // A request may have read a newer version meanwhile: only the one checked is dropped.
        if (!current && this.versions.get(file) === version) this.versions.delete(file);
      }
    };
    void check().finally(() => {
      this.sweeping = false;
      if (this.sweepAgain) {
        this.sweepAgain = false;
        this.sweep();
      }
    });
  }

  private encoded(v: Version, encoding: ContentEncoding): Promise<Buffer> {
    if (encoding === 'identity') return v.raw;
    let body = v.encoded.get(encoding);
    if (!body) {
      body = v.raw.then((raw) =>
        encoding === 'br'
          ? brotli(raw, {
              params: { [zlib.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length },
            })
          : gzipAsync(raw),
      );
      body.catch(() => v.encoded.delete(encoding));
      v.encoded.set(encoding, body);
    }
    return body;
  }
}
