/**
 * Runs a Node script as a child process for `npm start` (start.mjs → ensureBuild.mjs → vite
 * build): the child shares this process's stdio, and a SIGTERM or SIGINT this process gets while
 * it runs is passed on to it, so stopping `npm start` stops what it started instead of orphaning
 * it. The wait is asynchronous: with spawnSync the event loop is blocked and no handler can run.
 * A terminal's Ctrl-C sends SIGINT to the whole foreground process group, so a child may get the
 * signal twice (directly and forwarded): signals here only end processes, which is idempotent.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import process from 'node:process';

/** @typedef {'SIGTERM' | 'SIGINT'} StopSignal */

/**
 * @typedef {object} ChildOutcome
 * @property {number | null} code exit code, null when the child was ended by a signal or never ran
 * @property {NodeJS.Signals | null} signal the signal that ended the child
 * @property {Error | null} error why the child could not be run
 * @property {StopSignal | null} interrupted the first stop signal this process got while the child ran, or the one that ended the child
 */

/**
 * Runs `node <args>` and resolves once it has exited (its process is gone).
 * @param {string[]} args
 * @param {{ cwd?: string }} [options]
 * @returns {Promise<ChildOutcome>}
 */
export const runNode = (args, options = {}) =>
  new Promise((resolve) => {
    /** @type {import('node:child_process').ChildProcess | undefined} */
    let child;
    /** @type {StopSignal | null} */
    let interrupted = null;
    /** @param {StopSignal} signal */
    const forward = (signal) => {
      interrupted ??= signal;
      // A handler runs from the event loop, after the synchronous spawn below has returned.
      child?.kill(signal);
    };
    // Caught from before the child exists. Installed after the spawn, they left a window: the
    // child runs its program before spawn returns (under load, milliseconds before), and a signal
    // that came in between ended this process by default and left the child running, orphaned (a
    // CI run found vite still building after npm, start.mjs and ensureBuild.mjs had ended by
    // SIGTERM). A signal that comes during the spawn is forwarded once the child exists.
    process.on('SIGTERM', forward);
    process.on('SIGINT', forward);
    /** @param {Omit<ChildOutcome, 'interrupted'>} outcome */
    const done = (outcome) => {
      // From here on a stop signal has its default effect again (or the next handler's).
      process.off('SIGTERM', forward);
      process.off('SIGINT', forward);
      resolve({ ...outcome, interrupted });
    };
    try {
      child = spawn(process.execPath, args, { ...options, stdio: 'inherit' });
    } catch (error) {
      // Most spawn failures come as an 'error' event; the rest are thrown.
      done({ code: null, signal: null, error: error instanceof Error ? error : new Error(String(error)) });
      return;
    }
    child.once('error', (error) => done({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => {
      // A Ctrl-C signals the whole process group: the child may be gone before this process's own
      // handler ran. A child ended by a stop signal was stopped from outside: an interruption too.
      if (signal === 'SIGTERM' || signal === 'SIGINT') interrupted ??= signal;
      done({ code, signal, error: null });
    });
  });

/**
 * Ends this process by `signal`, as if it had not caught it, so that its parent sees the signal
 * (npm then ends by it too, quietly; a shell running a script stops the script on a Ctrl-C).
 * Call it with no handler for `signal` left (runNode removes its own once the child exited).
 * @param {StopSignal} signal
 */
export const exitBySignal = (signal) => {
  // The shell's convention for "ended by a signal", should a handler installed elsewhere keep
  // the process alive.
  process.exitCode = 128 + constants.signals[signal];
  process.kill(process.pid, signal);
};
