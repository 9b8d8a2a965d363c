/**
 * The Converge app in real Chromium, against a real relay serving the built client (see
 * appFixtures.ts). Each user is a separate browser profile; "offline" is either the app's own
 * "Go offline" switch or a websocket cut by the test (Playwright's setOffline leaves open
 * websockets alone).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Locator, Page, WebSocketRoute } from '@playwright/test';
import * as Y from 'yjs';
import { ChatRoom, TEXT_LIMIT, TEXT_STRUCT_OVERHEAD, TITLE_LIMIT, type Identity } from '../shared/chat/chatRoom.js';
import { HybridClock } from '../shared/chat/hlc.js';
import { newId } from '../shared/ids.js';
import { encodeRoomFile, ROOM_FILE_FORMAT } from '../client/sync/roomFile.js';
import { REFRESH_ROOMS } from '../client/ui/roundRooms.js';
import { readMarkKey } from '../client/ui/readMarkKeeper.js';
import { CLIENT_CHARGE_BYTES, CloseReason, Limits } from '../shared/protocol.js';
import { startRelay } from '../relay/testing/relayProcess.js';
import { observeFor } from '../shared/testing/waitFor.js';
import {
  aliceAndBobIn,
  expect,
  scrollLog,
  takeCspViolations,
  test,
  ui,
  type AppUser,
  type IdbRequest,
} from './appFixtures.js';
import { lab } from './labFixtures.js';

const rb = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** Both users show exactly the same messages in the same order, and it includes `expected`. */
const expectConverged = async (users: AppUser[], expected: string[]): Promise<void> => {
  for (const u of users) {
    for (const text of expected) await expect(u.message(text)).toBeVisible({ timeout: 20_000 });
  }
  const [first, ...rest] = users;
  for (const u of rest) await expect.poll(() => u.messageTexts()).toEqual(await first!.messageTexts());
};

/**
 * What `page`'s elements matching `selector` say as they change, as a screen reader hears a live
 * region: the element's text after each batch of changes inside it (text, nodes or attributes),
 * and on its insertion. Returns a function that reads what was recorded so far.
 */
let recorders = 0;
const recordChanges = async (page: Page, selector: string): Promise<() => Promise<string[]>> => {
  const key = `recordedChanges${++recorders}`;
  await page.evaluate(
    ([key, selector]) => {
      const heard: string[] = [];
      (window as unknown as Record<string, string[]>)[key] = heard;
      new MutationObserver((records) => {
        const changed = new Set<Element>();
        for (const r of records) {
          const at = r.target instanceof Element ? r.target : r.target.parentElement;
          const region = at?.closest(selector);
          if (region) changed.add(region);
          for (const n of Array.from(r.addedNodes)) {
            if (!(n instanceof Element)) continue;
            if (n.matches(selector)) changed.add(n);
            for (const inner of Array.from(n.querySelectorAll(selector))) changed.add(inner);
          }
        }
        for (const region of changed) heard.push(region.textContent ?? '');
      }).observe(document.body, { childList: true, subtree: true, characterData: true, attributes: true });
    },
    [key, selector] as const,
  );
  return () => page.evaluate((key) => (window as unknown as Record<string, string[]>)[key]!, key);
};

/** Live regions (the message log is `aria-live="off"`: LIVE-1 announces through a region of its own). */
const LIVE_REGION = '[role="status"], [role="alert"], [aria-live]:not([aria-live="off"])';

const waitForServiceWorker = async (page: Page): Promise<void> => {
  await page.evaluate(async () => {
    const nav = (globalThis as unknown as { navigator: { serviceWorker: { ready: Promise<unknown> } } }).navigator;
    await nav.serviceWorker.ready;
  });
};

test.describe('lobby', () => {
  test('the name is remembered, room names are checked with the rule explained, joined rooms are listed', async ({
    openUser,
    room,
  }) => {
    const u = await openUser('Ada');
    await u.page.reload();
    await expect(u.page.getByLabel('Your name')).toHaveValue('Ada');
    // PRES-6: saved as shown (trimmed, spaces collapsed); an empty name is refused in words.
    const name = u.page.getByLabel('Your name');
    await name.fill('  Ada   Lovelace ');
    await name.press('Enter');
    await expect(name).toHaveValue('Ada Lovelace');
    await expect(u.page.getByText('Saved.')).toBeVisible();
    await name.fill('');
    await name.press('Enter');
    await expect(name).toHaveValue('Ada Lovelace');
    await expect(u.page.getByText('A name cannot be empty: the saved one is kept.')).toBeVisible();

    await u.page.getByLabel('Room name').fill('not a room!');
    await u.page.getByRole('button', { name: 'Join room' }).click();
    await expect(u.page.getByRole('alert')).toContainText('not a valid room name');
    await expect(u.page.getByRole('alert')).toContainText('1 to 128 characters');

    await u.page.getByLabel('Room name').fill(room);
    await u.page.getByRole('button', { name: 'Join room' }).click();
    await expect(u.page).toHaveURL(new RegExp(`/r/${room}$`));
    await u.send('first words');
    await u.page.getByRole('link', { name: 'Rooms' }).click();
    await expect(u.page).toHaveURL(/\/$/);
    const rooms = u.page.getByRole('list', { name: 'Rooms on this device' });
    await expect(rooms.getByRole('link', { name: room })).toBeVisible();
    await expect(rooms).toContainText('first words');

    // Share: the room's link goes to the clipboard.
    await u.context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await rooms.getByRole('button', { name: `Copy link to ${room}` }).click();
    await expect(rooms).toContainText('Link copied');
    const copied = await u.page.evaluate(() =>
      (
        globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
      ).navigator.clipboard.readText(),
    );
    expect(copied).toBe(`${new URL(u.page.url()).origin}/r/${room}`);
  });

  test('a pasted room link joins that room; a link to another server says so', async ({ openUser, room, relay }) => {
    const u = await openUser('Ada');
    const field = u.page.getByLabel('Room name');
    await field.fill(`http://elsewhere.example:8787/r/${room}`);
    await field.press('Enter');
    await expect(u.page.getByRole('alert')).toContainText('a room on another server (http://elsewhere.example:8787)');
    await field.fill(` ${relay.url}/r/${room} `);
    await field.press('Enter');
    await expect(u.page).toHaveURL(`${relay.url}/r/${room}`);
    await expect(u.composer()).toBeVisible();
  });
});

test.describe('two users', () => {
  test('exchange messages; reply, edit, delete and reactions converge', async ({ openUser, room }) => {
    const [a, b] = await aliceAndBobIn(openUser, room);

    // Presence: both are listed, and typing shows.
    const people = b.page.getByRole('complementary', { name: 'Room details' });
    await expect(people).toContainText('Alice');
    await expect(people).toContainText('Bob (you)');
    await a.composer().fill('Hello Bob');
    await expect(b.page.getByText('Alice is typing…')).toBeVisible();
    await a.composer().press('Enter');
    await expect(b.message('Hello Bob')).toContainText('Alice');
    await expect(b.page.getByText('Alice is typing…')).toBeHidden();
    await expect(a.message('Hello Bob')).toContainText(/Saved|Seen/);

    // The room's title.
    await a.page.getByRole('button', { name: 'Rename room' }).click();
    await a.page.getByRole('textbox', { name: 'Room title' }).fill('Plans for Friday');
    await a.page.getByRole('button', { name: 'Save title' }).click();
    await expect(b.page.getByRole('heading', { level: 1 })).toHaveText('Plans for Friday');
    await expect(b.page).toHaveTitle(/Plans for Friday/);

    // Reply quotes the parent.
    await b.message('Hello Bob').getByRole('button', { name: 'Reply' }).click();
    await expect(b.page.getByText('Replying to Alice')).toBeVisible();
    await b.send('Hi Alice, replying');
    await expect(a.message('Hi Alice, replying').locator('blockquote')).toContainText('Hello Bob');

    // Reactions (toggle on, seen by the other, toggle off).
    await b.message('Hello Bob').getByRole('button', { name: 'React', exact: true }).click();
    await b.message('Hello Bob').getByRole('button', { name: 'React with 👍' }).click();
    await expect(a.message('Hello Bob').getByRole('button', { name: /👍 1/ })).toBeVisible();
    await a.message('Hello Bob').getByRole('button', { name: /👍 1/ }).click();
    await expect(b.message('Hello Bob').getByRole('button', { name: /👍 2/ })).toBeVisible();
    await b.message('Hello Bob').getByRole('button', { name: /👍 2/ }).click();
    await expect(a.message('Hello Bob').getByRole('button', { name: /👍 1/ })).toHaveAttribute('aria-pressed', 'true');

    // Edit own message.
    await a.message('Hello Bob').getByRole('button', { name: 'Edit' }).click();
    const editBox = a.page.getByRole('textbox', { name: 'Edit message' });
    await editBox.fill('Hello Bob (edited text)');
    await editBox.press('Enter');
    await expect(b.message('Hello Bob (edited text)')).toContainText('edited');
    // Only own messages can be edited.
    await expect(b.message('Hello Bob (edited text)').getByRole('button', { name: 'Edit' })).toHaveCount(0);

    // Delete own message.
    await b.message('Hi Alice, replying').getByRole('button', { name: 'Delete' }).click();
    await b.page.getByRole('button', { name: 'Delete message' }).click();
    await expect(a.log()).toContainText('message deleted');
    await expect(a.log()).not.toContainText('Hi Alice, replying');
    await expect(b.log()).not.toContainText('Hi Alice, replying');

    await expectConverged([a, b], ['Hello Bob (edited text)']);
  });

  test('Go offline switch: both send, reconnect, same messages in the same order; offline ones go Pending → Saved', async ({
    openUser,
    room,
  }) => {
    const [a, b] = await aliceAndBobIn(openUser, room);
    await a.send('before the switch');
    await expect(b.message('before the switch')).toBeVisible();
    await expect(a.connection()).toContainText('Online');

    await a.offlineToggle().click();
    await expect(a.offlineToggle()).toHaveAttribute('aria-pressed', 'true');
    await expect(a.connection()).toContainText('Offline');
    await a.send('from A offline 1');
    await a.send('from A offline 2');
    await b.send('from B online');
    await expect(a.message('from A offline 1')).toContainText('Pending');
    await expect(a.message('from A offline 2')).toContainText('Pending');
    await expect(a.connection()).toContainText('2 pending');
    await expect(b.message('from A offline 1')).toHaveCount(0);
    await expect(a.message('from B online')).toHaveCount(0);

    await a.offlineToggle().click();
    await expect(a.offlineToggle()).toHaveAttribute('aria-pressed', 'false');
    await expect(a.connection()).toContainText('Online', { timeout: 15_000 });
    // Saved = acked by the relay after its fsync; Seen (someone else has it) implies it got through.
    await expect(a.message('from A offline 1')).toContainText(/Saved|Seen/);
    await expect(a.message('from A offline 2')).toContainText(/Saved|Seen/);
    await expect(a.connection()).not.toContainText('pending');
    await expectConverged([a, b], ['before the switch', 'from A offline 1', 'from A offline 2', 'from B online']);
    // Written before B's message, so sorted before it, but B got them after: flagged on B's side.
    await expect(b.message('from A offline 1')).toContainText('arrived late');
    await expect(b.message('from B online')).not.toContainText('arrived late');
  });

  test("LIVE-1: screen readers hear each message from others, a repeated one too, and a catch-up's count", async ({
    openUser,
    room,
  }) => {
    const [a, b] = await aliceAndBobIn(openUser, room);
    // What the live region says, each time it says something (a node added to it).
    await b.page.evaluate(() => {
      const w = window as unknown as { heard: string[] };
      w.heard = [];
      const region = document.querySelector('.message-announcer')!;
      new MutationObserver((records) => {
        for (const r of records) for (const n of Array.from(r.addedNodes)) w.heard.push(n.textContent ?? '');
      }).observe(region, { childList: true, subtree: true });
    });
    const heard = (): Promise<string[]> => b.page.evaluate(() => (window as unknown as { heard: string[] }).heard);
    await a.send('ok');
    await expect.poll(heard).toEqual(['Alice: ok']);
    await a.send('ok');
    await expect.poll(heard).toEqual(['Alice: ok', 'Alice: ok']);
    // Bob away while Alice writes three: back, he hears one announcement with the count.
    await b.offlineToggle().click();
    await expect(b.connection()).toContainText('Offline');
    for (const t of ['one', 'two', 'three']) await a.send(t);
    await expect(a.message('three')).toContainText(/Saved|Seen/);
    await b.offlineToggle().click();
    await expect(b.message('three')).toBeVisible();
    await expect.poll(heard).toEqual(['Alice: ok', 'Alice: ok', '3 new messages. Latest, Alice: three']);
    // Typing is shown, not announced: it came before nearly every message read out.
    await expect(b.page.locator('.typing')).not.toHaveAttribute('aria-live');
  });

  test("LIVE-2: the header's live region changes with the connection's state, never with a sync or an ack", async ({
    openUser,
    room,
  }) => {
    const [a, b] = await aliceAndBobIn(openUser, room);
    await expect(a.connection()).toContainText('Online');
    const heard = await recordChanges(
      a.page,
      LIVE_REGION.split(', ')
        .map((live) => `.room-header ${live}`)
        .join(', '),
    );
    const lastSync = (): Promise<string | null> => a.connection().locator('time').getAttribute('datetime');
    const before = await lastSync();
    // An ack of Alice's message and an update from Bob: the header shows the new last-sync time,
    // and nothing in its live region changed.
    await a.send('acked');
    await expect(a.message('acked')).toContainText(/Saved|Seen/);
    await b.send('received');
    await expect(a.message('received')).toBeVisible();
    await expect.poll(lastSync).not.toBe(before);
    expect(await heard()).toEqual([]);
    // The connection's state is announced, and nothing else: switched off, then on again.
    await a.offlineToggle().click();
    await expect.poll(heard).toEqual(['Offline (switched off)']);
    await a.offlineToggle().click();
    await expect.poll(async () => (await heard()).at(-1)).toBe('Online');
    for (const said of await heard()) expect(said).toMatch(/^(Online|Connecting…|Offline)( \(switched off\))?$/);
    // Still shown: the last sync is in the header, outside the live region.
    await expect(a.connection()).toContainText('last synced');
  });

  test('OFF-1: "Go offline" holds back a room in every tab and across a reload, and no lobby sends it meanwhile', async ({
    openUser,
    relay,
    room,
  }) => {
    const other = `${room}-other`;
    const a = await openUser('Alice');
    const b = await openUser('Bob');
    await a.gotoRoom(other); // a recent room, for the lobby's refresh to visit
    await a.gotoRoom(room);
    await b.gotoRoom(room);
    await a.offlineToggle().click();
    await expect(a.offlineToggle()).toHaveAttribute('aria-pressed', 'true');
    await a.send('held back');
    await expect(a.message('held back')).toContainText('Pending');

    await a.page.reload();
    await expect(a.composer()).toBeVisible();
    await expect(a.offlineToggle()).toHaveAttribute('aria-pressed', 'true');
    await expect(a.connection()).toContainText('Offline');
    await expect(a.message('held back')).toContainText('Pending');

    // Another tab of Alice's shows the lobby. News in the other room: once that lobby counts it,
    // its refresh has run.
    const bOther = await b.context.newPage();
    await bOther.goto(`${relay.url}/r/${other}`);
    await ui.send(bOther, 'news elsewhere');
    await expect(ui.message(bOther, 'news elsewhere')).toContainText(/Saved|Seen/);
    const lobby = await a.context.newPage();
    await lobby.goto(`${relay.url}/`);
    const row = lobby.getByRole('listitem').filter({ has: lobby.getByRole('link', { name: other, exact: true }) });
    await expect(row).toContainText('1 unread', { timeout: 20_000 });
    // Not sent by that refresh (the one fixed window: something that must NOT happen).
    await observeFor(1500);
    await expect(b.message('held back')).toHaveCount(0);
    // OFF-3: the lobby says why it is not sent: the room is switched off, not waiting for a network.
    const heldRow = lobby.getByRole('listitem').filter({ has: lobby.getByRole('link', { name: room, exact: true }) });
    const switchedOff = (r: typeof row) => r.locator('.badge.switched-off');
    await expect(heldRow).toContainText('1 not sent yet');
    await expect(switchedOff(heldRow)).toHaveText(/^switched off/);
    await expect(switchedOff(row)).toHaveCount(0);

    // The room in another tab is switched off too, and the tabs still share what they write: a
    // message from that tab, closed before the switch goes off, is uploaded by the one that stays.
    const second = await a.context.newPage();
    await second.goto(`${relay.url}/r/${room}`);
    const secondToggle = second.getByRole('button', { name: 'Go offline' });
    await expect(secondToggle).toHaveAttribute('aria-pressed', 'true');
    await ui.send(second, 'from a tab closed while switched off');
    await expect(a.message('from a tab closed while switched off')).toContainText('Pending');
    const third = await a.context.newPage();
    await third.goto(`${relay.url}/r/${room}`);
    const thirdToggle = third.getByRole('button', { name: 'Go offline' });
    await second.close();
    await a.offlineToggle().click();
    await expect(a.message('held back')).toContainText(/Saved|Seen/, { timeout: 15_000 });
    await expect(a.message('from a tab closed while switched off')).toContainText(/Saved|Seen/);
    await expect(b.message('held back')).toBeVisible();
    await expect(b.message('from a tab closed while switched off')).toBeVisible();
    await expect(thirdToggle).toHaveAttribute('aria-pressed', 'false');
    await expect(switchedOff(heldRow)).toHaveCount(0);
    await expect(heldRow).not.toContainText('not sent yet');
  });

  test("STATE-7: a tab switched off right after another tab's send knows the ack: no pending beside a Seen mark", async ({
    openUser,
    room,
  }) => {
    const [a, b] = await aliceAndBobIn(openUser, room);
    const tabB = await a.newTab();
    await expect(ui.composer(tabB)).toBeVisible();
    await a.send('m1');
    await expect(ui.message(tabB, 'm1')).toContainText('Seen');
    // Before tab B's re-check (STATE-2, after 2 s pending) could bring the ack: the switch turns
    // both tabs off (OFF-1), so only tab A's ack, passed on over BroadcastChannel, can.
    await a.offlineToggle().click();
    await expect(ui.connection(tabB)).toContainText('Offline');
    await expect(ui.connection(tabB)).not.toContainText('pending');
    await expect(ui.message(tabB, 'm1')).toContainText('Seen');
    await expect(b.message('m1')).toBeVisible();
  });

  test('STATE-1: an edit made offline shows Pending until the relay has it, not the earlier Seen', async ({
    openUser,
    room,
  }) => {
    const [a, b] = await aliceAndBobIn(openUser, room);
    await a.send('first version');
    await expect(a.message('first version')).toContainText('Seen');

    await a.offlineToggle().click();
    await expect(a.connection()).toContainText('Offline');
    await a.message('first version').getByRole('button', { name: 'Edit' }).click();
    const editBox = a.page.getByRole('textbox', { name: 'Edit message' });
    await editBox.fill('second version');
    await editBox.press('Enter');
    await expect(a.message('second version')).toContainText('Pending');
    await expect(a.connection()).toContainText('1 pending');
    await expect(b.message('first version')).toBeVisible();

    await a.offlineToggle().click();
    await expect(b.message('second version')).toBeVisible({ timeout: 15_000 });
    await expect(a.message('second version')).toContainText('Seen');
    await expect(a.connection()).not.toContainText('pending');
  });

  test('PRES-8: switched off (the socket closed), People here still lists who was here, and says so', async ({
    openUser,
    room,
  }) => {
    const [a, b] = await aliceAndBobIn(openUser, room);
    const people = a.page.getByRole('complementary', { name: 'Room details' }).getByRole('listitem');
    const bobsPeople = b.page.getByRole('complementary', { name: 'Room details' }).getByRole('listitem');
    await expect(people.filter({ hasText: 'Bob' })).toHaveCount(1);
    await expect(bobsPeople.filter({ hasText: 'Alice' })).toHaveCount(1);
    await a.offlineToggle().click();
    await expect(a.connection()).toContainText('Offline');
    await expect(people.filter({ hasText: 'Alice (you, offline)' })).toHaveCount(1);
    await expect(people.filter({ hasText: 'Bob' })).toHaveCount(1);
    await expect(a.page.getByText('who was here when it last was')).toBeVisible();
    await expect(bobsPeople.filter({ hasText: 'Alice' })).toHaveCount(0); // AWR-4
    await a.offlineToggle().click();
    await expect(a.connection()).toContainText('Online');
    await expect(people.filter({ hasText: 'Bob' })).toHaveCount(1);
    await expect(a.page.getByText('who was here when it last was')).toBeHidden();
    // Bob sees Alice again once she is back (her re-announced presence is not older than its removal: AWR-8).
    await expect(bobsPeople.filter({ hasText: 'Alice' })).toHaveCount(1);
  });

  test('STATUS-2: the browser losing its network shows Offline at once, though the socket still looked open', async ({
    openUser,
    room,
  }) => {
    const [a, b] = await aliceAndBobIn(openUser, room);
    await expect(a.connection()).toContainText('Online');
    // Playwright's offline emulation leaves open websockets open, as a dead link can look.
    await a.context.setOffline(true);
    await expect(a.connection()).toContainText('Offline');
    // Presence is what was known when last connected, and says so.
    const people = a.page.getByRole('complementary', { name: 'Room details' });
    await expect(people).toContainText('Alice (you, offline)');
    await expect(people).toContainText('who was here when it last was');
    await a.send('written without a network');
    await expect(a.message('written without a network')).toContainText('Pending');
    await a.context.setOffline(false);
    await expect(a.connection()).toContainText('Online');
    await expect(people).toContainText('Alice (you)');
    await expect(a.message('written without a network')).toContainText(/Saved|Seen/);
    await expect(b.message('written without a network')).toBeVisible();
  });

  test('a cut websocket: messages stay Pending, then are Saved when it comes back, and both converge', async ({
    openUser,
    room,
  }) => {
    const a = await openUser('Alice', { network: true });
    const b = await openUser('Bob');
    await a.gotoRoom(room);
    await b.gotoRoom(room);
    await expect(a.connection()).toContainText('Online');
    const bobsPeople = b.page.getByRole('complementary', { name: 'Room details' }).getByRole('listitem');
    await expect(bobsPeople.filter({ hasText: 'Alice' })).toHaveCount(1);

    await a.cut();
    await expect(a.connection()).not.toContainText('Online');
    // The relay sees her socket go too, as with a real cut, and tells Bob (AWR: no ghost of her).
    await expect(bobsPeople.filter({ hasText: 'Alice' })).toHaveCount(0);
    await a.send('sent while cut');
    await b.send('B while A is cut');
    await expect(a.message('sent while cut')).toContainText('Pending');
    await expect(b.message('sent while cut')).toHaveCount(0);

    a.restore();
    await expect(a.message('sent while cut')).toContainText(/Saved|Seen/, { timeout: 20_000 });
    await expectConverged([a, b], ['sent while cut', 'B while A is cut']);
  });

  test('reload while offline shows the history, the draft and pending messages', async ({ openUser, room }) => {
    const a = await openUser('Alice', { network: true });
    const b = await openUser('Bob');
    await a.gotoRoom(room);
    await b.gotoRoom(room);
    await b.send('history from Bob');
    await a.send('history from Alice');
    await expect(a.message('history from Bob')).toBeVisible();
    await expect(a.message('history from Alice')).toContainText(/Saved|Seen/);

    await a.cut();
    await a.send('pending across the reload');
    await a.composer().fill('a draft\nover two lines');
    await a.page.reload();

    await expect(a.message('history from Bob')).toBeVisible();
    await expect(a.message('history from Alice')).toBeVisible();
    await expect(a.message('pending across the reload')).toContainText('Pending');
    await expect(a.composer()).toHaveValue('a draft\nover two lines');
    // Typing goes on after the draft (the caret was before it: "!a draft…").
    await expect(a.composer()).toBeFocused();
    await a.page.keyboard.type('!');
    await expect(a.composer()).toHaveValue('a draft\nover two lines!');
    await expect(a.connection()).not.toContainText('Online');

    a.restore();
    await expect(a.message('pending across the reload')).toContainText(/Saved|Seen/, { timeout: 20_000 });
    await expect(b.message('pending across the reload')).toBeVisible();
  });
});

test('DRAFT-2: a reply being written survives a reload with its text; Enter then sends it as that reply', async ({
  openUser,
  room,
}) => {
  const [a, b] = await aliceAndBobIn(openUser, room);
  await a.send('question for Bob');
  await a.send('something else');
  await b.message('question for Bob').getByRole('button', { name: 'Reply' }).click();
  await b.composer().fill('a reply, across a reload');
  await b.page.reload();
  await expect(b.composer()).toHaveValue('a reply, across a reload');
  // The text came back without its reply bar, and Enter sent a plain message.
  const cancelReply = b.page.getByRole('button', { name: 'Cancel reply' });
  await expect(cancelReply).toBeVisible();
  await expect(b.page.locator('.replying')).toContainText('question for Bob');
  await b.composer().press('Enter');
  await expect(a.message('a reply, across a reload').locator('blockquote')).toContainText('question for Bob');
  // Sent: the reply is not brought back by the next reload.
  await b.page.reload();
  await expect(b.message('a reply, across a reload')).toBeVisible();
  await expect(b.composer()).toHaveValue('');
  await expect(cancelReply).toHaveCount(0);
});

test("DRAFT-2: the reply follows the draft into the room's other tabs; sent from one, it is gone from all", async ({
  openUser,
  room,
}) => {
  const [a, b] = await aliceAndBobIn(openUser, room);
  await a.send('original');
  const tab2 = await b.newTab();
  await expect(ui.message(tab2, 'original')).toBeVisible();
  await b.message('original').getByRole('button', { name: 'Reply' }).click();
  // The other tab takes the reply, then the text it goes with: Enter there sends that reply. (It
  // is in the background, not typing in its box: a headless page never loses the focus a reply
  // gives its box, so the test takes it away.)
  await expect(tab2.locator('.replying')).toContainText('original');
  await ui.composer(tab2).blur();
  await b.composer().fill('my reply text');
  await expect(ui.composer(tab2)).toHaveValue('my reply text');
  await ui.composer(tab2).press('Enter');
  await expect(a.message('my reply text').locator('blockquote')).toContainText('original');
  // The first tab's bar goes with the sent text, also across a reload: the next message is no reply.
  const cancelReply = b.page.getByRole('button', { name: 'Cancel reply' });
  await expect(cancelReply).toHaveCount(0);
  await b.page.reload();
  await expect(b.message('my reply text')).toBeVisible();
  await expect(cancelReply).toHaveCount(0);
  await b.send('not a reply');
  await expect(a.message('not a reply')).toBeVisible();
  await expect(a.message('not a reply').locator('blockquote')).toHaveCount(0);
});

test('STATE-1: an own message that showed Saved still shows Saved after a reload, even offline', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Alice', { network: true });
  await a.gotoRoom(room);
  await a.send('saved, then reloaded');
  await expect(a.message('saved, then reloaded')).toContainText('Saved');
  await a.cut(); // nothing can re-ack it after the reload
  await a.page.reload();
  await expect(a.message('saved, then reloaded')).toContainText('Saved');
  // STATE-3: it did sync before this page: the header does not say it never did.
  await expect(a.connection()).toContainText('last synced');
  await expect(a.connection()).not.toContainText('not synced yet');
});

test('STATE-5: an own reaction the relay does not have yet is marked Pending on its chip and counted in the header, also after a reload offline', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Alice', { network: true });
  const b = await openUser('Bob');
  await a.gotoRoom(room);
  await b.gotoRoom(room);
  await b.send('react to me');
  await expect(a.message('react to me')).toBeVisible();

  await a.cut();
  await expect(a.connection()).not.toContainText('Online');
  const message = a.message('react to me');
  await message.getByRole('button', { name: 'React', exact: true }).click();
  await message.getByRole('button', { name: 'React with 👍' }).click();
  const chip = message.getByRole('button', { name: /^👍 1/ });
  await expect(chip).toHaveAccessibleName('👍 1, yours pending: not on the relay yet');
  await expect(chip).toContainText('Pending');
  await expect(chip).toHaveAttribute('aria-pressed', 'true');
  await expect(a.connection()).toContainText('1 pending (1 reaction)');
  await a.send('and a message');
  await expect(a.message('and a message')).toContainText('Pending');
  await expect(a.connection()).toContainText('2 pending (1 message, 1 reaction)');
  // HEADER-1: on a phone the count stays whole; what is pending is left to the chip and the message.
  await a.page.setViewportSize({ width: 390, height: 844 });
  const pending = a.connection().locator('.connection-pending');
  await expect(pending).toHaveText(/2 pending/);
  await expect(pending.locator('.connection-wordy')).toBeHidden();
  const statusBox = (await a.connection().boundingBox())!;
  const pendingBox = (await pending.boundingBox())!;
  expect(pendingBox.x + pendingBox.width).toBeLessThanOrEqual(statusBox.x + statusBox.width + 1);
  await a.page.setViewportSize({ width: 1280, height: 720 });
  // Room details' Sync section says the same in words.
  await expect(a.page.getByRole('region', { name: 'Sync' })).toContainText(
    '1 message and 1 reaction kept on this device, sent when the relay can be reached',
  );

  // Reloaded while still cut off: the acks it knows say nothing of the reaction, so it is still pending.
  await a.page.reload();
  await expect(chip).toHaveAccessibleName('👍 1, yours pending: not on the relay yet');
  await expect(a.connection()).toContainText('2 pending (1 message, 1 reaction)');

  a.restore();
  await expect(chip).toHaveAccessibleName('👍 1', { timeout: 20_000 });
  await expect(chip).not.toContainText('Pending');
  await expect(a.connection()).not.toContainText('pending');
  await expect(b.message('react to me').getByRole('button', { name: '👍 1' })).toBeVisible();
});

test('STATE-6: an own title change the relay does not have yet is counted in the header and Room details, also after a reload offline', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Alice', { network: true });
  await a.gotoRoom(room);
  await a.send('before the cut');
  await expect(a.message('before the cut')).toContainText(/Saved|Seen/);

  await a.cut();
  await expect(a.connection()).not.toContainText('Online');
  await a.page.getByRole('button', { name: 'Rename room' }).click();
  await a.page.getByRole('textbox', { name: 'Room title' }).fill('Renamed offline');
  await a.page.getByRole('button', { name: 'Save title' }).click();
  await expect(a.page.getByRole('heading', { level: 1 })).toHaveText('Renamed offline');
  await expect(a.connection()).toContainText('1 pending (the title)');
  await a.send('and a message');
  await expect(a.connection()).toContainText('2 pending (1 message, the title)');
  // Room details' Sync section says the same in words.
  await expect(a.page.getByRole('region', { name: 'Sync' })).toContainText(
    '1 message and the title kept on this device, sent when the relay can be reached',
  );

  // Reloaded while still cut off: the acks it knows do not cover the title, so it is still pending.
  await a.page.reload();
  await expect(a.page.getByRole('heading', { level: 1 })).toHaveText('Renamed offline');
  await expect(a.connection()).toContainText('2 pending (1 message, the title)');
  // The lobby says the same of the room (LOBBY-3).
  await a.page.getByRole('link', { name: 'Rooms', exact: true }).click();
  await expect(lobbyRow(a.page, room)).toContainText('2 not sent yet (1 message, the title)');
  await lobbyRow(a.page, room).locator('a.room-link').click();
  await expect(a.connection()).toContainText('2 pending (1 message, the title)');

  a.restore();
  await expect(a.connection()).not.toContainText('pending', { timeout: 20_000 });
});

test('CHAT-9: of two renames made apart, the one not kept is told to its author', async ({ openUser, room }) => {
  const a = await openUser('Alice', { network: true });
  const b = await openUser('Bob', { network: true });
  await a.gotoRoom(room);
  await b.gotoRoom(room);
  await a.send('before the cut');
  await expect(b.message('before the cut')).toBeVisible();
  const rename = async (u: typeof a, title: string): Promise<void> => {
    await u.page.getByRole('button', { name: 'Rename room' }).click();
    await u.page.getByRole('textbox', { name: 'Room title' }).fill(title);
    await u.page.getByRole('button', { name: 'Save title' }).click();
    await expect(u.connection()).toContainText('1 pending (the title)');
  };
  await a.cut();
  await b.cut();
  await rename(a, 'Title from Alice');
  await rename(b, 'Title from Bob');
  a.restore();
  b.restore();
  const heading = (u: typeof a) => u.page.getByRole('heading', { level: 1 });
  // Converged: both renames on the relay, and both pages show the same one.
  await expect(a.connection()).not.toContainText('pending', { timeout: 20_000 });
  await expect(b.connection()).not.toContainText('pending', { timeout: 20_000 });
  await expect
    .poll(async () => ((await heading(a).textContent()) === (await heading(b).textContent()) ? 'same' : 'differ'), {
      timeout: 20_000,
    })
    .toBe('same');
  const shown = (await heading(a).textContent())!;
  const [loser, winner, lost] = shown === 'Title from Bob' ? [a, b, 'Title from Alice'] : [b, a, 'Title from Bob'];
  await expect(loser.page.getByText(`Your rename to “${lost}” was not kept`)).toContainText(`“${shown}”`);
  await expect(winner.connection()).not.toContainText('pending');
  await expect(winner.page.getByText('was not kept')).toHaveCount(0);
  // Told once: not again after a reload.
  await loser.page.reload();
  await expect(heading(loser)).toHaveText(shown);
  await expect(loser.connection()).toContainText('Online');
  await expect(loser.page.getByText('was not kept')).toHaveCount(0);
});

test('relay killed and restarted on the same port and data dir: nothing is lost', async ({ openUser, room }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'converge-e2e-restart-'));
  let relay = await startRelay({ dataDir });
  try {
    const a = await openUser('Alice', { relay });
    const b = await openUser('Bob', { relay });
    await a.gotoRoom(room);
    await b.gotoRoom(room);
    await a.send('before the crash');
    await expect(a.message('before the crash')).toContainText(/Saved|Seen/);

    await relay.kill(); // SIGKILL: no flush, no goodbye
    await expect(a.connection()).not.toContainText('Online');
    await a.send('outage note from A');
    await b.send('outage note from B');
    await expect(a.message('outage note from A')).toContainText('Pending');
    // NET-4: Room details offers to try at once; with the relay still down the attempt just fails.
    const retry = a.page
      .getByRole('complementary', { name: 'Room details' })
      .getByRole('button', { name: 'Retry now' });
    await retry.click();
    await expect(a.message('outage note from A')).toContainText('Pending');
    await expect(retry).toBeVisible();

    relay = await startRelay({ dataDir, port: relay.port });
    await expect(a.message('outage note from A')).toContainText(/Saved|Seen/, { timeout: 25_000 });
    await expect(retry).toHaveCount(0); // online: nothing to retry
    await expect(b.message('outage note from B')).toContainText(/Saved|Seen/, { timeout: 25_000 });
    await expectConverged([a, b], ['before the crash', 'outage note from A', 'outage note from B']);

    // A newcomer gets everything from the restarted relay's disk.
    const c = await openUser('Carol', { relay });
    await c.gotoRoom(room);
    await expectConverged([a, c], ['before the crash', 'outage note from A', 'outage note from B']);
  } finally {
    await relay.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('cold start offline from the service worker at /, /r/<room> and /lab/<room>', async ({
  openUser,
  room,
  relay,
}) => {
  const u = await openUser('Olga');
  await u.gotoRoom(room);
  await u.send('kept for offline');
  await expect(u.message('kept for offline')).toContainText(/Saved|Seen/);
  // STATE-1: "Saved" also means this device's database holds it (a completed transaction).
  expect(await ui.storedOnDevice(u.page, room, 'kept for offline')).toBe(true);
  await waitForServiceWorker(u.page);

  await u.context.setOffline(true);
  await u.page.reload();
  await expect(u.message('kept for offline')).toBeVisible();
  await expect(u.connection()).toContainText('Offline');
  await u.send('written offline');
  await expect(u.message('written offline')).toContainText('Pending');

  await u.page.goto(relay.url + '/');
  await expect(
    u.page.getByRole('list', { name: 'Rooms on this device' }).getByRole('link', { name: room }),
  ).toBeVisible();
  await u.page.goto(`${relay.url}/lab/${room}`);
  await expect(u.page.getByRole('heading', { name: `Lab: ${room}` })).toBeVisible();

  // A direct link in a new tab, still offline.
  const tab = await u.context.newPage();
  await tab.goto(`${relay.url}/r/${room}`);
  await expect(ui.message(tab, 'written offline')).toContainText('Pending');

  await u.context.setOffline(false);
  await expect(ui.message(tab, 'written offline')).toContainText(/Saved|Seen/, { timeout: 25_000 });
});

test('two tabs of one profile stay consistent', async ({ openUser, room }) => {
  const u = await openUser('Tabby');
  await u.gotoRoom(room);
  const tab2 = await u.newTab();
  await expect(ui.composer(tab2)).toBeVisible();

  await u.send('from tab one');
  await expect(ui.message(tab2, 'from tab one')).toBeVisible();
  await ui.send(tab2, 'from tab two');
  await expect(u.message('from tab two')).toBeVisible();

  await ui.message(tab2, 'from tab one').getByRole('button', { name: 'Edit' }).click();
  const box = tab2.getByRole('textbox', { name: 'Edit message' });
  await box.fill('from tab one, edited in tab two');
  await box.press('Enter');
  await expect(u.message('from tab one, edited in tab two')).toContainText('edited');
  await expect.poll(() => ui.messageTexts(tab2)).toEqual(await u.messageTexts());
  // Both tabs' messages get saved (acks reach the tab that did not upload them on its next handshake).
  await expect(u.message('from tab two')).toContainText(/Saved|Seen/, { timeout: 20_000 });
  await expect(ui.message(tab2, 'from tab one')).toContainText(/Saved|Seen/, { timeout: 20_000 });
});

test('export, then import into a fresh profile, shows the same room; a bad file is refused with the reason; FILE-2: the import says what it merged', async ({
  openUser,
  room,
}, testInfo) => {
  const a = await openUser('Exporter');
  await a.gotoRoom(room);
  await a.send('exported one');
  await a.send('exported two');
  await a.message('exported one').getByRole('button', { name: 'React', exact: true }).click();
  await a.message('exported one').getByRole('button', { name: 'React with 🎉' }).click();

  const transcriptDownload = a.page.waitForEvent('download');
  await a.page.getByRole('button', { name: 'Export transcript' }).click();
  const transcript = await transcriptDownload;
  expect(transcript.suggestedFilename()).toMatch(/\.txt$/);
  const transcriptPath = testInfo.outputPath('transcript.txt');
  await transcript.saveAs(transcriptPath);

  const fileDownload = a.page.waitForEvent('download');
  await a.page.getByRole('button', { name: 'Export room file' }).click();
  const roomFile = await fileDownload;
  expect(roomFile.suggestedFilename()).toMatch(/\.converge$/);
  const roomFilePath = testInfo.outputPath(roomFile.suggestedFilename());
  await roomFile.saveAs(roomFilePath);

  // A fresh profile that cannot reach the relay: whatever it shows came from the file.
  const b = await openUser('Importer', { network: true });
  await b.cut();
  await b.gotoRoom(room);
  await expect(b.log()).not.toContainText('exported one');

  const junk = testInfo.outputPath('junk.converge');
  writeFileSync(junk, 'this is not a room file');
  await b.page.getByLabel('Import room file').setInputFiles(junk);
  await expect(b.page.getByRole('alert')).toContainText('Import refused');
  await expect(b.page.getByRole('alert')).toContainText('not a Converge room file');

  const fileName = roomFile.suggestedFilename();
  // LIVE-1: the result's live region is there, empty, before the result (one inserted with its text may go unheard).
  const result = b.page.getByRole('region', { name: 'Export and import' }).locator('[aria-live="polite"]');
  await expect(result).toHaveText('');
  await b.page.getByLabel('Import room file').setInputFiles(roomFilePath);
  await expect(result).toHaveText(`Imported ${fileName}: 2 new messages.`);
  await expect(b.page.getByText(`Imported ${fileName}: 2 new messages.`, { exact: true })).toBeVisible();
  await expectConverged([a, b], ['exported one', 'exported two']);
  await expect(b.message('exported one').getByRole('button', { name: /🎉 1/ })).toBeVisible();
  // The same file again: nothing new, and it says so.
  await b.page.getByLabel('Import room file').setInputFiles(roomFilePath);
  await expect(
    b.page.getByText(`Imported ${fileName}: nothing new — this device already had everything in the file.`, {
      exact: true,
    }),
  ).toBeVisible();
});

test('STRUCT-1: on a relay passing on fewer bytes than a message may have, the composer and the edit form count them', async ({
  openUser,
  room,
}) => {
  // Frames of 4096 bytes: structs of at most 4032, so texts of at most 4032 − 512 bytes.
  const small = await startRelay({ env: { MAX_SEND_FRAME_BYTES: '4096', MAX_AWARENESS_STATE_BYTES: '2048' } });
  try {
    const u = await openUser('Writer', { relay: small });
    await u.gotoRoom(room);
    const limit = 4032 - TEXT_STRUCT_OVERHEAD;
    // 3,600 characters: within CHAT-2's limit, not within this relay's bytes. The relay's limits come with
    // its /config.json, maybe after the draft is typed: the counter follows them when they arrive.
    const long = 'x'.repeat(3600);
    await u.composer().fill(long);
    await expect(
      u.page.getByText(`3600 / ${TEXT_LIMIT} characters, 3600 / ${limit} bytes — ${3600 - limit} bytes too many`),
    ).toBeVisible();
    await u.composer().press('Enter');
    await expect(u.page.getByRole('alert')).toContainText(`at most ${limit} bytes; this one takes 3600`);
    await expect(u.composer()).toHaveValue(long);
    // The edit form counts the same way.
    await u.composer().fill('short');
    await u.composer().press('Enter');
    await u.message('short').getByRole('button', { name: 'Edit' }).click();
    await u.page.getByRole('textbox', { name: 'Edit message' }).fill('€'.repeat(1000));
    await expect(u.page.getByText(`1000 / ${TEXT_LIMIT} characters, 3000 / ${limit} bytes`)).toBeVisible();
  } finally {
    await small.stop();
  }
});

test('an over-long message is refused with the reason shown and the draft kept', async ({ openUser, room }) => {
  const u = await openUser('Verbose');
  await u.gotoRoom(room);
  const long = 'x'.repeat(TEXT_LIMIT + 1);
  await u.composer().fill(long);
  await expect(u.page.getByText(`${TEXT_LIMIT + 1} / ${TEXT_LIMIT} characters — 1 too many`)).toBeVisible();
  await u.composer().press('Enter');
  await expect(u.page.getByRole('alert')).toContainText(`at most ${TEXT_LIMIT} characters`);
  await expect(u.composer()).toHaveValue(long);
  await u.page.getByRole('button', { name: 'Send' }).click();
  await expect(u.composer()).toHaveValue(long);
  await expect(u.log().getByRole('article')).toHaveCount(0);

  // The draft survives a reload.
  await u.page.reload();
  await expect(u.composer()).toHaveValue(long);
  // Shortened, it goes.
  await u.composer().fill('short enough');
  await u.composer().press('Enter');
  await expect(u.message('short enough')).toBeVisible();
  await expect(u.composer()).toHaveValue('');
});

test('LIST-1: a backlog that arrives late, sorted above the newest message, keeps a reader who was at the bottom there', async ({
  openUser,
  room,
}) => {
  const [a, b] = await aliceAndBobIn(openUser, room);
  // A history taller than Bob's screen: his view is scrolled, at the bottom.
  for (let i = 1; i <= 15; i++) await a.send(`earlier ${String(i).padStart(2, '0')}`);
  await expect(b.message('earlier 15')).toBeInViewport();
  await a.offlineToggle().click();
  await expect(a.connection()).toContainText('Offline');
  // Enough to fill Bob's screen several times over.
  for (let i = 1; i <= 20; i++) await a.send(`written offline ${String(i).padStart(2, '0')}`);
  await b.send('Bob meanwhile');
  await b.send('Bob still at the bottom');
  await expect(b.message('Bob still at the bottom')).toBeInViewport();
  await a.offlineToggle().click();
  // ORD-1: Alice's messages sort before Bob's two, which stay the newest.
  await expect(b.message('written offline 20')).toBeVisible({ timeout: 15_000 });
  await expect(b.message('Bob still at the bottom')).toBeInViewport();
  await expect(b.page.getByRole('button', { name: /Jump to latest/ })).toHaveCount(0);
});

test('LIST-1: a reader at the bottom who never scrolls keeps following while another user sends 100 messages as fast as possible', async ({
  openUser,
  room,
}) => {
  // A hundred messages typed one after the other, while Bob's page runs at a quarter speed.
  test.setTimeout(180_000);
  const [a, b] = await aliceAndBobIn(openUser, room);
  // A history taller than Bob's screen: his view is scrolled, at the bottom.
  for (let i = 1; i <= 15; i++) await a.send(`earlier ${String(i).padStart(2, '0')}`);
  await expect(b.message('earlier 15')).toBeInViewport();
  // A slow device: each burst of rows costs Bob several times the render time it would here.
  const cdp = await b.context.newCDPSession(b.page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  // Whether "Jump to latest" was ever in Bob's page, even for one update (it is only there while
  // the list takes him to have scrolled up, which he never does).
  await b.page.evaluate(`(() => {
    window.__jumpShown = false;
    const seen = () => { if (document.querySelector('button.jump')) window.__jumpShown = true; };
    new MutationObserver(seen).observe(document.body, { childList: true, subtree: true });
    seen();
  })()`);
  // As fast as Alice's page takes them: no waiting for one to be sent before typing the next.
  const box = a.composer();
  for (let i = 1; i <= 100; i++) {
    await box.fill(`burst ${String(i).padStart(3, '0')}`);
    await box.press('Enter');
  }
  await expect(b.message('burst 100')).toBeInViewport({ timeout: 30_000 });
  await expect
    .poll(() =>
      b.log().evaluate((el) => {
        const box = el as unknown as { scrollTop: number; scrollHeight: number; clientHeight: number };
        return box.scrollHeight - box.clientHeight - box.scrollTop;
      }),
    )
    .toBeLessThanOrEqual(48);
  await expect(b.page.getByRole('button', { name: /Jump to latest/ })).toHaveCount(0);
  expect(
    await b.page.evaluate('window.__jumpShown'),
    'LIST-1: "Jump to latest" appeared for a reader who never scrolled',
  ).toBe(false);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
});

test('LIST-2: a reader at the newest message keeps it in view while the message box grows with a long draft', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Drafter');
  await u.page.setViewportSize({ width: 1280, height: 720 });
  await u.gotoRoom(room);
  for (let i = 1; i <= 12; i++) await u.send(`message ${i}`);
  const newest = u.message('message 12');
  await expect(newest).toBeInViewport({ ratio: 0.9 });
  // Twelve lines: the box grows to its limit, and the list above gets shorter.
  await u.composer().fill(Array.from({ length: 12 }, (_, i) => `draft line ${i + 1}`).join('\n'));
  await expect.poll(() => u.composer().evaluate((el) => el.clientHeight)).toBeGreaterThan(150);
  await expect(newest).toBeInViewport({ ratio: 0.9 });
  await expect(u.page.getByRole('button', { name: /Jump to latest/ })).toHaveCount(0);
});

/** The tab's title in `room`: its name, after "(n) " while hidden with n messages unread (UNREAD-2). */
const roomTitle = (room: string, unread = 0): RegExp =>
  new RegExp(`^${unread > 0 ? `\\(${unread}\\) ` : ''}${room} — Converge$`);

/**
 * Bob in `room` behind 30 messages of Alice's, so his view can scroll (the unread tests scroll
 * up to show what a new message does to a reader who is not at the bottom).
 */
const aliceAndBobInAFullRoom = async (
  openUser: (name: string) => Promise<AppUser>,
  room: string,
): Promise<{ a: AppUser; b: AppUser; jump: Locator; row: Locator }> => {
  const a = await openUser('Alice');
  const b = await openUser('Bob');
  await a.gotoRoom(room);
  for (let i = 1; i <= 30; i++) await a.send(`filler message ${String(i).padStart(2, '0')}`);
  await b.gotoRoom(room);
  await expect(b.message('filler message 30')).toBeVisible();
  const jump = b.page.getByRole('button', { name: /Jump to latest/ });
  const row = b.page.getByRole('listitem').filter({ has: b.page.getByRole('link', { name: room }) });
  return { a, b, jump, row };
};

test('unread: scrolled up, a new message waits below "Jump to latest"; the lobby counts it; the room opens at the "New messages" line', async ({
  openUser,
  room,
}) => {
  const { a, b, jump, row } = await aliceAndBobInAFullRoom(openUser, room);

  // Scrolled up, a new message does not move the view; the button offers the way down.
  await scrollLog(b.log(), 0);
  await expect(b.message('filler message 01')).toBeVisible();
  await a.send('fresh news');
  await expect(jump).toContainText('1 new');
  await expect(b.message('fresh news')).not.toBeInViewport();

  // The lobby counts it as unread.
  await b.page.getByRole('link', { name: 'Rooms' }).click();
  await expect(row).toContainText('1 unread');

  // Back in the room: the "New messages" line sits above it, and the view starts there.
  await row.getByRole('link', { name: room }).click();
  await expect(b.page.getByRole('separator', { name: 'New messages' })).toBeVisible();
  await expect(b.message('fresh news')).toBeInViewport();
  await expect(
    b
      .log()
      .locator('.message-row')
      .filter({ has: b.page.getByRole('separator', { name: 'New messages' }) }),
  ).toHaveCount(1);
});

test('unread: "Jump to latest" goes to the newest; messages that came while the reader was away open at the line', async ({
  openUser,
  room,
}) => {
  const { a, b, jump, row } = await aliceAndBobInAFullRoom(openUser, room);

  await scrollLog(b.log(), 0);
  await expect(jump).toBeVisible();
  await a.send('later news');
  await expect(jump).toContainText('1 new');
  await jump.click();
  await expect(b.message('later news')).toBeInViewport();
  await expect(jump).toBeHidden();

  // Messages that arrive while B is not in the room at all come with the first sync on return:
  // the view starts at the line, not at the bottom.
  await b.page.getByRole('link', { name: 'Rooms' }).click();
  await expect(row).toBeVisible();
  for (let i = 1; i <= 15; i++) await a.send(`while away ${String(i).padStart(2, '0')}`);
  await row.getByRole('link', { name: room }).click();
  await expect(b.message('while away 01')).toBeInViewport();
  await expect(b.page.getByRole('separator', { name: 'New messages' })).toBeInViewport();
  await expect(jump).toBeVisible();
  await jump.click();
  await expect(b.message('while away 15')).toBeInViewport();
});

test("UNREAD-2: a hidden tab's title counts every message by others since the reader left it, not one", async ({
  openUser,
  room,
}) => {
  const a = await openUser('Alice');
  const b = await openUser('Bob');
  await a.gotoRoom(room);
  await a.send('before Bob looks away');
  await b.gotoRoom(room);
  await expect(b.message('before Bob looks away')).toBeVisible();
  await expect(b.page).toHaveTitle(roomTitle(room));
  // Bob's tab goes to the background (another tab or window in front), left at the newest message.
  await ui.setHidden(b.page, true);
  await a.send('first while hidden');
  await expect(b.page).toHaveTitle(roomTitle(room, 1));
  await a.send('second while hidden');
  await a.send('third while hidden');
  // It said "(1)" whatever came: the count below the view is 0 for a reader left at the bottom.
  await expect(b.page).toHaveTitle(roomTitle(room, 3));
  await ui.setHidden(b.page, false);
  await expect(b.page).toHaveTitle(roomTitle(room));
});

test("UNREAD-3: read in another tab of the device, messages no longer count in a hidden tab's title", async ({
  openUser,
  room,
}) => {
  const [a, b] = await aliceAndBobIn(openUser, room);
  await a.send('before Bob looks away');
  await expect(b.message('before Bob looks away')).toBeVisible();
  await ui.setHidden(b.page, true);
  await a.send('one while hidden');
  await a.send('two while hidden');
  await expect(b.page).toHaveTitle(roomTitle(room, 2));
  // Bob reads them in another tab: the hidden one kept saying "(2)" until it was shown itself.
  const tab2 = await b.newTab();
  await expect(ui.message(tab2, 'two while hidden')).toBeVisible();
  await expect(b.page).toHaveTitle(roomTitle(room));
  // A later message counts again.
  await a.send('three while hidden');
  await expect(b.page).toHaveTitle(roomTitle(room, 1));
});

/**
 * UNREAD-4's first visit: Bob joined `room` while it was empty (nothing read: no mark) and was away
 * while Alice wrote `history`; his lobby's check brought it to the device. The room then opens from
 * the device with its socket held silent by the test, so it is still catching up (for CATCH_UP_MS,
 * 5 s) and no mark is set; `release` lets it connect.
 */
const firstVisitStillCatchingUp = async (
  openUser: (name: string) => Promise<AppUser>,
  relayUrl: string,
  room: string,
  history: string[],
): Promise<{ a: AppUser; b: AppUser; release: () => Promise<void> }> => {
  const a = await openUser('Alice');
  const b = await openUser('Bob');
  await b.gotoRoom(room);
  await b.page.goto(`${relayUrl}/healthz`);
  await a.gotoRoom(room);
  for (const text of history) await a.send(text);
  const newest = history.at(-1)!;
  await expect(a.message(newest)).toContainText(/Saved|Seen/);
  await b.page.goto(`${relayUrl}/`);
  await expect(lobbyRow(b.page, room)).toContainText(newest, { timeout: 20_000 });
  let hold = true;
  const held: WebSocketRoute[] = [];
  await b.context.routeWebSocket(/\/sync\//, (ws) => {
    if (hold) held.push(ws);
    else ws.connectToServer();
  });
  await lobbyRow(b.page, room).getByRole('link', { name: room }).click();
  await expect(b.message(newest)).toBeInViewport();
  const release = async (): Promise<void> => {
    hold = false;
    for (const ws of held) await ws.close({ code: 4000, reason: 'released by the test' });
  };
  return { a, b, release };
};

test('UNREAD-4: a room never read on this device, hidden while it still catches up, counts what came after the message it showed', async ({
  openUser,
  relay,
  room,
}) => {
  const { a, b, release } = await firstVisitStillCatchingUp(openUser, relay.url, room, ['before Bob looks away']);
  await ui.setHidden(b.page, true);
  await a.send('first while hidden');
  await expect(a.message('first while hidden')).toContainText(/Saved|Seen/);
  await release();
  await expect(b.message('first while hidden')).toBeAttached({ timeout: 20_000 });
  await expect(b.page).toHaveTitle(roomTitle(room, 1));
  await ui.setHidden(b.page, false);
  await expect(b.page).toHaveTitle(roomTitle(room));
  await expect(b.page.getByRole('separator', { name: 'New messages' })).toBeVisible();
});

test('UNREAD-4: a room never read on this device, scrolled up while it still catches up, puts the line below the newest message shown', async ({
  openUser,
  relay,
  room,
}) => {
  const history = Array.from({ length: 15 }, (_, i) => `history ${String(i + 1).padStart(2, '0')}`);
  const { a, b, release } = await firstVisitStillCatchingUp(openUser, relay.url, room, history);
  await scrollLog(b.log(), 0);
  await expect(b.message('history 01')).toBeInViewport();
  await a.send('while scrolled up');
  await expect(a.message('while scrolled up')).toContainText(/Saved|Seen/);
  await release();
  await expect(b.message('while scrolled up')).toBeAttached({ timeout: 20_000 });
  // Back at the bottom: the line stands above what came while he was up there, not above the history.
  await scrollLog(b.log(), 1);
  await expect(b.message('while scrolled up')).toBeInViewport();
  const line = b.page.getByRole('separator', { name: 'New messages' });
  await expect(line).toBeVisible();
  const at = Number(await b.log().locator('.message-row').filter({ has: line }).getAttribute('data-index'));
  await expect(b.log().locator(`.message-row[data-index="${at - 1}"]`)).toContainText('history 15');
  await expect(b.log().locator(`.message-row[data-index="${at + 1}"]`)).toContainText('while scrolled up');
});

test('UNREAD-4: a room left hidden while empty counts its first message by others in the title', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Alice');
  const b = await openUser('Bob');
  await b.gotoRoom(room);
  // Caught up: nothing in the room.
  await expect(b.connection()).toContainText('Online');
  await ui.setHidden(b.page, true);
  await a.gotoRoom(room);
  await a.send('the very first message');
  await expect(b.message('the very first message')).toBeAttached();
  await expect(b.page).toHaveTitle(roomTitle(room, 1));
  await ui.setHidden(b.page, false);
  await expect(b.page.getByRole('separator', { name: 'New messages' })).toBeVisible();
});

test('UNREAD-4: a room opened offline and hidden while empty: the history its first sync brings is not new, what comes after is', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Alice');
  const b = await openUser('Bob', { network: true });
  await a.gotoRoom(room);
  await a.send('history one');
  await a.send('history two');
  await expect(a.message('history two')).toContainText(/Saved|Seen/);
  // Bob's device cannot reach the relay: the room shows empty, its catch-up over (offline).
  await b.cut();
  await b.gotoRoom(room);
  await expect(b.connection()).toHaveText(/^Offline · not synced yet$/, { timeout: 20_000 });
  await ui.setHidden(b.page, true);
  b.restore();
  await expect(b.message('history two')).toBeAttached({ timeout: 20_000 });
  await a.send('after the sync');
  await expect(b.message('after the sync')).toBeAttached();
  await expect(b.page).toHaveTitle(roomTitle(room, 1));
});

test('UNREAD-4: a room never read on this device, opened in a background tab, counts what comes after its catch-up', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Alice');
  const b = await openUser('Bob');
  await a.gotoRoom(room);
  await a.send('before Bob opens it');
  // On the relay before Bob's tab asks: it comes in his catch-up, not after.
  await expect(a.message('before Bob opens it')).toContainText(/Saved|Seen/);
  // Bob's tab is hidden from its first script on: the room is never shown before the message.
  await ui.startHidden(b.page);
  await b.gotoRoom(room);
  await expect(b.message('before Bob opens it')).toBeAttached();
  await a.send('first while hidden');
  await expect(b.message('first while hidden')).toBeAttached();
  await expect(b.page).toHaveTitle(roomTitle(room, 1));
});

test('UNREAD-1, LATE-2: messages written offline that sort before what was read count as unread in the lobby and arrive late', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Alice');
  const b = await openUser('Bob');
  await a.gotoRoom(room);
  await b.gotoRoom(room);
  await a.send('alice first');
  await expect(b.message('alice first')).toBeVisible();
  await b.offlineToggle().click();
  for (let i = 1; i <= 3; i++) await b.send(`bob offline ${i}`);
  await expect(b.message('bob offline 3')).toContainText('Pending');
  // Later than Bob's three: it sorts after them. Alice reads it, then is elsewhere at once (a full
  // page load: UNREAD-5 keeps the mark should its write go with the page).
  await a.send('alice latest');
  await expect(a.message('alice latest')).toContainText(/Saved|Seen/);
  await a.gotoRoom(`${room}-elsewhere`);

  await b.offlineToggle().click();
  await expect(b.message('bob offline 3')).toContainText(/Saved|Seen/);
  // The lobby's refresh (at its start) stores Bob's three without the room: three unread.
  await a.page.getByRole('link', { name: 'Rooms' }).click();
  const row = a.page.getByRole('listitem').filter({ has: a.page.getByRole('link', { name: room, exact: true }) });
  await expect(row).toContainText('3 unread', { timeout: 20_000 });
  await row.getByRole('link', { name: room, exact: true }).click();
  for (let i = 1; i <= 3; i++) await expect(a.message(`bob offline ${i}`)).toContainText('arrived late');
  await expect(a.message('alice latest')).not.toContainText('arrived late');
});

test('UNREAD-5 a read mark the page had not stored when it was left is stored at the next start', async ({
  openUser,
  room,
}) => {
  const [a, b] = await aliceAndBobIn(openUser, room);
  const origin = new URL(a.page.url()).origin;
  await b.send('bob first');
  await expect(a.message('bob first')).toBeVisible();
  const firstId = await a.message('bob first').getAttribute('data-message-id');
  await expect.poll(() => ui.readMarkOnDevice(a.page, room)).toBe(firstId);
  // Another page of Alice's profile holds the room records: the mark's next write waits behind it.
  const holder = await a.context.newPage();
  await holder.goto(`${origin}/robots.txt`);
  const letGo = await ui.holdRoomRecords(holder);
  await b.send('bob second');
  await expect(a.message('bob second')).toBeVisible();
  const secondId = await a.message('bob second').getAttribute('data-message-id');
  // Alice leaves by a full page load while the write waits: it goes with the page, as the check
  // below shows (a page kept in the back/forward cache would keep it; Chromium does not keep this one).
  await a.page.goto(`${origin}/robots.txt`);
  await letGo();
  expect(await ui.readMarkOnDevice(a.page, room)).toBe(firstId);
  // The page kept it in localStorage as it went.
  const kept = await a.page.evaluate((key) => localStorage.getItem(key), readMarkKey(room));
  expect(JSON.parse(kept ?? 'null')).toMatchObject({ id: secondId });
  await a.page.goto(`${origin}/`);
  const row = a.page.getByRole('listitem').filter({ has: a.page.getByRole('link', { name: room, exact: true }) });
  await expect(row).toBeVisible();
  await expect.poll(() => ui.readMarkOnDevice(a.page, room)).toBe(secondId);
  await expect(row).not.toContainText('unread');
});

test('search within the room, and "Show in conversation"', async ({ openUser, room }) => {
  const u = await openUser('Seeker');
  await u.gotoRoom(room);
  for (const t of ['apple pie', 'banana split', 'cherry and apple tart']) await u.send(t);
  const search = u.page.getByRole('searchbox', { name: 'Search messages' });
  await search.fill('APPLE');
  await expect(u.page.getByText('2 matches')).toBeVisible();
  await expect(u.log().getByRole('article')).toHaveCount(2);
  await expect(u.log().locator('mark').first()).toHaveText('apple');
  await u.message('apple pie').getByRole('button', { name: 'Show in conversation' }).click();
  await expect(search).toHaveValue('');
  await expect(u.log().getByRole('article')).toHaveCount(3);
  await search.fill('no such thing');
  await expect(u.log()).toContainText('No messages match your search.');
  // SEARCH-1: accents and case are ignored, and the match is marked over the original letters.
  await u.send('Rendez-vous au Café de la Gare');
  await search.fill('cafe');
  await expect(u.page.getByText('1 match')).toBeVisible();
  await expect(u.log().locator('mark')).toHaveText('Café');
});

test('SEARCH-1 a message found by its author name has the name marked', async ({ openUser, room }) => {
  const u = await openUser('Zoë');
  await u.gotoRoom(room);
  await u.send('nothing to find here');
  await u.page.getByRole('searchbox', { name: 'Search messages' }).fill('zoe');
  await expect(u.page.getByText('1 match')).toBeVisible();
  await expect(u.log().locator('mark')).toHaveText(['Zoë']);
  await expect(u.log().locator('.message-author mark')).toHaveText('Zoë');
});

/**
 * Where the text nodes of `el` are on screen: for each string in `texts`, the box of the first text
 * node under `el` that contains it (bidi reordering moves boxes, not nodes).
 */
const textBoxes = (el: Locator, texts: string[]): Promise<Array<{ left: number; right: number }>> =>
  el.evaluate((root, wanted) => {
    const d = (root as unknown as { ownerDocument: { createRange(): { selectNodeContents(n: unknown): void } } })
      .ownerDocument;
    const nodes: Array<{ textContent: string | null }> = [];
    const walk = (n: { nodeType: number; childNodes: ArrayLike<unknown>; textContent: string | null }): void => {
      if (n.nodeType === 3) nodes.push(n);
      for (const c of Array.from(n.childNodes)) walk(c as typeof n);
    };
    walk(root);
    return wanted.map((t) => {
      const node = nodes.find((n) => n.textContent?.includes(t));
      if (!node) throw new Error(`no text node with ${t}`);
      const range = d.createRange();
      range.selectNodeContents(node);
      const box = (
        range as unknown as { getBoundingClientRect(): { left: number; right: number } }
      ).getBoundingClientRect();
      return { left: box.left, right: box.right };
    });
  }, texts);

test('untrusted text is isolated: a right-to-left override in a message does not reorder the text around it', async ({
  openUser,
  room,
}) => {
  const [a, b] = await aliceAndBobIn(openUser, room);
  // U+202E RIGHT-TO-LEFT OVERRIDE, never closed: it shows as "reversed", and must reach no further.
  await b.send('\u202Edesrever');
  await expect(a.message('desrever')).toBeVisible();

  // The reply bar: "Replying to Bob: reversed", in that order.
  await a.message('desrever').getByRole('button', { name: 'Reply' }).click();
  const replying = a.page.locator('.replying');
  await expect(replying).toContainText('Replying to Bob');
  const [intro, author, text] = await textBoxes(replying, ['Replying to', 'Bob', 'desrever']);
  expect(intro!.right).toBeLessThanOrEqual(author!.left + 1);
  expect(author!.right).toBeLessThanOrEqual(text!.left + 1);
  await a.page.getByRole('button', { name: 'Cancel reply' }).click();

  // The lobby's preview: "Bob: reversed · 10:42", the separator and the time last.
  await a.page.getByRole('link', { name: 'Rooms' }).click();
  const row = a.page.getByRole('list', { name: 'Rooms on this device' }).getByRole('listitem');
  await expect(row).toContainText('desrever');
  const [who, said, separator] = await textBoxes(row, ['Bob', 'desrever', '·']);
  expect(who!.right).toBeLessThanOrEqual(said!.left + 1);
  expect(said!.right).toBeLessThanOrEqual(separator!.left + 1);
});

test('a narrow screen: one-word names and room names wrap instead of widening the page; Rename stays reachable', async ({
  openUser,
}) => {
  const u = await openUser('A'.repeat(60));
  await u.page.setViewportSize({ width: 375, height: 667 });
  // 128 characters with no break opportunity, as a generated id may be.
  await u.gotoRoom('x'.repeat(128));
  await u.page.getByRole('button', { name: 'Rename room' }).click();
  await u.page.getByRole('textbox', { name: 'Room title' }).fill('W'.repeat(120));
  await u.page.getByRole('button', { name: 'Save title' }).click();
  await u.send('a message under a very long name');
  await expect(u.message('a message under a very long name')).toBeVisible();
  const pageWidth = (): Promise<{ scroll: number; client: number }> =>
    u.page.evaluate(() => {
      const root = (
        globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }
      ).document.documentElement;
      return { scroll: root.scrollWidth, client: root.clientWidth };
    });
  const room = await pageWidth();
  expect(room.scroll).toBeLessThanOrEqual(room.client);
  const rename = u.page.getByRole('button', { name: 'Rename room' });
  await expect(rename).toBeInViewport();
  await rename.click();
  await expect(u.page.getByRole('textbox', { name: 'Room title' })).toBeVisible();
});

test('HEADER-1: on a phone the room header is two rows at most, with the title, the status (its state whole) and every control in view', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Phone');
  await u.page.setViewportSize({ width: 390, height: 844 });
  await u.gotoRoom(room);
  await u.page.getByRole('button', { name: 'Rename room' }).click();
  await u.page.getByRole('textbox', { name: 'Room title' }).fill('Planning the class trip to the mountains');
  await u.page.getByRole('button', { name: 'Save title' }).click();
  // The title is pending until the relay acks it (STATE-6); switched off before that, "1 pending" would lengthen the status.
  await expect(u.page.getByRole('banner').getByRole('heading', { level: 1 })).toContainText('Planning');
  await expect(u.connection()).not.toContainText('pending');
  // For each of the status's two lines (its state, then the rest): is it cut short, wider than its box?
  const cut = (): Promise<boolean[]> =>
    u.connection().evaluate((status) => Array.from(status.children, (line) => line.scrollWidth > line.clientWidth));
  // Switched off, the status says so and why, and all of it is read: nothing cut short.
  await u.offlineToggle().click();
  await expect(u.connection()).toContainText('Offline (switched off)');
  await expect(u.connection()).toContainText('synced');
  expect(await cut()).toEqual([false, false]);
  // The longest status: switched off, with a message waiting.
  await u.send('waiting to be sent');
  await expect(u.connection()).toContainText('1 pending');
  // The state and why stay whole; only the second line's last-sync time may be cut.
  expect((await cut())[0]).toBe(false);

  const header = u.page.getByRole('banner');
  const title = header.getByRole('heading', { level: 1 });
  const items = [
    header.getByRole('link', { name: 'Rooms' }),
    title,
    header.getByRole('button', { name: 'Rename room' }),
    u.connection(),
    header.getByRole('button', { name: 'Go offline' }),
    header.getByRole('button', { name: 'Room details' }),
    header.getByRole('button', { name: 'Lab', exact: true }),
  ];
  for (const item of items) await expect(item).toBeInViewport({ ratio: 1 });
  await expect(title).toContainText('Planning');

  // Rows: an item starts a new row when it is wholly below the row so far.
  const boxes = await Promise.all(items.map(async (item) => (await item.boundingBox())!));
  boxes.sort((a, b) => a.y - b.y);
  let rows = 0;
  let rowBottom = -Infinity;
  for (const box of boxes) {
    if (box.y >= rowBottom - 1) rows++;
    rowBottom = Math.max(rowBottom, box.y + box.height);
  }
  expect(rows).toBeLessThanOrEqual(2);
  // Measured against the header's own controls, not in pixels: three rows of them could not fit.
  const headerBox = (await header.boundingBox())!;
  const buttonBox = (await header.getByRole('button', { name: 'Go offline' }).boundingBox())!;
  expect(headerBox.height).toBeLessThan(3 * buttonBox.height);
  // The pending count is never the part of the status cut short.
  const statusBox = (await u.connection().boundingBox())!;
  const pendingBox = (await u.connection().getByText('1 pending').boundingBox())!;
  expect(pendingBox.x + pendingBox.width).toBeLessThanOrEqual(statusBox.x + statusBox.width + 1);
});

test('DRAWER-1: on a phone, Tab out of the Room details drawer or the Lab panel closes it: focus never sits on what they cover', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Keys');
  await u.page.setViewportSize({ width: 390, height: 844 });
  await u.gotoRoom(room);
  await u.send('a message under the drawer');
  const drawer = u.page.getByRole('complementary', { name: 'Room details' });
  const conversation = u.page.getByRole('main', { name: 'Conversation' });
  const inConversation = (): Promise<boolean> => conversation.evaluate((c) => c.contains(document.activeElement));
  for (const key of ['Tab', 'Shift+Tab']) {
    await u.page.getByRole('button', { name: 'Room details' }).press('Enter');
    await expect(drawer.getByRole('button', { name: 'Close room details' })).toBeFocused();
    // Through the drawer's controls and on (or back before its start), into the conversation under it.
    for (let i = 0; i < 80 && !(await inConversation()); i++) await u.page.keyboard.press(key);
    expect(await inConversation()).toBe(true);
    // Tab went on through the message list and the box hidden under the drawer.
    await expect(drawer).toBeHidden();
    await expect(u.page.locator(':focus')).toBeInViewport();
  }
  // The Lab panel is a drawer too: Shift+Tab before its start (its controls come last on the page).
  const panel = u.page.locator('#lab-panel');
  await u.page.getByRole('button', { name: 'Lab', exact: true }).press('Enter');
  await expect(panel).toBeVisible();
  await panel.getByRole('heading').first().focus();
  for (let i = 0; i < 80 && !(await inConversation()); i++) await u.page.keyboard.press('Shift+Tab');
  expect(await inConversation()).toBe(true);
  await expect(panel).toBeHidden();
  await expect(u.page.locator(':focus')).toBeInViewport();
});

test('a narrow screen: Room details and the Lab panel take the same place, so the one opened last is the one shown', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Narrow');
  await u.page.setViewportSize({ width: 700, height: 844 });
  await u.gotoRoom(room);
  const details = u.page.getByRole('button', { name: 'Room details' });
  const lab = u.page.getByRole('button', { name: 'Lab', exact: true });
  const drawer = u.page.getByRole('complementary', { name: 'Room details' });
  const panel = u.page.locator('#lab-panel');
  /** Whether `el`'s centre shows `el` itself (not something drawn over it). */
  const onTop = (el: Locator): Promise<boolean> =>
    el.evaluate((node) => {
      const r = node.getBoundingClientRect();
      const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
      return hit !== null && node.contains(hit);
    });
  await lab.click();
  await expect(panel).toBeVisible();
  // Details asked for while the Lab is open: the drawer shows, its Close button focused and not under the Lab.
  await details.click();
  const close = drawer.getByRole('button', { name: 'Close room details' });
  await expect(close).toBeFocused();
  await expect(panel).toBeHidden();
  await expect(lab).toHaveAttribute('aria-expanded', 'false');
  expect(await onTop(close)).toBe(true);
  // And the other way round.
  await lab.click();
  await expect(panel).toBeVisible();
  await expect(drawer).toBeHidden();
  await expect(details).toHaveAttribute('aria-expanded', 'false');
});

test('a narrow screen: Room details is a drawer that Escape and its Close button shut, the focus back on its button', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Narrow');
  await u.page.setViewportSize({ width: 390, height: 844 });
  await u.gotoRoom(room);
  const toggle = u.page.getByRole('button', { name: 'Room details' });
  const drawer = u.page.getByRole('complementary', { name: 'Room details' });
  await expect(drawer).toBeHidden();
  // Opened, the drawer has the focus: Escape closes it at once.
  await toggle.click();
  await expect(drawer.getByRole('button', { name: 'Close room details' })).toBeFocused();
  await u.page.keyboard.press('Escape');
  await expect(drawer).toBeHidden();
  await expect(toggle).toBeFocused();
  await toggle.click();
  await expect(drawer).toBeVisible();
  await drawer.getByRole('button', { name: 'Copy link' }).focus();
  await u.page.keyboard.press('Escape');
  await expect(drawer).toBeHidden();
  await expect(toggle).toBeFocused();
  await toggle.click();
  await drawer.getByRole('button', { name: 'Close room details' }).click();
  await expect(drawer).toBeHidden();
  await expect(toggle).toBeFocused();
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
});

test('LAYOUT-1: the room fits the window: the page itself never scrolls (its header stays in view), wide and on a phone, Room details open or not', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Fits');
  await u.gotoRoom(room);
  await u.send('one message');
  const pageOverflow = (): Promise<number> =>
    u.page.evaluate(() => document.documentElement.scrollHeight - window.innerHeight);
  for (const size of [
    { width: 1280, height: 720 },
    { width: 1024, height: 768 },
    { width: 390, height: 844 },
  ]) {
    await u.page.setViewportSize(size);
    await expect.poll(pageOverflow, `${size.width}×${size.height}`).toBeLessThanOrEqual(0);
    const details = u.page.getByRole('complementary', { name: 'Room details' });
    if (size.width < 900) {
      await u.page.getByRole('button', { name: 'Room details' }).click();
      await expect(details).toBeVisible();
    }
    await expect(details.getByRole('region', { name: 'Sync' })).toBeVisible();
    await expect.poll(pageOverflow, `${size.width}×${size.height}, Room details open`).toBeLessThanOrEqual(0);
    if (size.width < 900) await details.getByRole('button', { name: /Close/ }).click();
  }
});

test("Room details: the room's sync in full, the phone header's cut last-sync time whole, and what a message's mark means", async ({
  openUser,
  room,
}) => {
  const u = await openUser('Phone');
  await u.page.setViewportSize({ width: 390, height: 844 });
  await u.gotoRoom(room);
  await u.send('saved before going offline');
  await expect(u.message('saved before going offline')).toContainText(/Saved|Seen/);
  await u.offlineToggle().click();
  await u.send('written offline');
  await expect(u.connection()).toContainText('1 pending');
  // The header's last-sync time, as the status line holds it (on a phone, cut short on screen).
  const headerTime = await u.connection().locator('time').getAttribute('datetime');
  expect(headerTime).toBeTruthy();
  await u.page.getByRole('button', { name: 'Room details' }).click();
  const sync = u.page.getByRole('complementary', { name: 'Room details' }).getByRole('region', { name: 'Sync' });
  await expect(sync).toContainText('Offline (switched off: nothing is sent or received until you go online)');
  await expect(sync).toContainText('1 message kept on this device, sent when you go online');
  // The same moment, whole: to the second, with the date.
  await expect(sync.locator('time')).toHaveAttribute('datetime', headerTime!);
  await expect(sync.locator('time')).toHaveText(/\d{4}.*\d:\d\d:\d\d/);
  // Whole on a phone: no line of it is cut short or wider than the drawer.
  expect(await sync.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
  // The marks' meanings, which a touch screen never shows as tooltips.
  await sync.getByText('What the marks on your messages mean').click();
  await expect(sync).toContainText('Kept on this device, not on the relay yet: it is sent when you are online.');
  await expect(sync).toContainText('Stored on this device and on the relay’s disk.');
  // Back online, the count and the status follow.
  await u.page.getByRole('button', { name: 'Close room details' }).click();
  await u.offlineToggle().click();
  await expect(u.message('written offline')).toContainText(/Saved|Seen/);
  await u.page.getByRole('button', { name: 'Room details' }).click();
  await expect(sync).toContainText('Online');
  await expect(sync).toContainText('Nothing waiting to be sent');
});

test('HEADER-2: a title and a room name the phone header cuts short can be read whole in Room details', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Phone');
  await u.page.setViewportSize({ width: 390, height: 844 });
  // The longest of each, with no break opportunity (a dash is one).
  const name = room.replace(/[^A-Za-z0-9]/g, '').padEnd(128, 'x');
  const title = 'W'.repeat(TITLE_LIMIT);
  await u.gotoRoom(name);
  await u.page.getByRole('button', { name: 'Rename room' }).click();
  await u.page.getByRole('textbox', { name: 'Room title' }).fill(title);
  await u.page.getByRole('button', { name: 'Save title' }).click();
  const heading = u.page.getByRole('banner').getByRole('heading', { level: 1 });
  await expect(heading).toHaveText(title);
  // The header shows only the start of it.
  expect(await heading.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
  await u.page.getByRole('button', { name: 'Room details' }).click();
  const invite = u.page
    .getByRole('complementary', { name: 'Room details' })
    .getByRole('region', { name: 'Invite people' });
  for (const whole of [invite.getByText(title, { exact: true }), invite.getByText(name, { exact: true })]) {
    await expect(whole).toBeVisible();
    // Wrapped within the drawer: nothing of it cut off or out of view.
    expect(await whole.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
    const box = (await whole.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(390);
  }
});

test('HEADER-3: wider than a phone, a long title stays whole beside Rename, the room name on one line, the status and buttons on a second row at most', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Alice');
  await u.page.setViewportSize({ width: 1280, height: 800 });
  // A room name with a long run of no break opportunity, a title, and the longest status (STATE-5's).
  await u.gotoRoom(`${room}-${'q'.repeat(60)}`.slice(0, 128));
  await u.page.getByRole('button', { name: 'Rename room' }).click();
  await u.page.getByRole('textbox', { name: 'Room title' }).fill('A fairly long room title for the header to show');
  await u.page.getByRole('button', { name: 'Save title' }).click();
  await u.send('one');
  // The title and "one" on the relay first (STATE-6, STATE-1): only what follows is pending.
  await expect(u.message('one')).toContainText('Saved');
  await expect(u.connection()).not.toContainText('pending');
  await u.offlineToggle().click();
  await u.send('two');
  await u.send('three');
  await u.message('one').getByRole('button', { name: 'React', exact: true }).click();
  await u.message('one').getByRole('button', { name: 'React with 👍' }).click();
  await expect(u.connection()).toContainText('3 pending (2 messages, 1 reaction)');

  const header = u.page.getByRole('banner');
  const title = header.getByRole('heading', { level: 1 });
  const name = header.locator('.room-name');
  const rename = header.getByRole('button', { name: 'Rename room' });
  const items = [
    header.getByRole('link', { name: 'Rooms' }),
    title,
    name,
    rename,
    u.connection(),
    header.getByRole('button', { name: 'Go offline' }),
    header.getByRole('button', { name: 'Lab', exact: true }),
  ];
  for (const width of [1100, 1280]) {
    await u.page.setViewportSize({ width, height: 800 });
    for (const item of items) await expect(item, `at ${width} px`).toBeInViewport({ ratio: 1 });
    // The title whole, not cut short.
    expect(await title.evaluate((el) => el.scrollWidth <= el.clientWidth), `at ${width} px`).toBe(true);
    const titleBox = (await title.boundingBox())!;
    // The room name one line (no taller than the larger title), Rename on the title's row.
    expect((await name.boundingBox())!.height, `at ${width} px`).toBeLessThanOrEqual(titleBox.height);
    expect((await rename.boundingBox())!.y, `at ${width} px`).toBeLessThan(titleBox.y + titleBox.height);
    // Rows: an item starts a new row when it is wholly below the row so far.
    const boxes = await Promise.all(items.map(async (item) => (await item.boundingBox())!));
    boxes.sort((a, b) => a.y - b.y);
    let rows = 0;
    let rowBottom = -Infinity;
    for (const box of boxes) {
      if (box.y >= rowBottom - 1) rows++;
      rowBottom = Math.max(rowBottom, box.y + box.height);
    }
    expect(rows, `at ${width} px`).toBeLessThanOrEqual(2);
    const headerBox = (await header.boundingBox())!;
    const buttonBox = (await header.getByRole('button', { name: 'Go offline' }).boundingBox())!;
    expect(headerBox.height, `at ${width} px`).toBeLessThan(3 * buttonBox.height);
  }
});

test('HEADER-3 People here: a long name with no break wraps within the panel, "(you)" in view beside it, wide and on a phone', async ({
  openUser,
  room,
}) => {
  const u = await openUser('W'.repeat(64));
  await u.page.setViewportSize({ width: 1280, height: 800 });
  await u.gotoRoom(room);
  const people = u.page.getByRole('region', { name: 'People here' });
  const you = people.getByRole('listitem').filter({ hasText: '(you)' });
  const within = async (width: number): Promise<void> => {
    await expect(you, `at ${width} px`).toBeVisible();
    const panel = (await people.boundingBox())!;
    for (const part of [you.locator('bdi'), you.locator('.you-tag')]) {
      const box = (await part.boundingBox())!;
      expect(box.x, `at ${width} px`).toBeGreaterThanOrEqual(panel.x);
      expect(box.x + box.width, `at ${width} px`).toBeLessThanOrEqual(panel.x + panel.width + 0.5);
    }
    // The whole name shown, none of it cut off.
    await expect(you.locator('bdi')).toHaveText('W'.repeat(64));
    expect(await you.locator('bdi').evaluate((el) => el.scrollWidth <= el.clientWidth), `at ${width} px`).toBe(true);
  };
  await within(1280);
  await u.page.setViewportSize({ width: 360, height: 740 });
  await u.page.getByRole('button', { name: 'Room details' }).click();
  await within(360);
});

test('a room opened with a keyboard and mouse is ready to write: what is typed goes into the message box', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Typist');
  await u.gotoRoom(room);
  await u.page.getByRole('link', { name: 'Rooms' }).click();
  const roomField = u.page.getByLabel('Room name');
  await roomField.fill(room);
  await roomField.press('Enter');
  await expect(u.composer()).toBeFocused();
  await u.page.keyboard.type('hello by keyboard');
  await u.page.keyboard.press('Enter');
  await expect(u.message('hello by keyboard')).toBeVisible();
});

test("a message in a right-to-left script reads right to left (its own direction, not the page's)", async ({
  openUser,
  room,
}) => {
  const u = await openUser('Layla');
  await u.gotoRoom(room);
  await u.send('مرحبا بالجميع');
  await u.send('hello everyone');
  const direction = (text: string): Promise<string> =>
    u
      .message(text)
      .locator('.message-text')
      .evaluate((e) => getComputedStyle(e).direction);
  await expect.poll(() => direction('مرحبا بالجميع')).toBe('rtl');
  expect(await direction('hello everyone')).toBe('ltr');
});

test("the room's first Tab stop skips every message's buttons to the message box", async ({ openUser, room }) => {
  const u = await openUser('Keyboard');
  await u.gotoRoom(room);
  for (const t of ['one', 'two', 'three']) await u.send(t);
  // Just before the first link of the page.
  await u.page.getByRole('link', { name: 'Rooms' }).focus();
  await u.page.keyboard.press('Shift+Tab');
  const skip = u.page.getByRole('button', { name: 'Skip to the message box' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await u.page.keyboard.press('Enter');
  await expect(u.composer()).toBeFocused();
});

test('text is rendered as text, never HTML; only http(s) links become links, opening safely', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Mallory');
  const b = await openUser('Victim');
  await a.gotoRoom(room);
  await b.gotoRoom(room);
  const evil =
    '<img src=x onerror="document.title=\'pwned\'"> <b>bold</b> javascript:alert(1) see https://example.com/a?b=1.';
  await a.send(evil);
  const m = b.message('<img src=x');
  await expect(m).toContainText('<b>bold</b>');
  await expect(b.log().locator('img, b')).toHaveCount(0);
  const links = m.getByRole('link');
  await expect(links).toHaveCount(1);
  await expect(links).toHaveAttribute('href', 'https://example.com/a?b=1');
  await expect(links).toHaveAttribute('target', '_blank');
  await expect(links).toHaveAttribute('rel', 'noopener noreferrer');
  expect(await b.page.title()).not.toBe('pwned');
});

test('composer: Enter sends, Shift+Enter adds a line, the counter counts', async ({ openUser, room }) => {
  const u = await openUser('Typist');
  await u.gotoRoom(room);
  await u.composer().click();
  await u.page.keyboard.type('line one');
  await u.page.keyboard.press('Shift+Enter');
  await u.page.keyboard.type('line two');
  await expect(u.page.getByText(`17 / ${TEXT_LIMIT} characters`)).toBeVisible();
  await u.page.keyboard.press('Enter');
  await expect(u.message('line one')).toContainText('line one\nline two');
  await expect(u.composer()).toHaveValue('');
  await expect(u.page.getByText(`0 / ${TEXT_LIMIT} characters`)).toBeVisible();
  // Whitespace only is refused with the reason.
  await u.composer().fill('   ');
  await u.composer().press('Enter');
  await expect(u.page.getByRole('alert')).toContainText('cannot be empty');
});

test('composer: a draft that wraps grows to fit its text again when the box gets narrower or wider', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Resizer');
  await u.page.setViewportSize({ width: 1280, height: 800 });
  await u.gotoRoom(room);
  // Three lines at 1280 px, more once the box is narrower (no line breaks: only the wrapping changes).
  await u.composer().fill('a sentence long enough to wrap over several lines of the message box '.repeat(4));
  const fit = (): Promise<{ hidden: number; spare: number }> =>
    u.composer().evaluate((el) => {
      const box = el as HTMLTextAreaElement;
      const before = box.style.height;
      box.style.height = 'auto';
      const needed = box.scrollHeight; // the text's height, measured without the box's own height
      box.style.height = before;
      return { hidden: box.scrollHeight - box.clientHeight, spare: box.clientHeight - needed };
    });
  await expect.poll(fit).toEqual({ hidden: 0, spare: 0 });
  // A phone's width re-wraps the text into more lines: the box grows, nothing scrolls out of sight.
  await u.page.setViewportSize({ width: 390, height: 800 });
  await expect.poll(fit).toEqual({ hidden: 0, spare: 0 });
  // Back to wide: fewer lines, and the box shrinks to them.
  await u.page.setViewportSize({ width: 1280, height: 800 });
  await expect.poll(fit).toEqual({ hidden: 0, spare: 0 });
});

test('focus stays where the user works: after Send, after an edit, around a delete (Escape cancels it), after a reaction and a rename', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Keys');
  await u.gotoRoom(room);
  await u.composer().fill('sent with the button');
  await u.page.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(u.message('sent with the button')).toBeVisible();
  await expect(u.composer()).toBeFocused();
  await u.page.keyboard.type('typed straight after');
  await expect(u.composer()).toHaveValue('typed straight after');

  const m = u.message('sent with the button');
  await m.getByRole('button', { name: 'Edit' }).click();
  await u.page.getByRole('textbox', { name: 'Edit message' }).press('Escape');
  await expect(m.getByRole('button', { name: 'Edit' })).toBeFocused();
  await u.page.keyboard.press('Enter');
  await u.page.getByRole('textbox', { name: 'Edit message' }).fill('sent with the button, edited');
  await u.page.keyboard.press('Enter');
  const edited = u.message('sent with the button, edited');
  await expect(edited.getByRole('button', { name: 'Edit' })).toBeFocused();

  // The confirmation takes the focus on its safe choice; Escape keeps the message.
  await edited.getByRole('button', { name: 'Delete' }).click();
  await expect(edited.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await u.page.keyboard.press('Escape');
  await expect(edited.getByRole('button', { name: 'Delete' })).toBeFocused();
  await u.page.keyboard.press('Enter');
  await u.page.getByRole('button', { name: 'Delete message' }).click();
  await expect(u.log()).toContainText('message deleted');
  await expect(u.log().getByRole('article').filter({ hasText: 'message deleted' })).toBeFocused();

  // The reaction picker and the title form give the focus back to the button that opened them.
  await u.send('react to this');
  const r = u.message('react to this');
  const reactButton = r.getByRole('button', { name: 'React', exact: true });
  await reactButton.focus();
  await u.page.keyboard.press('Enter');
  await expect(r.getByRole('button', { name: 'React with 👍' })).toBeFocused();
  await u.page.keyboard.press('Enter');
  await expect(r.getByRole('button', { name: /👍 1/ })).toBeVisible();
  await expect(reactButton).toBeFocused();
  await u.page.keyboard.press('Enter');
  await u.page.keyboard.press('Escape');
  await expect(reactButton).toBeFocused();
  const rename = u.page.getByRole('button', { name: 'Rename room' });
  await rename.click();
  await u.page.getByRole('textbox', { name: 'Room title' }).press('Escape');
  await expect(rename).toBeFocused();
  await u.page.keyboard.press('Enter');
  await u.page.getByRole('textbox', { name: 'Room title' }).fill('Keyboard room');
  await u.page.keyboard.press('Enter');
  await expect(u.page.getByRole('heading', { name: 'Keyboard room' })).toBeVisible();
  await expect(rename).toBeFocused();
});

test('a sender whose clock runs ahead is flagged', async ({ openUser, room }) => {
  const fast = await openUser('Fast Clock', { clockAheadMs: 10 * 60_000 });
  const b = await openUser('Normal Clock');
  await fast.gotoRoom(room);
  await b.gotoRoom(room);
  await fast.send('from the future');
  await expect(b.message('from the future')).toContainText(
    /⚠ sent (10 minutes|9 minutes \d+ seconds) ahead of this device’s clock/,
  );
});

test('a relay refusal is explained and the messages stay on the device', async ({ openUser, room }) => {
  const u = await openUser('Refused', { network: true });
  await u.gotoRoom(room);
  await u.send('kept locally');
  await expect(u.message('kept locally')).toContainText(/Saved|Seen/);
  // What the relay does when it rejects data as malformed (CloseReason.InvalidUpdate: fatal).
  await u.closeWith(4422, 'invalid-update');
  await expect(u.page.getByRole('alert').filter({ hasText: 'Not syncing' })).toContainText('invalid-update');
  await expect(u.connection()).toContainText('Offline');
  await u.send('written after the refusal');
  await expect(u.message('written after the refusal')).toContainText('Pending');
  // Switching offline and online again retries.
  u.restore();
  await u.offlineToggle().click();
  await u.offlineToggle().click();
  await expect(u.message('written after the refusal')).toContainText(/Saved|Seen/, { timeout: 20_000 });
  await expect(u.page.getByRole('alert').filter({ hasText: 'Not syncing' })).toBeHidden();
});

test('REFUSE-4: a refusal for one of the relay limits says which, in plain words', async ({ openUser, room }) => {
  const u = await openUser('Many Writers', { network: true });
  await u.gotoRoom(room);
  // What the relay does with an upload naming more Yjs clients than its MAX_CLIENTS_PER_UPDATE (VAL-11).
  await u.closeWith(CloseReason.TooManyClients.code, CloseReason.TooManyClients.reason);
  const alert = u.page.getByRole('alert').filter({ hasText: 'Not syncing' });
  await expect(alert).toContainText('The relay refused an upload naming too many writers (too-many-clients)');
  await expect(alert).toContainText('ask whoever runs the relay to raise that limit');
  await expect(alert).not.toContainText('malformed');
});

test("UP-2, LIVE-3: a large import goes at the relay's pace, says so while it lasts (announced as it starts and ends), and is never reset for rate", async ({
  openUser,
  room,
}, testInfo) => {
  const MiB = 1024 * 1024;
  // A relay whose byte burst is the least RATE-1 allows for the client's 1 MiB pieces, and slow.
  const maxFrame = 1.25 * MiB;
  const slow = await startRelay({
    env: {
      MAX_FRAME_BYTES: String(maxFrame),
      MAX_CLIENTS_PER_UPDATE: String(Limits.maxUploadClientsPerFrame),
      BYTE_BURST: String(maxFrame + Limits.maxUploadClientsPerFrame * CLIENT_CHARGE_BYTES),
      MAX_BYTES_PER_SEC: String(768 * 1024),
    },
  });
  try {
    // About 3 MB of messages written elsewhere, in a room file.
    const doc = new Y.Doc();
    const chat = new ChatRoom(doc, new HybridClock('bulk', () => Date.now()), rb);
    const author: Identity = { id: newId(rb), name: 'Ann' };
    const N = 750;
    const label = (i: number): string => `paced #${String(i).padStart(4, '0')} `;
    doc.transact(() => {
      for (let i = 0; i < N; i++) chat.send(author, label(i).padEnd(TEXT_LIMIT, '.'));
    });
    const file = testInfo.outputPath('paced.converge');
    writeFileSync(
      file,
      encodeRoomFile({ format: ROOM_FILE_FORMAT, room, exportedAt: Date.now() }, Y.encodeStateAsUpdate(doc)),
    );
    doc.destroy();

    const u = await openUser('Importer', { relay: slow });
    await u.gotoRoom(room);
    await expect(u.connection()).toContainText('Online');
    // LIVE-3: what the banner shows as the upload goes, and what live regions say about it.
    const shown = await recordChanges(u.page, '.banner');
    const heard = await recordChanges(u.page, LIVE_REGION);
    await u.page.getByLabel('Import room file').setInputFiles(file);
    const banner = u.page.locator('.banner').filter({ hasText: 'Uploading.' });
    await expect(banner).toContainText(
      /Sending what the relay does not have yet: [\d.]+ MiB of [\d.]+ MiB, about \d+ seconds? left\. The relay takes 0\.8 MiB a second/,
      { timeout: 15_000 },
    );
    await expect(banner).toBeHidden({ timeout: 30_000 });
    const reader = await openUser('Reader', { relay: slow });
    await reader.gotoRoom(room);
    await expect(reader.message(label(N - 1))).toBeVisible({ timeout: 30_000 });
    await expect(u.page.getByText('sent faster than the relay accepts')).toHaveCount(0);
    const metrics = await (await fetch(`${slow.url}/metrics`)).text();
    expect(metrics).not.toMatch(/^converge_closes_total\{reason="rate-limited"\} [1-9]/m);
    // The figures on screen followed the pieces sent; a screen reader heard the start and the end only.
    const figures = new Set((await shown()).filter((t) => t.startsWith('Uploading.')));
    expect(figures.size).toBeGreaterThan(1);
    expect((await heard()).filter((t) => /upload|MiB/i.test(t))).toEqual([
      expect.stringMatching(/^Uploading [\d.]+ MiB the relay does not have yet, about \d+ seconds?\.$/),
      'Upload sent.',
    ]);
  } finally {
    await slow.cleanup();
  }
});

test('without IndexedDB the app works in memory and says so', async ({ openUser, browser, relay, room }) => {
  const context = await browser.newContext();
  try {
    await context.addInitScript(() => {
      Object.defineProperty(globalThis, 'indexedDB', { value: undefined, configurable: true });
    });
    const page = await context.newPage();
    await page.goto(relay.url + '/');
    await expect(page.getByText('not keeping rooms on disk')).toBeVisible();
    await page.goto(`${relay.url}/r/${room}`);
    await ui.chooseName(page, 'Memo');
    await expect(page.getByRole('alert').filter({ hasText: 'In-memory mode' })).toBeVisible();
    await ui.send(page, 'still works');
    await expect(ui.message(page, 'still works')).toContainText(/Saved|Seen/);
    // And others get it through the relay.
    const other = await openUser('Other');
    await other.gotoRoom(room);
    await expect(other.message('still works')).toBeVisible();
  } finally {
    await context.close();
  }
});

test('a room of 10,000 messages opens, stays virtualized and scrolls end to end', async ({
  openUser,
  room,
}, testInfo) => {
  test.setTimeout(120_000);
  const N = 10_000;
  // The room, made in Node with the same chat model, as an export file.
  const doc = new Y.Doc();
  const chat = new ChatRoom(doc, new HybridClock('seed', () => Date.now()), rb);
  const authors: Identity[] = [
    { id: newId(rb), name: 'Ann' },
    { id: newId(rb), name: 'Ben' },
  ];
  const label = (i: number): string => `bulk #${String(i).padStart(5, '0')}`;
  doc.transact(() => {
    for (let i = 0; i < N; i++) chat.send(authors[i % 2]!, `${label(i)} — some chatter to fill the line`);
  });
  const file = testInfo.outputPath('big.converge');
  writeFileSync(
    file,
    encodeRoomFile({ format: ROOM_FILE_FORMAT, room, exportedAt: Date.now() }, Y.encodeStateAsUpdate(doc)),
  );
  doc.destroy();

  const u = await openUser('Reader');
  await u.gotoRoom(room);
  await u.page.getByLabel('Import room file').setInputFiles(file);
  await expect(u.message(label(N - 1))).toBeVisible({ timeout: 30_000 });
  // Virtualized: only a window of rows is in the DOM.
  expect(await u.log().getByRole('article').count()).toBeLessThan(80);

  // Reopen from local storage, at the newest message (how fast: `npm run bench -- --only client`).
  await u.page.reload();
  await expect(u.message(label(N - 1))).toBeVisible({ timeout: 15_000 });

  // End to end.
  await scrollLog(u.log(), 0);
  await expect(u.message(label(0))).toBeVisible();
  expect(await u.log().getByRole('article').count()).toBeLessThan(80);
  await scrollLog(u.log(), 0.5);
  await expect(u.log().getByRole('article').first()).toBeVisible();
  await u.page.getByRole('button', { name: /Jump to latest/ }).click();
  await expect(u.message(label(N - 1))).toBeInViewport();

  // Search over all of them.
  await u.page.getByRole('searchbox', { name: 'Search messages' }).fill(label(4321));
  await expect(u.page.getByText('1 match')).toBeVisible();
  await expect(u.message(label(4321))).toBeVisible();
});

test('SEC-1: the room and Lab pages carry the content security policy, and the app works within it', async ({
  openUser,
  room,
}) => {
  const u = await openUser('Sec');
  for (const path of [`/r/${room}`, `/lab/${room}`]) {
    const res = (await u.page.goto(new URL(u.page.url()).origin + path))!;
    expect(res.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers()['x-frame-options']).toBe('DENY');
  }
  await u.gotoRoom(room);
  await u.send('under the policy');
  await expect(u.message('under the policy')).toContainText(/Saved|Seen/);
  // An injected inline script does not run (the policy allows scripts from this origin only).
  await u.page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__injected = true';
    document.body.append(s);
  });
  let refused = 0;
  await expect.poll(() => (refused += takeCspViolations().length)).toBeGreaterThan(0);
  expect(await u.page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
});

test('the app is installable (no installability errors)', async ({ playwright, launchOptions, relay }, testInfo) => {
  // Installability is never granted to incognito profiles, which is what browser.newContext() makes.
  const profile = testInfo.outputPath('profile');
  const context = await playwright.chromium.launchPersistentContext(profile, { ...launchOptions });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(relay.url + '/');
    await expect(page.getByLabel('Your name')).toBeVisible();
    await waitForServiceWorker(page);
    const cdp = await context.newCDPSession(page);
    const manifest = (await cdp.send('Page.getAppManifest')) as { errors: unknown[]; url: string };
    expect(manifest.url).toMatch(/\/manifest\.webmanifest$/);
    expect(manifest.errors).toEqual([]);
    await expect
      .poll(
        async () =>
          ((await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: unknown[] })
            .installabilityErrors,
      )
      .toEqual([]);
  } finally {
    await context.close();
  }
});

/** The browser process of a persistent profile: the one process whose arguments name it and no `--type`. */
const browserPid = (profile: string): number => {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  const pids = ps.stdout
    .split('\n')
    .filter((line) => line.includes(`--user-data-dir=${profile}`) && !line.includes('--type='))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
  if (pids.length !== 1) throw new Error(`expected one browser process for ${profile}, found ${pids.length}`);
  return pids[0]!;
};

test('DRAFT-1: a draft typed just before the browser itself crashes is there when it starts again', async ({
  playwright,
  launchOptions,
  relay,
  room,
}, testInfo) => {
  const profile = testInfo.outputPath('profile');
  const text = 'typed a moment before the crash';
  // A person who chose their name in an earlier session (the browser closed normally, so it is on
  // disk): the crash below may only take what was typed in the room.
  const naming = await playwright.chromium.launchPersistentContext(profile, { ...launchOptions });
  const lobby = naming.pages()[0] ?? (await naming.newPage());
  await lobby.goto(relay.url + '/');
  await lobby.getByLabel('Your name').fill('Dora');
  await lobby.getByLabel('Your name').press('Enter');
  await expect(lobby.getByText('Saved.')).toBeVisible();
  await naming.close();

  const first = await playwright.chromium.launchPersistentContext(profile, { ...launchOptions });
  const page = first.pages()[0] ?? (await first.newPage());
  await page.goto(`${relay.url}/r/${room}`);
  await ui.composer(page).fill(text);
  // The copy in the room's IndexedDB meta is committed (the transaction completed)...
  await expect
    .poll(() =>
      page.evaluate(
        (name) =>
          new Promise<unknown>((resolve, reject) => {
            const open = indexedDB.open('converge');
            open.onerror = () => reject(new Error(String(open.error)));
            open.onsuccess = () => {
              const db = open.result;
              const get = db.transaction('rooms').objectStore('rooms').get(name);
              get.onsuccess = () => {
                db.close();
                resolve((get.result as { meta?: { draft?: string } } | undefined)?.meta?.draft ?? null);
              };
              get.onerror = () => reject(new Error(String(get.error)));
            };
          }),
        room,
      ),
    )
    .toBe(text);
  // ...and the browser dies at once: no unload, no flush of localStorage (written seconds later).
  process.kill(browserPid(profile), 'SIGKILL');
  await first.close().catch(() => undefined);

  const second = await playwright.chromium.launchPersistentContext(profile, { ...launchOptions });
  try {
    const again = second.pages()[0] ?? (await second.newPage());
    await again.goto(`${relay.url}/r/${room}`);
    await expect(ui.composer(again)).toHaveValue(text);
    // Sent, it does not come back on a reload.
    await ui.composer(again).press('Enter');
    await expect(ui.message(again, text)).toBeVisible();
    await again.reload();
    await expect(ui.message(again, text)).toBeVisible();
    await expect(ui.composer(again)).toHaveValue('');
  } finally {
    await second.close();
  }
});

/** Axe's serious and critical violations on `page`, named by `where`: a test expects none. */
const axeViolations = async (page: Page, where: string): Promise<string[]> => {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${where}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
};

test('axe: no serious or critical accessibility violations on the lobby and in a room, light and dark', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Axel');
  const b = await openUser('Bea');
  expect(await axeViolations(a.page, 'lobby (empty)')).toEqual([]);

  await a.gotoRoom(room);
  await b.gotoRoom(room);
  await a.send('Hello, see https://example.com');
  await b.message('Hello, see').getByRole('button', { name: 'Reply' }).click();
  await b.send('A reply');
  await b.message('Hello, see').getByRole('button', { name: 'React', exact: true }).click();
  await b.message('Hello, see').getByRole('button', { name: 'React with ❤️' }).click();
  await expect(a.message('Hello, see').getByRole('button', { name: /❤️ 1/ })).toBeVisible();
  await a.composer().fill('x'.repeat(TEXT_LIMIT + 5));
  await a.composer().press('Enter');
  await expect(a.page.getByRole('alert')).toBeVisible();
  await a.message('A reply').hover();
  expect(await axeViolations(a.page, 'room')).toEqual([]);
  await a.page.emulateMedia({ colorScheme: 'dark' });
  expect(await axeViolations(a.page, 'room (dark)')).toEqual([]);
});

test('axe: no serious or critical accessibility violations offline: a pending reaction and message, on a phone, the lobby, the name prompt', async ({
  openUser,
  browser,
  relay,
  room,
}) => {
  const a = await openUser('Axel');
  await a.gotoRoom(room);
  await a.send('A reply');
  // On the relay before going offline: the pending counts below are what is written offline.
  await expect(a.message('A reply')).toContainText(/Saved|Seen/);

  await a.offlineToggle().click();
  await expect(a.connection()).toContainText('Offline');
  // STATE-5: a reaction the relay does not have yet, marked on its chip.
  await a.message('A reply').getByRole('button', { name: 'React', exact: true }).click();
  await a.message('A reply').getByRole('button', { name: 'React with 👍' }).click();
  await expect(a.message('A reply').getByRole('button', { name: /yours pending/ })).toBeVisible();
  expect(await axeViolations(a.page, 'room offline')).toEqual([]);
  // A pending count in the header, and LOBBY-3's mark in the lobby.
  await a.send('kept here while offline');
  await expect(a.connection()).toContainText('2 pending (1 message, 1 reaction)');
  // HEADER-1's compact header.
  await a.page.setViewportSize({ width: 390, height: 844 });
  expect(await axeViolations(a.page, 'room offline (phone)')).toEqual([]);
  await a.page.setViewportSize({ width: 1280, height: 720 });

  await a.page.getByRole('link', { name: 'Rooms' }).click();
  await expect(a.page.getByRole('list', { name: 'Rooms on this device' })).toBeVisible();
  await expect(a.page.getByText('2 not sent yet (1 message, 1 reaction)')).toBeVisible();
  expect(await axeViolations(a.page, 'lobby')).toEqual([]);
  await a.page.emulateMedia({ colorScheme: 'dark' });
  expect(await axeViolations(a.page, 'lobby (dark)')).toEqual([]);
  // REMOVE-1's question, with what would be lost.
  await a.page.getByRole('button', { name: `Remove ${room} from this device` }).click();
  await expect(a.page.getByRole('group', { name: `Remove ${room} from this device?` })).toContainText('would be lost');
  expect(await axeViolations(a.page, 'lobby, removal asked (dark)')).toEqual([]);

  // PRES-5's question, in a profile that never chose a name.
  const fresh = await browser.newContext();
  try {
    const page = await fresh.newPage();
    await page.goto(`${relay.url}/r/${room}`);
    await expect(ui.namePrompt(page)).toBeVisible();
    expect(await axeViolations(page, 'name prompt')).toEqual([]);
  } finally {
    await fresh.close();
  }
});

test('LOCAL-11: after the browser evicts the whole origin, the app says so and the same identity gets its room back', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Ada');
  await a.gotoRoom(room);
  await a.send('written before the eviction');
  await expect(a.message('written before the eviction')).toContainText(/Saved|Seen/);
  // A normal start says nothing.
  await a.page.reload();
  await expect(a.message('written before the eviction')).toBeVisible();
  await expect(a.page.getByText('deleted Converge’s saved data')).toHaveCount(0);

  // What Chromium's storage-pressure eviction removes: every storage of the origin but cookies.
  const origin = new URL(a.page.url()).origin;
  await a.page.goto('about:blank');
  const cdp = await a.context.newCDPSession(a.page);
  await cdp.send('Storage.clearDataForOrigin', {
    origin,
    storageTypes: 'indexeddb,local_storage,service_workers,cache_storage',
  });
  await cdp.detach();

  await a.page.goto(`${origin}/r/${room}`);
  const notice = a.page.getByRole('alert').filter({ hasText: 'deleted Converge’s saved data' });
  await expect(notice).toBeVisible();
  // Fetched again from the relay, and still this user's own message (own messages show a state).
  await expect(a.message('written before the eviction')).toContainText(/Saved|Seen/, { timeout: 20_000 });
  await expect(a.message('written before the eviction')).toContainText('Ada');
  await notice.getByRole('button', { name: 'Dismiss' }).click();
  await expect(notice).toHaveCount(0);
});

test('STATE-2: a tab cut off from the relay writes and is closed; the tab of the room that stays online uploads it', async ({
  openUser,
  room,
}) => {
  const [a, bob] = await aliceAndBobIn(openUser, room);
  const tab = await a.context.newPage();
  await tab.goto(a.page.url());
  await expect(ui.composer(tab)).toBeVisible();
  // Only the first tab's network goes (per page): its BroadcastChannel to the other tab stays.
  const cdp = await a.context.newCDPSession(a.page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: true,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  });
  await expect(ui.connection(a.page)).toContainText('Offline', { timeout: 20_000 });
  await a.send('written in a tab cut off');
  await expect(ui.message(tab, 'written in a tab cut off')).toBeVisible();
  await a.page.close();
  // The tab that stays never reconnects: its handshake is long past.
  await expect(bob.message('written in a tab cut off')).toBeVisible({ timeout: 20_000 });
  await expect(ui.connection(tab)).not.toContainText('pending');
});

test('LOCAL-11: site data cleared under an open page (cookies kept): the same identity, never a new one', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Ada');
  await a.gotoRoom(room);
  await a.send('written before the clearing');
  await expect(a.message('written before the clearing')).toContainText(/Saved|Seen/);
  const origin = new URL(a.page.url()).origin;
  const cdp = await a.context.newCDPSession(a.page);
  await cdp.send('Storage.clearDataForOrigin', {
    origin,
    storageTypes: 'indexeddb,local_storage,service_workers,cache_storage',
  });
  await cdp.detach();
  // The page reads the identity again (as on another tab's storage event): restored, and said.
  await a.page.evaluate(() => window.dispatchEvent(new StorageEvent('storage')));
  await expect(a.page.getByRole('alert').filter({ hasText: 'deleted Converge’s saved data' })).toBeVisible();
  await a.send('written after the clearing');
  await a.page.reload();
  // No name prompt (PRES-5): still Ada, still named.
  await expect(ui.composer(a.page)).toBeVisible();
  await expect(a.page.getByLabel('Your name')).toHaveCount(0);
  for (const text of ['written before the clearing', 'written after the clearing']) {
    await expect(a.message(text)).toContainText(/Saved|Seen/, { timeout: 20_000 });
    await expect(a.message(text)).toContainText('Ada');
  }
});

/**
 * A full device, made on demand (`globalThis.diskFull`): Chromium here ignores CDP's quota override
 * (Storage.overrideQuotaForOrigin leaves navigator.storage.estimate() at gigabytes), so adding a row
 * refuses as IndexedDB does when the quota is reached: with a QuotaExceededError.
 */
const fillableDisk = async (page: Page): Promise<void> => {
  await page.addInitScript(() => {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with apply, on its own receiver
    const add = IDBObjectStore.prototype.add;
    IDBObjectStore.prototype.add = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['add']>) {
      if ((globalThis as { diskFull?: boolean }).diskFull)
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return add.apply(this, args);
    };
  });
};
/** Closes the page as a user does; the browser's "Leave site?" must come, and the user stays. */
const closingAsksAndStay = async (page: Page): Promise<void> => {
  const asked = page.waitForEvent('dialog');
  await page.close({ runBeforeUnload: true });
  const dialog = await asked;
  expect(dialog.type()).toBe('beforeunload');
  await dialog.dismiss();
};
const setDiskFull = (page: Page, full: boolean): Promise<boolean> =>
  page.evaluate((f) => ((globalThis as { diskFull?: boolean }).diskFull = f), full);
/** The user goes offline with the device full (`fillableDisk`) and writes `text`: only the page holds it, and the storage banner says so. */
const writeOnlyInThisPage = async (user: AppUser, text: string): Promise<void> => {
  await user.context.setOffline(true);
  await expect(user.connection()).toContainText('Offline');
  await setDiskFull(user.page, true);
  await user.send(text);
  await expect(user.page.getByRole('alert').filter({ hasText: 'Storage problem.' })).toContainText(
    'Keep this page open',
  );
};

test('LEAVE-1: with the device full, leaving a page that holds the only copy of a message asks first', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Ada');
  await fillableDisk(a.page);
  await a.gotoRoom(room);
  await a.send('stored and saved');
  await expect(a.message('stored and saved')).toContainText(/Saved|Seen/);
  await writeOnlyInThisPage(a, 'only in this page');
  const banner = a.page.getByRole('alert').filter({ hasText: 'Storage problem.' });
  // Closing asks; the user stays, and the message is still there.
  await closingAsksAndStay(a.page);
  await expect(a.message('only in this page')).toBeVisible();
  // Space again: the next write stores everything (STORE-C1), and leaving asks nothing.
  await setDiskFull(a.page, false);
  await a.send('space again');
  await expect(banner).toHaveCount(0);
  await expect(a.message('only in this page')).toContainText('Pending');
  await a.page.reload();
  for (const text of ['only in this page', 'space again']) await expect(a.message(text)).toContainText('Pending');
});

test('LEAVE-2: with the device full, a room left inside the app keeps its unsent message and sends it when the network is back', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Ada');
  await fillableDisk(a.page);
  await a.gotoRoom(room);
  const b = await openUser('Bob');
  await b.gotoRoom(room);
  await writeOnlyInThisPage(a, 'only in this page');
  // To the lobby: the room's session is kept, and the page says which room holds what.
  const kept = a.page.getByRole('alert').filter({ hasText: 'could not be stored on this device' });
  await a.page.getByRole('link', { name: 'Rooms' }).click();
  await expect(a.page.getByRole('heading', { name: 'Your rooms' })).toBeVisible();
  await expect(kept).toContainText('Keep this page open');
  // Closing the page asks from the lobby too.
  await closingAsksAndStay(a.page);
  // Back into the room by the notice's link: the same session, the message still there (the device never had it).
  // (STATE-4: not on the device, so still "Storing…".)
  await kept.getByRole('link', { name: room }).click();
  await expect(a.message('only in this page')).toContainText('Storing');
  await expect(kept).toHaveCount(0);
  await a.page.getByRole('link', { name: 'Rooms' }).click();
  await expect(kept).toBeVisible();
  // The network comes back while Ada is in the lobby: Bob gets it, and nothing is kept any longer.
  await a.context.setOffline(false);
  await expect(b.message('only in this page')).toBeVisible({ timeout: 20_000 });
  await expect(kept).toHaveCount(0, { timeout: 20_000 });
  await a.gotoRoom(room);
  await expect(a.message('only in this page')).toContainText(/Saved|Seen/, { timeout: 20_000 });
});

test('UNREAD-4: a kept session taken back is caught up already: a message that comes while the reader watches gets no "New messages" line', async ({
  openUser,
  room,
}) => {
  const a = await openUser('Ada');
  await fillableDisk(a.page);
  const b = await openUser('Bob');
  await b.gotoRoom(room);
  await a.gotoRoom(room);
  await b.send('before Ada writes');
  await expect(a.message('before Ada writes')).toBeVisible();
  // Online, but what Ada sends reaches the relay only in a minute, and the device is full: only
  // this page holds it, so leaving the room keeps its session, connected and synced (LEAVE-2).
  await lab.open(a.page);
  await lab.field(a.page, 'Latency up').fill('60000');
  await lab.apply(a.page).click();
  await setDiskFull(a.page, true);
  await a.send('only in this page, on its way');
  const kept = a.page.getByRole('alert').filter({ hasText: 'could not be stored on this device' });
  await a.page.getByRole('link', { name: 'Rooms' }).click();
  await expect(kept).toContainText('Keep this page open');
  await kept.getByRole('link', { name: room }).click();
  await expect(a.message('only in this page, on its way')).toBeVisible();
  await expect(a.connection()).toContainText('Online');
  // Within the first seconds of the room showing again (CATCH_UP_MS is 5 s): read as it comes.
  await b.send('while Ada watches');
  await expect(a.message('while Ada watches')).toBeVisible();
  await expect(a.page.getByRole('separator', { name: 'New messages' })).toHaveCount(0);
});

test('LOCAL-11: a second Converge on the same host but another port is not taken for an eviction', async ({
  openUser,
}) => {
  // Cookies are shared by every port of a host; localStorage is not.
  const other = await startRelay();
  try {
    const a = await openUser('Ada');
    await a.page.goto(other.url + '/');
    await expect(a.page.getByLabel('Your name')).toBeVisible();
    await expect(a.page.getByText('deleted Converge’s saved data')).toHaveCount(0);
    await a.page.reload();
    await expect(a.page.getByLabel('Your name')).toBeVisible();
    await expect(a.page.getByText('deleted Converge’s saved data')).toHaveCount(0);
  } finally {
    await other.stop();
    rmSync(other.dataDir, { recursive: true, force: true });
  }
});

test('PRES-3, PRES-6: a name changed in another tab reaches the room and the others once saved, without reopening it', async ({
  openUser,
  room,
}) => {
  const [a, b] = await aliceAndBobIn(openUser, room);
  const bobSees = b.page.getByRole('complementary', { name: 'Room details' });
  await expect(bobSees).toContainText('Alice');

  const lobby = await a.newTab();
  await lobby.goto(new URL('/', a.page.url()).href);
  const field = lobby.getByLabel('Your name');
  await field.pressSequentially(' Liddell');
  // PRES-6: typing saves nothing yet (the old field saved each keystroke, synchronously)...
  await expect(lobby.getByText('Not saved yet')).toBeVisible();
  expect(await lobby.evaluate(() => localStorage.getItem('converge:identity:v1'))).toContain('"name":"Alice"');
  // ...Escape puts the saved name back, and leaving the field then saves nothing...
  await field.press('Escape');
  await expect(field).toHaveValue('Alice');
  await field.blur();
  expect(await lobby.evaluate(() => localStorage.getItem('converge:identity:v1'))).toContain('"name":"Alice"');
  // ...Enter saves it, and every open room of this profile shows the new name.
  await field.fill('Alice Liddell');
  await field.press('Enter');
  await expect(bobSees).toContainText('Alice Liddell');
  await expect(a.page.getByRole('complementary', { name: 'Room details' })).toContainText('Alice Liddell (you)');
  await a.send('after the rename');
  await expect(b.message('after the rename')).toContainText('Alice Liddell');

  // PRES-6: a name typed and not committed is kept when the page is left (no blur comes then).
  await field.fill('Alice L.');
  await lobby.goto(a.page.url());
  await expect(bobSees).toContainText('Alice L.');
  // ...and when the app leaves the lobby without a blur (back to the room in the app's history).
  await lobby.getByRole('link', { name: 'Rooms' }).click();
  await field.fill('Alice P.');
  await lobby.goBack();
  await expect(ui.composer(lobby)).toBeVisible();
  await expect(bobSees).toContainText('Alice P.');
});

test('PRES-5: a room link opened in a profile that never chose a name asks for one first; a named profile is not asked', async ({
  openUser,
  browser,
  relay,
  room,
}) => {
  // Bob chose his name in the lobby (openUser): the link opens the room without a question.
  const bob = await openUser('Bob');
  await bob.gotoRoom(room);
  await expect(ui.namePrompt(bob.page)).toHaveCount(0);
  await bob.send('hello from Bob');

  const fresh = await browser.newContext();
  try {
    const page = await fresh.newPage();
    await page.goto(`${relay.url}/r/${room}`);
    const field = ui.namePrompt(page).getByLabel('Your name');
    await expect(field).toBeFocused();
    await expect(field).toHaveValue(/^Guest [0-9A-Z]{4}$/);
    // The room waits for the answer.
    await expect(ui.composer(page)).toHaveCount(0);
    // A second tab of the same profile, asked too and left alone: the first tab's answer is its answer.
    const tab2 = await fresh.newPage();
    await tab2.goto(page.url());
    await expect(ui.namePrompt(tab2)).toBeVisible();

    await ui.chooseName(page, 'Carol');
    await expect(ui.composer(page)).toBeFocused();
    await expect(ui.message(page, 'hello from Bob')).toBeVisible();
    await expect(ui.composer(tab2)).toBeVisible();
    await ui.send(page, 'hi, Carol here');
    await expect(bob.message('hi, Carol here')).toContainText('Carol');
    await expect(bob.page.getByRole('complementary', { name: 'Room details' })).toContainText('Carol');

    // Not asked again.
    await page.reload();
    await expect(ui.composer(page)).toBeVisible();
    await expect(ui.namePrompt(page)).toHaveCount(0);
  } finally {
    await fresh.close();
  }
});

/**
 * STRUCT-2..4 on a relay passing on structs of at most 4,032 bytes (VAL-10): 3,990 bytes of text
 * fit CHAT-2 but not the relay (3,520 bytes of text at most, STRUCT-1).
 */
const LONG_FOR_RELAY = 'y'.repeat(3990);
const startSmallFrameRelay = (): ReturnType<typeof startRelay> =>
  startRelay({ env: { MAX_SEND_FRAME_BYTES: '4096', MAX_AWARENESS_STATE_BYTES: '2048' } });

test("STRUCT-2: a page started offline knows the relay's limits: a message too large for it stays a draft", async ({
  openUser,
  room,
}) => {
  const relay = await startSmallFrameRelay();
  try {
    const u = await openUser('Writer', { relay });
    await u.gotoRoom(room);
    await u.send('short one');
    await expect(u.connection()).not.toContainText('pending');
    await expect.poll(() => ui.storedOnDevice(u.page, room, 'short one')).toBe(true);
    await waitForServiceWorker(u.page);
    await u.context.setOffline(true);
    await u.page.reload(); // served by the service worker; /config.json cannot be fetched
    await expect(u.composer()).toBeVisible();
    await u.composer().fill(LONG_FOR_RELAY);
    await u.composer().press('Enter');
    await expect(
      u.page.getByText('This relay passes on messages of at most 3520 bytes; this one takes 3990'),
    ).toBeVisible();
    await expect(u.composer()).toHaveValue(LONG_FOR_RELAY);
    await expect(u.connection()).not.toContainText('pending');
    expect(await u.messageTexts()).toEqual(['short one']);
  } finally {
    await relay.cleanup();
  }
});

test('STRUCT-3, STRUCT-4: a message stored offline without the limits is named when back online; deleted when confirmed, the room syncs', async ({
  openUser,
  room,
}) => {
  const relay = await startSmallFrameRelay();
  try {
    const u = await openUser('Writer', { relay });
    await u.gotoRoom(room);
    await u.send('short one');
    await expect(u.connection()).not.toContainText('pending');
    await expect.poll(() => ui.storedOnDevice(u.page, room, 'short one')).toBe(true);
    await waitForServiceWorker(u.page);
    await u.context.setOffline(true);
    // A device that never kept the limits (a message stored before STRUCT-2).
    await u.page.evaluate(() => {
      for (const key of Object.keys(localStorage))
        if (key.startsWith('converge:relayLimits:')) localStorage.removeItem(key);
    });
    await u.page.reload();
    await expect(u.composer()).toBeVisible();
    await u.send(LONG_FOR_RELAY);
    await expect(u.connection()).toContainText('1 pending');
    await u.context.setOffline(false);
    const alert = u.page.getByRole('alert').filter({ hasText: 'Not syncing' });
    const item = alert.getByRole('listitem').filter({ hasText: '(3990 bytes)' });
    await expect(item).toContainText('“yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy…”');
    await item.getByRole('button', { name: /^Delete…/ }).click();
    await item.getByRole('button', { name: 'Cancel' }).click();
    await expect(u.connection()).toContainText('1 pending'); // nothing deleted unasked
    await item.getByRole('button', { name: /^Delete…/ }).click();
    await item.getByRole('button', { name: 'Delete message and sync' }).click();
    await expect(alert).toHaveCount(0);
    await expect(u.connection()).toContainText('Online');
    await expect(u.connection()).not.toContainText('pending');
    await u.send('after the long one');
    await expect(u.connection()).not.toContainText('pending');
    const reader = await openUser('Reader', { relay });
    await reader.gotoRoom(room);
    await expect(reader.message('after the long one')).toBeVisible();
    expect(await reader.messageTexts()).toEqual(['short one', 'message deleted', 'after the long one']);
  } finally {
    await relay.cleanup();
  }
});

test("TYPE-1: what is typed right after the name prompt's Enter, while the room opens, is all in the message box", async ({
  browser,
  relay,
  room,
}) => {
  const fresh = await browser.newContext();
  try {
    const page = await fresh.newPage();
    await page.goto(`${relay.url}/r/${room}`);
    const field = ui.namePrompt(page).getByLabel('Your name');
    await expect(field).toBeFocused();
    const suggested = await field.inputValue();
    // Enter keeps the suggested name; no wait for the room: a person types on (the first letters
    // landed on the page while it opened, and were lost).
    await page.keyboard.press('Enter');
    await page.keyboard.type('hello right away', { delay: 10 });
    await expect(ui.composer(page)).toHaveValue('hello right away');
    await expect(ui.composer(page)).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(ui.message(page, 'hello right away')).toContainText(suggested);
  } finally {
    await fresh.close();
  }
});

test('PRES-5: offline, Enter keeps the suggested name, which counts as chosen', async ({ browser, relay, room }) => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    // The app was loaded once (its service worker is installed); no name was chosen.
    await page.goto(relay.url + '/');
    const suggested = await page.getByLabel('Your name').inputValue();
    expect(suggested).toMatch(/^Guest /);
    await waitForServiceWorker(page);
    await context.setOffline(true);

    await page.goto(`${relay.url}/r/${room}`);
    const field = ui.namePrompt(page).getByLabel('Your name');
    await expect(field).toBeFocused();
    await expect(field).toHaveValue(suggested);
    await page.keyboard.press('Enter');
    await expect(ui.composer(page)).toBeFocused();
    await expect(ui.connection(page)).toContainText('Offline');
    await ui.send(page, 'written offline under the suggested name');
    await expect(ui.message(page, 'written offline under the suggested name')).toContainText(suggested);

    await page.reload();
    await expect(ui.composer(page)).toBeVisible();
    await expect(ui.namePrompt(page)).toHaveCount(0);
  } finally {
    await context.close();
  }
});

/**
 * The lobby's row for `room`: the one showing exactly that name (as its title, or under the title
 * it was given), not another room's name containing it.
 */
const lobbyRow = (page: Page, room: string): Locator =>
  page
    .getByRole('list', { name: 'Rooms on this device' })
    .getByRole('listitem')
    .filter({ has: page.getByText(room, { exact: true }) });

/**
 * Alice sends in `room` (then does `before`, if given) and leaves the app (an empty page of the
 * same origin: no lobby, no room open); Bob sends `texts` meanwhile; Alice comes back to the lobby,
 * whose row for the room is returned once it counts them.
 */
const awayWhileBobSends = async (
  openUser: (name: string) => Promise<AppUser>,
  room: string,
  texts: readonly string[],
  before?: (a: AppUser) => Promise<void>,
): Promise<{ a: AppUser; b: AppUser; row: Locator }> => {
  const a = await openUser('Alice');
  const b = await openUser('Bob');
  await a.gotoRoom(room);
  await a.send('hello from Alice');
  await expect(a.message('hello from Alice')).toContainText(/Saved|Seen/);
  await before?.(a);
  const origin = new URL(a.page.url()).origin;
  await a.page.goto(`${origin}/healthz`);

  await b.gotoRoom(room);
  for (const text of texts) await b.send(text);
  await expect(b.message(texts[texts.length - 1]!)).toContainText(/Saved|Seen/);

  await a.page.goto(`${origin}/`);
  const row = lobbyRow(a.page, room);
  await expect(row).toContainText(`${texts.length} unread`, { timeout: 20_000 });
  return { a, b, row };
};

test('SYNC-C1: the lobby counts messages that arrived while this device was away, without opening the room', async ({
  openUser,
  room,
}) => {
  const { a, b, row } = await awayWhileBobSends(openUser, room, [
    'Bob, while Alice was away 1',
    'Bob, while Alice was away 2',
  ]);
  await expect(row).toContainText('Bob, while Alice was away 2');
  // Alice was never in the room meanwhile: Bob saw nobody arrive.
  await expect(b.page.getByRole('complementary', { name: 'Room details' })).not.toContainText('Alice');
  // Without a network the lobby says its counts may be behind.
  const stale = a.page.getByText('Offline: the counts are what this device knew when it was last online');
  await a.context.setOffline(true);
  await expect(stale).toBeVisible();
  await a.context.setOffline(false);
  await expect(stale).toHaveCount(0);
});

test('SYNC-C1: a room opened before the ten most recent still gets its unread count, in its turn', async ({
  openUser,
  room,
}) => {
  const { row } = await awayWhileBobSends(openUser, room, ['Bob, to an old room'], async (a) => {
    // Ten rooms opened since: `room` is not among the most recent any more.
    for (let i = 1; i <= REFRESH_ROOMS; i++) await a.gotoRoom(`${room}-${i}`);
  });
  await expect(row).toContainText('Bob, to an old room');
});

test('LOBBY-3: the lobby shows what a room still holds unsent, until its refresh uploads it or another tab does', async ({
  openUser,
  relay,
  room,
}) => {
  const [a, b] = await aliceAndBobIn(openUser, room);
  await a.send('sent online');
  await expect(a.message('sent online')).toContainText(/Saved|Seen/);
  // The browser loses its network (STATUS-2: the room leaves its socket at once).
  await a.context.setOffline(true);
  await expect(a.connection()).toContainText('Offline');
  await a.send('written offline');
  await expect(a.message('written offline')).toContainText('Pending');
  await a.page.getByRole('link', { name: 'Rooms', exact: true }).click();
  const row = lobbyRow(a.page, room);
  await expect(row).toContainText('1 not sent yet');
  await expect(row).toContainText('1 not sent yet: kept on this device, not on the relay yet');
  // The network is back: the lobby's refresh uploads it (CATCH-6), and the relay's ack ends it.
  await a.context.setOffline(false);
  await expect(row).not.toContainText('not sent yet', { timeout: 20_000 });
  await expect(b.message('written offline')).toBeVisible();

  // Another tab of Alice's holds the room back ("Go offline", OFF-1: no lobby visits it) and
  // writes two: the lobby follows that tab, and its upload once switched back on.
  const tab = await a.newTab();
  await tab.goto(`${relay.url}/r/${room}`);
  const toggle = tab.getByRole('button', { name: 'Go offline' });
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await ui.send(tab, 'held back 1');
  await ui.send(tab, 'held back 2');
  await expect(ui.message(tab, 'held back 2')).toContainText('Pending');
  await expect(row).toContainText('2 not sent yet', { timeout: 20_000 });
  await toggle.click();
  await expect(ui.message(tab, 'held back 2')).toContainText(/Saved|Seen/, { timeout: 15_000 });
  await expect(row).not.toContainText('not sent yet', { timeout: 20_000 });
  await expect(row).toBeVisible();
});

test('SYNC-C2: a message written offline in one room goes out when another room it moved to connects, without the lobby', async ({
  openUser,
  room,
}) => {
  const [a, b] = await aliceAndBobIn(openUser, room);
  const other = `elsewhere-${Date.now().toString(36)}`;
  await a.context.setOffline(true);
  await expect(a.connection()).toContainText('Offline');
  await a.send('written offline, then left');
  await expect(a.message('written offline, then left')).toContainText('Pending');
  // Still offline, Alice moves on to another room (the lobby's refresh cannot run offline).
  await a.page.getByRole('link', { name: 'Rooms', exact: true }).click();
  await a.page.getByLabel('Room name').fill(other);
  await a.page.getByRole('button', { name: 'Join room' }).click();
  await expect(a.connection()).toContainText('Offline');
  // The network is back while she stays there: that room's connection brings the other one's upload.
  await a.context.setOffline(false);
  await expect(a.connection()).toContainText('Online');
  await expect(b.message('written offline, then left')).toBeVisible({ timeout: 20_000 });
  await expect(a.page).toHaveURL(new RegExp(`/r/${other}$`));
  // Acked: the lobby has nothing left to send for the room.
  await a.page.getByRole('link', { name: 'Rooms', exact: true }).click();
  await expect(lobbyRow(a.page, room)).toContainText('written offline, then left');
  await expect(lobbyRow(a.page, room)).not.toContainText('not sent yet');
});

test('CATCH-7: a reaction removed offline reaches the others through the lobby, without opening the room', async ({
  openUser,
  room,
}) => {
  const [a, b] = await aliceAndBobIn(openUser, room);
  await b.send('react to me');
  await a.message('react to me').getByRole('button', { name: 'React', exact: true }).click();
  await a.message('react to me').getByRole('button', { name: 'React with 👍' }).click();
  await expect(b.message('react to me').getByRole('button', { name: /👍 1/ })).toBeVisible();
  await a.context.setOffline(true);
  await expect(a.connection()).toContainText('Offline');
  // Un-reacting only deletes: nothing new for a state vector to show.
  await a.message('react to me').getByRole('button', { name: /👍 1/ }).click();
  await expect(a.message('react to me').getByRole('button', { name: /👍/ })).toHaveCount(0);
  await a.page.getByRole('link', { name: 'Rooms', exact: true }).click();
  await expect(lobbyRow(a.page, room)).toBeVisible();
  await a.context.setOffline(false);
  await expect(b.message('react to me').getByRole('button', { name: /👍/ })).toHaveCount(0, { timeout: 20_000 });
});

/**
 * LOBBY-2: the lobby summary of `room` persisted in the page's real IndexedDB (the `rooms`
 * record's meta), read over a connection of its own; with `unread`, first rewritten to claim that
 * many unread messages (same counters: a record that still matches the stored rows).
 */
const lobbyRecord = (page: Page, room: string, unread?: number): Promise<{ unread: number } | null> =>
  page.evaluate(
    async ({ room, unread }) => {
      interface RoomRecord {
        readonly meta: { readonly lobby?: string };
      }
      interface Db {
        transaction(
          store: string,
          mode: string,
        ): {
          objectStore(name: string): {
            get(k: string): IdbRequest<RoomRecord | undefined>;
            put(v: unknown): IdbRequest<unknown>;
          };
        };
        close(): void;
      }
      const settled = <T>(r: IdbRequest<T>): Promise<T> =>
        new Promise((resolve, reject) => {
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
        });
      const idb = (globalThis as unknown as { indexedDB: { open(name: string): IdbRequest<Db> } }).indexedDB;
      const db = await settled(idb.open('converge'));
      try {
        const rooms = db.transaction('rooms', unread === undefined ? 'readonly' : 'readwrite').objectStore('rooms');
        const record = await settled(rooms.get(room));
        if (record?.meta.lobby === undefined) return null;
        const parsed = JSON.parse(record.meta.lobby) as { summary: { unread: number } };
        if (unread === undefined) return { unread: parsed.summary.unread };
        const lobby = JSON.stringify({ ...parsed, summary: { ...parsed.summary, unread } });
        await settled(rooms.put({ ...record, meta: { ...record.meta, lobby } }));
        return { unread };
      } finally {
        db.close();
      }
    },
    { room, unread },
  );

test('LOBBY-2: after a reload the lobby shows the summary kept in IndexedDB without replaying the room; reading it recounts', async ({
  openUser,
  room,
}) => {
  const { a, row } = await awayWhileBobSends(openUser, room, ['Bob 1', 'Bob 2']);
  // The summary the lobby counted (or advanced, LOBBY-1) is written to the room's record.
  await expect.poll(() => lobbyRecord(a.page, room)).toEqual({ unread: 2 });

  // A record that claims 3 (Alice's own message too; the stored rows unchanged): what the
  // reloaded lobby shows can only come from the record, never from a replay of the room.
  await lobbyRecord(a.page, room, 3);
  await a.page.reload();
  await expect(row).toContainText('3 unread');

  // Reading the room moves the last-read message: the record no longer matches and the room is
  // counted again, and the new count is kept.
  await row.getByRole('link', { name: room }).click();
  await expect(a.message('Bob 2')).toBeVisible();
  await a.page.getByRole('link', { name: 'Rooms' }).click();
  await expect(row).toContainText('Bob: Bob 2');
  await expect(row).not.toContainText('unread');
  await expect.poll(() => lobbyRecord(a.page, room)).toEqual({ unread: 0 });
  await a.page.reload();
  await expect(row).toContainText('Bob: Bob 2');
  await expect(row).not.toContainText('unread');
});

test('LOBBY-5: the room list stays put when the lobby starts and ends checking the rooms', async ({
  openUser,
  relay,
  room,
}) => {
  const u = await openUser('Still');
  await u.gotoRoom(room);
  await u.send('hello');
  await expect(u.message('hello')).toContainText(/Saved|Seen/);
  // The lobby's check of the room waits on a socket the test holds, and fails once it is closed.
  let hold = true;
  const held: WebSocketRoute[] = [];
  await u.context.routeWebSocket(/\/sync\//, (ws) => {
    if (hold) held.push(ws);
    else ws.connectToServer();
  });
  await u.page.goto(`${relay.url}/`);
  const checking = u.page.getByText('Checking your rooms for new messages…');
  const link = u.page.getByRole('link', { name: room, exact: true });
  await expect(checking).toBeVisible();
  const top = async (): Promise<number> => (await link.boundingBox())!.y;
  await expect.poll(() => held.length).toBeGreaterThan(0);
  const whileChecking = await top();
  hold = false;
  for (const ws of held) await ws.close({ code: 4000, reason: 'released by the test' });
  await expect(checking).toBeHidden({ timeout: 20_000 });
  expect(await top()).toBe(whileChecking);
});

test("REMOVE-1: a room removed from the device leaves the lobby and its store (after this lobby's own check of it), nothing fetches it again, and it comes back whole when joined again", async ({
  openUser,
  relay,
  room,
}) => {
  const a = await openUser('Alice');
  const b = await openUser('Bob');
  const other = `${room}-other`;
  // `other` first: `room`, opened last, comes first in a refresh round.
  await a.gotoRoom(other);
  await a.gotoRoom(room);
  await a.send('kept on the relay');
  await expect(a.message('kept on the relay')).toContainText(/Saved|Seen/);
  await expect.poll(() => ui.storedOnDevice(a.page, room, 'kept on the relay')).toBe(true);

  // The lobby's check of `room` waits on a socket the test holds: its round is visiting the room.
  let hold = true;
  const held: WebSocketRoute[] = [];
  const visited: string[] = [];
  await a.context.routeWebSocket(/\/sync\//, (ws) => {
    const path = new URL(ws.url()).pathname;
    visited.push(path);
    if (hold && path === `/sync/${room}`) held.push(ws);
    else ws.connectToServer();
  });
  await a.page.goto(`${relay.url}/`);
  await expect.poll(() => held.length).toBeGreaterThan(0);

  const row = lobbyRow(a.page, room);
  const remove = row.getByRole('button', { name: `Remove ${room} from this device` });
  const question = a.page.getByRole('group', { name: `Remove ${room} from this device?` });
  // Asked first; Escape (or Cancel) keeps it, the focus back on Remove.
  await remove.click();
  await expect(question).toContainText(
    'Everyone else in it, and your other devices, keep it; joining it again brings its messages back from the relay.',
  );
  await expect(question.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await a.page.keyboard.press('Escape');
  await expect(question).toHaveCount(0);
  await expect(remove).toBeFocused();

  // Confirmed while this lobby's own check holds the room: the removal waits for that visit,
  // neither refused nor deleting under it.
  await remove.click();
  await question.getByRole('button', { name: 'Remove from this device' }).click();
  await expect(a.page.getByText('Checking your rooms for new messages…')).toBeVisible();
  await expect(row).toBeVisible();
  await expect(question.getByRole('alert')).toHaveCount(0);
  hold = false;
  for (const ws of held) await ws.close({ code: 4000, reason: 'released by the test' });
  await expect(row).toHaveCount(0, { timeout: 20_000 });
  await expect(a.page.getByRole('status').filter({ hasText: `${room} was removed from this device.` })).toHaveCount(1);
  await expect(a.page.getByRole('heading', { name: 'Your rooms' })).toBeFocused();
  expect(await ui.storedOnDevice(a.page, room, 'kept on the relay')).toBe(false);
  await expect(lobbyRow(a.page, other)).toBeVisible();

  // Bob writes in both. Alice's lobby starts again (a round at once): it counts `other`, and
  // nothing fetches the removed room.
  await b.gotoRoom(room);
  await b.send('while it was removed');
  await expect(b.message('while it was removed')).toContainText(/Saved|Seen/);
  await b.gotoRoom(other);
  await b.send('in the other room');
  await expect(b.message('in the other room')).toContainText(/Saved|Seen/);
  visited.length = 0;
  await a.page.goto(`${relay.url}/`);
  await expect(lobbyRow(a.page, other)).toContainText('1 unread', { timeout: 20_000 });
  await expect(lobbyRow(a.page, room)).toHaveCount(0);
  expect(visited).toContain(`/sync/${other}`);
  expect(visited).not.toContain(`/sync/${room}`);
  expect(await ui.storedOnDevice(a.page, room, 'while it was removed')).toBe(false);

  // Joined again: everything comes back from the relay, and the lobby lists it again.
  await a.page.getByLabel('Room name').fill(room);
  await a.page.getByRole('button', { name: 'Join room' }).click();
  await expect(a.message('kept on the relay')).toBeVisible();
  await expect(a.message('while it was removed')).toBeVisible();
  await a.page.getByRole('link', { name: 'Rooms', exact: true }).click();
  await expect(lobbyRow(a.page, room)).toContainText('while it was removed');
});

test('REMOVE-1: the question says what the room has not sent yet would be lost; a room open in another tab is not removed, and says why', async ({
  openUser,
  relay,
  room,
}) => {
  const a = await openUser('Alice');
  await a.gotoRoom(room);
  await a.send('saved one');
  await expect(a.message('saved one')).toContainText(/Saved|Seen/);
  const toggle = a.offlineToggle();
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await a.send('held back');
  await expect(a.message('held back')).toContainText('Pending');
  // The Lab panel open and a fault set in this tab: both go with the room.
  await lab.skew(a.page, -300, 'clock -5 min');

  // A second tab of Alice's has the room open; she tries to remove it in the lobby of the first.
  const tab = await a.newTab();
  await tab.goto(`${relay.url}/r/${room}`);
  await expect(ui.message(tab, 'held back')).toBeVisible();
  await a.page.getByRole('link', { name: 'Rooms', exact: true }).click();
  const row = lobbyRow(a.page, room);
  await row.getByRole('button', { name: `Remove ${room} from this device` }).click();
  const question = a.page.getByRole('group', { name: `Remove ${room} from this device?` });
  await expect(question).toContainText('What you wrote there that the relay does not have yet (1) would be lost.');
  const confirm = question.getByRole('button', { name: 'Remove from this device' });
  await confirm.click();
  await expect(question.getByRole('alert')).toHaveText(
    'Not removed: it is open in another tab of this browser: close the room there first.',
  );
  await expect(row).toBeVisible();
  expect(await ui.storedOnDevice(a.page, room, 'held back')).toBe(true);
  // What is written in that tab meanwhile is stored as before.
  await ui.send(tab, 'written in the other tab');
  await expect.poll(() => ui.storedOnDevice(tab, room, 'written in the other tab')).toBe(true);

  // That tab closed, the room is removed.
  await tab.close();
  await expect(async () => {
    await confirm.click();
    await expect(row).toHaveCount(0, { timeout: 1_000 });
  }).toPass();
  expect(await ui.storedOnDevice(a.page, room, 'held back')).toBe(false);

  // Joined again: a room joined anew (not switched off, as it was), what the relay has comes back;
  // what was held back was lost, as the question said.
  await a.page.getByLabel('Room name').fill(room);
  await a.page.getByRole('button', { name: 'Join room' }).click();
  await expect(a.offlineToggle()).toHaveAttribute('aria-pressed', 'false');
  await expect(a.message('saved one')).toBeVisible();
  await expect(a.message('held back')).toHaveCount(0);
  await expect(lab.toggle(a.page)).toHaveAttribute('aria-expanded', 'false');
  await expect(lab.banner(a.page)).toHaveCount(0);
});
