import { describe, expect, it } from 'vitest';
import { CloseReason } from '../../shared/protocol.js';
import {
  describeRetryableClose,
  deriveStatus,
  describeFatalClose,
  OFFLINE_AFTER_FAILURES,
  roomNameRefusal,
  type StatusInputs,
} from './status.js';

const base: StatusInputs = {
  manualOffline: false,
  refused: false,
  networkOnline: true,
  partitioned: false,
  wantsConnection: true,
  socketOpen: false,
  synced: false,
  failedAttempts: 0,
};

describe('STATUS-1 deriveStatus', () => {
  it.each<[string, Partial<StatusInputs>, string]>([
    ['connected and synced', { socketOpen: true, synced: true }, 'online'],
    ['open but handshake not finished', { socketOpen: true }, 'connecting'],
    ['first attempts', { failedAttempts: OFFLINE_AFTER_FAILURES - 1 }, 'connecting'],
    ['many failed attempts, still retrying', { failedAttempts: OFFLINE_AFTER_FAILURES }, 'offline'],
    ['many failed attempts but the socket just opened', { failedAttempts: 5, socketOpen: true }, 'connecting'],
    ['manual offline wins over everything', { manualOffline: true, socketOpen: true, synced: true }, 'offline'],
    ['refused', { refused: true }, 'offline'],
    ['provider gave up', { wantsConnection: false }, 'offline'],
    ['browser has no network', { networkOnline: false }, 'offline'],
    // LAB-1: no attempt can succeed; the first ones said "Connecting…" for seconds.
    ['cut off by a Lab partition, before any attempt failed', { partitioned: true }, 'offline'],
    [
      'cut off by a Lab partition while the closing socket still looks open',
      { partitioned: true, socketOpen: true, synced: true },
      'offline',
    ],
    // STATUS-2 closes that socket; its close may take seconds on a dead link (seen in e2e under load).
    [
      'browser says offline while the socket still looks open',
      { networkOnline: false, socketOpen: true, synced: true },
      'offline',
    ],
  ])('%s', (_name, patch, expected) => {
    expect(deriveStatus({ ...base, ...patch })).toBe(expected);
  });
});

describe('refusal texts', () => {
  it('REFUSE-1 names the reason of every fatal close code, and unknown ones by code', () => {
    for (const r of Object.values(CloseReason).filter((x) => x.fatal)) {
      expect(describeFatalClose(r.code, r.reason)).toContain(r.reason);
    }
    expect(describeFatalClose(4499, 'whatever')).toContain('4499');
  });

  it('REFUSE-4: a refusal for one of the relay limits says which, in plain words, and what to do; never "malformed"', () => {
    const tooLarge = describeFatalClose(CloseReason.StructTooLarge.code, CloseReason.StructTooLarge.reason);
    expect(tooLarge).toMatch(/^The relay refused a change too large for this relay \(struct-too-large\)/);
    expect(tooLarge).toMatch(/export the room.*MAX_SEND_FRAME_BYTES/);
    const writers = describeFatalClose(CloseReason.TooManyClients.code, CloseReason.TooManyClients.reason);
    expect(writers).toMatch(/^The relay refused an upload naming too many writers \(too-many-clients\)/);
    expect(writers).toMatch(/MAX_CLIENTS_PER_UPDATE.*export the room.*raise that limit/);
    const gaps = describeFatalClose(CloseReason.TooManyGaps.code, CloseReason.TooManyGaps.reason);
    expect(gaps).toMatch(/^The relay refused a change from this device \(too-many-gaps\)/);
    expect(gaps).toMatch(
      /holds out of order.*than the relay cuts around in one change.*export the room.*tell whoever runs the relay/,
    );
    for (const text of [tooLarge, writers, gaps]) {
      expect(text).not.toMatch(/malformed/);
      expect(text).toMatch(/switch the room offline and online again to retry/);
    }
    // A malformed update is still called so.
    expect(describeFatalClose(CloseReason.InvalidUpdate.code, CloseReason.InvalidUpdate.reason)).toMatch(/malformed/);
  });

  it('REFUSE-2 explains the room-name rule', () => {
    expect(roomNameRefusal('a b')).toMatch(/"a b" cannot be used: a room name is 1-128 characters/);
  });
});

describe('REFUSE-3 describeRetryableClose', () => {
  it('explains storage-unavailable, rate-limited and internal-error, naming the reason', () => {
    for (const r of [CloseReason.StorageUnavailable, CloseReason.RateLimited, CloseReason.InternalError]) {
      expect(describeRetryableClose(r.code)).toContain(r.reason);
    }
    expect(describeRetryableClose(CloseReason.StorageUnavailable.code)).toMatch(/stay Pending/);
  });

  it('says nothing for ordinary reconnects, fatal closes and codes the relay never sends', () => {
    for (const code of [
      CloseReason.GoingAway.code,
      CloseReason.SlowConsumer.code,
      CloseReason.BadFrame.code,
      1006,
      4999,
    ]) {
      expect(describeRetryableClose(code)).toBeNull();
    }
  });
});
