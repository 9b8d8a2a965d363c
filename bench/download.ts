/**
 * `npm run bench -- --only download`: what the built app costs a browser to fetch from the relay
 * (STATIC-1), in bytes on the wire (headers included, no TLS), with the relay's HTTP server in
 * this process serving dist/ (run `npm run build` first).
 *
 * - first visit: every file of dist/ but source maps (what the service worker precaches), as
 *   Chromium asks for it (`Accept-Encoding: gzip, deflate, br`) against the anchor, the same
 *   files uncompressed: what every browser got before STATIC-1.
 * - re-check: `sw.js` and the workbox script, which a browser fetches again at every page load
 *   and update check (UPD-2, UPD-4), with the validators of a first fetch against the anchor,
 *   the files in full (the relay had no validators before STATIC-1).
 * - the time to the first compressed answer of the app's script (compressed once per version)
 *   and to a later one.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'node:http';
import { startStaticRelay } from '../relay/testing/staticRelay.js';
import { fmtBytes, ratio, table } from './stats.js';

const CHROMIUM_ACCEPT = 'gzip, deflate, br';

interface Fetched {
  readonly status: number;
  readonly wireBytes: number;
  readonly etag: string | undefined;
}

const fetchCounting = (url: string, headers: Record<string, string>): Promise<Fetched> =>
  new Promise((resolve, reject) => {
    // A socket of its own per request, so its bytesRead is this answer's, headers included.
    const req = request(url, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode!, wireBytes: res.socket.bytesRead, etag: res.headers.etag }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });

const filesOf = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesOf(path) : [path];
  });

export const runDownloadBench = async (distDir: string): Promise<string> => {
  const relay = await startStaticRelay(distDir);
  const base = relay.url;
  try {
    const paths = filesOf(distDir)
      .filter((f) => !f.endsWith('.map'))
      .map((f) => '/' + relative(distDir, f).split(sep).join('/'));
    const script = paths.find((p) => /^\/assets\/index-.*\.js$/.test(p));
    if (!script) throw new Error(`no app script in ${distDir}: run npm run build first`);

    const t0 = performance.now();
    await fetchCounting(base + script, { 'accept-encoding': CHROMIUM_ACCEPT });
    const coldMs = performance.now() - t0;
    const t1 = performance.now();
    await fetchCounting(base + script, { 'accept-encoding': CHROMIUM_ACCEPT });
    const warmMs = performance.now() - t1;

    let visitAnchor = 0;
    let visitNow = 0;
    for (const p of paths) {
      visitAnchor += (await fetchCounting(base + p, {})).wireBytes;
      visitNow += (await fetchCounting(base + p, { 'accept-encoding': CHROMIUM_ACCEPT })).wireBytes;
    }
    const rechecked = paths.filter((p) => p === '/sw.js' || /^\/workbox-[^/]*\.js$/.test(p));
    let recheckAnchor = 0;
    let recheckNow = 0;
    for (const p of rechecked) {
      const first = await fetchCounting(base + p, { 'accept-encoding': CHROMIUM_ACCEPT });
      recheckAnchor += (await fetchCounting(base + p, {})).wireBytes;
      const again = await fetchCounting(base + p, {
        'accept-encoding': CHROMIUM_ACCEPT,
        ...(first.etag ? { 'if-none-match': first.etag } : {}),
      });
      if (again.status !== 304) throw new Error(`${p}: ${again.status} to a request with its own ETag`);
      recheckNow += again.wireBytes;
    }
    return [
      `${paths.length} files of ${distDir} (source maps left out); bytes on the wire, headers included, no TLS.`,
      '',
      table(
        ['', 'before STATIC-1 (anchor)', 'now', 'now / anchor'],
        [
          ['first visit: every file', fmtBytes(visitAnchor), fmtBytes(visitNow), ratio(visitNow, visitAnchor)],
          [
            `re-check at each load: ${rechecked.join(', ')}`,
            fmtBytes(recheckAnchor),
            fmtBytes(recheckNow),
            ratio(recheckNow, recheckAnchor),
          ],
        ],
      ),
      '',
      `The app's script (${script}), compressed: first answer ${coldMs.toFixed(0)} ms (compressed then), ` +
        `a later one ${warmMs.toFixed(1)} ms.`,
    ].join('\n');
  } finally {
    await relay.close();
  }
};
