/**
 * STORE-10: a relay started on a full disk stops before listening and says the disk is full,
 * naming the database. SQLite must create its write-ahead log to open a database in WAL mode (a
 * relay that stopped cleanly removed it) and reports the failure as "disk I/O error"; the
 * data-directory lock (STORE-8) writes nothing, so it is not what fails first. The relay runs in
 * namespaces of its own (util-linux `unshare`, unprivileged through a user namespace) where its
 * data directory is a small tmpfs, copied from a real one and then filled.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { lockDataDir } from '../dataDirLock.js';
import { FULL_DISK_HINT, ROOM_STORE_FILE_NAME, SqliteRoomStore } from '../sqliteRoomStore.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let scratch: string | null = null;
afterEach(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = null;
});

/** Runs the relay on a full copy of `data` mounted at `mount`, until it exits; its exit code and output. */
const runOnFullDisk = (data: string, mount: string): Promise<{ code: number | null; output: string }> =>
  new Promise((resolve, reject) => {
    const prepare =
      'mount -t tmpfs -o size=1m tmpfs "$0" && cp -a "$1"/. "$0"/ && { dd if=/dev/zero of="$0"/fill bs=4k 2>/dev/null || true; } && shift && exec "$@"';
    const child = spawn(
      'unshare',
      [
        '--user',
        '--map-root-user',
        '--mount',
        'sh',
        '-c',
        prepare,
        mount,
        data,
        process.execPath,
        '--import',
        'tsx',
        join(root, 'relay', 'main.ts'),
      ],
      { cwd: root, env: { ...process.env, PORT: '0', DATA_DIR: mount }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const take = (d: Buffer): void => {
      output += d.toString();
      // Listening is not what this test is about either way: stop it, and let the assertions say what it printed.
      if (output.includes('listening')) child.kill('SIGKILL');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });

it('STORE-10: a relay started on a full disk stops before listening, saying the disk holding the database is full', async () => {
  scratch = mkdtempSync(join(tmpdir(), 'converge-full-'));
  const data = join(scratch, 'data');
  const store = SqliteRoomStore.openDataDir(data);
  await store.append([{ room: 'kept', seq: 0, update: new Uint8Array([0, 0]) }]);
  await store.close();
  lockDataDir(data).release();
  const mount = join(scratch, 'mnt');
  mkdirSync(mount);
  const { code, output } = await runOnFullDisk(data, mount);
  expect(output).toContain(`converge: cannot use the database ${join(mount, ROOM_STORE_FILE_NAME)}: `);
  expect(output).toContain(FULL_DISK_HINT);
  expect(output).not.toContain('listening');
  expect(code).toBe(1);
});
