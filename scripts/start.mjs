#!/usr/bin/env node
/**
 * `npm start`: builds the browser app when it is stale (ensureBuild.mjs, in a process of its
 * own), then runs the relay in this process. One process under npm: a SIGTERM or SIGINT sent to
 * npm (a container's stop, a process manager) reaches the relay itself, which stops gracefully
 * (README). With `ensureBuild && tsx relay/main.ts` a shell sat between them and did not pass the
 * signal on: npm exited and the relay kept running, holding the port.
 * Run as `exec node --import tsx scripts/start.mjs` (the relay is TypeScript; `exec` replaces the
 * shell npm runs scripts in, POSIX only); arguments are the relay's flags.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const built = spawnSync(process.execPath, [join(here, 'ensureBuild.mjs')], { stdio: 'inherit' });
if (built.error) process.stderr.write(`converge: could not run the build check: ${built.error.message}\n`);
if (built.status !== 0) process.exit(built.status ?? 1);
await import('../relay/main.ts');
