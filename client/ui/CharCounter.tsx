/**
 * The visible character counter of a message field (CHAT-6: TEXT_LIMIT), shared by the composer
 * and the edit form. Referenced by the field's aria-describedby, so screen readers hear it too.
 */
import type { ReactNode } from 'react';
import { TEXT_LIMIT } from '../../shared/chat/chatRoom.js';

export const CharCounter = ({ id, length }: { id: string; length: number }): ReactNode => {
  const over = length - TEXT_LIMIT;
  return (
    <span id={id} className={over > 0 ? 'counter over' : 'counter'}>
      {length} / {TEXT_LIMIT} characters{over > 0 ? ` — ${over} too many` : ''}
    </span>
  );
};
