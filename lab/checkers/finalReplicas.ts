/**
 * The part of the history the final-state checkers (CHK-1..CHK-4) read, and the verdict they give
 * when there is none: without a final read nothing can be shown to hold, so they fail.
 */
import type { FinalReplica, History } from '../history.js';
import { verdict, type RuleId, type Verdict } from './verdict.js';

export const noFinalRead = (rule: RuleId): Verdict =>
  verdict(rule, 'no final read: the run ended before the replicas were read', [
    { text: 'The run ended (crashed or was interrupted) before the final heal and read.', clients: [], msgIds: [] },
  ]);

/** The final replicas, or null when the run has no final read. */
export const finalReplicas = (h: History): readonly FinalReplica[] | null => h.final?.replicas ?? null;
