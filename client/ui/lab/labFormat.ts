/** Formatting for the lab's times and sizes. */
import { formatDuration } from '../format.js';

/** "0.8 s", "12.4 s" under a minute (heals are short), then "3 minutes". */
export const formatElapsed = (ms: number): string => {
  const a = Math.max(0, ms);
  if (a < 1000) return `${Math.round(a)} ms`;
  if (a < 60_000) return `${(a / 1000).toFixed(1)} s`;
  return formatDuration(a);
};

/** "512 B", "3.4 KB", "1.2 MB". */
export const formatBytes = (n: number): string => {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
};
