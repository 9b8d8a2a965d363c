/**
 * LAB-UI-6: every fault active on this device, in plain words, as a banner in the room — shown
 * whether the Lab panel is open or not, so nobody mistakes a lab fault for a bug.
 */
import type { ReactNode } from 'react';
import { describeFaultEffects, describeFaults, hasFaults, NO_FAULTS } from '../../../shared/lab/faults.js';
import type { RoomSession } from '../services.js';
import { useLabFaults } from './useLab.js';

export const LabFaultBanner = ({ session }: { session: RoomSession }): ReactNode => {
  const faults = useLabFaults(session);
  if (!hasFaults(faults)) return null;
  return (
    <div className="banner lab-banner" role="status" data-testid="lab-fault-banner">
      <span>
        <strong>Lab faults on this device:</strong> {describeFaults(faults).join(', ')}. {describeFaultEffects(faults)}
      </span>
      <button type="button" className="button quiet small" onClick={() => session.lab.setFaults(NO_FAULTS)}>
        Clear faults
      </button>
    </div>
  );
};
