/** The room core's limits at the shared defaults (tests and benchmarks build cores with them). */
import { Limits } from '../../shared/protocol.js';
import type { RoomCoreLimits } from '../roomCore.js';

export const defaultRoomCoreLimits: RoomCoreLimits = {
  maxSendFrameBytes: Limits.maxSendFrameBytes,
  maxNestingDepth: Limits.maxNestingDepth,
  maxAwarenessStateBytes: Limits.maxAwarenessStateBytes,
  maxAwarenessEntriesPerFrame: Limits.maxAwarenessEntriesPerFrame,
  maxAwarenessClientsPerConnection: Limits.maxAwarenessClientsPerConnection,
  maxAwarenessBytesPerConnection: Limits.maxAwarenessBytesPerConnection,
  maxClientsPerUpdate: Limits.maxClientsPerUpdate,
  maxHeldRangesPerUpdate: Limits.maxHeldRangesPerUpdate,
};
