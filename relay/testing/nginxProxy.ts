/**
 * The documented reverse proxy (docs/deploy/nginx.conf) as a real nginx on free loopback ports, in
 * front of a relay, for DEPLOY-1's tests. The file runs as it is, but for what only a test machine
 * can give it: its ports, the host name `localhost`, a throw-away certificate and the relay's
 * address. Each of those lines must be found exactly once, so a change to the file that these
 * replacements would no longer cover fails the test rather than testing something else.
 *
 * There is no fallback and no skip: when `nginx` or `openssl` is missing, `startNginxProxy`
 * rejects with a message naming the package. `NGINX` overrides nginx's path.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../shared/testing/waitFor.js';
import { freePort } from './freePort.js';

export const NGINX_CONFIG = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'deploy', 'nginx.conf');

export const NGINX_MISSING =
  'nginx not found: install it (Debian/Ubuntu: `sudo apt-get install nginx`; macOS: `brew install nginx`) ' +
  'or set NGINX to its path';
export const OPENSSL_MISSING = 'openssl not found: install it (Debian/Ubuntu: `sudo apt-get install openssl`)';

/** `NGINX`, else `nginx` on the PATH, else Debian's /usr/sbin/nginx (not on a user's PATH there); null when none runs. */
const findNginx = (): string | null => {
  for (const candidate of process.env.NGINX ? [process.env.NGINX] : ['nginx', '/usr/sbin/nginx']) {
    const probe = spawnSync(candidate, ['-v'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return candidate;
  }
  return null;
};

export interface NginxProxy {
  /** `https://127.0.0.1:<port>`, whose certificate is `ca`. */
  readonly httpsUrl: string;
  /** `http://127.0.0.1:<port>`: the plain-HTTP server, which redirects. */
  readonly httpUrl: string;
  /** The certificate (PEM) to trust: it is self-signed, for `localhost` and 127.0.0.1. */
  readonly ca: string;
  stop(): Promise<void>;
}

/** `config` with `from` replaced by `to`, which must occur exactly `times` times. */
const replaceExactly = (config: string, from: string, to: string, times = 1): string => {
  const found = config.split(from).length - 1;
  if (found !== times)
    throw new Error(`docs/deploy/nginx.conf: expected ${times} × ${JSON.stringify(from)}, found ${found}`);
  return config.split(from).join(to);
};

/** The documented file, made runnable here, inside the minimal top level a test nginx needs. */
const testConfig = (dir: string, ports: { http: number; https: number; upstream: number }): string => {
  let site = readFileSync(NGINX_CONFIG, 'utf8');
  site = replaceExactly(site, 'listen 80;', `listen 127.0.0.1:${ports.http};`);
  site = replaceExactly(site, 'listen 443 ssl http2;', `listen 127.0.0.1:${ports.https} ssl http2;`);
  site = replaceExactly(site, 'server_name converge.example.org;', 'server_name localhost;', 2);
  site = replaceExactly(site, '/etc/letsencrypt/live/converge.example.org/fullchain.pem', join(dir, 'cert.pem'));
  site = replaceExactly(site, '/etc/letsencrypt/live/converge.example.org/privkey.pem', join(dir, 'key.pem'));
  site = replaceExactly(site, 'proxy_pass http://127.0.0.1:8787;', `proxy_pass http://127.0.0.1:${ports.upstream};`);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${join(dir, t)};`)
    .join('\n');
  return [
    'daemon off;',
    'master_process off;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events {}',
    'http {',
    '  access_log off;',
    temp,
    site,
    '}',
    '',
  ].join('\n');
};

/** Accepts a TLS handshake on `port` (nginx is up). */
const handshakes = (port: number, ca: string): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/** Starts nginx with the documented configuration in front of the relay on `upstreamPort`. */
export const startNginxProxy = async (upstreamPort: number): Promise<NginxProxy> => {
  const nginx = findNginx();
  if (!nginx) throw new Error(NGINX_MISSING);
  const dir = mkdtempSync(join(tmpdir(), 'converge-nginx-'));
  const cert = spawnSync(
    'openssl',
    [
      'req',
      ...['-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'],
      ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      ...['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    ],
    { encoding: 'utf8' },
  );
  if (cert.error) throw new Error(OPENSSL_MISSING);
  if (cert.status !== 0) throw new Error(`openssl could not make a test certificate:\n${cert.stderr}`);
  const ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, t));

  // The ports were free when picked; a start that lost one to another process picks new ones.
  for (let attempt = 1; ; attempt++) {
    const ports = { http: await freePort(), https: await freePort(), upstream: upstreamPort };
    writeFileSync(join(dir, 'nginx.conf'), testConfig(dir, ports));
    rmSync(join(dir, 'error.log'), { force: true });
    const child = spawn(nginx, ['-e', join(dir, 'error.log'), '-p', dir, '-c', join(dir, 'nginx.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    let exited = false;
    const exit = new Promise<void>((resolve) =>
      child.once('exit', () => {
        exited = true;
        resolve();
      }),
    );
    const log = (): string => {
      try {
        return output + readFileSync(join(dir, 'error.log'), 'utf8');
      } catch {
        return output;
      }
    };
    try {
      await waitFor(
        async () => {
          if (exited) throw new Error(`nginx exited while starting:\n${log()}`);
          return handshakes(ports.https, ca);
        },
        { timeout: 20_000, message: `nginx on port ${ports.https} ready` },
      );
    } catch (error) {
      if (!exited) child.kill('SIGKILL');
      await exit;
      if (attempt < 5 && log().includes('Address already in use')) continue;
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return {
      httpsUrl: `https://127.0.0.1:${ports.https}`,
      httpUrl: `http://127.0.0.1:${ports.http}`,
      ca,
      stop: async () => {
        if (!exited) child.kill('SIGTERM');
        await exit;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
};
