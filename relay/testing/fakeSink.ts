/**
 * A recording `ConnectionSink` for unit tests of the relay host (relay/relay.ts), plus a decoder
 * for the frames the relay sends, written with lib0 directly (not with the relay's own decoders)
 * so the tests check the wire format independently.
 *
 * `bufferedAmount()` is adjustable: set `buffered` by hand, or set `accumulate` to model a client
 * that never reads (every frame sent stays queued and adds its length).
 */
import * as decoding from 'lib0/decoding';
import { MessageType, SyncType } from '../../shared/protocol.js';
import type { ConnectionSink } from '../relay.js';

export type RelayFrame =
  | { readonly kind: 'sync-step1'; readonly stateVector: Map<number, number>; readonly body: Uint8Array }
  | { readonly kind: 'sync-step2'; readonly update: Uint8Array }
  | { readonly kind: 'sync-update'; readonly update: Uint8Array }
  | { readonly kind: 'awareness'; readonly entries: AwarenessFrameEntry[] }
  | { readonly kind: 'query-awareness' }
  | { readonly kind: 'ack'; readonly clocks: Map<number, number> };

export interface AwarenessFrameEntry {
  readonly clientID: number;
  readonly clock: number;
  /** The parsed JSON state; null when the client left. */
  readonly state: unknown;
}

const readClockPairs = (d: decoding.Decoder): Map<number, number> => {
  const n = decoding.readVarUint(d);
  const out = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const client = decoding.readVarUint(d);
    out.set(client, decoding.readVarUint(d));
  }
  return out;
};

/** Decodes one relay→client frame; throws on anything that is not exactly one known frame. */
export const decodeRelayFrame = (frame: Uint8Array): RelayFrame => {
  const d = decoding.createDecoder(frame);
  let out: RelayFrame;
  const outer = decoding.readVarUint(d);
  switch (outer) {
    case MessageType.Sync: {
      const inner = decoding.readVarUint(d);
      const body = decoding.readVarUint8Array(d);
      if (inner === SyncType.Step1) {
        out = { kind: 'sync-step1', stateVector: readClockPairs(decoding.createDecoder(body)), body };
      } else if (inner === SyncType.Step2) out = { kind: 'sync-step2', update: body };
      else if (inner === SyncType.Update) out = { kind: 'sync-update', update: body };
      else throw new Error(`unknown sync type ${inner}`);
      break;
    }
    case MessageType.Awareness: {
      const ad = decoding.createDecoder(decoding.readVarUint8Array(d));
      const n = decoding.readVarUint(ad);
      const entries: AwarenessFrameEntry[] = [];
      for (let i = 0; i < n; i++) {
        const clientID = decoding.readVarUint(ad);
        const clock = decoding.readVarUint(ad);
        entries.push({ clientID, clock, state: JSON.parse(decoding.readVarString(ad)) as unknown });
      }
      if (decoding.hasContent(ad)) throw new Error('trailing bytes in awareness update');
      out = { kind: 'awareness', entries };
      break;
    }
    case MessageType.QueryAwareness:
      out = { kind: 'query-awareness' };
      break;
    case MessageType.Ack:
      out = { kind: 'ack', clocks: readClockPairs(d) };
      break;
    default:
      throw new Error(`unexpected outer message type ${outer}`);
  }
  if (decoding.hasContent(d)) throw new Error('trailing bytes after frame');
  return out;
};

export interface CloseCall {
  readonly code: number;
  readonly reason: string;
}

export class FakeSink implements ConnectionSink {
  /** Every frame sent, in order (copies: the relay may reuse or share its buffers). */
  readonly frames: Uint8Array[] = [];
  /** Every close() call, in order (a well-behaved relay closes a connection once). */
  readonly closes: CloseCall[] = [];
  /** Frames sent after the first close() call. */
  sentAfterClose = 0;
  /** What bufferedAmount() reports. */
  buffered = 0;
  /** When true, every frame sent adds its length to `buffered` (a client that never reads). */
  accumulate = false;
  private taken = 0;

  send(frame: Uint8Array): void {
    if (this.closes.length > 0) this.sentAfterClose++;
    const copy = frame.slice();
    this.frames.push(copy);
    if (this.accumulate) this.buffered += copy.length;
  }

  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }

  bufferedAmount(): number {
    return this.buffered;
  }

  /** The first close() call, or null while open. */
  get closed(): CloseCall | null {
    return this.closes[0] ?? null;
  }

  /** Every frame sent so far, decoded. */
  all(): RelayFrame[] {
    return this.frames.map(decodeRelayFrame);
  }

  /** The frames sent since the previous take(), decoded. */
  take(): RelayFrame[] {
    const fresh = this.frames.slice(this.taken);
    this.taken = this.frames.length;
    return fresh.map(decodeRelayFrame);
  }

  /** The raw frames sent since the previous take(); marks them taken. */
  takeRaw(): Uint8Array[] {
    const fresh = this.frames.slice(this.taken);
    this.taken = this.frames.length;
    return fresh;
  }
}
