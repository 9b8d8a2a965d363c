/**
 * The message composer: Enter sends, Shift+Enter is a new line. The draft survives a reload and a
 * crash of the browser (DRAFT-1, ./draftKeeper.ts). A refused message (too long, empty) keeps the
 * draft and says why.
 */
import {
  useCallback,
  useEffect,
  useId,
  useImperativeHandle,
  useLayoutEffect,
  useRef,
  useState,
  type ReactNode,
  type Ref,
} from 'react';
import { ChatError, TEXT_LIMIT } from '../../shared/chat/chatRoom.js';
import { CharCounter } from './CharCounter.js';
import { FieldError } from './FieldError.js';
import { currentDraft, draftKey, DraftKeeper } from './draftKeeper.js';
import type { TypeAhead } from './typeAhead.js';
import { kv, type MessageView, type RoomSession } from './services.js';
import type { RoomMeta, RoomUpdateStore } from '../storage/roomUpdateStore.js';

/** The box as tall as its text (plus its 2 px of border), at most 30 % of the window or 320 px. */
const fitToText = (el: HTMLTextAreaElement | null): void => {
  if (!el) return;
  el.style.height = 'auto';
  el.style.height = `${Math.min(el.scrollHeight + 2, Math.round(window.innerHeight * 0.3), 320)}px`;
};

export interface ComposerHandle {
  focus(): void;
}

export const Composer = ({
  room,
  session,
  store,
  meta,
  replyTo,
  onCancelReply,
  onSent,
  onDraftChange,
  byteLimit,
  typeAhead,
  ref,
}: {
  room: string;
  session: RoomSession;
  /** Where the draft's crash-proof copy goes (the room's meta). */
  store: Pick<RoomUpdateStore, 'setMeta'>;
  /** The room's meta as read when it was opened. */
  meta: RoomMeta;
  replyTo: MessageView | null;
  onCancelReply: () => void;
  onSent: (m: MessageView) => void;
  onDraftChange?: (draft: string) => void;
  /** STRUCT-1: the view's `connection.textByteLimit`, so the counter follows the relay's limits as they arrive. */
  byteLimit: number | null;
  /** TYPE-1: keys typed while the room opened, taken when this box first shows. */
  typeAhead?: TypeAhead;
  ref?: Ref<ComposerHandle>;
}): ReactNode => {
  const [opened] = useState(() => currentDraft(kv, room, meta));
  const [draft, setDraft] = useState(opened.text);
  const [error, setError] = useState<string | null>(null);
  const [keeper] = useState(
    () =>
      new DraftKeeper(room, store, kv, opened.at, Date.now, (e, failed) => {
        // A failed clear after a send is not this composer's to explain (the room's storage notice is).
        if (failed.text)
          setError(`This draft could not be saved on this device (${e instanceof Error ? e.message : String(e)}).`);
      }),
  );
  // Typed text goes to IndexedDB when the page is hidden (often the last chance on a phone) or the
  // composer goes away.
  useEffect(() => {
    const hidden = (): void => {
      if (document.visibilityState === 'hidden') keeper.flush();
    };
    const flush = (): void => keeper.flush();
    document.addEventListener('visibilitychange', hidden);
    window.addEventListener('pagehide', flush);
    return () => {
      document.removeEventListener('visibilitychange', hidden);
      window.removeEventListener('pagehide', flush);
      keeper.flush();
    };
  }, [keeper]);
  const textareaRef = useRef<HTMLTextAreaElement>(null);
  const typing = useRef(false);
  const labelId = useId();
  const counterId = useId();
  const errorId = useId();
  const replyId = useId();
  const keysId = useId();

  useImperativeHandle(ref, () => ({ focus: () => textareaRef.current?.focus() }), []);

  // The session clears "typing" by itself a few seconds after the last call.
  const setTyping = useCallback(
    (on: boolean) => {
      if (!on && !typing.current) return;
      typing.current = on;
      try {
        session.setTyping(on);
      } catch {
        // Presence is best effort.
      }
    },
    [session],
  );

  // Another tab of this profile edited the same draft.
  useEffect(() => {
    const onStorage = (e: StorageEvent): void => {
      // Not while the user types here; a tab in the background takes the other tab's text.
      const typingHere = document.hasFocus() && document.activeElement === textareaRef.current;
      if (e.key === draftKey(room) && !typingHere) setDraft(e.newValue ?? '');
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, [room]);

  // Grow with the text, up to a limit (then it scrolls); again when the box's width or the window's
  // height changes (a rotated phone, a wider window, the Lab panel opened), which re-wraps the text.
  useLayoutEffect(() => fitToText(textareaRef.current), [draft]);
  useEffect(() => {
    const el = textareaRef.current;
    if (!el) return;
    let width = el.clientWidth;
    // Only a change of width: the height is what fitToText itself sets.
    const observer = new ResizeObserver(() => {
      if (el.clientWidth === width) return;
      width = el.clientWidth;
      fitToText(el);
    });
    observer.observe(el);
    const onResize = (): void => fitToText(el);
    window.addEventListener('resize', onResize);
    return () => {
      observer.disconnect();
      window.removeEventListener('resize', onResize);
    };
  }, []);

  useEffect(() => {
    if (replyTo) textareaRef.current?.focus();
  }, [replyTo]);

  const update = (text: string): void => {
    setDraft(text);
    keeper.change(text);
    onDraftChange?.(text);
    setError(null);
    setTyping(text.trim().length > 0);
  };

  // Once, when the box first shows: the caret after the draft it opened with (it was before it, and
  // what was typed went in front), then TYPE-1: what was typed while the room opened follows that
  // draft (a new value puts the caret at its end), and the box has the focus to go on typing.
  const opening = useRef(true);
  useLayoutEffect(() => {
    if (!opening.current) return;
    opening.current = false;
    const el = textareaRef.current;
    el?.setSelectionRange(el.value.length, el.value.length);
    const typed = typeAhead?.take() ?? '';
    if (!typed) return;
    update(opened.text + typed);
    el?.focus();
  });

  const send = (): void => {
    const text = draft.replace(/\s+$/, '');
    try {
      const m = session.send(text, replyTo?.id);
      setDraft('');
      keeper.change('');
      onDraftChange?.('');
      setError(null);
      setTyping(false);
      // Sent with the button: the next message is typed here, as after Enter.
      textareaRef.current?.focus();
      onSent(m);
    } catch (e) {
      // The draft stays, with the reason.
      setError(e instanceof ChatError || e instanceof Error ? e.message : String(e));
    }
  };

  const over = draft.length - TEXT_LIMIT;
  const describedBy = [replyTo ? replyId : '', keysId, counterId, error ? errorId : ''].filter(Boolean).join(' ');

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      {replyTo && (
        <div className="replying" id={replyId}>
          <span>
            Replying to{' '}
            <strong>
              <bdi>{replyTo.authorName}</bdi>
            </strong>
            :{' '}
            <bdi className="replying-text">
              {replyTo.deleted ? 'message deleted' : replyTo.text.slice(0, 120)}
              {replyTo.text.length > 120 ? '…' : ''}
            </bdi>
          </span>
          <button type="button" className="button quiet small" onClick={onCancelReply}>
            Cancel reply
          </button>
        </div>
      )}
      <div className="composer-row">
        <label id={labelId} className="visually-hidden" htmlFor={`${labelId}-input`}>
          Message
        </label>
        <textarea
          id={`${labelId}-input`}
          ref={textareaRef}
          className="composer-input"
          value={draft}
          rows={1}
          // Short enough for one line of the narrowest composer (the Lab panel open beside it): the
          // keys are said below, where they stay while typing.
          placeholder="Write a message"
          aria-describedby={describedBy}
          aria-invalid={error || over > 0 ? true : undefined}
          onChange={(e) => update(e.target.value)}
          onBlur={() => setTyping(false)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              send();
            } else if (e.key === 'Escape' && replyTo) {
              e.preventDefault();
              onCancelReply();
            }
          }}
        />
        <button type="submit" className="button primary send">
          Send
        </button>
      </div>
      <div className="composer-meta">
        <span id={keysId} className="composer-keys">
          Enter to send, Shift+Enter for a new line
        </span>
        {/* STRUCT-1: read on every render, so once the relay's limits arrive the next keystroke counts by them. */}
        <CharCounter id={counterId} text={draft} byteLimit={byteLimit} />
      </div>
      <FieldError id={errorId} error={error} />
    </form>
  );
};
