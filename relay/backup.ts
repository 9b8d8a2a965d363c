/**
 * `npm run backup -- <file>`: a consistent copy of the embedded relay's database in `DATA_DIR`,
 * taken while the relay runs (STORE-9, relay/backupDatabase.ts). Exit 0 with one line saying what
 * was copied; 1 with the reason; 2 for a wrong command line.
 */
import { SETTINGS } from './config.js';
import { backupDatabase } from './backupDatabase.js';

const args = process.argv.slice(2);
if (args.length !== 1 || args[0]!.startsWith('-')) {
  process.stderr.write('usage: DATA_DIR=./data npm run backup -- <new file, e.g. backup-2026-11-27.sqlite3>\n');
  process.exit(2);
}
const dataDir = process.env[SETTINGS.dataDir.env] ?? SETTINGS.dataDir.default;
try {
  const { file, rooms, bytes } = backupDatabase(dataDir, args[0]!);
  process.stdout.write(`converge: backed up ${rooms} rooms (${bytes} bytes) from ${dataDir} to ${file}\n`);
} catch (err) {
  process.stderr.write(`converge: backup failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
