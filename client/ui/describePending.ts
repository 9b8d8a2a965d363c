import { plural } from './format.js';
import { pendingWrites, type RoomView } from '../sync/roomSession.js';

/**
 * STATE-1, STATE-5 and STATE-6: the own writes the relay does not have yet, counted together
 * (`pendingWrites`), and what they are in words ("1 message", "2 reactions", "the title");
 * `onlyMessages` when there is nothing else, so that the header need not say what they are.
 */
export const describePending = (
  view: Pick<RoomView, 'pendingCount' | 'pendingReactionCount' | 'pendingTitle'>,
): { count: number; parts: string[]; onlyMessages: boolean } => {
  const { pendingCount: messages, pendingReactionCount: reactions, pendingTitle: title } = view;
  const parts = [
    ...(messages > 0 ? [plural(messages, 'message')] : []),
    ...(reactions > 0 ? [plural(reactions, 'reaction')] : []),
    ...(title ? ['the title'] : []),
  ];
  return { count: pendingWrites(view), parts, onlyMessages: reactions === 0 && !title };
};
