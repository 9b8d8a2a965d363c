/** Why a form was refused, next to it: an alert, so it is announced when it appears. */
import type { ReactNode } from 'react';

export const FieldError = ({ id, error }: { id: string; error: string | null }): ReactNode =>
  error ? (
    <p id={id} className="error" role="alert">
      {error}
    </p>
  ) : null;
