/**
 * The load generator's side of the y-websocket wire: raw `ws` sockets, frames built with
 * shared/protocol.ts, and a cheap look at received frames (outer/inner type and the id of the
 * first struct of an update) without a Y.Doc, so one generator process can drive thousands of
 * deliveries per second.
 */
import * as decoding from 'lib0/decoding';
import WebSocket from 'ws';
import { MessageType, SyncType, encodeSyncStep1, encodeSyncStep2 } from '../shared/protocol.js';
import type { SenderScript } from './chat.js';

/** SyncStep1 of an empty document (state vector with no clients). */
export const STEP1_EMPTY = encodeSyncStep1(new Uint8Array([0]));
/** SyncStep2 with an empty update (what an empty document answers to any SyncStep1). */
export const STEP2_EMPTY = encodeSyncStep2(new Uint8Array([0, 0]));

export const Kind = {
  Step1: 'step1',
  Step2: 'step2',
  Update: 'update',
  Awareness: 'awareness',
  Ack: 'ack',
  Other: 'other',
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export const frameKind = (f: Uint8Array): Kind => {
  if (f[0] === MessageType.Sync) {
    if (f[1] === SyncType.Step1) return Kind.Step1;
    if (f[1] === SyncType.Step2) return Kind.Step2;
    if (f[1] === SyncType.Update) return Kind.Update;
  }
  if (f[0] === MessageType.Awareness) return Kind.Awareness;
  if (f[0] === MessageType.Ack) return Kind.Ack;
  return Kind.Other;
};

/** Body of a sync frame (after outer type, inner type and length). */
export const syncBody = (f: Uint8Array): Uint8Array => {
  const d = decoding.createDecoder(f);
  decoding.readVarUint(d);
  decoding.readVarUint(d);
  return decoding.readVarUint8Array(d);
};

/**
 * Key of the first struct of a sync Update/Step2 frame: `client * 1e6 + clock`, or -1 when the
 * update holds no struct. Generator client ids are small and clocks stay below 1e6, so the key
 * is exact. Both servers keep an update's first struct first (the reference re-encodes the
 * update from its Y.Doc; Converge forwards the frame's bytes), so this identifies an update on
 * either.
 */
export const firstStructKey = (f: Uint8Array): number => {
  const d = decoding.createDecoder(f);
  decoding.readVarUint(d); // outer
  decoding.readVarUint(d); // inner
  decoding.readVarUint(d); // body length
  const sections = decoding.readVarUint(d);
  if (sections === 0) return -1;
  const structs = decoding.readVarUint(d);
  if (structs === 0) return -1;
  const client = decoding.readVarUint(d);
  const clock = decoding.readVarUint(d);
  return client * 1e6 + clock;
};

/** Pairs of an Ack frame (Converge's outer type 100): client → durable clock. */
export const ackPairs = (f: Uint8Array): Array<[number, number]> => {
  const d = decoding.createDecoder(f);
  decoding.readVarUint(d);
  const n = decoding.readVarUint(d);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) out.push([decoding.readVarUint(d), decoding.readVarUint(d)]);
  return out;
};

export interface SocketEvents {
  /** Called inside the 'open' event, before any frame can arrive (send SyncStep1 here). */
  onOpen?(ws: WebSocket): void;
  onFrame(frame: Uint8Array, ws: WebSocket): void;
  onClose?(code: number, reason: string): void;
}

/** Opens a binary websocket (no compression) and resolves once it is open. */
export const openSocket = (url: string, events: SocketEvents): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) =>
      events.onFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ws),
    );
    ws.once('open', () => {
      events.onOpen?.(ws);
      resolve(ws);
    });
    ws.once('error', reject);
    ws.on('error', () => undefined);
    ws.on('close', (code: number, reason: Buffer) => events.onClose?.(code, reason.toString()));
  });

/** Closes a socket and resolves once it is closed (or after `timeoutMs`, then terminates it). */
export const closeSocket = (ws: WebSocket, timeoutMs = 2000): Promise<void> =>
  new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const t = setTimeout(() => {
      ws.terminate();
      resolve();
    }, timeoutMs);
    ws.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    ws.close();
  });

/** Runs `fn` over `items` with at most `limit` in flight. */
export const mapLimit = async <T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>) => {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
};

/** One load-generator client: its script, its socket, and what it sent and got acked. */
export interface Sender {
  readonly script: SenderScript;
  /** Where in its send period this client starts (0..1): clients do not send in lockstep. */
  readonly phase: number;
  ws: WebSocket | null;
  sent: number;
  acked: number;
  /** When each frame was sent (performance.now()). */
  readonly sentAt: Float64Array;
  /** 1 for each frame sent inside the measured window. */
  readonly inWindow: Uint8Array;
}

export const newSender = (script: SenderScript): Sender => ({
  script,
  phase: Math.random(),
  ws: null,
  sent: 0,
  acked: 0,
  sentAt: new Float64Array(script.frames.length),
  inWindow: new Uint8Array(script.frames.length),
});
