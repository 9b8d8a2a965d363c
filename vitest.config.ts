import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/**/*.test.ts', 'relay/**/*.test.ts', 'client/**/*.test.ts', 'lab/**/*.test.ts'],
    // Integration tests mostly wait on child processes: two workers even on two cores.
    maxWorkers: 2,
    testTimeout: 60_000,
    // A worker that dies (out of memory) names no test: this reporter names the unfinished ones.
    reporters: ['default', './scripts/unfinishedTestsReporter.ts'],
    hookTimeout: 60_000,
  },
});
