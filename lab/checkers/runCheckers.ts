/**
 * Runs every checker (CHK-1..CHK-7, docs/lab/checkers.md) on a recorded history. The run passes
 * when every verdict is ok; the wall-clock anomalies (CHK-6) and the messages shown before one their
 * sender had seen (CHK-7) are counts for the student, never a failure.
 */
import type { History } from '../history.js';
import { checkAckedNotLost } from './ackedNotLost.js';
import { checkCausalOrder } from './causalOrder.js';
import { checkConvergence } from './convergence.js';
import { checkIdUniqueness } from './idUniqueness.js';
import { checkNoDuplicates } from './noDuplicates.js';
import type { Verdict } from './verdict.js';
import { countShownBeforeSeen, type ShownBeforeSeen } from './shownBeforeSeen.js';
import { countWallClockAnomalies, type WallClockAnomalies } from './wallClockAnomalies.js';

export interface CheckReport {
  /** Every verdict ok. */
  readonly ok: boolean;
  /** CHK-1..CHK-5, in rule order. */
  readonly verdicts: readonly Verdict[];
  readonly wallClock: WallClockAnomalies;
  readonly shownBeforeSeen: ShownBeforeSeen;
}

export const runCheckers = (h: History): CheckReport => {
  const verdicts = [
    checkConvergence(h),
    checkAckedNotLost(h),
    checkNoDuplicates(h),
    checkCausalOrder(h),
    checkIdUniqueness(h),
  ];
  return {
    ok: verdicts.every((v) => v.ok),
    verdicts,
    wallClock: countWallClockAnomalies(h),
    shownBeforeSeen: countShownBeforeSeen(h),
  };
};
