/**
 * Starts a worker thread from a TypeScript module. The relay runs its sources directly through
 * tsx (`npm start`, the tests, the bench), but a worker thread does not inherit the main
 * thread's module hooks: a `.ts` entry would fail with "Unknown file extension". So the worker
 * is booted from a few lines of JavaScript that register tsx's ESM hooks inside it and then
 * import the entry. The tsx API module is located through tsx's own package.json exports (by
 * absolute URL), so this works from any working directory and under vitest, which does not
 * load tsx in the main thread at all. A `.js` entry (compiled code) starts as a plain worker.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

let tsxApiUrl: string | null = null;

const tsxEsmApi = (): string => {
  if (tsxApiUrl) return tsxApiUrl;
  const pkgFile = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as {
    exports: Record<string, { import: { default: string } }>;
  };
  tsxApiUrl = pathToFileURL(join(dirname(pkgFile), pkg.exports['./esm/api']!.import.default)).href;
  return tsxApiUrl;
};

export const startTsWorker = (entry: URL, options: WorkerOptions = {}): Worker => {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  const boot =
    `import(${JSON.stringify(tsxEsmApi())})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
};
