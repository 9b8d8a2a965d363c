#!/usr/bin/env node
/**
 * `npm start`: builds the browser app when it is stale (ensureBuild.mjs, in a process of its
 * own), then runs the relay in this process. One process under npm: a SIGTERM or SIGINT sent to
 * npm (a container's stop, a process manager) reaches the relay itself, which stops gracefully
 * (README). With `ensureBuild && tsx relay/main.ts` a shell sat between them and did not pass the
 * signal on: npm exited and the relay kept running, holding the port.
 * A SIGTERM or SIGINT that arrives during the build check or the build is passed on to
 * ensureBuild.mjs (which passes it on to vite): once they have exited, this process says that
 * the start was interrupted and ends by the same signal, without starting the relay. The build
 * runs asynchronously for that: under spawnSync no handler could run, and a signal that ended
 * this process left the build running, orphaned.
 * Run as `exec node --import tsx scripts/start.mjs` (the relay is TypeScript; `exec` replaces the
 * shell npm runs scripts in, POSIX only); arguments are the relay's flags.
 */
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { wantsHelp } from '../relay/config.ts';
import { exitBySignal, runNode } from './runChild.mjs';

const here = dirname(fileURLToPath(import.meta.url));
// `--help` only prints the relay's flags: no build for it.
const built = wantsHelp(process.argv.slice(2))
  ? { code: 0, error: null, interrupted: null }
  : await runNode([join(here, 'ensureBuild.mjs')]);
if (built.interrupted) {
  // Whatever the build's own outcome: the stop was asked for before the relay started.
  const signal = built.interrupted;
  // Ended by the signal only once the line is written (a pipe is written asynchronously).
  process.stderr.write(
    `converge: start interrupted by ${signal} during the client build; the relay was not started.\n`,
    () => exitBySignal(signal),
  );
} else {
  if (built.error) process.stderr.write(`converge: could not run the build check: ${built.error.message}\n`);
  if (built.code !== 0) process.exit(built.code ?? 1);
  await import('../relay/main.ts');
}
