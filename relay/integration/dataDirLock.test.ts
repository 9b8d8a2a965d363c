/**
 * STORE-8 with real relay processes: a second `npm start` on a data directory in use stops before
 * listening and says why, the first keeps serving, and a relay killed with SIGKILL leaves nothing
 * that stops its restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startRelay, type RelayProcess } from '../testing/relayProcess.js';

const started: RelayProcess[] = [];
let dataDir: string | null = null;
afterEach(async () => {
  for (const r of started.splice(0)) await r.kill();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = null;
});

describe('one relay per data directory', () => {
  it('STORE-8: a second relay on a DATA_DIR in use exits 1 before listening, naming it; a SIGKILLed relay leaves no lock', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'converge-relay-'));
    const first = await startRelay({ dataDir });
    started.push(first);
    await expect(startRelay({ dataDir })).rejects.toThrow(
      new RegExp(`exited with 1 before listening:\\nconverge: DATA_DIR ${dataDir} is in use by another relay`),
    );
    expect((await fetch(first.url + '/healthz')).status).toBe(200);
    await first.kill();
    const next = await startRelay({ dataDir, port: first.port });
    started.push(next);
    expect((await fetch(next.url + '/healthz')).status).toBe(200);
  });
});
