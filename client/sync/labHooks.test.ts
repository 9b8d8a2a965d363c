/**
 * The lab hooks of RoomSession (LAB-1..LAB-8) against the real relay (a child process) with `ws`
 * as the WebSocket and the in-memory store.
 */
import { describe, expect, it } from 'vitest';
import { NO_FAULTS, sameFaults, validateFaultConfig } from '../../shared/lab/faults.js';
import { compareOrders } from '../../shared/lab/orders.js';
import { toShiViz } from '../../shared/lab/shiviz.js';
import { observeFor, waitFor } from '../../shared/testing/waitFor.js';
import { person, useRelaySessions, WS } from '../testing/relaySessions.js';
import { Transport } from '../net/transport.js';
import type { Identity } from '../identity.js';
import type { LabEvent } from '../../shared/lab/shiviz.js';
import { formatPreciseDuration } from '../ui/format.js';
import { hlcAheadNote } from '../ui/lab/labFormat.js';
import { LAB_AWARENESS_FIELD, LAB_PUBLISH_INTERVAL_MS, type LabAwareness } from './labHooks.js';
import { longestPieceGapMs } from './uploadPacer.js';
import { ACK_REFRESH_MS, ACK_REFRESH_TICK_MS, RoomSession, type RoomSessionOptions } from './roomSession.js';

const { freshRoom, open: openOn } = useRelaySessions('lab');
const alice = person('Alice');
const bob = person('Bob');

const open = (room: string, identity: Identity, extra: Partial<RoomSessionOptions> = {}): Promise<RoomSession> =>
  openOn(room, identity, extra);

const online = (s: RoomSession): Promise<void> =>
  waitFor(() => s.view().connection.status === 'online', `${s.identity.name} online`);
const texts = (s: RoomSession): string[] => s.view().messages.map((m) => m.text);
/** Alice and Bob in a fresh room, both online. */
const aliceAndBobOnline = async (): Promise<[RoomSession, RoomSession]> => {
  const room = freshRoom();
  const a = await open(room, alice);
  const b = await open(room, bob);
  await Promise.all([online(a), online(b)]);
  return [a, b];
};

describe('RoomSession lab hooks with a real relay', () => {
  it('LAB-1: a partition stops traffic both ways; healing reconnects at once and both sides converge', async () => {
    const [a, b] = await aliceAndBobOnline();
    a.lab.setFaults(validateFaultConfig({ partitioned: true }));
    // STATUS-1: Offline at once, not "Connecting…" while the first attempts fail.
    expect(a.view().connection.status).toBe('offline');
    a.send('from the island');
    b.send('from the mainland');
    const framesIn = a.lab.traffic.filter((f) => f.dir === 'in').length;
    await observeFor(500);
    expect(texts(b)).toEqual(['from the mainland']);
    expect(texts(a)).toEqual(['from the island']);
    expect(a.lab.traffic.filter((f) => f.dir === 'in').length).toBe(framesIn);
    expect(a.lab.contentHash()).not.toBe(b.lab.contentHash());
    a.lab.setFaults(NO_FAULTS);
    await online(a);
    await waitFor(() => texts(a).length === 2 && texts(b).length === 2, 'both have both');
    expect(texts(a)).toEqual(texts(b));
    expect(a.lab.contentHash()).toBe(b.lab.contentHash());
    expect(a.lab.traffic.some((f) => f.dir === 'in' && f.kind === 'sync2')).toBe(true);
  });

  it('LAB-1, STATUS-1: a session opened partitioned (LAB-10) is Offline from the start, never Connecting', async () => {
    const room = freshRoom();
    const a = await open(room, alice, { faults: validateFaultConfig({ partitioned: true }) });
    const seen = new Set([a.view().connection.status]);
    const stop = a.subscribe(() => seen.add(a.view().connection.status));
    // Long enough for several failed attempts (the transport's first retries come within it).
    await observeFor(1500);
    stop();
    expect([...seen]).toEqual(['offline']);
    a.lab.setFaults(NO_FAULTS);
    await online(a);
  });

  it('LAB-1: a partition also stops cross-tab sync, and healing resumes it', async () => {
    const room = freshRoom();
    // Two tabs of the same user on a relay nobody can reach: only BroadcastChannel connects them.
    const unreachable = (): Transport =>
      new Transport({ WebSocketImpl: WS, jitterBaseMs: 20, jitterMaxMs: 100, hooks: { refuseConnect: () => true } });
    const a = await open(room, alice, { crossTab: true, transport: unreachable() });
    const b = await open(room, alice, { crossTab: true, transport: unreachable() });
    a.send('tab a, before');
    await waitFor(() => texts(b).includes('tab a, before'), 'cross-tab sync works');
    a.lab.setFaults(validateFaultConfig({ partitioned: true }));
    a.send('tab a, partitioned');
    b.send('tab b, meanwhile');
    await observeFor(300);
    expect(texts(b)).not.toContain('tab a, partitioned');
    expect(texts(a)).not.toContain('tab b, meanwhile');
    a.lab.setFaults(NO_FAULTS);
    await waitFor(
      () => texts(b).includes('tab a, partitioned') && texts(a).includes('tab b, meanwhile'),
      'cross-tab sync resumes',
    );
  });

  it('LAB-1, OFF-1, STATE-7: a partition healed while switched off joins the other tabs again, with their acks', async () => {
    const room = freshRoom();
    const a = await open(room, alice, { crossTab: true });
    const b = await open(room, alice, { crossTab: true });
    await Promise.all([online(a), online(b)]);
    a.lab.setFaults(validateFaultConfig({ partitioned: true }));
    // Tab b writes and the relay acks it to b alone; a, cut off, hears neither.
    b.send('from tab b, while a is partitioned');
    await waitFor(() => b.view().messages[0]?.state === 'saved', 'saved in b');
    // The profile is switched off (both tabs follow the switch), then the partition heals.
    a.setOffline(true);
    b.setOffline(true);
    expect(texts(a)).toEqual([]);
    a.lab.setFaults(NO_FAULTS);
    await waitFor(() => texts(a).includes('from tab b, while a is partitioned'), 'a has it over BroadcastChannel');
    // Saved, not pending: b's ack came with it, though neither tab can reach the relay now.
    await waitFor(() => a.view().messages[0]?.state === 'saved', 'saved in a');
    expect(a.view().connection.status).not.toBe('online');
  });

  it('LAB-3: skew moves the wall clock and the HLC of what is sent; a reply still shows after its parent', async () => {
    const [a, b] = await aliceAndBobOnline();
    const parent = a.send('question');
    await waitFor(() => texts(b).includes('question'), 'b has the question');
    b.lab.setFaults(validateFaultConfig({ skewMs: -300_000 }));
    expect(b.lab.clock.now() - Date.now()).toBeLessThanOrEqual(-299_000);
    const reply = b.send('answer', parent.id);
    expect(reply.wall).toBeLessThan(parent.wall - 290_000);
    // HLC-1: the reply's HLC is past the parent's, whatever b's wall clock says.
    expect(reply.hlc.wall).toBeGreaterThanOrEqual(parent.hlc.wall);
    await waitFor(() => texts(a).includes('answer'), 'a has the answer');
    for (const s of [a, b]) expect(texts(s)).toEqual(['question', 'answer']);
    const { anomalies } = compareOrders(a.view().messages, a.lab.arrival);
    expect(anomalies).toContainEqual({ id: reply.id, kind: 'reply-before-parent', order: 'wall' });
    expect(anomalies.filter((x) => x.order === 'arrival')).toEqual([]);
  });

  it('LAB-13: after a skew ahead is cleared the HLC stays ahead of the clock, and the lab says by how much', async () => {
    const room = freshRoom();
    const a = await open(room, alice);
    await online(a);
    const hour = 3_600_000;
    a.lab.setFaults(validateFaultConfig({ skewMs: hour }));
    // A skew alone moves no HLC: only a timestamp it issues does.
    expect(a.lab.hlcAhead().ms).toBe(0);
    a.send('an hour ahead');
    expect(a.lab.hlcAhead().ms).toBe(0);
    a.lab.setFaults(validateFaultConfig({ skewMs: hour / 2 }));
    const reduced = a.lab.hlcAhead();
    expect(reduced.setBack).toBe(true);
    expect(reduced.ms).toBeGreaterThan(hour / 2 - 60_000);
    expect(reduced.ms).toBeLessThanOrEqual(hour / 2);
    a.lab.setFaults(NO_FAULTS);
    const cleared = a.lab.hlcAhead();
    expect(cleared.ms).toBeGreaterThan(hour - 60_000);
    const d = formatPreciseDuration(cleared.ms);
    expect(hlcAheadNote(cleared)).toBe(
      `This device’s HLC is ${d} ahead of its clock: your messages keep sorting as if sent ${d} ahead, until real time catches up. An HLC never goes back (HLC-2): it keeps the latest time it gave a message or took from one before this device’s clock was set back.`,
    );
    // Its next message takes that time (HLC-2), whatever the clock says.
    const next = a.send('after the skew was cleared');
    expect(next.hlc.wall - Date.now()).toBeGreaterThan(hour - 60_000);
  });

  it('LAB-13: a clock put behind after a message arrived: the HLC keeps the time it took, and the lab says the clock was set back (skewed-clocks step 1)', async () => {
    const [a, b] = await aliceAndBobOnline();
    a.send('question');
    await waitFor(() => texts(b).includes('question'), 'b has the question');
    b.lab.setFaults(validateFaultConfig({ skewMs: -120_000 }));
    const ahead = b.lab.hlcAhead();
    expect(ahead.setBack).toBe(true);
    expect(ahead.ms).toBeGreaterThan(110_000);
    // Not "the time it gave messages while the clock was skewed further ahead": b sent nothing.
    expect(hlcAheadNote(ahead)).toContain(
      'it keeps the latest time it gave a message or took from one before this device’s clock was set back.',
    );
  });

  it('LAB-13: a session opened with its clock behind takes a message at most 60 s ahead: no set-back (HLC-3)', async () => {
    const room = freshRoom();
    const a = await open(room, alice);
    const b = await open(room, bob, { faults: validateFaultConfig({ skewMs: -30_000 }) });
    await Promise.all([online(a), online(b)]);
    a.send('question');
    await waitFor(() => texts(b).includes('question'), 'b has the question');
    const ahead = b.lab.hlcAhead();
    expect(ahead.setBack).toBe(false);
    expect(ahead.ms).toBeGreaterThan(20_000);
    expect(hlcAheadNote(ahead)).toContain(
      'it keeps the latest time it used or took from a message (up to 60 s ahead, HLC-3)',
    );
  });

  it('LAB-8: updates lost to drops are repaired by resyncNow (both directions)', async () => {
    const [a, b] = await aliceAndBobOnline();
    a.lab.setFaults(validateFaultConfig({ dropPct: 100 }));
    a.send('lost on the way up');
    b.send('lost on the way down');
    await observeFor(300);
    expect(texts(b)).toEqual(['lost on the way down']);
    expect(texts(a)).toEqual(['lost on the way up']);
    expect(a.lab.stats().droppedOut).toBeGreaterThan(0);
    expect(a.lab.stats().droppedIn).toBeGreaterThan(0);
    a.lab.setFaults(NO_FAULTS);
    // The socket stayed open: nothing repairs the loss until a resync.
    expect(a.lab.resyncNow()).toBe(true);
    await waitFor(() => texts(a).length === 2 && texts(b).length === 2, 'repaired');
    expect(a.lab.contentHash()).toBe(b.lab.contentHash());
  });

  it('LAB-2, STATE-2: an update dropped on the way up stays missing past STATE-2 quiet spells (re-checks at doubling intervals); resyncNow repairs it', async () => {
    const [a, b] = await aliceAndBobOnline();
    a.lab.setFaults(validateFaultConfig({ dropPct: 100 }));
    a.send('x-lost');
    await waitFor(() => a.lab.stats().droppedOut > 0, 'the update was dropped');
    a.lab.setFaults(NO_FAULTS);
    const from = Date.now();
    // Without the lab, STATE-2 would upload it by itself: its first re-check comes a refresh period
    // (plus a tick) after the write became pending, the upload at the next re-check (twice the
    // period later, plus a tick: it is longer than a quiet spell, as the sessions here have no relay
    // limits and so no pacing gap). One refresh period more is the margin.
    const refreshPeriod = ACK_REFRESH_MS + ACK_REFRESH_TICK_MS;
    expect(2 * ACK_REFRESH_MS).toBeGreaterThanOrEqual(ACK_REFRESH_MS + longestPieceGapMs(null));
    await observeFor(refreshPeriod + 2 * ACK_REFRESH_MS + ACK_REFRESH_TICK_MS + refreshPeriod);
    // The re-checks that brought no ack came at 2 s, then 4 s later (the next would be 8 s later):
    // two in this window, where one every 2 s made four or five.
    const rechecks = a.lab.traffic.filter((f) => f.t >= from && f.dir === 'out' && f.kind === 'sync1').length;
    expect(rechecks).toBeGreaterThanOrEqual(2);
    expect(rechecks).toBeLessThanOrEqual(3);
    expect(a.view().connection.status).toBe('online');
    expect(texts(b)).toEqual([]);
    expect(a.lab.pendingCount).toBe(1);
    expect(a.lab.resyncNow()).toBe(true);
    await waitFor(() => texts(b).includes('x-lost'), 'the resync repaired it');
    await waitFor(() => a.lab.pendingCount === 0, 'the relay acked it');
  });

  it('LAB-8: periodic anti-entropy repairs drops without a resync by hand', async () => {
    const [a, b] = await aliceAndBobOnline();
    a.lab.setFaults(validateFaultConfig({ dropPct: 100 }));
    a.send('dropped once');
    await waitFor(() => a.lab.stats().droppedOut > 0, 'the update dropped');
    a.lab.setFaults(NO_FAULTS);
    a.lab.setAntiEntropyMs(200);
    expect(a.lab.antiEntropyMs).toBe(200);
    await waitFor(() => texts(b).includes('dropped once'), 'anti-entropy repaired it');
    a.lab.setAntiEntropyMs(null);
    expect(a.lab.antiEntropyMs).toBeNull();
  });

  it('LAB-7: the content hash follows every change (a send, an edit, a reaction, the title), read between changes too', async () => {
    const [a, b] = await aliceAndBobOnline();
    const hashes = new Set([a.lab.contentHash()]);
    const step = async (what: string, change: () => void): Promise<void> => {
      const before = a.lab.contentHash();
      expect(a.lab.contentHash()).toBe(before); // no change, the same hash
      change();
      await waitFor(
        () => a.lab.contentHash() !== before && a.lab.contentHash() === b.lab.contentHash(),
        `${what}: a new hash, the same on both sides`,
      );
      hashes.add(a.lab.contentHash());
    };
    let id = '';
    await step('send', () => (id = a.send('first').id));
    await step('edit', () => a.edit(id, 'first, edited'));
    await step('reaction', () => b.react(id, '👍', true));
    await step('title', () => b.setTitle('a title'));
    expect(hashes.size).toBe(5);
  });

  it('LAB-7: peers see the lab awareness field (faults, state vector, hash, pending)', async () => {
    const [a, b] = await aliceAndBobOnline();
    a.send('hello');
    a.lab.setFaults(validateFaultConfig({ skewMs: 60_000 }));
    const labOf = (): LabAwareness | undefined => {
      const aw = b.internals!.awareness;
      for (const [id, st] of aw.getStates()) {
        if (id !== a.internals!.doc.clientID) continue;
        return (st as Record<string, unknown>)[LAB_AWARENESS_FIELD] as LabAwareness | undefined;
      }
      return undefined;
    };
    await waitFor(() => labOf()?.faults.skewMs === 60_000 && labOf()?.hash === a.lab.contentHash(), 'b sees a');
    const l = labOf()!;
    expect(l.svTotal).toBeGreaterThan(0);
    expect(l.svSummary).toMatch(/^[0-9a-f]{4}:\d+/);
    expect(typeof l.pending).toBe('number');
  });

  it('LAB-7 (STATE-5, STATE-6): the pending count includes own reactions and the title the relay has not acked', async () => {
    const room = freshRoom();
    const a = await open(room, alice);
    await online(a);
    const { id } = a.send('react to me');
    await waitFor(() => a.lab.pendingCount === 0, 'the message acked');
    a.lab.setFaults(validateFaultConfig({ partitioned: true }));
    await waitFor(() => a.view().connection.status !== 'online', 'a is cut off');
    a.react(id, '👍', true);
    expect(a.lab.pendingCount).toBe(1);
    a.setTitle('cut off');
    expect(a.lab.pendingCount).toBe(2);
    expect(a.lab.awarenessState().pending).toBe(2);
    a.lab.setFaults(NO_FAULTS);
    await waitFor(() => a.lab.pendingCount === 0, 'both acked after healing');
  });

  it('LAB-7: a session about to drop every frame tells the room first, so the class view can say it is out of reach', async () => {
    const [a, b] = await aliceAndBobOnline();
    const dropOf = (): number | undefined => {
      const st = b.internals!.awareness.getStates().get(a.internals!.doc.clientID);
      return (st?.[LAB_AWARENESS_FIELD] as LabAwareness | undefined)?.faults.dropPct;
    };
    await waitFor(() => dropOf() === 0, 'b sees a');
    a.lab.setFaults(validateFaultConfig({ dropPct: 100 }));
    await waitFor(() => dropOf() === 100, 'b learns that a drops every frame');
  });

  it("PRES-9: a message changes a reader's presence once: one frame carries its seen clocks (SEEN-1) and its lab field (LAB-7)", async () => {
    const [a, b] = await aliceAndBobOnline();
    const aAtB = (): Record<string, unknown> | undefined =>
      b.internals!.awareness.getStates().get(a.internals!.doc.clientID);
    await waitFor(() => (aAtB()?.[LAB_AWARENESS_FIELD] as LabAwareness | undefined) !== undefined, 'b sees a');
    // Past a's own first publishes.
    await observeFor(LAB_PUBLISH_INTERVAL_MS + 500);
    const from = Date.now();
    const { yId } = b.send('one message');
    await waitFor(() => texts(a).includes('one message'), 'a has it');
    // b learns both from a: what a has seen, and a's new content hash.
    await waitFor(() => {
      const st = aAtB();
      const sv = st?.sv as Array<[number, number]> | undefined;
      const seen = sv?.some(([c, k]) => c === yId!.client && k > yId!.clock) === true;
      return seen && (st?.[LAB_AWARENESS_FIELD] as LabAwareness).hash === a.lab.contentHash();
    }, "b has a's new presence");
    await observeFor(LAB_PUBLISH_INTERVAL_MS + 500);
    const sent = a.lab.traffic.filter((f) => f.t >= from && f.dir === 'out' && f.kind === 'awareness');
    expect(sent).toHaveLength(1);
  });

  it('PRES-9: a stream of changes that leave the seen clocks alone (own reactions) does not hold the lab field back', async () => {
    const [a, b] = await aliceAndBobOnline();
    // a wrote no message: its own client is not among its seen clocks (SEEN-1), so its reactions
    // change its document (and the lab field's hash) but not its `sv`.
    const { id } = b.send('react to me');
    await waitFor(() => texts(a).includes('react to me'), 'a has it');
    const labOfA = (): LabAwareness | undefined =>
      b.internals!.awareness.getStates().get(a.internals!.doc.clientID)?.[LAB_AWARENESS_FIELD] as
        LabAwareness | undefined;
    await waitFor(() => labOfA()?.hash === a.lab.contentHash(), 'b has the hash of a');
    const hashes = new Set<string>();
    const end = Date.now() + 3 * LAB_PUBLISH_INTERVAL_MS;
    // A reaction set or cleared every 100 ms: a publish of the seen clocks is always due.
    for (let i = 0; Date.now() < end; i++) {
      a.react(id, '👍', i % 2 === 0);
      await observeFor(100);
      const h = labOfA()?.hash;
      if (h !== undefined) hashes.add(h);
    }
    // The lab field followed (LAB-7: at most once a second), not only after the stream.
    expect(hashes.size).toBeGreaterThan(1);
  });

  it('LAB-7, PRES-4: a session back in the room (rejoinPresence) publishes its lab field again, unchanged as it is, in the same frame', async () => {
    const [a, b] = await aliceAndBobOnline();
    const aAtB = (): Record<string, unknown> | undefined =>
      b.internals!.awareness.getStates().get(a.internals!.doc.clientID);
    await waitFor(() => aAtB()?.[LAB_AWARENESS_FIELD] !== undefined, 'b sees a with its lab field');
    a.leavePresence();
    await waitFor(() => aAtB() === undefined, 'b sees a leave');
    // Past a periodic publish while a has no state.
    await observeFor(LAB_PUBLISH_INTERVAL_MS + 500);
    a.rejoinPresence();
    await waitFor(() => aAtB() !== undefined, 'b sees a back');
    // In the frame that announces it again (PRES-9), not only at a later periodic publish.
    expect(aAtB()?.[LAB_AWARENESS_FIELD]).toBeDefined();
    // And it stays (nothing removes it).
    await observeFor(LAB_PUBLISH_INTERVAL_MS + 500);
    expect(aAtB()?.[LAB_AWARENESS_FIELD]).toBeDefined();
  });

  it("LAB-14: the lab field waits for the tab's id: the first state a peer sees carries it", async () => {
    const room = freshRoom();
    let settle: (tab: string) => void = () => undefined;
    const labTab = new Promise<string>((resolve) => (settle = resolve));
    const a = await open(room, alice, { labTab });
    const b = await open(room, bob);
    await Promise.all([online(a), online(b)]);
    const aId = a.internals!.doc.clientID;
    const bAwareness = b.internals!.awareness;
    const seen: LabAwareness[] = [];
    bAwareness.on('change', () => {
      const lab = bAwareness.getStates().get(aId)?.[LAB_AWARENESS_FIELD] as LabAwareness | undefined;
      if (lab) seen.push(lab);
    });
    await waitFor(() => bAwareness.getStates().get(aId)?.user !== undefined, "b sees a's presence");
    a.send('hello');
    // Past a publication period and a change: nothing of the lab's may reach the room meanwhile.
    await observeFor(LAB_PUBLISH_INTERVAL_MS + 500);
    expect(seen).toEqual([]);
    settle('0123456789abcdef');
    await waitFor(() => seen.length > 0, "b sees a's lab field");
    expect(seen.map((l) => l.tab)).toEqual(seen.map(() => '0123456789abcdef'));
  });

  it.each([
    ['latency of 500 ms up', { up: { fixedMs: 500 } }, true],
    // Bob sees the reorder once its publication was released: nothing is held when the partition comes.
    ['a reorder of every frame', { reorderPct: 100 }, true],
    // The drop's own publication is dropped: Bob never sees it.
    ['a drop of half the frames, this one dropped', { dropPct: 50 }, false],
  ])('LAB-7: a session going into a partition behind %s still tells the room first', async (_, faults, shown) => {
    const room = freshRoom();
    // 0.3: a frame is dropped under dropPct 50, held under reorderPct 100, never duplicated.
    const a = await open(room, alice, { labRandom: () => 0.3 });
    const b = await open(room, bob);
    await Promise.all([online(a), online(b)]);
    const aId = a.internals!.doc.clientID;
    // Every state of Alice's that Bob received, until the relay removes hers (AWR-4).
    const seen: LabAwareness[] = [];
    const bAwareness = b.internals!.awareness;
    bAwareness.on('change', () => {
      const lab = bAwareness.getStates().get(aId)?.[LAB_AWARENESS_FIELD] as LabAwareness | undefined;
      if (lab) seen.push(lab);
    });
    await waitFor(() => bAwareness.getStates().get(aId)?.[LAB_AWARENESS_FIELD] !== undefined, 'b sees a');
    const config = validateFaultConfig(faults);
    a.lab.setFaults(config);
    if (shown) await waitFor(() => seen.some((l) => sameFaults(l.faults, config)), 'b sees the faults');
    a.lab.setFaults({ ...config, partitioned: true });
    await waitFor(() => !bAwareness.getStates().has(aId), "a's state removed when its socket closed");
    expect(seen.at(-1)?.faults.partitioned).toBe(true);
  });

  it('LAB-5/LAB-6: arrival order and a ShiViz log of sends and receives', async () => {
    const [a, b] = await aliceAndBobOnline();
    const m1 = a.send('one');
    await waitFor(() => texts(b).includes('one'), 'b has one');
    const m2 = b.send('two', m1.id);
    await waitFor(() => texts(a).includes('two'), 'a has two');
    expect([a.lab.arrival.get(m1.id), a.lab.arrival.get(m2.id)]).toEqual([0, 1]);
    const ev = a.lab.events();
    expect(ev.map((e) => [e.kind, e.text])).toEqual([
      ['send', 'one'],
      ['send', 'two'],
      ['receive', 'two'],
    ]);
    expect(ev[2]!.vc).toEqual({ [ev[1]!.host]: 1, [ev[0]!.host]: 2 });
    expect(toShiViz(ev).split('\n')).toHaveLength(2 + 2 * 3 + 1);
  });

  it('LAB-12: in the exported log a reply from another participant dominates the message it answers, down a chain of replies', async () => {
    const room = freshRoom();
    const [ann, zed, yul] = await Promise.all([
      open(room, person('Ann')),
      open(room, person('Zed')),
      open(room, person('Yul')),
    ]);
    await Promise.all([online(ann), online(zed), online(yul)]);
    const question = ann.send('question from Ann');
    await waitFor(() => texts(zed).includes('question from Ann'), 'Zed has the question');
    const answer = zed.send('Zed replies to Ann', question.id);
    await waitFor(() => texts(yul).includes('Zed replies to Ann'), 'Yul has the answer');
    const thanks = yul.send('Yul replies to Zed', answer.id);
    const ev = yul.lab.events();
    const sendOf = (text: string): LabEvent => ev.find((e) => e.kind === 'send' && e.text === text)!;
    const dominates = (a: LabEvent, b: LabEvent): boolean =>
      Object.entries(b.vc).every(([h, n]) => (a.vc[h] ?? 0) >= n) && a.vc[a.host]! > (b.vc[a.host] ?? 0);
    // Zed's send is stamped on Yul's device, which never saw Zed receive the question: the reply
    // itself proves he had it.
    expect(dominates(sendOf(answer.text), sendOf(question.text))).toBe(true);
    expect(dominates(sendOf(thanks.text), sendOf(answer.text))).toBe(true);
    expect(sendOf(answer.text).vc).toEqual({ [sendOf(question.text).host]: 1, [sendOf(answer.text).host]: 1 });
  });
});
