/**
 * Chromium flags for tests and benchmarks on these machines: the network is closed (background
 * networking, component updates, sync and QUIC would only fail, many times), there is no GPU,
 * and as root the sandbox cannot start.
 */
export const chromiumArgs = (): string[] => [
  ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
