/**
 * Structured logs: one JSON object per line on stderr. Never log message contents, update
 * bytes or query strings — only sizes, reasons, room names and counts.
 */
export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevelName = keyof typeof LogLevel;

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export const createLogger = (
  level: LogLevelName,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger => {
  const min = LogLevel[level];
  const at =
    (name: Exclude<LogLevelName, 'silent'>) =>
    (event: string, fields: Record<string, unknown> = {}): void => {
      if (LogLevel[name] < min) return;
      write(JSON.stringify({ time: new Date().toISOString(), level: name, event, ...fields }) + '\n');
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
};

export const silentLogger: Logger = createLogger('silent');
