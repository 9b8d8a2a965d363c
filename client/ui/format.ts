/** Formatting for times, durations and counts shown in the UI. */

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const timeWithSecondsFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

const sameDay = (a: Date, b: Date): boolean =>
  a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

const validDate = (ms: number): Date | null => {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d : null;
};

/** "14:05" today, "25 Nov 2026, 14:05" on other days. */
export const formatMessageTime = (ms: number, now = Date.now()): string => {
  const d = validDate(ms);
  if (!d) return 'unknown time';
  return sameDay(d, new Date(now)) ? timeFormat.format(d) : dateTimeFormat.format(d);
};

export const formatFullTime = (ms: number): string => {
  const d = validDate(ms);
  return d ? fullFormat.format(d) : 'unknown time';
};

export const isoTime = (ms: number): string | undefined => validDate(ms)?.toISOString();

/** "14:05:09" today, with the date on other days. */
export const formatSyncTime = (ms: number, now = Date.now()): string => {
  const d = validDate(ms);
  if (!d) return 'unknown';
  return sameDay(d, new Date(now)) ? timeWithSecondsFormat.format(d) : dateTimeFormat.format(d);
};

/** "45 seconds", "3 minutes", "2 hours", "5 days". */
export const formatDuration = (ms: number): string => {
  const s = Math.round(Math.abs(ms) / 1000);
  const unit = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (s < 90) return unit(s, 'second');
  const m = Math.round(s / 60);
  if (m < 90) return unit(m, 'minute');
  const h = Math.round(m / 60);
  if (h < 36) return unit(h, 'hour');
  return unit(Math.round(h / 24), 'day');
};

const PRECISE_UNITS = [
  [86_400, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
] as const;

/**
 * "1 minute 30 seconds", "1 day", "23 hours 59 minutes 59 seconds": every unit down to the
 * second, nothing rounded away but the milliseconds (`formatDuration` rounds to one unit).
 */
export const formatPreciseDuration = (ms: number): string => {
  let rest = Math.round(Math.abs(ms) / 1000);
  const parts: string[] = [];
  for (const [size, word] of PRECISE_UNITS) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n} ${word}${n === 1 ? '' : 's'}`);
  }
  return parts.length > 0 ? parts.join(' ') : '0 seconds';
};

export const plural = (n: number, one: string, many = one + 's'): string => `${n} ${n === 1 ? one : many}`;
