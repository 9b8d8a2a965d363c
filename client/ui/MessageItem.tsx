/**
 * One message: author, time, text (as text, never HTML), its state for own messages
 * ("Storing…" → "Pending" → "Saved" → "Seen"), flags (edited, deleted, arrived late, time ahead of this device's clock),
 * the quoted parent of a reply, reactions (this user's own one marked "Storing…" or "Pending" until the relay has it:
 * STATE-5), and the actions (reply, react, edit, delete).
 */
import { memo, useEffect, useId, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { ChatError, REACTIONS } from '../../shared/chat/chatRoom.js';
import { CLOCK_AHEAD_TOLERANCE_MS } from '../../shared/chat/hlc.js';
import { formatFullTime, formatMessageTime, formatPreciseDuration, isoTime } from './format.js';
import { CharCounter } from './CharCounter.js';
import { FieldError } from './FieldError.js';
import { highlight, RichText } from './richText.js';
import type { MessageState, MessageView, ReactionState } from './services.js';

export const STATE_LABEL: Record<MessageState, string> = {
  storing: 'Storing…',
  pending: 'Pending',
  saved: 'Saved',
  seen: 'Seen',
};
export const STATE_HELP: Record<MessageState, string> = {
  storing: 'Being written to this device’s storage; closing the page before it is done would lose it from this device.',
  pending: 'Kept on this device, not on the relay yet: it is sent when you are online.',
  saved: 'Stored on this device and on the relay’s disk.',
  seen: 'Received by someone else in the room.',
};
/** STATE-5: what an own reaction's chip says while the relay does not have it (its accessible name and title). */
const REACTION_STATE_NAME: Record<ReactionState, string> = {
  storing: 'yours storing: not saved on this device yet',
  pending: 'yours pending: not on the relay yet',
};
const REACTION_STATE_HELP: Record<ReactionState, string> = {
  storing: 'Yours is being written to this device’s storage; closing the page before it is done would lose it.',
  pending: 'Yours is kept on this device, not on the relay yet: it is sent when you are online.',
};

export interface MessageActions {
  readonly reply: (m: MessageView) => void;
  /** Throws ChatError when refused. */
  readonly edit: (id: string, text: string) => void;
  readonly remove: (id: string) => void;
  readonly react: (id: string, emoji: string, on: boolean) => void;
  readonly showMessage: (id: string) => void;
  /** STRUCT-1: the most bytes the relay passes on for a text (RoomSession.textByteLimit); null while unknown. */
  readonly textByteLimit: () => number | null;
}

export interface MessageItemProps {
  readonly m: MessageView;
  readonly parent: MessageView | null | undefined;
  readonly selfId: string;
  readonly names: { get(userId: string): string | undefined };
  readonly query: string;
  readonly highlighted: boolean;
  /** In search results: offers to show the message in the conversation. */
  readonly inSearch: boolean;
  readonly actions: MessageActions;
}

/**
 * HLC-4: the "clock ahead" tag, null when the message is not flagged. Its place in the
 * conversation comes from its HLC, the time shown from its sender's clock (`wall`). Usually
 * the two agree and the sender's clock was ahead; when the HLC is ahead of its own sender's clock
 * too (an HLC never goes back: HLC-2, e.g. after a skew was cleared), the tag says it is ordered
 * as if sent then, which is true, rather than that it was sent then, which the time shown denies.
 */
export const clockAheadTag = (
  m: Pick<MessageView, 'clockAheadMs' | 'hlc' | 'wall' | 'own'>,
): { label: string; title: string } | null => {
  if (m.clockAheadMs <= CLOCK_AHEAD_TOLERANCE_MS) return null;
  const ahead = formatPreciseDuration(m.clockAheadMs);
  const behindHlc = m.hlc.wall - m.wall;
  if (behindHlc <= CLOCK_AHEAD_TOLERANCE_MS) {
    return {
      label: `⚠ sent ${ahead} ahead of this device’s clock`,
      title:
        'Its time was later than this device’s clock when it arrived: the sender’s clock is ahead, or this device’s is behind. It is placed by that time (its HLC); more than 60 s ahead, this device’s clock does not take it (HLC-3).',
    };
  }
  const whose = m.own ? 'this device’s' : 'its sender’s';
  return {
    label: `⚠ ordered as if sent ${ahead} ahead of this device’s clock`,
    title: `Its timestamp (HLC), which places it in the conversation, was ${ahead} ahead of this device’s clock when it appeared here, and ${formatPreciseDuration(behindHlc)} ahead of the time shown (${whose} clock): ${whose} HLC had kept a later time, taken from a clock that was ahead (another sender’s, or its own before a skew was cleared), and an HLC never goes back. Messages written before the clocks reach that time are shown before it.`,
  };
};

const excerpt = (text: string, n = 140): string => (text.length > n ? text.slice(0, n) + '…' : text);

export const MessageItem = memo(function MessageItem(props: MessageItemProps): ReactNode {
  const { m, parent, selfId, names, query, highlighted, inSearch, actions } = props;
  const [mode, setMode] = useState<'idle' | 'edit' | 'confirm-delete' | 'react'>('idle');
  const articleRef = useRef<HTMLElement>(null);
  const editRef = useRef<HTMLButtonElement>(null);
  const deleteRef = useRef<HTMLButtonElement>(null);
  const reactRef = useRef<HTMLButtonElement>(null);
  const keepRef = useRef<HTMLButtonElement>(null);
  // The Edit and Delete buttons are gone while their form is open, and the reaction picker's
  // buttons go with it, so focus would fall to the page when it closes: it goes back to the button
  // that opened it (the message itself once deleted).
  const backTo = useRef<'edit' | 'delete' | 'react' | null>(null);
  const close = (from: 'edit' | 'delete' | 'react'): void => {
    backTo.current = from;
    setMode('idle');
  };
  useEffect(() => {
    if (mode === 'confirm-delete') keepRef.current?.focus();
    if (mode !== 'idle' || backTo.current === null) return;
    const button = { edit: editRef, delete: deleteRef, react: reactRef }[backTo.current].current;
    backTo.current = null;
    (button ?? articleRef.current)?.focus();
  }, [mode]);
  const own = m.own;
  const ahead = clockAheadTag(m);
  const editable = own && !m.deleted;
  const className = ['message', own ? 'own' : '', m.deleted ? 'deleted' : '', highlighted ? 'highlighted' : '']
    .filter(Boolean)
    .join(' ');

  return (
    <article
      ref={articleRef}
      className={className}
      tabIndex={-1}
      data-message-id={m.id}
      aria-label={`${m.authorName}, ${formatMessageTime(m.wall)}`}
    >
      {m.replyTo !== null && <ReplyQuote parent={parent} onShow={actions.showMessage} />}
      <header className="message-head">
        {/* SEARCH-1: a message found by its author's name shows where the match is. */}
        <bdi className="message-author">{highlight(m.authorName, query)}</bdi>
        {own && <span className="you-tag">(you)</span>}
        <time className="message-time" dateTime={isoTime(m.wall)} title={formatFullTime(m.wall)}>
          {formatMessageTime(m.wall)}
        </time>
        {m.edited && <span className="tag">edited</span>}
        {m.late && (
          <span
            className="tag late"
            title="It arrived here after messages that come after it in the conversation: its sender was offline, or it was delayed on the way."
          >
            arrived late
          </span>
        )}
        {ahead && (
          <span className="tag warn" title={ahead.title}>
            {ahead.label}
          </span>
        )}
        {own && m.state && (
          <span className={`state state-${m.state}`} title={STATE_HELP[m.state]}>
            {STATE_LABEL[m.state]}
          </span>
        )}
      </header>

      {m.deleted ? (
        <p className="message-text deleted-text">message deleted</p>
      ) : mode === 'edit' ? (
        <EditForm m={m} onDone={() => close('edit')} edit={actions.edit} byteLimit={actions.textByteLimit} />
      ) : (
        // Each message takes its direction from its own first strong character: an Arabic or Hebrew
        // message reads right to left, whatever the page's direction.
        <p className="message-text" dir="auto">
          <RichText text={m.text} query={query} />
        </p>
      )}

      {m.reactions.length > 0 && !m.deleted && (
        <div className="reactions" role="group" aria-label="Reactions">
          {m.reactions.map((r) => {
            const mine = r.users.includes(selfId);
            const who = r.users.map((u) => (u === selfId ? 'you' : (names.get(u) ?? 'someone'))).join(', ');
            // STATE-5: own and marked until the relay acks it (a removal leaves no chip to mark).
            const unsaved = mine ? m.pendingReactions.find((p) => p.emoji === r.emoji)?.state : undefined;
            return (
              <button
                key={r.emoji}
                type="button"
                className={unsaved ? 'reaction reaction-unsaved' : 'reaction'}
                aria-pressed={mine}
                aria-label={`${r.emoji} ${r.users.length}${unsaved ? `, ${REACTION_STATE_NAME[unsaved]}` : ''}`}
                title={`${who} reacted with ${r.emoji}${unsaved ? `. ${REACTION_STATE_HELP[unsaved]}` : ''}`}
                onClick={() => actions.react(m.id, r.emoji, !mine)}
              >
                {r.emoji} {r.users.length}
                {unsaved && <span className={`reaction-state state-${unsaved}`}>{STATE_LABEL[unsaved]}</span>}
              </button>
            );
          })}
        </div>
      )}

      {mode === 'react' && (
        <ReactionPicker
          m={m}
          selfId={selfId}
          onPick={(emoji, on) => {
            actions.react(m.id, emoji, on);
            close('react');
          }}
          onClose={() => close('react')}
        />
      )}

      {mode === 'confirm-delete' ? (
        <div
          className="confirm"
          role="group"
          aria-label="Confirm delete"
          onKeyDown={(e) => {
            if (e.key === 'Escape') close('delete');
          }}
        >
          <span>Delete this message for everyone?</span>
          <button
            type="button"
            className="button danger small"
            onClick={() => {
              actions.remove(m.id);
              close('delete');
            }}
          >
            Delete message
          </button>
          <button ref={keepRef} type="button" className="button small" onClick={() => close('delete')}>
            Cancel
          </button>
        </div>
      ) : (
        !m.deleted &&
        mode !== 'edit' && (
          <div className="message-actions">
            {inSearch && (
              <button type="button" className="action" onClick={() => actions.showMessage(m.id)}>
                Show in conversation
              </button>
            )}
            <button type="button" className="action" onClick={() => actions.reply(m)}>
              Reply
            </button>
            <button
              ref={reactRef}
              type="button"
              className="action"
              aria-expanded={mode === 'react'}
              onClick={() => setMode(mode === 'react' ? 'idle' : 'react')}
            >
              React
            </button>
            {editable && (
              <>
                <button ref={editRef} type="button" className="action" onClick={() => setMode('edit')}>
                  Edit
                </button>
                <button ref={deleteRef} type="button" className="action" onClick={() => setMode('confirm-delete')}>
                  Delete
                </button>
              </>
            )}
          </div>
        )
      )}
    </article>
  );
});

const ReplyQuote = ({
  parent,
  onShow,
}: {
  parent: MessageView | null | undefined;
  onShow: (id: string) => void;
}): ReactNode => {
  if (!parent) {
    return <blockquote className="reply-quote missing">Reply to a message that is not here yet</blockquote>;
  }
  return (
    <blockquote className="reply-quote">
      <button type="button" className="reply-quote-button" onClick={() => onShow(parent.id)}>
        <span className="visually-hidden">Replying to </span>
        <bdi className="reply-author">{parent.authorName}</bdi>
        <bdi className="reply-text">{parent.deleted ? 'message deleted' : excerpt(parent.text)}</bdi>
      </button>
    </blockquote>
  );
};

const ReactionPicker = ({
  m,
  selfId,
  onPick,
  onClose,
}: {
  m: MessageView;
  selfId: string;
  onPick: (emoji: string, on: boolean) => void;
  onClose: () => void;
}): ReactNode => {
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => first.current?.focus(), []);
  return (
    <div
      className="reaction-picker"
      role="group"
      aria-label="Choose a reaction"
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      {REACTIONS.map((emoji, i) => {
        const mine = m.reactions.some((r) => r.emoji === emoji && r.users.includes(selfId));
        return (
          <button
            key={emoji}
            ref={i === 0 ? first : undefined}
            type="button"
            className="reaction-choice"
            aria-label={`React with ${emoji}`}
            aria-pressed={mine}
            onClick={() => onPick(emoji, !mine)}
          >
            {emoji}
          </button>
        );
      })}
    </div>
  );
};

const EditForm = ({
  m,
  edit,
  byteLimit,
  onDone,
}: {
  m: MessageView;
  edit: (id: string, text: string) => void;
  byteLimit: () => number | null;
  onDone: () => void;
}): ReactNode => {
  const [text, setText] = useState(m.text);
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const errorId = useId();
  const counterId = useId();
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);
  const save = (): void => {
    try {
      edit(m.id, text);
      onDone();
    } catch (e) {
      setError(e instanceof ChatError || e instanceof Error ? e.message : String(e));
    }
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>): void => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onDone();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      save();
    }
  };
  return (
    <form
      className="edit-form"
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
    >
      <textarea
        ref={ref}
        aria-label="Edit message"
        aria-describedby={error ? `${counterId} ${errorId}` : counterId}
        aria-invalid={error ? true : undefined}
        value={text}
        rows={Math.min(8, Math.max(2, text.split('\n').length))}
        onChange={(e) => {
          setText(e.target.value);
          setError(null);
        }}
        onKeyDown={onKeyDown}
      />
      <div className="edit-row">
        <CharCounter id={counterId} text={text} byteLimit={byteLimit()} />
        <button type="submit" className="button primary small">
          Save
        </button>
        <button type="button" className="button small" onClick={onDone}>
          Cancel
        </button>
      </div>
      <FieldError id={errorId} error={error} />
    </form>
  );
};
