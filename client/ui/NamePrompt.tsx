/**
 * PRES-5: a room opened by a profile that never chose a name (typically a shared link opened on
 * a fresh device) asks for one before the room opens: otherwise the person would write as
 * "Guest XXXX" without knowing it. The field starts with that stand-in, selected, so typing
 * replaces it and Enter keeps it. The name is kept in localStorage (works offline), and the room
 * opens only once it is saved, so the room's presence and first message already carry it.
 */
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { NAME_LIMIT } from '../../shared/chat/chatRoom.js';
import { useApp } from './appContext.js';
import { FieldError } from './FieldError.js';
import { RoomFrame } from './RoomFrame.js';

export const NamePrompt = ({ room, onDone }: { room: string; onDone: () => void }): ReactNode => {
  const { identity, setName } = useApp();
  const [value, setValue] = useState(identity.name);
  const [edited, setEdited] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const headingId = useId();
  const hintId = useId();
  const errorId = useId();

  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);

  // Another tab of this profile chose a name meanwhile: that answers the question, unless the
  // person already typed here (what they typed is not thrown away).
  useEffect(() => {
    if (identity.named && !edited) onDone();
  }, [identity.named, edited, onDone]);

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    if (!value.trim()) {
      setError('Type a name, or keep the suggested one.');
      input.current?.focus();
      return;
    }
    setName(value.trim());
    onDone();
  };

  return (
    <RoomFrame room={room}>
      <form className="card name-prompt" aria-labelledby={headingId} onSubmit={submit} noValidate>
        <h2 id={headingId}>What name should people in this room see?</h2>
        <label className="field">
          <span className="field-label">Your name</span>
          <input
            ref={input}
            type="text"
            value={value}
            maxLength={NAME_LIMIT}
            autoComplete="nickname"
            aria-describedby={error ? `${errorId} ${hintId}` : hintId}
            aria-invalid={error ? true : undefined}
            onChange={(e) => {
              setValue(e.target.value);
              setEdited(true);
              setError(null);
            }}
          />
        </label>
        <FieldError id={errorId} error={error} />
        <p id={hintId} className="hint">
          Shown next to your messages and in the room’s list of people. It is remembered on this device; you can change
          it later in the lobby.
        </p>
        <button type="submit" className="button primary">
          Join the room
        </button>
      </form>
    </RoomFrame>
  );
};
