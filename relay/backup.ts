/**
 * `npm run backup -- [--data-dir <dir>] <file>`: a consistent copy of the embedded relay's database,
 * taken while the relay runs (STORE-9, relay/backupDatabase.ts). The directory is found as the
 * relay finds it (`--data-dir`, else `DATA_DIR`, else ./data): a backup that read only the
 * environment copied a stale ./data, reporting success, for a relay started with the flag. Exit 0
 * with one line saying what was copied; 1 with the reason; 2 for a wrong command line.
 */
import { SETTINGS } from './config.js';
import { backupDatabase } from './backupDatabase.js';

const USAGE =
  "usage: npm run backup -- [--data-dir <the relay's DATA_DIR, default ./data>] <new file, e.g. backup-2026-11-27.sqlite3>\n";
const FLAG = '--data-dir';

let dataDir = process.env[SETTINGS.dataDir.env] ?? SETTINGS.dataDir.default;
const files: string[] = [];
let wrong = false;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg.startsWith(FLAG + '=')) dataDir = arg.slice(FLAG.length + 1);
  else if (arg === FLAG && i + 1 < args.length) dataDir = args[++i]!;
  else if (arg.startsWith('-'))
    wrong = true; // an unknown option, or the flag without its value
  else files.push(arg);
}
if (wrong || files.length !== 1 || dataDir === '') {
  process.stderr.write(USAGE);
  process.exit(2);
}
try {
  const { file, rooms, bytes } = backupDatabase(dataDir, files[0]!);
  process.stdout.write(`converge: backed up ${rooms} rooms (${bytes} bytes) from ${dataDir} to ${file}\n`);
} catch (err) {
  process.stderr.write(`converge: backup failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
