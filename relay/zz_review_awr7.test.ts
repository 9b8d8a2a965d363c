import { describe, expect, it } from 'vitest';
import * as encoding from 'lib0/encoding';
import { Limits, encodeAwareness, encodeSyncUpdate } from '../shared/protocol.js';
import { RoomCore, type RoomEffect } from './roomCore.js';
import { updateCharge } from './updateCharge.js';

const LIMITS = {
  maxSendFrameBytes: Limits.maxSendFrameBytes,
  maxNestingDepth: Limits.maxNestingDepth,
  maxAwarenessStateBytes: Limits.maxAwarenessStateBytes, // 16 KiB
  maxAwarenessEntriesPerFrame: Limits.maxAwarenessEntriesPerFrame,
  maxAwarenessClientsPerConnection: Limits.maxAwarenessClientsPerConnection,
  maxAwarenessBytesPerConnection: Limits.maxAwarenessBytesPerConnection, // 32 KiB
  maxClientsPerUpdate: Limits.maxClientsPerUpdate,
};
const frame = (entries: { clientID: number; clock: number; state: string }[]): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const x of entries) {
    encoding.writeVarUint(e, x.clientID);
    encoding.writeVarUint(e, x.clock);
    encoding.writeVarString(e, x.state);
  }
  return encodeAwareness(encoding.toUint8Array(e));
};
const big = JSON.stringify({ p: 'x'.repeat(16 * 1024 - 100) }); // 16 KiB - 92
const closes = (fx: RoomEffect[]) => fx.filter((f) => f.type === 'close');

describe('review: AWR-7 bypass with a client id listed twice', () => {
  it('one connection ends up owning 64 × 16 KiB (1 MiB) against a 32 KiB budget', () => {
    const core = new RoomCore('r', { segments: [], log: [] }, LIMITS);
    core.join(1);
    core.join(2);
    // Two honest-looking 16 KiB states: exactly the budget.
    expect(closes(core.receive(1, frame([{ clientID: 1, clock: 1, state: big }, { clientID: 2, clock: 1, state: big }])))).toEqual([]);
    const clock = new Map<number, number>([[1, 1], [2, 1]]);
    let next = 3;
    while (next <= 64) {
      // For each owned id: a tiny state then a 16 KiB one (the projection subtracts the old 16 KiB twice),
      // then two new 16 KiB ids.
      const entries: { clientID: number; clock: number; state: string }[] = [];
      for (const [id, c] of clock) {
        entries.push({ clientID: id, clock: c + 1, state: '0' }, { clientID: id, clock: c + 2, state: big });
        clock.set(id, c + 2);
      }
      for (const id of [next, next + 1]) if (id <= 64) { entries.push({ clientID: id, clock: 1, state: big }); clock.set(id, 1); }
      console.log("iteration", next, entries.length, (core as any).ownedBytes(1), [...(core as any).conns.get(1).owned]);
      next += 2;
      expect(closes(core.receive(1, frame(entries)))).toEqual([]);
    }
    // What a newcomer is sent: every live state connection 1 owns.
    const joinFx = core.join(3);
    const bytes = joinFx.filter((f) => f.type === 'send').reduce((n, f) => n + (f as { frame: Uint8Array }).frame.length, 0);
    console.log(`live awareness bytes owned by connection 1: ~${bytes}`);
    expect(bytes).toBeLessThanOrEqual(LIMITS.maxAwarenessBytesPerConnection + 4096);
  });
});

describe('review: RATE-1 does not charge delete-set clients', () => {
  it('an update of 32,768 delete-set clients (VAL-11 accepts it) is charged nothing extra', () => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    encoding.writeVarUint(e, Limits.maxClientsPerUpdate);
    for (let i = 0; i < Limits.maxClientsPerUpdate; i++) for (const v of [1000 + i, 1, 0, 1]) encoding.writeVarUint(e, v);
    const f = encodeSyncUpdate(encoding.toUint8Array(e));
    const core = new RoomCore('r', { segments: [], log: [] }, LIMITS);
    core.join(1);
    expect(closes(core.receive(1, f))).toEqual([]); // accepted and persisted
    expect(updateCharge(f, Limits.maxClientsPerUpdate)).toBeGreaterThan(0);
  });
});
