/**
 * The rows of the message list: every message with the "New messages" line, or the messages a
 * search found. Read by index, without an array of rows: in a room of 100,000 messages that array
 * was made again on every send, ack and arrival. A row object is made only for a row rendered.
 */
import type { MessageView } from './services.js';

export type Row =
  | { readonly kind: 'message'; readonly key: string; readonly m: MessageView }
  | { readonly kind: 'divider'; readonly key: string };

const DIVIDER_KEY = 'new-messages-divider';

export interface Rows {
  readonly length: number;
  /** Row `index`, 0 ≤ index < length. */
  at(index: number): Row;
  key(index: number): string;
  isDivider(index: number): boolean;
  /** Where the "New messages" line is; -1 when there is none. */
  readonly dividerIndex: number;
  /** The row showing message `id`; -1 when none. */
  indexOfMessage(id: string): number;
  /** Equal (Object.is) from one Rows to the next only while `key(i)` is the same for every i. */
  readonly shape: unknown;
}

/** Where message `id` is in `messages`, searched from the end (where the changes are); -1 if absent. */
export const lastIndexOfMessage = (messages: readonly MessageView[], id: string): number => {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.id === id) return i;
  return -1;
};

/**
 * Every message, with the "New messages" line before `messages[dividerBefore]` (none when -1).
 * `structure` must change whenever the sequence of message ids does (MessageIndex.structureVersion).
 */
export const messageRows = (messages: readonly MessageView[], dividerBefore: number, structure: number): Rows => {
  const d = dividerBefore;
  const message = (index: number): MessageView => messages[d < 0 || index < d ? index : index - 1]!;
  return {
    length: messages.length + (d < 0 ? 0 : 1),
    at: (index) => (index === d ? { kind: 'divider', key: DIVIDER_KEY } : rowOf(message(index))),
    key: (index) => (index === d ? DIVIDER_KEY : message(index).id),
    isDivider: (index) => index === d,
    dividerIndex: d,
    indexOfMessage: (id) => {
      const i = lastIndexOfMessage(messages, id);
      return i < 0 || d < 0 || i < d ? i : i + 1;
    },
    shape: `${structure}/${d}`,
  };
};

/** The messages found by a search, without the "New messages" line. */
export const searchRows = (messages: readonly MessageView[]): Rows => ({
  length: messages.length,
  at: (index) => rowOf(messages[index]!),
  key: (index) => messages[index]!.id,
  isDivider: () => false,
  dividerIndex: -1,
  indexOfMessage: (id) => lastIndexOfMessage(messages, id),
  shape: messages,
});

const rowOf = (m: MessageView): Row => ({ kind: 'message', key: m.id, m });
