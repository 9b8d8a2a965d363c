/**
 * Hostile input against the real relay process (CLOSE-1, CLOSE-2, VAL-*, AWR-1): each attack
 * comes from a raw `ws` client in a room where two stock clients are working. The relay must
 * close only the offending socket with the code and reason from `CloseReason`, the stock
 * clients keep working (a's later edit reaches c, neither was closed), the stored room stays
 * intact (a fresh client gets exactly the good content and nothing of the attacker's), and the
 * relay process stays alive (/healthz 200).
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import {
  CloseReason,
  encodeAwareness,
  encodeQueryAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  Limits,
  MessageType,
  type CloseReasonInfo,
} from '../../shared/protocol.js';
import { Prng } from '../../shared/testing/prng.js';
import { MAX_AWARENESS_CLOCK } from '../roomCore.js';
import { Harness, healthz, isAlive, synced, waitFor, type RawClient } from './clients.js';

const h = new Harness();
afterEach(async (ctx) => h.cleanup(ctx.task.result?.state === 'fail'));

/** The attacker's Yjs client id: the fresh client at the end must hold nothing of it. */
const ATTACKER = 4242;

/** Update content that must never reach the relay's log (README: logs never contain message contents). */
const ATTACKER_SECRET = 'attacker-secret-7f3a';

/** A real update from the attacker's doc: "evil" inserted into the room's text. */
const attackerUpdate = (): Uint8Array => {
  const doc = new Y.Doc();
  doc.clientID = ATTACKER;
  doc.getText('text').insert(0, 'evil');
  return Y.encodeStateAsUpdate(doc);
};

const awarenessUpdate = (clientID: number, clock: number, json: string): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1);
  encoding.writeVarUint(e, clientID);
  encoding.writeVarUint(e, clock);
  encoding.writeVarString(e, json);
  return encoding.toUint8Array(e);
};

/** A client→server websocket frame built by hand (masked, FIN set, payload < 126 bytes). */
const maskedFrame = (opcode: number, payload: readonly number[]): Uint8Array => {
  const mask = [0x12, 0x34, 0x56, 0x78];
  return Uint8Array.from([0x80 | opcode, 0x80 | payload.length, ...mask, ...payload.map((b, i) => b ^ mask[i % 4]!)]);
};

const tcpSocket = (raw: RawClient): Socket => (raw.ws as unknown as { _socket: Socket })._socket;

interface Attack {
  readonly name: string;
  readonly expected: CloseReasonInfo;
  /** Relay settings for this attack (small limits). */
  readonly env?: Record<string, string>;
  readonly run: (raw: RawClient) => void;
}

const attacks: Attack[] = [
  {
    name: 'CLOSE-2: random binary garbage → bad-frame',
    expected: CloseReason.BadFrame,
    run: (raw) => {
      const prng = new Prng(0xbad);
      const bytes = new Uint8Array(512).map(() => prng.int(0, 255));
      bytes[0] = 0xde; // a varUint continuation byte: the outer type is some huge unknown number
      raw.ws.send(bytes);
    },
  },
  {
    name: 'CLOSE-2: an empty binary frame → bad-frame',
    expected: CloseReason.BadFrame,
    run: (raw) => raw.ws.send(new Uint8Array(0)),
  },
  {
    name: 'CLOSE-2: a truncated sync frame (body length past the end) → bad-frame',
    expected: CloseReason.BadFrame,
    run: (raw) => {
      const frame = encodeSyncUpdate(attackerUpdate());
      raw.ws.send(frame.subarray(0, frame.length - 3));
    },
  },
  {
    name: 'VAL-1: a truncated Yjs update inside a valid Update frame → invalid-update',
    expected: CloseReason.InvalidUpdate,
    run: (raw) => {
      const update = attackerUpdate();
      raw.ws.send(encodeSyncUpdate(update.subarray(0, update.length - 1)));
    },
  },
  {
    name: 'VAL-1: a Yjs update with trailing garbage inside a valid SyncStep2 frame → invalid-update',
    expected: CloseReason.InvalidUpdate,
    run: (raw) => {
      const update = attackerUpdate();
      raw.ws.send(encodeSyncStep2(Uint8Array.from([...update, 7, 7, 7])));
    },
  },
  {
    name: 'VAL-7: an update with a corrupt (overlapping) delete set → invalid-update',
    expected: CloseReason.InvalidUpdate,
    run: (raw) => {
      // No structs; delete set: 1 client (ATTACKER) with ranges [5, 8) and [6, 8).
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      encoding.writeVarUint(e, 1);
      encoding.writeVarUint(e, ATTACKER);
      encoding.writeVarUint(e, 2);
      for (const [clock, len] of [
        [5, 3],
        [6, 2],
      ] as const) {
        encoding.writeVarUint(e, clock);
        encoding.writeVarUint(e, len);
      }
      raw.ws.send(encodeSyncUpdate(encoding.toUint8Array(e)));
    },
  },
  {
    name: 'VAL-8: a sub-document with an unknown option → invalid-update, and the option (content) is not logged',
    expected: CloseReason.InvalidUpdate,
    run: (raw) => {
      // One struct of ATTACKER at clock 0: a ContentDoc (ref 9) under root 't', guid 'g', options
      // { [ATTACKER_SECRET]: true } (Any object 118, true 120); empty delete set.
      const e = encoding.createEncoder();
      for (const n of [1, 1, ATTACKER, 0]) encoding.writeVarUint(e, n);
      encoding.writeUint8(e, 9);
      encoding.writeVarUint(e, 1);
      encoding.writeVarString(e, 't');
      encoding.writeVarString(e, 'g');
      encoding.writeUint8(e, 118);
      encoding.writeVarUint(e, 1);
      encoding.writeVarString(e, ATTACKER_SECRET);
      encoding.writeUint8(e, 120);
      encoding.writeVarUint(e, 0);
      raw.ws.send(encodeSyncUpdate(encoding.toUint8Array(e)));
    },
  },
  {
    name: 'VAL-10, REFUSE-4: an update holding one struct larger than MAX_SEND_FRAME_BYTES − 64 → struct-too-large',
    expected: CloseReason.StructTooLarge,
    // The smallest frames the relay sends; an awareness state must still fit one.
    env: { MAX_SEND_FRAME_BYTES: '4096', MAX_AWARENESS_STATE_BYTES: '2048' },
    run: (raw) => {
      // One insert of 5,000 characters is one struct: it cannot be cut to fit a 4 KiB frame.
      const d = new Y.Doc();
      d.clientID = ATTACKER;
      d.getText('big').insert(0, 'x'.repeat(5000));
      raw.ws.send(encodeSyncUpdate(Y.encodeStateAsUpdate(d)));
    },
  },
  {
    name: 'AWR-6: query-awareness answers beyond the byte rate → rate-limited',
    expected: CloseReason.RateLimited,
    // RATE-1 wants BYTE_BURST ≥ MAX_FRAME_BYTES + MAX_CLIENTS_PER_UPDATE × 256.
    env: { MAX_FRAME_BYTES: '20000', BYTE_BURST: '40000', MAX_BYTES_PER_SEC: '1000', MAX_CLIENTS_PER_UPDATE: '64' },
    run: (raw) => {
      // 15 KB of presence (paid once), then one-byte queries each answered with it.
      raw.ws.send(encodeAwareness(awarenessUpdate(ATTACKER, 1, JSON.stringify({ pad: 'x'.repeat(15_000) }))));
      for (let i = 0; i < 5; i++) raw.ws.send(encodeQueryAwareness());
    },
  },
  {
    name: 'AWR-6: a query-awareness written in two bytes (over-long varint) → bad-frame',
    expected: CloseReason.BadFrame,
    env: { MAX_FRAME_BYTES: '20000', BYTE_BURST: '40000', MAX_BYTES_PER_SEC: '1000', MAX_CLIENTS_PER_UPDATE: '64' },
    run: (raw) => {
      raw.ws.send(encodeAwareness(awarenessUpdate(ATTACKER, 1, JSON.stringify({ pad: 'x'.repeat(15_000) }))));
      for (let i = 0; i < 10; i++) raw.ws.send(Uint8Array.of(0x80 | MessageType.QueryAwareness, 0x00));
    },
  },
  {
    name: 'VAL-11, REFUSE-4: an update of more Yjs clients than MAX_CLIENTS_PER_UPDATE → too-many-clients',
    expected: CloseReason.TooManyClients,
    env: { MAX_CLIENTS_PER_UPDATE: '100' },
    run: (raw) => {
      // 101 clients with one GC struct each; the same with 100 would be stored.
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 101);
      for (let i = 0; i < 101; i++) {
        for (const n of [1, ATTACKER + i, 0]) encoding.writeVarUint(e, n);
        encoding.writeUint8(e, 0);
        encoding.writeVarUint(e, 1);
      }
      encoding.writeVarUint(e, 0);
      raw.ws.send(encodeSyncUpdate(encoding.toUint8Array(e)));
    },
  },
  {
    name: 'CLOSE-2: a text frame → text-frame',
    expected: CloseReason.TextFrame,
    run: (raw) => raw.ws.send('-1'),
  },
  {
    name: 'CLOSE-1: a frame larger than MAX_FRAME_BYTES → frame-too-large',
    expected: CloseReason.FrameTooLarge,
    env: { MAX_FRAME_BYTES: '65536' },
    run: (raw) => raw.ws.send(encodeSyncUpdate(new Uint8Array(100_000))),
  },
  {
    name: 'CLOSE-2: a flood of messages over MAX_MSGS_PER_SEC/MSG_BURST → rate-limited',
    expected: CloseReason.RateLimited,
    env: { MAX_MSGS_PER_SEC: '50', MSG_BURST: '100' },
    run: (raw) => {
      for (let i = 0; i < 400; i++) raw.ws.send(encodeQueryAwareness());
    },
  },
  {
    name: 'AWR-1: an awareness state of 20,000 nested arrays → invalid-awareness',
    expected: CloseReason.InvalidAwareness,
    run: (raw) => raw.ws.send(encodeAwareness(awarenessUpdate(ATTACKER, 1, '['.repeat(20_000) + ']'.repeat(20_000)))),
  },
  {
    name: 'AWR-1: a small awareness state nested 40 deep → invalid-awareness',
    expected: CloseReason.InvalidAwareness,
    run: (raw) => raw.ws.send(encodeAwareness(awarenessUpdate(ATTACKER, 1, '['.repeat(40) + ']'.repeat(40)))),
  },
  {
    name: 'CLOSE-1: a websocket protocol error (unmasked frame written to the TCP socket) → protocol-error',
    expected: CloseReason.ProtocolError,
    run: (raw) => void tcpSocket(raw).write(Uint8Array.from([0x82, 0x02, 0x03, 0x00])), // FIN + binary, no MASK bit
  },
  {
    name: 'CLOSE-1: a websocket protocol error (reserved opcode written to the TCP socket) → protocol-error',
    expected: CloseReason.ProtocolError,
    run: (raw) => void tcpSocket(raw).write(maskedFrame(0x3, [])),
  },
  {
    name: 'CLOSE-1: a text frame with invalid UTF-8 (ws would close with 1007) → protocol-error',
    expected: CloseReason.ProtocolError,
    run: (raw) => void tcpSocket(raw).write(maskedFrame(0x1, [0xff, 0xfe, 0x2d, 0x31])),
  },
  {
    name: 'CLOSE-1: a close frame with an invalid status code (ws would close with 1002) → protocol-error',
    expected: CloseReason.ProtocolError,
    run: (raw) => void tcpSocket(raw).write(maskedFrame(0x8, [0x03, 0xe7])), // code 999
  },
];

describe('hostile input closes only the offending socket', () => {
  for (const attack of attacks) {
    it(attack.name, async () => {
      const relay = await h.relay(attack.env ? { env: attack.env } : {});
      const room = 'under-attack';
      const a = h.client(relay.wsUrl, room);
      const c = h.client(relay.wsUrl, room);
      await Promise.all([synced(a), synced(c)]);
      a.doc.getText('text').insert(0, 'before ');
      await waitFor(() => c.text() === 'before ' && a.allOwnEditsAcked());

      const raw = h.raw(`${relay.wsUrl}/${room}`);
      await raw.opened;
      attack.run(raw);
      const closed = await raw.closed;
      expect(closed).toEqual({ code: attack.expected.code, reason: attack.expected.reason });
      // Logged and counted under the reason the client got, framing errors included.
      const why = attack.expected.reason;
      await waitFor(() => relay.stderr().includes(`"event":"close","room":"${room}","conn":3,"reason":"${why}"`), {
        message: `the close logged as ${why}`,
      });
      const metrics = await (await fetch(`${relay.url}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`^converge_closes_total\\{reason="${why}"\\} 1$`, 'm'));

      // The stock clients in the same room keep working.
      a.doc.getText('text').insert(a.text().length, 'after');
      await waitFor(() => c.text() === 'before after', { message: 'a’s later edit reached c' });
      await waitFor(() => a.allOwnEditsAcked());
      expect(a.closes).toEqual([]);
      expect(c.closes).toEqual([]);
      expect(a.provider.wsconnected && c.provider.wsconnected).toBe(true);
      // Nothing of the bad frame was forwarded to them either.
      expect(a.doc.store.clients.has(ATTACKER) || c.doc.store.clients.has(ATTACKER)).toBe(false);

      // The stored room is intact and holds nothing of the attacker's.
      const fresh = h.client(relay.wsUrl, room);
      await synced(fresh);
      expect(fresh.text()).toBe('before after');
      expect([...Y.decodeStateVector(Y.encodeStateVector(fresh.doc)).keys()]).toEqual([a.doc.clientID]);
      expect(fresh.doc.store.pendingStructs).toBeNull();
      expect(fresh.doc.store.pendingDs).toBeNull();
      expect(fresh.provider.awareness.getStates().has(ATTACKER)).toBe(false);

      expect(relay.stderr()).not.toContain(ATTACKER_SECRET);
      // UP-1: a frame limit below what Converge clients upload in is said at start.
      if (attack.env?.MAX_FRAME_BYTES)
        expect(relay.stderr()).toMatch(/"event":"config".*MAX_FRAME_BYTES \(\d+\) is below/);

      // The relay process survived.
      expect(isAlive(relay)).toBe(true);
      const health = await healthz(relay);
      expect(health.status).toBe(200);
      expect(health.body.connections).toBe(3);
    });
  }
});

describe('LOG-1: closes for framing errors', () => {
  it('LOG-1: a client that earns a protocol-error close on every upgrade logs at most 10 close lines per 10 s; the metric counts them all', async () => {
    const relay = await h.relay();
    const ATTEMPTS = 25;
    const began = Date.now();
    for (let i = 0; i < ATTEMPTS; i++) {
      const raw = h.raw(`${relay.wsUrl}/noisy`);
      await raw.opened;
      tcpSocket(raw).write(Uint8Array.from([0x82, 0x02, 0x03, 0x00])); // FIN + binary, no MASK bit
      expect(await raw.closed).toEqual({
        code: CloseReason.ProtocolError.code,
        reason: CloseReason.ProtocolError.reason,
      });
    }
    await waitFor(
      async () =>
        new RegExp(`^converge_closes_total\\{reason="protocol-error"\\} ${ATTEMPTS}$`, 'm').test(
          await (await fetch(`${relay.url}/metrics`)).text(),
        ),
      'every close counted',
    );
    const lines = relay.stderr().match(/"event":"close","room":"noisy".*"reason":"protocol-error"/g) ?? [];
    // 10 a window: the attempts may span more than one 10 s window on a slow machine.
    const windows = Math.ceil((Date.now() - began) / 10_000) + 1;
    expect(lines.length).toBeLessThanOrEqual(Math.min(10 * windows, ATTEMPTS - 1));
    expect(lines.length).toBeGreaterThanOrEqual(10);
  });
});

describe('DEDUPE-3: held ranges past a gap one update reaches', () => {
  it('DEDUPE-3: ranges past a gap planted beyond the limit are taken; one update reaching limit + 1 of them closes its sender too-many-gaps, nothing of it forwarded; the stock clients go on and the room fills in within the limit', async () => {
    const LIMIT = Limits.maxHeldRangesPerUpdate;
    const relay = await h.relay();
    const room = 'planted';
    const a = h.client(relay.wsUrl, room);
    const c = h.client(relay.wsUrl, room);
    await Promise.all([synced(a), synced(c)]);
    // The attacker types one letter per update; the letters at odd clocks are one range past a gap
    // each: LIMIT + 1 of them, planted in one frame (which itself reaches none).
    const d = new Y.Doc();
    d.clientID = ATTACKER;
    const each: Uint8Array[] = [];
    d.on('update', (u: Uint8Array) => each.push(u));
    for (let i = 0; i < 2 * LIMIT + 2; i++) d.getText('gaps').insert(i, String.fromCharCode(97 + (i % 26)));
    const raw = h.raw(`${relay.wsUrl}/${room}`);
    await raw.opened;
    raw.ws.send(encodeSyncUpdate(Y.mergeUpdates(each.filter((_, i) => i % 2 === 1))));
    await waitFor(() => c.doc.store.pendingStructs !== null, 'the planted ranges reached c');
    const before = c.doc.store.pendingStructs!.update;
    raw.ws.send(encodeSyncUpdate(Y.encodeStateAsUpdate(d)));
    expect(await raw.closed).toEqual({ code: CloseReason.TooManyGaps.code, reason: CloseReason.TooManyGaps.reason });
    await waitFor(() => relay.stderr().includes(`"event":"close","room":"${room}","conn":3,"reason":"too-many-gaps"`), {
      message: 'the close logged as too-many-gaps',
    });

    // The stock clients keep working, and got nothing of the refused update.
    a.doc.getText('text').insert(0, 'after');
    await waitFor(() => c.text() === 'after' && a.allOwnEditsAcked(), { message: 'a’s edit reached c' });
    expect(c.doc.store.pendingStructs?.update).toEqual(before);
    expect(c.doc.getText('gaps').toJSON()).toBe('');

    // Clocks 0 … 2 × LIMIT − 1 reach LIMIT held ranges: taken; then the rest. Both replicas fill in.
    const filler = h.raw(`${relay.wsUrl}/${room}`);
    await filler.opened;
    filler.ws.send(encodeSyncUpdate(Y.mergeUpdates(each.slice(0, 2 * LIMIT))));
    filler.ws.send(encodeSyncUpdate(Y.mergeUpdates(each.slice(2 * LIMIT))));
    const whole = d.getText('gaps').toJSON();
    await waitFor(() => a.doc.getText('gaps').toJSON() === whole && c.doc.getText('gaps').toJSON() === whole, {
      message: 'a and c hold the whole history',
    });
    expect(a.doc.store.pendingStructs).toBeNull();
    expect(c.doc.store.pendingStructs).toBeNull();
    expect(a.closes).toEqual([]);
    expect(c.closes).toEqual([]);
    const fresh = h.client(relay.wsUrl, room);
    await synced(fresh);
    expect(fresh.doc.getText('gaps').toJSON()).toBe(whole);
    expect(isAlive(relay)).toBe(true);
  });
});

describe('answers a client asks for', () => {
  it('SYNC-7: the whole room asked for again and again is charged to the asker, who is closed rate-limited; a first catch-up larger than the burst is free', async () => {
    // RATE-1 wants BYTE_BURST ≥ MAX_FRAME_BYTES + MAX_CLIENTS_PER_UPDATE × 256.
    const env = {
      MAX_FRAME_BYTES: '20000',
      BYTE_BURST: '40000',
      MAX_BYTES_PER_SEC: '20000',
      MAX_CLIENTS_PER_UPDATE: '64',
    };
    const relay = await h.relay({ env });
    const room = 'asked-again';
    // A room of 4 × 15,000 characters, more than one connection's burst: each writer pays its own.
    const writers = Array.from({ length: 4 }, () => h.client(relay.wsUrl, room));
    await Promise.all(writers.map((w) => synced(w)));
    writers.forEach((w, i) => w.doc.getText(`t${i}`).insert(0, String(i).repeat(15_000)));
    await waitFor(() => writers.every((w) => w.allOwnEditsAcked()), 'the room is stored');

    // A new stock client's catch-up (~60 KB) is its first answer: free, whatever the burst.
    const fresh = h.client(relay.wsUrl, room);
    await synced(fresh);
    expect(fresh.doc.getText('t3').length).toBe(15_000);

    // An empty state vector asked again: the second answer is charged, and over the burst.
    const raw = h.raw(`${relay.wsUrl}/${room}`);
    await raw.opened;
    for (let i = 0; i < 5; i++) raw.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())));
    expect(await raw.closed).toEqual({ code: CloseReason.RateLimited.code, reason: CloseReason.RateLimited.reason });
    expect(relay.stderr()).toMatch(/"reason":"rate-limited".*sync-step1 answer of \d+ bytes over the byte rate/);
    expect([fresh, ...writers].flatMap((c) => c.closes)).toEqual([]);
  });
});

describe('awareness clocks near 2^53', () => {
  it('AWR-5: a state above MAX_AWARENESS_CLOCK is ignored, and removing one at it closes no stock client', async () => {
    const relay = await h.relay();
    const room = 'clocks';
    const a = h.client(relay.wsUrl, room);
    const c = h.client(relay.wsUrl, room);
    await Promise.all([synced(a), synced(c)]);
    const states = (x: typeof a): Map<number, Record<string, unknown>> => x.provider.awareness.getStates();
    const raw = h.raw(`${relay.wsUrl}/${room}`);
    await raw.opened;
    raw.ws.send(encodeAwareness(awarenessUpdate(ATTACKER, 2 ** 53 - 1, '{"user":"over"}')));
    raw.ws.send(encodeAwareness(awarenessUpdate(ATTACKER + 1, MAX_AWARENESS_CLOCK, '{"user":"at"}')));
    await waitFor(() => states(a).has(ATTACKER + 1) && states(c).has(ATTACKER + 1), 'the state at the limit arrived');
    expect(states(a).has(ATTACKER) || states(c).has(ATTACKER)).toBe(false);

    // The attacker leaves: the relay removes its state at MAX_AWARENESS_CLOCK + 1 (AWR-4) and
    // both stock clients echo that removal back to the relay.
    raw.ws.close();
    await waitFor(() => !states(a).has(ATTACKER + 1) && !states(c).has(ATTACKER + 1), 'the removal arrived');
    // Each client's next presence change, sent after its echo, still reaches the other.
    a.provider.awareness.setLocalStateField('user', 'a');
    c.provider.awareness.setLocalStateField('user', 'c');
    await waitFor(
      () => states(c).get(a.doc.clientID)?.user === 'a' && states(a).get(c.doc.clientID)?.user === 'c',
      'presence after the echoes',
    );
    expect(a.closes).toEqual([]);
    expect(c.closes).toEqual([]);
    expect(a.provider.wsconnected && c.provider.wsconnected).toBe(true);
  });
});

describe('held ranges out of order', () => {
  it('DEDUPE-2: a forged copy of clocks the relay holds past a gap is trimmed: live, late and restarted replicas show the first content', async () => {
    // Two histories of client ATTACKER sharing clocks [0, 5) and differing at [5, 10).
    const history = (tail: string): { tail: Uint8Array; full: Uint8Array } => {
      const d = new Y.Doc();
      d.clientID = ATTACKER;
      d.getText('text').insert(0, 'hello');
      const sv = Y.encodeStateVector(d);
      d.getText('text').insert(5, tail);
      return { tail: Y.encodeStateAsUpdate(d, sv), full: Y.encodeStateAsUpdate(d) };
    };
    const real = history('REAL!');
    const fake = history('FAKE!');
    const relay = await h.relay();
    const live = h.client(relay.wsUrl, 'gap');
    await synced(live);
    const sendAndEcho = async (raw: RawClient, update: Uint8Array): Promise<void> => {
      await raw.opened;
      const before = raw.frames.length;
      raw.ws.send(encodeSyncUpdate(update));
      await waitFor(() => raw.frames.length > before, 'the echo of the update');
    };
    // The real [5, 10) first (held past a gap), then a copy of [0, 10) with another [5, 10).
    await sendAndEcho(h.raw(`${relay.wsUrl}/gap`), real.tail);
    await sendAndEcho(h.raw(`${relay.wsUrl}/gap`), fake.full);
    await waitFor(() => live.text().length === 10, 'the live replica has all ten clocks');
    expect(live.text()).toBe('helloREAL!');
    const late = h.client(relay.wsUrl, 'gap');
    await synced(late);
    expect(late.text()).toBe('helloREAL!');
    await relay.stop();
    const again = await h.relay({ dataDir: relay.dataDir });
    const fresh = h.client(again.wsUrl, 'gap');
    await synced(fresh);
    expect(fresh.text()).toBe('helloREAL!');
  });

  it('regression: a delete set of 100,000 ranges below a held range is handled in one pass; other rooms keep working', async () => {
    const relay = await h.relay();
    const other = h.client(relay.wsUrl, 'elsewhere');
    await synced(other);
    const raw = h.raw(`${relay.wsUrl}/ranges`);
    await raw.opened;
    // Delete-only updates of client ATTACKER: first one range high up, then 100,000 below it.
    const deleteSet = (ranges: ReadonlyArray<readonly [number, number]>): Uint8Array => {
      const e = encoding.createEncoder();
      for (const n of [0, 1, ATTACKER, ranges.length]) encoding.writeVarUint(e, n);
      for (const [clock, length] of ranges) {
        encoding.writeVarUint(e, clock);
        encoding.writeVarUint(e, length);
      }
      return encoding.toUint8Array(e);
    };
    raw.ws.send(encodeSyncUpdate(deleteSet([[1e9, 1]])));
    raw.ws.send(encodeSyncUpdate(deleteSet(Array.from({ length: 100_000 }, (_, i) => [2 * i, 1] as const))));
    // Frames are handled in order: the answer to this query comes after the big update was taken.
    const before = raw.frames.length;
    raw.ws.send(encodeQueryAwareness());
    await waitFor(() => raw.frames.length > before, 'the answer after the big delete set');
    other.doc.getText('text').insert(0, 'still here');
    await waitFor(() => other.allOwnEditsAcked(), 'another room still acks');
    expect(raw.ws.readyState).toBe(raw.ws.OPEN);
    expect(other.closes).toEqual([]);
  });
});
