import { describe, expect, it } from 'vitest';
import type { RoomView } from '../sync/roomSession.js';
import { describeSync } from './describeSync.js';

type SyncInput = Parameters<typeof describeSync>[0];

const view = (
  connection: Partial<RoomView['connection']>,
  pending: Partial<Pick<RoomView, 'pendingCount' | 'pendingReactionCount' | 'pendingTitle'>> = {},
): SyncInput => ({
  connection: {
    status: 'online',
    manualOffline: false,
    lastSyncedAt: 0,
    refusal: null,
    upload: null,
    oversized: [],
    textByteLimit: null,
    ...connection,
  },
  pendingCount: 0,
  pendingReactionCount: 0,
  pendingTitle: false,
  ...pending,
});

const oneMessage = { pendingCount: 1 };
const upload = { sentBytes: 1024 * 1024, totalBytes: 3 * 1024 * 1024, remainingMs: 4000, bytesPerSecond: 512 * 1024 };

describe('SYNC-D1: Room details says what is true now and what happens next', () => {
  it('a refused room: not syncing, with the reason, and nothing is sent until the user acts', () => {
    const refusal = 'The relay refused a change too large for this relay (struct-too-large).';
    const words = describeSync(view({ status: 'offline', refusal }, oneMessage), {
      networkOnline: true,
      labPartitioned: false,
    });
    expect(words.connection).toBe(`Not syncing. ${refusal}`);
    expect(words.pending).toBe('1 message kept on this device, not sent while the relay refuses this room');
  });

  it('SYNC-D1, LAB-1: cut off by a Lab partition: says so, not that the relay cannot be reached', () => {
    const words = describeSync(view({ status: 'offline' }, oneMessage), { networkOnline: true, labPartitioned: true });
    expect(words.connection).toBe(
      'Offline: cut off by a Lab partition on this device (from the relay and this room’s other tabs) until it is lifted',
    );
    expect(words.pending).toBe('1 message kept on this device, sent when the partition is lifted');
    // The switch is the user's own act, and a refusal stands whatever the lab does.
    const off = describeSync(view({ status: 'offline', manualOffline: true }), {
      networkOnline: true,
      labPartitioned: true,
    });
    expect(off.connection).toMatch(/^Offline \(switched off/);
    // Without a network the partition is still the reason named: lifting it alone does not reconnect,
    // but it is what the user set on this device.
    expect(
      describeSync(view({ status: 'offline' }), { networkOnline: false, labPartitioned: true }).connection,
    ).toMatch(/Lab partition/);
  });

  it('switched off: the writes wait for the user, not the relay', () => {
    const words = describeSync(view({ status: 'offline', manualOffline: true }, oneMessage), {
      networkOnline: true,
      labPartitioned: false,
    });
    expect(words.connection).toBe('Offline (switched off: nothing is sent or received until you go online)');
    expect(words.pending).toBe('1 message kept on this device, sent when you go online');
  });

  it('no network is told apart from a relay that cannot be reached', () => {
    expect(
      describeSync(view({ status: 'offline' }, oneMessage), { networkOnline: false, labPartitioned: false }),
    ).toMatchObject({
      connection: 'Offline: this device has no network',
      pending: '1 message kept on this device, sent when this device is back on a network',
    });
    expect(
      describeSync(view({ status: 'offline' }, oneMessage), { networkOnline: true, labPartitioned: false }),
    ).toMatchObject({
      connection: 'Offline: the relay cannot be reached; trying again',
      pending: '1 message kept on this device, sent when the relay can be reached',
    });
    expect(
      describeSync(view({ status: 'connecting' }, oneMessage), { networkOnline: true, labPartitioned: false }).pending,
    ).toBe('1 message kept on this device, sent when the relay can be reached');
  });

  it('online with writes still pending: they are being sent, not waiting for the relay', () => {
    const words = describeSync(view({ status: 'online' }, { pendingCount: 2, pendingTitle: true }), {
      networkOnline: true,
      labPartitioned: false,
    });
    expect(words.connection).toBe('Online');
    expect(words.pending).toBe(
      '2 messages and the title kept on this device, being sent to the relay, which confirms each once it has saved it',
    );
  });

  it('an upload in progress is listed, also when none of it is the user’s own writes', () => {
    const words = describeSync(view({ upload }), { networkOnline: true, labPartitioned: false });
    expect(words.pending).toBe('Nothing of your own waiting to be sent');
    expect(words.upload).toMatch(/^Sending what the relay does not have yet: 1 MiB of 3 MiB/);
    expect(describeSync(view({}), { networkOnline: true, labPartitioned: false })).toMatchObject({
      pending: 'Nothing waiting to be sent',
      upload: null,
    });
  });
});
