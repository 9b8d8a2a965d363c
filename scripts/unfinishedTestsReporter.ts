/**
 * A vitest reporter that names the test files that started and never finished.
 *
 * Why: when a test file's worker dies (out of memory, a crash in native code), vitest says only
 * "Worker exited unexpectedly", naming neither the file nor the test, and a randomised test's seed
 * is in its name, which is printed only once it passed. This reporter prints, at the end of the
 * run, each file that never finished with the tests it had not reported (seeds included); and
 * while the run goes on, a file running for more than `SLOW_NOTICE_MS` is named once, so a run
 * stopped from outside (a CI time limit) still says what it was doing.
 */
import type { Reporter, TestModule } from 'vitest/node';

const SLOW_NOTICE_MS = 180_000;

export default class UnfinishedTestsReporter implements Reporter {
  private readonly running = new Map<string, { module: TestModule; since: number; noticed: boolean }>();
  private timer: ReturnType<typeof setInterval> | null = null;

  onTestRunStart(): void {
    this.timer = setInterval(() => this.noticeSlow(), 10_000);
    this.timer.unref();
  }

  onTestModuleStart(module: TestModule): void {
    this.running.set(module.moduleId, { module, since: Date.now(), noticed: false });
  }

  onTestModuleEnd(module: TestModule): void {
    this.running.delete(module.moduleId);
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (this.timer) clearInterval(this.timer);
    const lines: string[] = [];
    for (const m of modules) {
      if (m.state() !== 'pending' && m.state() !== 'queued') continue;
      const since = this.running.get(m.moduleId)?.since;
      lines.push(
        `  ${m.relativeModuleId}${since === undefined ? '' : ` (started ${seconds(Date.now() - since)} before the end)`}`,
      );
      for (const test of m.children.allTests()) {
        if (test.result().state === 'pending') lines.push(`    not reported: ${test.fullName}`);
      }
    }
    if (lines.length === 0) return;
    console.log(`\nTest files that never finished (their worker died or was stopped):\n${lines.join('\n')}\n`);
  }

  private noticeSlow(): void {
    const now = Date.now();
    for (const r of this.running.values()) {
      if (r.noticed || now - r.since < SLOW_NOTICE_MS) continue;
      r.noticed = true;
      const open = [...r.module.children.allTests()].filter((t) => t.result().state === 'pending');
      console.log(
        `\nStill running after ${seconds(now - r.since)}: ${r.module.relativeModuleId}; not reported yet:\n` +
          open.map((t) => `  ${t.fullName}`).join('\n') +
          '\n',
      );
    }
  }
}

const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;
