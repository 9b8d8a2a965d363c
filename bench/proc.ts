/**
 * What the benchmarks read from the operating system: a process's CPU time and resident memory
 * (from /proc, so it works for any child process, whatever it runs), and the machine itself.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, normally 100). */
export const CLK_TCK = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** User and system (kernel) CPU time of a process so far, ms (resolution 1000 / CLK_TCK). */
export const cpuTimes = (pid: number): { userMs: number; systemMs: number } => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { userMs: (Number(fields[11]) * 1000) / CLK_TCK, systemMs: (Number(fields[12]) * 1000) / CLK_TCK };
};

/** User + system CPU time of a process so far, in milliseconds. */
export const cpuMs = (pid: number): number => {
  const t = cpuTimes(pid);
  return t.userMs + t.systemMs;
};

export interface MemInfo {
  /** Resident set size now, MiB. */
  readonly rssMiB: number;
  /** Peak resident set size ("high water mark"), MiB. */
  readonly hwmMiB: number;
}

export const memInfo = (pid: number): MemInfo => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
};

/** Waits until `pid` used at most `maxMs` of CPU in each of two consecutive `sampleMs` samples. */
export const waitQuiet = async (pid: number, opts: { sampleMs?: number; maxMs?: number; timeoutMs?: number } = {}) => {
  const sampleMs = opts.sampleMs ?? 250;
  const maxMs = opts.maxMs ?? sampleMs * 0.04;
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let quiet = 0;
  let last = cpuMs(pid);
  while (quiet < 2 && Date.now() < deadline) {
    await sleep(sampleMs);
    const now = cpuMs(pid);
    quiet = now - last <= maxMs ? quiet + 1 : 0;
    last = now;
  }
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memGiB: number;
  readonly node: string;
  readonly kernel: string;
  readonly date: string;
  readonly clkTck: number;
}

export const machineInfo = (): MachineInfo => {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpuModel;
  } catch {
    // not Linux: keep os.cpus()
  }
  return {
    cpuModel,
    cores: os.availableParallelism(),
    memGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    date: new Date().toISOString(),
    clkTck: CLK_TCK,
  };
};

/** CPU time the whole machine spent busy so far (all cores, every process), ms. */
export const machineBusyMs = (): number => {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + v[7]!;
  return (busy * 1000) / CLK_TCK;
};

/**
 * Other programs on the machine steal cores from the server and the generator and make
 * latencies meaningless. Waits (up to `timeoutMs`) for a `sampleMs` sample in which the machine,
 * minus the given processes and this one, used at most `maxPct` % of one core. Returns the last
 * sample's foreign load (%).
 */
export const waitMachineQuiet = async (
  pids: readonly number[],
  opts: { maxPct?: number; sampleMs?: number; timeoutMs?: number } = {},
): Promise<number> => {
  const maxPct = opts.maxPct ?? 10;
  const sampleMs = opts.sampleMs ?? 1000;
  const end = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    const probe = foreignLoad(pids);
    await sleep(sampleMs);
    const pct = probe();
    if (pct <= maxPct || Date.now() >= end) return pct;
  }
};

/** Starts measuring CPU used by everything except `pids` and this process; call the result to read % of one core. */
export const foreignLoad = (pids: readonly number[]): (() => number) => {
  const t0 = performance.now();
  const m0 = machineBusyMs();
  const own0 = ownMs(pids);
  return () => {
    const ms = performance.now() - t0;
    // Clamped: tick rounding can make the difference slightly negative.
    return Math.max(0, ((machineBusyMs() - m0 - (ownMs(pids) - own0)) / ms) * 100);
  };
};

const ownMs = (pids: readonly number[]): number => {
  let sum = cpuMs(process.pid);
  for (const pid of pids) {
    try {
      sum += cpuMs(pid);
    } catch {
      // exited
    }
  }
  return sum;
};
