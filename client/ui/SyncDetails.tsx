/**
 * The room's sync in full, first in Room details. The header's status is one short line, and on a
 * phone its last-sync time is the part cut short (HEADER-1); a message's state is explained only in
 * its tooltip, which a touch screen never shows. Here both are whole, in words.
 */
import { useId, type ReactNode } from 'react';
import { formatFullTime, isoTime, plural } from './format.js';
import { STATE_HELP, STATE_LABEL } from './MessageItem.js';
import { pendingWrites, type MessageState, type RoomView } from './services.js';

export const STATUS_LABEL = { online: 'Online', connecting: 'Connecting…', offline: 'Offline' } as const;

const STATES: readonly MessageState[] = ['storing', 'pending', 'saved', 'seen'];

/**
 * STATE-1, STATE-5 and STATE-6: the own writes the relay does not have yet, counted together
 * (`pendingWrites`), and what they are in words ("1 message", "2 reactions", "the title");
 * `onlyMessages` when there is nothing else, so that the header need not say what they are.
 */
export const describePending = (
  view: Pick<RoomView, 'pendingCount' | 'pendingReactionCount' | 'pendingTitle'>,
): { count: number; parts: string[]; onlyMessages: boolean } => {
  const { pendingCount: messages, pendingReactionCount: reactions, pendingTitle: title } = view;
  const parts = [
    ...(messages > 0 ? [plural(messages, 'message')] : []),
    ...(reactions > 0 ? [plural(reactions, 'reaction')] : []),
    ...(title ? ['the title'] : []),
  ];
  return { count: pendingWrites(view), parts, onlyMessages: reactions === 0 && !title };
};

/** "a, b and c". */
const listInWords = (parts: readonly string[]): string =>
  parts.length <= 1 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)!}`;

export const SyncDetails = ({ view }: { view: RoomView }): ReactNode => {
  const { status, manualOffline, lastSyncedAt } = view.connection;
  const waiting = listInWords(describePending(view).parts);
  const headingId = useId();
  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>Sync</h2>
      <dl className="sync-facts">
        <div>
          <dt>Connection</dt>
          <dd>
            {STATUS_LABEL[status]}
            {manualOffline && ' (switched off: nothing is sent or received until you go online)'}
          </dd>
        </div>
        <div>
          <dt>Pending</dt>
          <dd>
            {waiting === ''
              ? 'Nothing waiting to be sent'
              : `${waiting.charAt(0).toUpperCase()}${waiting.slice(1)} kept on this device, sent when the relay can be reached`}
          </dd>
        </div>
        <div>
          <dt>Last synced with the relay</dt>
          <dd>
            {lastSyncedAt === null ? (
              'Not yet on this device'
            ) : (
              <time dateTime={isoTime(lastSyncedAt)}>{formatFullTime(lastSyncedAt)}</time>
            )}
          </dd>
        </div>
      </dl>
      <details className="state-legend">
        <summary>What the marks on your messages mean</summary>
        <dl>
          {STATES.map((s) => (
            <div key={s}>
              <dt>{STATE_LABEL[s]}</dt>
              <dd>{STATE_HELP[s]}</dd>
            </div>
          ))}
        </dl>
      </details>
    </section>
  );
};
