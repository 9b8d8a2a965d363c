/**
 * STORE-10: a relay whose database it may not write does not start. SQLite opens such a file
 * read-only without a word; before STORE-10 the relay listened, answered /healthz as healthy and
 * failed at its first commit. The file is made unwritable with `chmod 444`, except for root, who
 * may write any file: there the relay runs in a mount namespace of its own where the file is a
 * read-only bind mount of itself (util-linux `unshare`; CI runs as root).
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { ROOM_STORE_FILE_NAME, SqliteRoomStore } from '../sqliteRoomStore.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let dataDir: string | null = null;
afterEach(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = null;
});

/** Runs the relay on `dir`, its database unwritable (see the header), until it exits; its exit code and stderr. */
const runRelay = (dir: string, file: string): Promise<{ code: number | null; stderr: string }> =>
  new Promise((resolve, reject) => {
    const node = [process.execPath, '--import', 'tsx', join(root, 'relay', 'main.ts')];
    const [cmd, ...args] =
      process.getuid?.() === 0
        ? ['unshare', '--mount', 'sh', '-c', 'mount --bind -o ro "$0" "$0" && exec "$@"', file, ...node]
        : node;
    const child = spawn(cmd!, args, {
      cwd: root,
      env: { ...process.env, PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // Listening is the failure this test is about: stop it, and let the assertion say so.
      if (stdout.includes('listening')) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      resolve({ code, stderr: stdout.includes('listening') ? `listened: ${stdout}` : stderr }),
    );
  });

it('STORE-10: a database the relay may not write stops it before listening, naming the file', async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'converge-readonly-'));
  const store = SqliteRoomStore.openDataDir(dataDir);
  await store.append([{ room: 'kept', seq: 0, update: new Uint8Array([0, 0]) }]);
  await store.close();
  const file = join(dataDir, ROOM_STORE_FILE_NAME);
  // The directory stays writable (the lock and SQLite's shared-memory file go there): only the database is not.
  chmodSync(file, 0o444);
  const { code, stderr } = await runRelay(dataDir, file);
  expect(stderr).toContain(`converge: cannot use the database ${file}: attempt to write a readonly database`);
  expect(code).toBe(1);
});
