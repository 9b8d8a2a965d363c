/**
 * LEAVE-2: names the rooms left inside the app whose sessions are kept open because what the user
 * wrote there is only in this page (LEAVE-1), above every screen; and while there are any, closing
 * or reloading the page asks first. It goes away by itself once the relay or the device has them.
 */
import { Fragment, type ReactNode } from 'react';
import { linkClick } from './appContext.js';
import { useKeptRooms } from './keptSessions.js';
import { roomPath } from './router.js';
import { useLeaveGuard } from './useLeaveGuard.js';

export const KeptRoomsNotice = (): ReactNode => {
  const rooms = useKeptRooms();
  useLeaveGuard(rooms.length > 0);
  if (rooms.length === 0) return null;
  return (
    <div className="update-banner warning" role="alert">
      <span>
        <strong>Keep this page open:</strong> what you wrote in{' '}
        {rooms.map((room, i) => (
          <Fragment key={room}>
            {i > 0 && ', '}
            <a href={roomPath(room)} onClick={linkClick(roomPath(room))}>
              {room}
            </a>
          </Fragment>
        ))}{' '}
        could not be stored on this device and is only in this page until the relay has it. It is sent as soon as the
        relay can be reached.
      </span>
    </div>
  );
};
