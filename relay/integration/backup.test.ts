/**
 * STORE-9: `npm run backup` copies a running relay's database while a client keeps writing, and a
 * relay started on the copy has everything that was acked before the backup began.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOM_STORE_FILE_NAME } from '../sqliteRoomStore.js';
import { Harness, synced, waitFor } from './clients.js';

const h = new Harness();
const dirs: string[] = [];
afterEach(async (ctx) => {
  await h.cleanup(ctx.task.result?.state === 'fail');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `npm run backup -- …args` in another process (the event loop, and so the test's writes, go on
 * meanwhile), with `DATA_DIR` set to `dataDir` (none when null).
 */
const npmBackup = (dataDir: string | null, ...args: string[]): Promise<Run> =>
  new Promise((resolve, reject) => {
    const env = { ...process.env };
    if (dataDir === null) delete env.DATA_DIR;
    else env.DATA_DIR = dataDir;
    const child = spawn('npm', ['run', '--silent', 'backup', '--', ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });

describe('npm run backup', () => {
  it('STORE-9: a backup taken under writes holds everything acked before it began; a relay restored from it serves it', async () => {
    const relay = await h.relay();
    const writer = h.client(relay.wsUrl, 'kept');
    await synced(writer);
    const text = writer.doc.getText('text');
    for (let i = 0; i < 200; i++) text.insert(text.length, `line ${i}\n`);
    await waitFor(() => writer.allOwnEditsAcked(), 'the first 200 lines acked');
    const ackedBefore = writer.text();
    // Writes go on while the backup runs.
    let more = 0;
    const timer = setInterval(() => text.insert(text.length, `more ${more++}\n`), 2);
    const out = mkdtempSync(join(tmpdir(), 'converge-backup-'));
    dirs.push(out);
    const dest = join(out, 'copy.sqlite3');
    let result: Run;
    try {
      result = await npmBackup(relay.dataDir, dest);
    } finally {
      clearInterval(timer);
    }
    expect(more).toBeGreaterThan(0);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^converge: backed up 1 rooms \\(\\d+ bytes\\) from .+ to ${dest}\\n$`));

    // Never over an existing file.
    const again = await npmBackup(relay.dataDir, dest);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`converge: backup failed: ${dest} exists`);

    const restoredDir = mkdtempSync(join(tmpdir(), 'converge-restored-'));
    dirs.push(restoredDir);
    copyFileSync(dest, join(restoredDir, ROOM_STORE_FILE_NAME));
    const restored = await h.relay({ dataDir: restoredDir });
    const reader = h.client(restored.wsUrl, 'kept');
    await synced(reader);
    await waitFor(() => reader.text().startsWith(ackedBefore), 'the acked lines in the restored room');
  });

  it('STORE-9: a DATA_DIR without a database, or a wrong command line, fails with the reason', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'converge-backup-'));
    dirs.push(empty);
    const missing = await npmBackup(empty, join(empty, 'copy.sqlite3'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('converge: backup failed: no database at');
    for (const args of [[], ['a.sqlite3', 'b.sqlite3'], ['--data-dir'], ['--verbose', 'a.sqlite3']]) {
      const usage = await npmBackup(empty, ...args);
      expect(usage.status, args.join(' ')).toBe(2);
      expect(usage.stderr).toContain('usage: npm run backup -- [--data-dir <');
    }
  });

  it('STORE-9: --data-dir names the directory as it does for the relay, over DATA_DIR', async () => {
    const relay = await h.relay();
    const writer = h.client(relay.wsUrl, 'flagged');
    await synced(writer);
    writer.doc.getText('text').insert(0, 'in the flagged directory');
    await waitFor(() => writer.allOwnEditsAcked(), 'the edit acked');
    // DATA_DIR names another, empty directory: the flag wins, as `npm start -- --data-dir` does.
    const elsewhere = mkdtempSync(join(tmpdir(), 'converge-backup-'));
    dirs.push(elsewhere);
    for (const [i, args] of [['--data-dir', relay.dataDir], [`--data-dir=${relay.dataDir}`]].entries()) {
      const dest = join(elsewhere, `copy-${i}.sqlite3`);
      const result = await npmBackup(elsewhere, ...args, dest);
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain(`backed up 1 rooms`);
      expect(result.stdout).toContain(`from ${relay.dataDir} to ${dest}`);
    }
    // Without either, ./data under the working directory (npm runs in the package's root).
    const none = await npmBackup(null, join(elsewhere, 'copy-default.sqlite3'));
    expect(none.stdout + none.stderr).toMatch(/from \.\/data to|no database at .*data/);
  });
});
