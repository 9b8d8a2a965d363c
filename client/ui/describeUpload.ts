/** UP-2's progress line, for an upload paced to the relay's rate that takes a while (../sync/uploadPacer.ts). */
import type { UploadProgress } from '../sync/uploadPacer.js';
import { formatDuration } from './format.js';

const MiB = 1024 * 1024;
/** "0.3 MiB", "12.5 MiB", "64 MiB". */
const mib = (bytes: number): string => {
  const n = bytes / MiB;
  return `${n >= 10 ? Math.round(n) : Math.round(n * 10) / 10} MiB`;
};

/**
 * What is being sent, how much of it, for about how long, and why it is not faster. The bytes are
 * those handed to the connection (the relay's acks say what it saved: messages turn Saved).
 */
export const describeUpload = (p: UploadProgress): string =>
  `Sending what the relay does not have yet: ${mib(p.sentBytes)} of ${mib(p.totalBytes)}, about ` +
  `${formatDuration(Math.max(p.remainingMs, 1000))} left. The relay takes ${mib(p.bytesPerSecond)} a second ` +
  'from one connection; if the connection ends first, the rest is sent on the next one.';

/**
 * LIVE-3: what a screen reader hears when such an upload starts, short; the figures that change
 * with every piece are in the banner (`describeUpload`), shown and not announced.
 */
export const announceUploadStart = (p: UploadProgress): string =>
  `Uploading ${mib(p.totalBytes)} the relay does not have yet, about ${formatDuration(Math.max(p.remainingMs, 1000))}.`;

/**
 * LIVE-3: what it hears when the banner goes. With the connection still up, everything was handed
 * to it (the relay's acks then turn messages Saved); else the connection ended first, and its
 * next one sends the rest (UP-2).
 */
export const announceUploadEnd = (connected: boolean): string =>
  connected ? 'Upload sent.' : 'Upload stopped with the connection; the rest is sent on the next one.';
