/**
 * Defensive application of updates that come from outside this tab (relay, other tabs, files).
 *
 * In yjs 13.6.33 a malformed update can throw from inside transaction cleanup; the doc's
 * cleanup queue is then never emptied and the Y.Doc emits no 'update' event ever again — not
 * even for local edits, so nothing typed afterwards would be stored or sent. Hence:
 *
 * APPLY-1 every update is parsed completely by `parseUpdateV1` before it is applied, with the
 *         cross-update VAL-9 question ("is the item at client:clock a map entry?") answered
 *         from the live document; a failure refuses the update (nothing applied, nothing stored).
 * APPLY-2 the apply runs inside try/catch; afterwards the doc is checked for the frozen state
 *         (`isDocFrozen`). A frozen doc is thrown away and rebuilt from the local store, which
 *         never received the bad update (yjs emits 'update' after the cleanup that threw).
 * APPLY-3 the replacement sync handler keeps the stock semantics: SyncStep1 is answered with
 *         SyncStep2 (what the peer lacks; to the relay in pieces it accepts, UP-1, no faster
 *         than it accepts them, UP-2), and the
 *         provider becomes `synced` on the first SyncStep2 received over the websocket
 *         (`emitSynced`), unless that SyncStep2 was refused.
 */
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import type { WebsocketProvider } from 'y-websocket';
import { MessageType, SyncType } from '../../shared/protocol.js';
import { parseUpdateV1, UpdateError } from '../../shared/updateV1.js';
import { unpacedUploader, type Uploader } from './uploadPacer.js';

/** True when a doc is stuck with a non-empty cleanup queue outside any transaction (APPLY-2). */
export const isDocFrozen = (doc: Y.Doc): boolean => doc._transaction === null && doc._transactionCleanups.length > 0;

/** VAL-9 across updates, from the live doc: is the struct at client:clock held and a map entry? */
export const mapEntryLookup =
  (doc: Y.Doc) =>
  (client: number, clock: number): boolean => {
    if (clock >= Y.getState(doc.store, client)) return false;
    const structs = doc.store.clients.get(client);
    if (!structs) return false;
    try {
      const s = structs[Y.findIndexSS(structs, clock)];
      return s instanceof Y.Item && s.parentSub !== null;
    } catch {
      return false;
    }
  };

export type ApplyResult =
  | { readonly status: 'applied' }
  /** Refused by the strict parse: nothing was applied. */
  | { readonly status: 'refused'; readonly reason: string }
  /** Applied, but something (an observer) threw; the doc is fine. */
  | { readonly status: 'threw'; readonly error: unknown }
  /** The doc is frozen and must be rebuilt. */
  | { readonly status: 'frozen'; readonly error: unknown };

/** APPLY-1, APPLY-2. */
export const applyUpdateDefensively = (doc: Y.Doc, update: Uint8Array, origin: unknown): ApplyResult => {
  try {
    parseUpdateV1(update, { isMapEntry: mapEntryLookup(doc) });
  } catch (e) {
    return { status: 'refused', reason: e instanceof UpdateError ? e.message : String(e) };
  }
  let error: unknown = null;
  try {
    Y.applyUpdate(doc, update, origin);
  } catch (e) {
    error = e;
  }
  if (isDocFrozen(doc)) return { status: 'frozen', error };
  return error === null ? { status: 'applied' } : { status: 'threw', error };
};

export interface SyncHandlerEvents {
  /** After every Sync frame handled; `fromSocket` is false for frames from other tabs. */
  readonly onReceived?: (inner: number, fromSocket: boolean) => void;
  readonly onRefused: (reason: string, fromSocket: boolean) => void;
  readonly onFrozen: (error: unknown) => void;
  readonly onThrew?: (error: unknown) => void;
  /** UP-2: sends the answer to the relay's SyncStep1 (default: all pieces at once, UP-1). */
  readonly uploader?: Uploader;
  /**
   * UP-6: a SyncStep2 came over the socket: the relay's answer to a SyncStep1 sent on it. Called
   * before it is applied, refused or not (the relay received what came before it all the same).
   */
  readonly answered?: () => void;
}

type Handler = WebsocketProvider['messageHandlers'][number];

/** APPLY-3: a replacement for `provider.messageHandlers[MessageType.Sync]`. Never throws. */
export const createSyncHandler =
  (events: SyncHandlerEvents): Handler =>
  (encoder: encoding.Encoder, decoder: decoding.Decoder, provider: WebsocketProvider, emitSynced: boolean) => {
    const doc = provider.doc;
    let inner: number;
    try {
      inner = decoding.readVarUint(decoder);
    } catch {
      events.onRefused('a sync frame without a type', emitSynced);
      return;
    }
    if (inner === SyncType.Step1) {
      let reply: Uint8Array;
      try {
        const sv = decoding.readVarUint8Array(decoder);
        reply = Y.encodeStateAsUpdate(doc, sv);
      } catch {
        events.onRefused('a malformed state vector', emitSynced);
        return;
      }
      // UP-1, UP-2: over the socket, in pieces a relay accepts, the last one the SyncStep2, paced
      // when the relay's limits are known; the encoder stays empty, so the provider sends nothing
      // more. Other tabs, over BroadcastChannel, take it whole from the encoder.
      const ws = emitSynced ? provider.ws : null;
      if (ws) {
        (events.uploader ?? unpacedUploader).step2(ws, reply, mapEntryLookup(doc));
      } else {
        encoding.writeVarUint(encoder, MessageType.Sync);
        encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2);
        encoding.writeVarUint8Array(encoder, reply);
      }
      events.onReceived?.(inner, emitSynced);
      return;
    }
    if (inner === SyncType.Step2 && emitSynced) events.answered?.();
    if (inner !== SyncType.Step2 && inner !== SyncType.Update) {
      events.onRefused(`an unknown sync message type ${inner}`, emitSynced);
      return;
    }
    let update: Uint8Array;
    try {
      update = decoding.readVarUint8Array(decoder);
    } catch {
      events.onRefused('a truncated sync frame', emitSynced);
      return;
    }
    const result = applyUpdateDefensively(doc, update, provider);
    switch (result.status) {
      case 'refused':
        events.onRefused(result.reason, emitSynced);
        return;
      case 'frozen':
        events.onFrozen(result.error);
        return;
      case 'threw':
        events.onThrew?.(result.error);
        break;
      case 'applied':
        break;
    }
    if (emitSynced && inner === SyncType.Step2 && !provider.synced) provider.synced = true;
    events.onReceived?.(inner, emitSynced);
  };
