/**
 * STATE-7: the relay's acks, shared between the profile's tabs of a room over a BroadcastChannel.
 *
 * The relay acks only the socket that uploaded (ACK-1) and answers a SyncStep1 (ACK-2): without
 * this, another tab of the room learns them only from its own re-check (STATE-2), never while the
 * room is switched off (OFF-1), and shows a message seen by another user yet counted pending.
 * An ack pair is a monotone fact about the relay (ACK-3), so a tab that hears one passes it on and
 * the others merge it as if the relay had sent it to them. Passing it on is not talking to the
 * relay: allowed switched off.
 *
 * Messages on the channel, anything else ignored:
 * - a `Uint8Array` holding an Ack frame (`encodeAck`), decoded exactly like one from the relay
 *   (`decodeAck`, at most `Limits.maxSendFrameBytes`): another tab is trusted no more than a frame;
 * - `'ask'`: a tab that joins asks the others for every ack they know (its sync meta may lag
 *   behind theirs by a paced meta save); each answers with an Ack frame.
 * Nothing is re-broadcast on receipt: every tab of the channel hears the sender itself.
 */
import { decodeAck, encodeAck, Limits } from '../../shared/protocol.js';

/** The part of BroadcastChannel used here (tests in Node inject their own, or the global one). */
export interface AckChannel {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}

export type AckChannelFactory = (name: string) => AckChannel | null;

const ASK = 'ask';

export const ackChannelName = (room: string): string => `converge-acks:${room}`;

/** The page's BroadcastChannel; none where there is none (nothing is shared then). */
export const defaultAckChannel: AckChannelFactory = (name) =>
  typeof BroadcastChannel === 'undefined' ? null : (new BroadcastChannel(name) as unknown as AckChannel);

export interface AckShareHost {
  /** Whether this session is in cross-tab sync now (not while partitioned, LAB-1, nor crossTab off). */
  readonly active: () => boolean;
  /** Every ack this session knows (the answer to an ask). */
  readonly known: () => ReadonlyMap<number, number>;
  /** An ack another tab passed on, validated like a relay's frame. */
  readonly merge: (clocks: Map<number, number>) => void;
}

export class AckShare {
  private readonly channel: AckChannel | null;

  constructor(
    room: string,
    private readonly host: AckShareHost,
    open: AckChannelFactory = defaultAckChannel,
  ) {
    this.channel = open(ackChannelName(room));
    if (this.channel) this.channel.onmessage = (e) => this.receive(e.data);
  }

  /** Passes on an ack the relay sent this tab. */
  publish(clocks: ReadonlyMap<number, number>): void {
    if (clocks.size === 0 || !this.channel || !this.host.active()) return;
    this.channel.postMessage(encodeAck(clocks));
  }

  /** Asks the other tabs for the acks they know (on joining them). */
  ask(): void {
    if (this.channel && this.host.active()) this.channel.postMessage(ASK);
  }

  close(): void {
    if (!this.channel) return;
    this.channel.onmessage = null;
    this.channel.close();
  }

  private receive(data: unknown): void {
    // A cut-off tab (LAB-1) neither hears nor answers: acks do not cross a partition.
    if (!this.host.active()) return;
    if (data === ASK) {
      this.publish(this.host.known());
      return;
    }
    if (!(data instanceof Uint8Array) || data.byteLength > Limits.maxSendFrameBytes) return;
    let clocks: Map<number, number>;
    try {
      clocks = decodeAck(data);
    } catch {
      return;
    }
    if (clocks.size > 0) this.host.merge(clocks);
  }
}
