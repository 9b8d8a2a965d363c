/**
 * The room's messages: a virtualized log (only the rows near the viewport are in the DOM, so a
 * room of 10,000 messages opens and scrolls smoothly). It sticks to the newest message while the
 * user is at the bottom, keeps its place when scrolled up, shows the "New messages" line, and
 * offers "Jump to latest".
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useImperativeHandle, useLayoutEffect, useRef, type ReactNode, type Ref } from 'react';
import { MessageItem, type MessageActions } from './MessageItem.js';
import type { Rows } from './rows.js';
import type { MessageView } from './services.js';

export interface MessageListHandle {
  readonly scrollToMessage: (id: string) => void;
  /** Puts row `index` at the top of the view (as far as the list can scroll). */
  readonly scrollToRow: (index: number) => void;
  readonly scrollToLatest: () => void;
}

export interface MessageListProps {
  readonly rows: Rows;
  readonly byId: { get(id: string): MessageView | undefined };
  /** A user's display name by id (for reactions). */
  readonly names: { get(userId: string): string | undefined };
  readonly selfId: string;
  readonly query: string;
  readonly highlightedId: string | null;
  readonly actions: MessageActions;
  /** Where to start: the "New messages" line when there is one, else the bottom. */
  readonly initialIndex: number | null;
  readonly onAtBottomChange: (atBottom: boolean) => void;
  readonly emptyText: string;
  readonly ref?: Ref<MessageListHandle>;
}

const AT_BOTTOM_PX = 48;

/** How far the element's own scroll position is from its end, read from the DOM (never stale). */
const fromEnd = (el: HTMLElement): number => el.scrollHeight - el.clientHeight - el.scrollTop;

export const MessageList = (props: MessageListProps): ReactNode => {
  const { rows, byId, names, selfId, query, highlightedId, actions, initialIndex, onAtBottomChange, emptyText } = props;
  const scrollRef = useRef<HTMLDivElement>(null);
  // LIST-1: whether the list follows the newest message. The invariant: it turns false only when the
  // element's scroll position, read from the DOM in a scroll event, is more than AT_BOTTOM_PX from
  // the end (the reader, or a jump, scrolled up) — never from a reading taken while rows are being
  // added, before the list was stuck to the end again (the virtualizer's `getDistanceFromEnd` keeps
  // the scroll offset of the last scroll event until the next one: under fast traffic it saw every
  // new row as the reader having scrolled up, stopped following, and showed "Jump to latest").
  // Rows added while it is true are followed below, in the same task, so no scroll event ever
  // reads a grown list that was not yet stuck to its end.
  const atBottomRef = useRef(true);
  const onAtBottomRef = useRef(onAtBottomChange);
  onAtBottomRef.current = onAtBottomChange;
  const report = useCallback((atBottom: boolean) => {
    if (atBottom === atBottomRef.current) return;
    atBottomRef.current = atBottom;
    onAtBottomRef.current(atBottom);
  }, []);

  // The virtualizer measures every row again whenever `getItemKey` is a new function: it stays
  // the same function while the keys are the same (an ack or an edit changes a row, not the keys).
  const rowsRef = useRef(rows);
  rowsRef.current = rows;
  const shape = rows.shape;
  const getItemKey = useCallback(
    (i: number): string | number => (i < rowsRef.current.length ? rowsRef.current.key(i) : i),
    [shape], // not read: a new shape is what makes a new function
  );
  const estimateSize = useCallback((i: number) => (rowsRef.current.isDivider(i) ? 36 : 84), []);

  const virtualizer = useVirtualizer<HTMLDivElement, HTMLDivElement>({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize,
    getItemKey,
    overscan: 8,
    anchorTo: 'end',
    followOnAppend: true,
    scrollEndThreshold: AT_BOTTOM_PX,
  });

  useEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const onScroll = (): void => report(fromEnd(el) <= AT_BOTTOM_PX);
    el.addEventListener('scroll', onScroll, { passive: true });
    return () => el.removeEventListener('scroll', onScroll);
  }, [report]);

  // The first position: the unread line, or the newest message.
  const placed = useRef(false);
  const lastShape = useRef(shape);
  useLayoutEffect(() => {
    if (placed.current || rows.length === 0) return;
    placed.current = true;
    // LIST-1 below must not take this first placement for a later change (its effect runs next).
    lastShape.current = shape;
    if (initialIndex !== null && initialIndex > 0) virtualizer.scrollToIndex(initialIndex, { align: 'start' });
    else virtualizer.scrollToEnd();
    // The write is synchronous: a message arriving before its scroll event must not move the view
    // away from the unread line.
    const el = scrollRef.current;
    if (el) report(fromEnd(el) <= AT_BOTTOM_PX);
  }, [rows.length, initialIndex, virtualizer, shape, report]);

  // Messages that arrive late sort by their time (ORD-1), above the newest one: the list grows
  // without an append, which `followOnAppend` does not follow, and the anchor kept the view where
  // it was, no longer at the newest message. A user who was at the bottom stays there.
  // The same holds for a plain append: `followOnAppend` decides from the virtualizer's last scroll
  // event, which under fast traffic predates the previous append's scroll to the end, so it is not
  // enough on its own. Measured from the DOM, after this commit grew the list.
  useLayoutEffect(() => {
    if (lastShape.current === shape) return;
    lastShape.current = shape;
    const el = scrollRef.current;
    if (atBottomRef.current && placed.current && el && fromEnd(el) > AT_BOTTOM_PX) virtualizer.scrollToEnd();
  }, [shape, virtualizer]);

  // LIST-2: the list's box shrinking (the message box growing with a long draft, a phone's keyboard
  // opening) keeps its top where it was, so a reader at the newest message lost it below the fold.
  // Read from before the resize: a shrink moves neither scrollTop nor scrollHeight, only the end.
  useEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    let height = el.clientHeight;
    const observer = new ResizeObserver(() => {
      const shrunk = height - el.clientHeight;
      height = el.clientHeight;
      if (shrunk <= 0 || !placed.current) return;
      const fromEndBefore = el.scrollHeight - el.scrollTop - (el.clientHeight + shrunk);
      if (fromEndBefore <= AT_BOTTOM_PX) virtualizer.scrollToEnd();
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [virtualizer]);

  const indexOf = useCallback((id: string) => rows.indexOfMessage(id), [rows]);

  const focusWhenRendered = useCallback((id: string) => {
    let tries = 0;
    const attempt = (): void => {
      const el = scrollRef.current?.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(id)}"]`);
      if (el) el.focus({ preventScroll: true });
      else if (tries++ < 10) requestAnimationFrame(attempt);
    };
    requestAnimationFrame(attempt);
  }, []);

  useImperativeHandle(
    props.ref,
    () => ({
      scrollToMessage: (id) => {
        const i = indexOf(id);
        if (i < 0) return;
        virtualizer.scrollToIndex(i, { align: 'center' });
        focusWhenRendered(id);
      },
      scrollToRow: (index) => virtualizer.scrollToIndex(index, { align: 'start' }),
      scrollToLatest: () => virtualizer.scrollToEnd(),
    }),
    [indexOf, virtualizer, focusWhenRendered],
  );

  // A list that shrinks or empties can reach its end without a scroll event. (Only that way: a list
  // that grows without one was followed above, or the reader had already scrolled up.)
  useEffect(() => {
    const el = scrollRef.current;
    if (el && fromEnd(el) <= AT_BOTTOM_PX) report(true);
  });

  const items = virtualizer.getVirtualItems();
  return (
    <div
      ref={scrollRef}
      className="message-scroller"
      role="log"
      aria-label="Messages"
      // Rows come and go as the list scrolls: announcing them would be noise. New messages are
      // announced by the room's own live region instead.
      aria-live="off"
      tabIndex={0}
    >
      {rows.length === 0 ? (
        <p className="empty-log">{emptyText}</p>
      ) : (
        <div className="message-canvas" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const row = rows.at(item.index);
            return (
              <div
                key={item.key}
                data-index={item.index}
                ref={virtualizer.measureElement}
                className="message-row"
                style={{ transform: `translateY(${item.start}px)` }}
              >
                {row.kind === 'divider' ? (
                  <div className="unread-divider" role="separator" aria-label="New messages">
                    <span>New messages</span>
                  </div>
                ) : (
                  <MessageItem
                    m={row.m}
                    parent={row.m.replyTo === null ? null : byId.get(row.m.replyTo)}
                    selfId={selfId}
                    names={names}
                    query={query}
                    highlighted={highlightedId === row.m.id}
                    inSearch={query.trim() !== ''}
                    actions={actions}
                  />
                )}
              </div>
            );
          })}
        </div>
      )}
    </div>
  );
};
