/** Formatting for the lab's times and sizes. */
import { CLOCK_AHEAD_TOLERANCE_MS } from '../../../shared/chat/hlc.js';
import { formatDuration, formatPreciseDuration } from '../format.js';

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

/**
 * LAB-13: what the Lab panel says while this device's HLC is ahead of its clock (null within the
 * tolerance of HLC-4): how far, what it does to this device's messages, and why, in one sentence.
 */
export const hlcAheadNote = (ahead: { ms: number; setBack: boolean }): string | null => {
  if (ahead.ms <= CLOCK_AHEAD_TOLERANCE_MS) return null;
  const d = formatPreciseDuration(ahead.ms);
  const why = ahead.setBack
    ? 'An HLC never goes back (HLC-2): it keeps the latest time it gave a message or took from one before this device’s clock was set back.'
    : 'An HLC never goes back (HLC-2): it keeps the latest time it used or took from a message (up to 60 s ahead, HLC-3).';
  return `This device’s HLC is ${d} ahead of its clock: your messages keep sorting as if sent ${d} ahead, until real time catches up. ${why}`;
};
