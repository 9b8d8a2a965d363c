/**
 * Command line of `npm run experiment -- <scenario file> [--seed N] [--out DIR] [--relay URL]
 * [--clients N] [--duration 60s] [--small]`. `--small` runs the scenario's small budget (what
 * `npm test` runs).
 */
import { parseDuration, MAX_CLIENTS } from '../scenario.js';

export interface CliArgs {
  readonly file: string;
  readonly seed: number | null;
  readonly out: string | null;
  readonly relay: string | null;
  readonly clients: number | null;
  readonly durationMs: number | null;
  readonly small: boolean;
}

export const USAGE =
  'usage: npm run experiment -- <scenario file> [--seed N] [--out DIR] [--relay ws://host:port/sync] [--clients N] [--duration 60s] [--small]';

export const parseArgs = (argv: readonly string[]): CliArgs => {
  let file: string | null = null;
  let seed: number | null = null;
  let out: string | null = null;
  let relay: string | null = null;
  let clients: number | null = null;
  let durationMs: number | null = null;
  let small = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--seed': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) > 0xffffffff)
          throw new Error(`--seed: expected a whole number from 0 to 4294967295, got ${v}`);
        seed = Number(v);
        break;
      }
      case '--out':
        out = value();
        break;
      case '--relay': {
        const v = value();
        if (!/^wss?:\/\/.+\/sync$/.test(v)) throw new Error(`--relay: expected ws://host:port/sync, got ${v}`);
        relay = v;
        break;
      }
      case '--clients': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_CLIENTS) {
          throw new Error(`--clients: expected a whole number from 1 to ${MAX_CLIENTS}, got ${v}`);
        }
        clients = Number(v);
        break;
      }
      case '--duration':
        durationMs = parseDuration(value(), '--duration');
        break;
      case '--small':
        small = true;
        break;
      default:
        if (flag.startsWith('--') || file !== null) throw new Error(`unexpected argument ${a}\n${USAGE}`);
        file = a;
    }
  }
  if (file === null) throw new Error(USAGE);
  return { file, seed, out, relay, clients, durationMs, small };
};
