import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import {
  CLIENT_CHARGE_BYTES,
  CloseReason,
  closeReasonByCode,
  isFatalCloseCode,
  decodeAck,
  decodeClientFrame,
  decodeStateVector,
  encodeAck,
  encodeAwareness,
  encodeQueryAwareness,
  encodeStateVector,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  FrameError,
  isValidRoomName,
  Limits,
  MessageType,
  PROTOCOL_VERSION,
  ConnectionMode,
  readAckPayload,
  readPublishedLimits,
  ROOM_NAME_PATTERN,
  SyncType,
  UpgradeRefusal,
} from './protocol.js';
import { Prng, seedFromEnv } from './testing/prng.js';

const SEED = seedFromEnv();
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

const expectBadFrame = (f: () => unknown, what: string): void => {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error, `${what}: not rejected`).toBeInstanceOf(FrameError);
  expect((error as FrameError).closeReason, what).toBe(CloseReason.BadFrame);
};

const randomClockMap = (prng: Prng): Map<number, number> => {
  const m = new Map<number, number>();
  for (let n = prng.int(0, 6); n > 0; n--) {
    m.set(prng.pick([prng.int(0, 2 ** 32 - 1), prng.int(0, 300)]), prng.pick([0, prng.int(0, 1e6), 2 ** 53 - 1]));
  }
  return m;
};

describe('round trips', () => {
  it(`every encoder's frame decodes to what went in (seed ${SEED})`, () => {
    const prng = new Prng(SEED);
    for (let i = 0; i < 100; i++) {
      const body = Uint8Array.from({ length: prng.pick([0, 1, 5, 200, 2000]) }, () => prng.int(0, 255));
      const ctx = `seed ${SEED}, iteration ${i}`;
      expect(decodeClientFrame(encodeSyncStep1(body)), ctx).toEqual({ type: 'sync-step1', stateVector: body });
      expect(decodeClientFrame(encodeSyncStep2(body)), ctx).toEqual({ type: 'sync-step2', update: body });
      expect(decodeClientFrame(encodeSyncUpdate(body)), ctx).toEqual({ type: 'sync-update', update: body });
      expect(decodeClientFrame(encodeAwareness(body)), ctx).toEqual({ type: 'awareness', update: body });
      const clocks = randomClockMap(prng);
      expect(decodeAck(encodeAck(clocks)), ctx).toEqual(clocks);
      expect(decodeStateVector(encodeStateVector(clocks)), ctx).toEqual(clocks);
      const d = decoding.createDecoder(encodeAck(clocks));
      expect(decoding.readVarUint(d)).toBe(MessageType.Ack);
      expect(readAckPayload(d), ctx).toEqual(clocks);
    }
    expect(decodeClientFrame(encodeQueryAwareness())).toEqual({ type: 'query-awareness' });
  });

  it('bodies are views into the frame (no copy)', () => {
    const frame = encodeSyncUpdate(bytes(1, 2, 3));
    const decoded = decodeClientFrame(frame);
    expect(decoded.type === 'sync-update' && decoded.update.buffer).toBe(frame.buffer);
  });

  it('frames are byte-identical to what y-protocols writes', () => {
    const doc = new Y.Doc();
    doc.getText('t').insert(0, 'hello');
    const update = Y.encodeStateAsUpdate(doc);
    const viaYProtocols = (write: (e: encoding.Encoder) => void): Uint8Array => {
      const e = encoding.createEncoder();
      write(e);
      return encoding.toUint8Array(e);
    };
    expect(encodeSyncStep1(Y.encodeStateVector(doc))).toEqual(
      viaYProtocols((e) => {
        encoding.writeVarUint(e, MessageType.Sync);
        syncProtocol.writeSyncStep1(e, doc);
      }),
    );
    expect(encodeSyncStep2(update)).toEqual(
      viaYProtocols((e) => {
        encoding.writeVarUint(e, MessageType.Sync);
        syncProtocol.writeSyncStep2(e, doc);
      }),
    );
    expect(encodeSyncUpdate(update)).toEqual(
      viaYProtocols((e) => {
        encoding.writeVarUint(e, MessageType.Sync);
        syncProtocol.writeUpdate(e, update);
      }),
    );
    const awareness = new awarenessProtocol.Awareness(doc);
    awareness.setLocalState({ user: 'a' });
    const awarenessUpdate = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]);
    expect(encodeAwareness(awarenessUpdate)).toEqual(
      viaYProtocols((e) => {
        encoding.writeVarUint(e, MessageType.Awareness);
        encoding.writeVarUint8Array(e, awarenessUpdate);
      }),
    );
    awareness.destroy();
  });

  it('state vectors are byte-compatible with yjs both ways', () => {
    const doc = new Y.Doc();
    doc.getText('t').insert(0, 'hello');
    const other = new Y.Doc();
    other.getMap('m').set('k', 1);
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(other));
    const ySv = Y.encodeStateVector(doc);
    const ours = decodeStateVector(ySv);
    expect(ours).toEqual(Y.decodeStateVector(ySv));
    expect(Y.decodeStateVector(encodeStateVector(ours))).toEqual(ours);
  });
});

describe('decodeClientFrame rejects bad frames with CloseReason.BadFrame', () => {
  it.each<[string, Uint8Array]>([
    ['empty frame', bytes()],
    ['unknown outer type 4', bytes(4)],
    ['unknown outer type 99', bytes(99, 0)],
    ['Ack from a client', encodeAck(new Map([[1, 2]]))],
    ['Auth from a client', bytes(MessageType.Auth, 0, 1, 0x78)],
    ['unknown sync inner type 3', bytes(0, 3, 0)],
    ['truncated varint (outer)', bytes(0x80)],
    ['truncated varint (inner)', bytes(0, 0x80)],
    ['truncated varint (length)', bytes(0, 2, 0x80)],
    ['missing inner type', bytes(0)],
    ['missing body length', bytes(0, 2)],
    ['sync body length past end', bytes(0, 2, 5, 1, 2)],
    ['awareness length past end', bytes(1, 3, 1)],
    ['huge length', bytes(0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f)],
    ['trailing bytes after sync', bytes(0, 2, 1, 7, 9)],
    ['trailing bytes after awareness', bytes(1, 0, 0)],
    ['trailing bytes after query awareness', bytes(3, 0)],
    // AWR-6: types are one byte; an over-long varint would dodge checks made on the first bytes.
    ['over-long outer type (query awareness as 0x83 0x00)', bytes(0x83, 0x00)],
    ['over-long outer type (sync)', bytes(0x80, 0x00, 2, 0)],
    ['over-long inner sync type', bytes(0, 0x82, 0x00, 0)],
  ])('%s', (name, frame) => {
    expectBadFrame(() => decodeClientFrame(frame), name);
  });

  it(`random bytes either decode or throw FrameError, nothing else (seed ${SEED})`, () => {
    const prng = new Prng(SEED + 1);
    for (let i = 0; i < 3000; i++) {
      const frame = Uint8Array.from({ length: prng.int(0, 12) }, () =>
        prng.pick([0, 1, 2, 3, 100, 0x80, prng.int(0, 255)]),
      );
      try {
        decodeClientFrame(frame);
      } catch (e) {
        expect(e, `seed ${SEED + 1}: ${[...frame].join(',')}`).toBeInstanceOf(FrameError);
      }
    }
  });
});

describe('decodeStateVector and decodeAck', () => {
  const valid = encodeStateVector(
    new Map([
      [1, 5],
      [300, 70000],
    ]),
  );

  it('rejects duplicate clients', () => {
    expectBadFrame(() => decodeStateVector(bytes(2, 1, 5, 1, 6)), 'duplicate');
    expectBadFrame(() => decodeAck(bytes(MessageType.Ack, 2, 1, 5, 1, 6)), 'duplicate in ack');
  });

  it('rejects every truncation, trailing bytes and impossible counts', () => {
    for (let n = 0; n < valid.length; n++) expectBadFrame(() => decodeStateVector(valid.subarray(0, n)), `cut at ${n}`);
    expectBadFrame(() => decodeStateVector(new Uint8Array([...valid, 0])), 'trailing');
    expectBadFrame(() => decodeStateVector(bytes(0xff, 0xff, 0x03, 1, 1)), 'count past end');
    const ack = encodeAck(new Map([[1, 5]]));
    for (let n = 0; n < ack.length; n++) expectBadFrame(() => decodeAck(ack.subarray(0, n)), `ack cut at ${n}`);
    expectBadFrame(() => decodeAck(new Uint8Array([...ack, 0])), 'ack trailing');
    expectBadFrame(() => decodeAck(encodeSyncStep1(valid)), 'not an ack');
  });

  it('accepts the empty state vector', () => {
    expect(decodeStateVector(bytes(0))).toEqual(new Map());
    expect(encodeStateVector(new Map())).toEqual(bytes(0));
  });
});

describe('isValidRoomName', () => {
  it.each(['a', 'room-1', 'A_b.c~d', 'x'.repeat(128), '0', '~', 'a..b', 'a.'])('valid: %s', (name) => {
    expect(isValidRoomName(name)).toBe(true);
  });
  it.each(['', 'x'.repeat(129), '.hidden', '.', '..', 'a/b', 'a b', 'ä', '%2F', 'a\n', 'a?b', 'a#b', 'a\\b', '😀'])(
    'invalid: %j',
    (name) => {
      expect(isValidRoomName(name)).toBe(false);
    },
  );
});

/** 32-bit FNV-1a over the UTF-16 code units of `text`. */
const fnv1a = (text: string): string => {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
};

describe('protocol schema', () => {
  /** The hash of the wire tables, recorded per protocol version. */
  const RECORDED: Record<number, string> = {
    1: '276e936e',
    2: '205cf182',
    3: '1e04bada',
    4: '6b569951', // AWR-7 maxAwarenessBytesPerConnection, VAL-11 maxClientsPerUpdate
    5: '962661cd', // CLOSE-7 upgrade refusals too-many-connections-per-ip, too-many-upgrades-per-ip
    6: 'e84937e9', // UP-1 maxUploadClientsPerFrame: what a Converge client's upload frame may name
    7: 'aa90697a', // REFUSE-4 struct-too-large (VAL-10), too-many-clients (VAL-11); STRUCT-1 clientStructBytes
    8: 'e3e335be', // WATCH-2 upgrade refusal bad-mode
    9: 'eb7d1801', // DEDUPE-3 too-many-gaps, maxHeldRangesPerUpdate
  };

  it('the wire tables hash to the value recorded for PROTOCOL_VERSION', () => {
    const schema = JSON.stringify([
      MessageType,
      SyncType,
      CloseReason,
      UpgradeRefusal,
      Limits,
      ROOM_NAME_PATTERN.source,
      ConnectionMode,
    ]);
    expect(
      fnv1a(schema),
      `the wire changed: bump PROTOCOL_VERSION (now ${PROTOCOL_VERSION}) and record the new hash ${fnv1a(schema)} ` +
        'for it in RECORDED (shared/protocol.test.ts)',
    ).toBe(RECORDED[PROTOCOL_VERSION]);
  });

  it('fatal close reasons use 4400–4499, retryable ones 4500–4599 or 1001, and codes are unique', () => {
    const reasons = Object.values(CloseReason);
    for (const r of reasons) {
      if (r.fatal) expect(r.code >= 4400 && r.code <= 4499, r.reason).toBe(true);
      else expect((r.code >= 4500 && r.code <= 4599) || r.code === 1001, r.reason).toBe(true);
      expect(r.reason).toMatch(/^[a-z-]+$/);
    }
    expect(new Set(reasons.map((r) => r.code)).size).toBe(reasons.length);
    expect(new Set(reasons.map((r) => r.reason)).size).toBe(reasons.length);
  });

  it('isFatalCloseCode goes by the range, for codes this version does not know too', () => {
    expect([4399, 4400, 4450, 4499, 4500, 1001, 1006].map(isFatalCloseCode)).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    for (const r of Object.values(CloseReason)) expect(isFatalCloseCode(r.code), r.reason).toBe(r.fatal);
  });

  it('closeReasonByCode is the reverse lookup', () => {
    for (const r of Object.values(CloseReason)) expect(closeReasonByCode(r.code)).toBe(r);
    expect(closeReasonByCode(1000)).toBeUndefined();
    expect(closeReasonByCode(4999)).toBeUndefined();
  });

  it('upgrade refusals are HTTP errors', () => {
    for (const r of Object.values(UpgradeRefusal)) {
      expect(r.status >= 400 && r.status <= 599, r.reason).toBe(true);
    }
  });
});

describe('readPublishedLimits (UP-2)', () => {
  const good = {
    maxBytesPerSecond: 2 * 1024 * 1024,
    byteBurst: 16 * 1024 * 1024,
    maxMessagesPerSecond: 200,
    messageBurst: 1000,
    maxFrameBytes: 8 * 1024 * 1024,
    maxClientsPerUpdate: 32_768,
    maxStructBytes: 1_048_512,
  };

  it('UP-2: takes what a relay publishes, and ignores fields it does not know', () => {
    expect(readPublishedLimits(good)).toEqual(good);
    expect(readPublishedLimits({ ...good, future: 'x' })).toEqual(good);
  });

  it('UP-2: anything else is unknown (null): missing, not a positive safe integer, or a burst RATE-1 forbids', () => {
    const bad: unknown[] = [
      null,
      undefined,
      'limits',
      [good],
      {},
      { ...good, byteBurst: undefined },
      { ...good, byteBurst: '16777216' },
      { ...good, maxBytesPerSecond: 0 },
      { ...good, maxBytesPerSecond: -5 },
      { ...good, messageBurst: 1.5 },
      { ...good, maxBytesPerSecond: Number.POSITIVE_INFINITY },
      { ...good, maxBytesPerSecond: Number.NaN },
      { ...good, maxBytesPerSecond: 2 ** 53 },
      // RATE-1: the burst must pay for the largest frame with the most clients.
      { ...good, byteBurst: good.maxFrameBytes + good.maxClientsPerUpdate * CLIENT_CHARGE_BYTES - 1 },
    ];
    for (const value of bad) expect(readPublishedLimits(value), JSON.stringify(value)).toBeNull();
  });
});
