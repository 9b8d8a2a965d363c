/**
 * Broadcasts on real sockets (relay/server.ts). Payloads up to 64 KiB are framed once per
 * broadcast and written straight to each socket; larger ones go through `ws.send`. These tests
 * pin what that must not change: FWD-1 every socket of the room gets every update exactly once,
 * byte for byte and in order, whichever path it took; CLOSE-2 a client that stops reading is
 * still closed as a slow consumer (ws.bufferedAmount counts the pre-framed bytes) with its close
 * frame after the data already queued, and the other clients keep getting everything.
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CloseReason, MessageType, SyncType, encodeSyncUpdate } from '../../shared/protocol.js';
import { Harness, frameKind, healthz, waitFor, type RawClient } from './clients.js';

const h = new Harness();
afterEach(async (ctx) => h.cleanup(ctx.task.result?.state === 'fail'));

/** Limits raised so the senders here are never throttled. */
const UNTHROTTLED = {
  MAX_MSGS_PER_SEC: '100000',
  MSG_BURST: '100000',
  MAX_BYTES_PER_SEC: '1000000000',
  BYTE_BURST: '1000000000',
};

const isUpdateFrame = (f: Uint8Array): boolean => {
  const k = frameKind(f);
  return k.outer === MessageType.Sync && k.inner === SyncType.Update;
};

const updateFrames = (raw: RawClient): Uint8Array[] => raw.frames.filter(isUpdateFrame);

/** One Update frame per call: `chars` characters appended to the doc's text, as the stock client sends it. */
const editor = (clientID: number): ((chars: number) => Uint8Array) => {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  let n = 0;
  return (chars) => {
    const before = Y.encodeStateVector(doc);
    doc.getText('text').insert(doc.getText('text').length, String.fromCharCode(97 + (n++ % 26)).repeat(chars));
    return encodeSyncUpdate(Y.encodeStateAsUpdate(doc, before));
  };
};

/** Opens `n` raw clients in `room` and waits until the relay joined each (its SyncStep1 arrived). */
const join = async (wsUrl: string, room: string, n: number): Promise<RawClient[]> => {
  const raws = Array.from({ length: n }, () => h.raw(`${wsUrl}/${room}`));
  await Promise.all(raws.map((r) => r.opened));
  await waitFor(() => raws.every((r) => r.frames.length > 0), { message: 'relay SyncStep1 on every socket' });
  return raws;
};

describe('broadcast on real sockets', () => {
  it('FWD-1: every socket gets every update once, byte for byte and in order, pre-framed and large frames mixed', async () => {
    const relay = await h.relay({ env: UNTHROTTLED });
    const raws = await join(relay.wsUrl, 'fanout', 4);
    const edit = editor(1001);
    // Under 126 bytes, 126..65535 (16-bit length), just under and over the 64 KiB pre-framing
    // limit (over it: ws.send), and 64-bit lengths, interleaved.
    const sizes = [1, 200, 70_000, 3, 65_400, 66_000, 5_000, 2, 130_000, 40];
    const sent: Uint8Array[] = [];
    for (const chars of sizes) {
      const frame = edit(chars);
      sent.push(frame);
      raws[0]!.ws.send(frame);
    }
    await waitFor(() => raws.every((r) => updateFrames(r).length >= sent.length), {
      message: 'every update on every socket',
    });
    for (const r of raws) {
      expect(updateFrames(r).map((f) => Buffer.from(f).toString('base64'))).toEqual(
        sent.map((f) => Buffer.from(f).toString('base64')),
      );
    }
    // Nothing arrives twice later either: another small update is the next and last one.
    const last = edit(1);
    raws[0]!.ws.send(last);
    await waitFor(() => raws.every((r) => updateFrames(r).length >= sent.length + 1));
    for (const r of raws) {
      expect(updateFrames(r)).toHaveLength(sent.length + 1);
      expect(Buffer.from(updateFrames(r).at(-1)!).equals(Buffer.from(last))).toBe(true);
    }
  });

  it('CLOSE-2: a socket that stops reading is closed as a slow consumer after its queued data; the others get everything', async () => {
    const relay = await h.relay({ env: { ...UNTHROTTLED, MAX_BUFFERED_BYTES: String(256 * 1024) } });
    const [sender, reader, slow] = await join(relay.wsUrl, 'slow', 3);
    // The slow client stops reading: its receive buffer fills, then the kernel's send buffer on
    // the relay side, then the relay's queue (what ws.bufferedAmount counts).
    const slowSocket = (slow!.ws as unknown as { _socket: Socket })._socket;
    slowSocket.pause();
    const edit = editor(2002);
    const sent: Uint8Array[] = [];
    const slowClosed = (): boolean => relay.stderr().includes(`"reason":"${CloseReason.SlowConsumer.reason}"`);
    // 32 KiB updates (pre-framed), each sent once the reader got the previous batch: the relay is
    // never asked to hold more than a few for the clients that read. Bounded so a relay that
    // never closes the slow socket fails the test instead of filling the disk.
    while (!slowClosed() && sent.length < 1000) {
      for (let i = 0; i < 8; i++) {
        const frame = edit(32 * 1024);
        sent.push(frame);
        sender!.ws.send(frame);
      }
      await waitFor(() => updateFrames(reader!).length >= sent.length || slowClosed(), {
        message: 'reader keeps up',
      });
    }
    expect(slowClosed()).toBe(true);
    await waitFor(() => updateFrames(reader!).length >= sent.length, { message: 'reader got every update' });
    for (const r of [sender!, reader!]) {
      const got = updateFrames(r);
      expect(got).toHaveLength(sent.length);
      got.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(sent[i]!))).toBe(true));
    }
    // Reading again, the slow client gets the updates queued before its close, in order, then
    // the close frame with the slow-consumer code.
    slowSocket.resume();
    const closed = await slow!.closed;
    expect(closed).toEqual({ code: CloseReason.SlowConsumer.code, reason: CloseReason.SlowConsumer.reason });
    const queued = updateFrames(slow!);
    expect(queued.length).toBeGreaterThan(0);
    queued.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(sent[i]!))).toBe(true));
    expect((await healthz(relay)).body.connections).toBe(2);
  });
});
