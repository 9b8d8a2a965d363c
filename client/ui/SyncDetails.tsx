/**
 * The room's sync in full, first in Room details. The header's status is one short line, and on a
 * phone its last-sync time is the part cut short (HEADER-1); a message's state is explained only in
 * its tooltip, which a touch screen never shows. Here both are whole, in words.
 */
import { useId, type ReactNode } from 'react';
import { formatFullTime, isoTime } from './format.js';
import { STATE_HELP, STATE_LABEL } from './MessageItem.js';
import { describeSync } from './describeSync.js';
import { useNetworkOnline } from './useNetworkOnline.js';
import type { MessageState, RoomSession, RoomView } from './services.js';
import { useLabFaults } from './lab/useLab.js';

const STATES: readonly MessageState[] = ['storing', 'pending', 'saved', 'seen'];

export const SyncDetails = ({ session, view }: { session: RoomSession; view: RoomView }): ReactNode => {
  const { lastSyncedAt, status, manualOffline, refusal } = view.connection;
  const networkOnline = useNetworkOnline();
  const labPartitioned = useLabFaults(session).partitioned;
  const words = describeSync(view, { networkOnline, labPartitioned });
  // NET-4: waiting for the relay (between attempts, up to 10 s and NET-1's jitter): try at once.
  const mayRetry = status !== 'online' && !manualOffline && refusal === null && !labPartitioned && networkOnline;
  const headingId = useId();
  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>Sync</h2>
      <dl className="sync-facts">
        <div>
          <dt>Connection</dt>
          <dd>
            {words.connection}
            {mayRetry && (
              <>
                {' '}
                <button type="button" className="button small" onClick={() => session.retryNow()}>
                  Retry now
                </button>
              </>
            )}
          </dd>
        </div>
        <div>
          <dt>Pending</dt>
          <dd>{words.pending}</dd>
        </div>
        {words.upload !== null && (
          <div>
            <dt>Uploading</dt>
            <dd>{words.upload}</dd>
          </div>
        )}
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
