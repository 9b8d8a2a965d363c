/**
 * STRUCT-1 against the real relay (a child process whose frames carry structs of at most 4032
 * bytes, VAL-10): a message the relay would refuse for good is refused while it is still a draft,
 * and the room keeps syncing. Without the relay's limits the same message is stored, and the relay
 * then refuses the room's upload with the fatal struct-too-large: that device could not sync the
 * room again (found by the exploratory test).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatError, TEXT_STRUCT_OVERHEAD } from '../../shared/chat/chatRoom.js';
import { CloseReason } from '../../shared/protocol.js';
import { waitFor } from '../../shared/testing/waitFor.js';
import { startRelay, type RelayProcess } from '../../relay/testing/relayProcess.js';
import { person, randomBytes, WS } from '../testing/relaySessions.js';
import { fetchRelayConfig, type RelayConfig } from '../net/relayConfig.js';
import { Transport } from '../net/transport.js';
import { MemoryRoomUpdateStore } from '../storage/memoryRoomUpdateStore.js';
import { RoomSession } from './roomSession.js';

let relay: RelayProcess;
let config: RelayConfig;
beforeAll(async () => {
  relay = await startRelay({ env: { MAX_SEND_FRAME_BYTES: '4096', MAX_AWARENESS_STATE_BYTES: '2048' } });
  config = await fetchRelayConfig(relay.url);
});
afterAll(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  await relay.cleanup();
});

const sessions: RoomSession[] = [];
let rooms = 0;
const open = async (readLimits: boolean): Promise<RoomSession> => {
  const s = await RoomSession.open({
    room: `struct-${process.pid}-${rooms++}`,
    relayUrl: relay.wsUrl,
    identity: person('Writer'),
    store: new MemoryRoomUpdateStore(),
    persistent: false,
    randomBytes,
    crossTab: false,
    transport: new Transport({ WebSocketImpl: WS, jitterBaseMs: 20, jitterMaxMs: 100 }),
    relayLimits: () => (readLimits ? config.limits : null),
  });
  sessions.push(s);
  await waitFor(() => s.view().connection.status === 'online', 'online');
  return s;
};

/** 3,000 characters (within CHAT-2's 4,000) of 3 bytes each: 9,000 bytes, over the relay's 4,032. */
const LONG = '€'.repeat(3000);

describe('STRUCT-1 with the real relay', () => {
  it('STRUCT-1: the relay publishes the largest struct it passes on', () => {
    expect(config.limits?.maxStructBytes).toBe(4032);
  });

  it('STRUCT-1: a message the relay would refuse for good stays a draft, with the sizes; the room keeps syncing', async () => {
    const s = await open(true);
    let refusal: unknown = null;
    try {
      s.send(LONG);
    } catch (e) {
      refusal = e;
    }
    expect(refusal).toBeInstanceOf(ChatError);
    expect((refusal as ChatError).message).toMatch(
      new RegExp(
        `^This relay passes on messages of at most ${4032 - TEXT_STRUCT_OVERHEAD} bytes; this one takes 9000 `,
      ),
    );
    expect(s.view().messages).toEqual([]);
    // An edit to such a text is refused alike.
    const short = s.send('a short one');
    expect(() => s.edit(short.id, LONG)).toThrow(ChatError);
    await waitFor(() => s.view().pendingCount === 0, 'the short message acked');
    expect(s.view().connection.refusal).toBeNull();
    expect(s.view().messages.map((m) => m.text)).toEqual(['a short one']);
  });

  it('STRUCT-1: without the limits the message is stored and the relay refuses the room for good (what it prevents)', async () => {
    const s = await open(false);
    s.send(LONG);
    await waitFor(() => s.view().connection.refusal !== null, 'the relay refuses the upload');
    expect(s.view().connection.refusal).toContain(CloseReason.StructTooLarge.reason);
  });
});
