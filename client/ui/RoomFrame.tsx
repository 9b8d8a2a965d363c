/**
 * The room screen before the room itself shows (opening it, a failure to open, PRES-5's name
 * question): the header with the way back and the room's name, and the content centred below.
 */
import type { ReactNode } from 'react';
import { linkClick } from './appContext.js';

export const RoomFrame = ({
  room,
  busy,
  children,
}: {
  room: string;
  busy?: boolean;
  children: ReactNode;
}): ReactNode => (
  <div className="room-layout">
    <header className="room-header">
      <a className="back-link" href="/" onClick={linkClick('/')}>
        <span aria-hidden="true">←</span> Rooms
      </a>
      <h1 className="room-title">{room}</h1>
    </header>
    <main className="screen-center" aria-busy={busy}>
      {children}
    </main>
  </div>
);
