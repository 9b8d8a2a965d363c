/**
 * A MessageView for tests of code that reads only a few of its fields (ids, authors, text): the
 * rest is neutral filler, and `fields` overrides any of it.
 */
import type { MessageView } from '../ui/services.js';

export const messageView = (id: string, fields: Partial<MessageView> = {}): MessageView => ({
  id,
  authorId: 'u',
  authorName: 'U',
  text: `text of ${id}`,
  hlc: { wall: 0, counter: 0, node: 'n' },
  wall: 0,
  replyTo: null,
  after: null,
  edited: false,
  deleted: false,
  reactions: [],
  yId: null,
  editYId: null,
  state: null,
  pendingReactions: [],
  late: false,
  clockAheadMs: 0,
  own: false,
  ...fields,
});
