/**
 * Chat-shaped test data made with real Y.Docs: a room is a `Y.Array('messages')` of `Y.Map`s
 * `{ id, author, text (~60 characters), ts }`, one message per transaction, i.e. one Yjs
 * update per message, exactly what a chat client sends.
 */
import * as Y from 'yjs';
import { encodeSyncUpdate } from '../shared/protocol.js';
import { Prng } from '../shared/testing/prng.js';

const WORDS = (
  'the a relay room chat message offline sync durable ack fsync update client server yes no maybe ' +
  'tomorrow lunch meeting slides review merge draft notes ok thanks see you later cool idea plan'
).split(' ');

const sentence = (rng: Prng, chars: number): string => {
  let s = rng.pick(WORDS);
  while (s.length < chars) s += ' ' + rng.pick(WORDS);
  return s.slice(0, chars);
};

const pushMessage = (doc: Y.Doc, rng: Prng, id: string, author: string, ts: number): void => {
  doc.transact(() => {
    const m = new Y.Map<string | number>();
    m.set('id', id);
    m.set('author', author);
    m.set('text', sentence(rng, rng.int(50, 70)));
    m.set('ts', ts);
    doc.getArray<Y.Map<string | number>>('messages').push([m]);
  });
};

export interface ChatRoomData {
  /** One V1 update per message, in order. */
  readonly updates: Uint8Array[];
  /** The whole room as one V1 update. */
  readonly full: Uint8Array;
  readonly fullSv: Uint8Array;
  /** The room without its last `behind` messages, as one V1 update, and its state vector. */
  readonly prefix: Uint8Array;
  readonly prefixSv: Uint8Array;
}

/**
 * A room of `messages` messages written by `authors` clients taking turns (one Y.Doc whose
 * clientID is switched per message, so each author's messages are its own Yjs client's structs
 * and every message is appended after all the earlier ones, as in a live chat).
 */
export const makeChatRoom = (
  messages: number,
  opts: { authors: number; behind: number; seed: number },
): ChatRoomData => {
  const rng = new Prng(opts.seed);
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  const authorIds = Array.from({ length: opts.authors }, (_, i) => 1_000_000 + opts.seed * 1000 + i);
  let prefix: Uint8Array | null = null;
  let prefixSv: Uint8Array | null = null;
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < messages; i++) {
    if (i === messages - opts.behind) {
      prefix = Y.encodeStateAsUpdate(doc);
      prefixSv = Y.encodeStateVector(doc);
    }
    const a = rng.int(0, opts.authors - 1);
    doc.clientID = authorIds[a]!;
    pushMessage(doc, rng, `m${i}`, `user${a}`, t0 + i * 1000);
  }
  const full = Y.encodeStateAsUpdate(doc);
  const fullSv = Y.encodeStateVector(doc);
  doc.destroy();
  return { updates, full, fullSv, prefix: prefix ?? full, prefixSv: prefixSv ?? fullSv } satisfies ChatRoomData;
};

/** Number of messages in a room's state, and the id of the last one (to check a catch-up). */
export const countMessages = (updates: readonly Uint8Array[], base?: Uint8Array): { count: number; last: string } => {
  const doc = new Y.Doc();
  if (base) Y.applyUpdate(doc, base);
  for (const u of updates) Y.applyUpdate(doc, u);
  const arr = doc.getArray<Y.Map<string | number>>('messages');
  const out = { count: arr.length, last: String(arr.get(arr.length - 1)?.get('id') ?? '') };
  doc.destroy();
  return out;
};

export interface SenderScript {
  readonly client: number;
  /** Update frames to send, in order. */
  readonly frames: Uint8Array[];
  /** Key of each frame's first struct (see wire.ts `firstStructKey`). */
  readonly keys: number[];
  /** The sender's clock after each frame (what an ack must reach to cover it). */
  readonly clockAfter: number[];
}

/** A sender's own Y.Doc (client id `client`) and `count` chat messages, pre-encoded as frames. */
export const makeSenderScript = (client: number, count: number, seed: number): SenderScript => {
  const rng = new Prng(seed);
  const doc = new Y.Doc();
  doc.clientID = client;
  const frames: Uint8Array[] = [];
  const keys: number[] = [];
  const clockAfter: number[] = [];
  let clock = 0;
  doc.on('update', (u: Uint8Array) => {
    frames.push(encodeSyncUpdate(u));
    keys.push(client * 1e6 + clock);
    clock = Y.getState(doc.store, client);
    clockAfter.push(clock);
  });
  for (let i = 0; i < count; i++) pushMessage(doc, rng, `c${client}-${i}`, `user${client}`, i);
  doc.destroy();
  return { client, frames, keys, clockAfter };
};
