/**
 * A duration for people: whole milliseconds from 10 ms up (timer precision makes decimals noise),
 * one decimal below; '—' when nothing was measured. Never "NaN".
 */
export const formatMs = (v: number | null): string => {
  if (v === null || !Number.isFinite(v)) return '—';
  return `${Math.abs(v) < 10 ? (Math.round(v * 10) / 10).toString() : Math.round(v).toString()} ms`;
};
