/**
 * A headless experiment client against the real relay (a child process): what EXP-5's quiesce
 * reads of it.
 */
import { describe, expect, it } from 'vitest';
import { NO_FAULTS } from '../../shared/lab/faults.js';
import { waitFor } from '../../shared/testing/waitFor.js';
import { useRelaySessions } from '../../client/testing/relaySessions.js';
import { LabClient } from './labClient.js';

const { freshRoom, relay, afterTest } = useRelaySessions('labclient');

describe('LabClient', () => {
  it('EXP-5 (STATE-5, STATE-6): an own reaction or title the relay has not acked keeps the client pending', async () => {
    const c = new LabClient('c0', 0, 1, freshRoom(), () => null, null);
    afterTest(() => c.destroy());
    await c.start(relay().wsUrl);
    await waitFor(() => c.online, 'online');
    const sent = c.send('react to me', false, 0);
    if (!sent.ok) throw new Error(sent.reason);
    await waitFor(() => c.pending() === 0, 'the message acked');
    c.mergeFaults({ partitioned: true });
    await waitFor(() => !c.online, 'cut off');
    c.session!.react(sent.view.id, '🎉', true);
    expect(c.pending()).toBe(1);
    expect(c.sample().pending).toBe(1);
    c.session!.setTitle('cut off');
    expect(c.pending()).toBe(2);
    c.setFaults(NO_FAULTS);
    await waitFor(() => c.pending() === 0, 'both acked after healing');
  });
});
