import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/**/*.test.ts', 'relay/**/*.test.ts', 'client/**/*.test.ts', 'lab/**/*.test.ts'],
    // Integration tests mostly wait on child processes: two workers even on two cores.
    maxWorkers: 2,
    testTimeout: 60_000,
    // Every test file runs in well under 1 GiB (the whole suite passes with 1024 MiB). A runaway
    // test then dies within seconds instead of after minutes of garbage collection at Node's
    // default limit (4 GiB on a large machine: a CI run once spent 12 minutes getting there).
    execArgv: ['--max-old-space-size=1536'],
    // A worker that dies (out of memory) names no test: this reporter names the unfinished ones.
    reporters: ['default', './scripts/unfinishedTestsReporter.ts'],
    hookTimeout: 60_000,
  },
});
