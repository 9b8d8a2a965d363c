/**
 * LAB-14: tabs of one profile in one process, each with its own sessionStorage (a MemoryStorage;
 * a duplicated tab gets a copy) and its own BroadcastChannel object on a channel name of the test's
 * (Node's BroadcastChannel, as a browser's: a message reaches every other object of the name).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage } from './memoryStorage.js';
import { TAB_ID_KEY, TabId } from './tabId.js';

const opened: BroadcastChannel[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

let names = 0;
/** A never-ending wait: the claim then ends only on an answer. */
const never = (): Promise<void> => new Promise<void>(() => undefined);

/** A profile: its tabs share a channel name; ids are handed out in order (0…01, 0…02, …). */
const profile = () => {
  const name = `converge-lab-tab-test-${process.pid}-${names++}`;
  let made = 0;
  const channel = (): BroadcastChannel => {
    const c = new BroadcastChannel(name);
    opened.push(c);
    return c;
  };
  /** A page of a tab with `storage` as its sessionStorage, on `ch` (null: no BroadcastChannel). */
  const tab = (storage: MemoryStorage | null, ch: BroadcastChannel | null, deadline = never): TabId =>
    new TabId({ storage, channel: ch, fresh: () => (++made).toString(16).padStart(16, '0'), deadline });
  return { channel, tab };
};

/** sessionStorage as the browser copies it into a duplicated tab or a window opened without noopener. */
const copyOf = (s: MemoryStorage): MemoryStorage => {
  const c = new MemoryStorage();
  for (let i = 0; i < s.length; i++) c.setItem(s.key(i)!, s.getItem(s.key(i)!)!);
  return c;
};

/**
 * A deadline that ends once the page on `old` has handled every claim made on `fresh`: a listener
 * added after the page's own posts a ping past any answer of the page's (one sender's messages
 * arrive in order), and the deadline ends when that ping reaches `fresh`. A claim then ends by its
 * deadline only when the page did not answer, never because the answer was slow.
 */
let pings = 0;
const afterAnswersOf = (old: BroadcastChannel, fresh: BroadcastChannel): (() => Promise<void>) => {
  // Its own ping: another page's would say nothing of this one's answers.
  const ping = `ping ${pings++}`;
  old.addEventListener('message', (e: MessageEvent) => {
    if (typeof e.data === 'object' && e.data !== null && 'claim' in e.data) old.postMessage(ping);
  });
  const pinged = new Promise<void>((resolve) =>
    fresh.addEventListener('message', (e: MessageEvent) => {
      if (e.data === ping) resolve();
    }),
  );
  return () => pinged;
};

describe("LAB-14: a tab's id is kept across its reloads and is another live tab's never", () => {
  it('LAB-14 a duplicated tab (a copy of its sessionStorage) takes a fresh id and keeps it; the original keeps its own', async () => {
    const { channel, tab } = profile();
    const first = new MemoryStorage();
    const [c1, c2] = [channel(), channel()];
    const a = await tab(first, c1).id;
    const copy = copyOf(first);
    expect(copy.getItem(TAB_ID_KEY)).toBe(a);
    const b = await tab(copy, c2, afterAnswersOf(c1, c2)).id;
    expect(b).not.toBe(a);
    expect(copy.getItem(TAB_ID_KEY)).toBe(b);
    expect(first.getItem(TAB_ID_KEY)).toBe(a);
  });

  it('LAB-14 a duplicate of the duplicate differs from both (each live tab answers for its own id)', async () => {
    const { channel, tab } = profile();
    const [c1, c2, c3] = [channel(), channel(), channel()];
    const first = new MemoryStorage();
    const a = await tab(first, c1).id;
    const second = copyOf(first);
    const b = await tab(second, c2, afterAnswersOf(c1, c2)).id;
    const c = await tab(copyOf(second), c3, afterAnswersOf(c2, c3)).id;
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it('LAB-14 a reload keeps the id: the old page, hidden (pagehide) but not yet gone, does not answer', async () => {
    const { channel, tab } = profile();
    const storage = new MemoryStorage();
    const [c1, c2] = [channel(), channel()];
    const old = tab(storage, c1);
    const id = await old.id;
    old.hide();
    const reloaded = await tab(storage, c2, afterAnswersOf(c1, c2)).id;
    expect(reloaded).toBe(id);
    expect(storage.getItem(TAB_ID_KEY)).toBe(id);
  });

  it('LAB-14 a page back from the back-forward cache is the same tab: it answers for its id again', async () => {
    const { channel, tab } = profile();
    const first = new MemoryStorage();
    const [c1, c2] = [channel(), channel()];
    const page = tab(first, c1);
    const a = await page.id;
    page.hide();
    page.show();
    const b = await tab(copyOf(first), c2, afterAnswersOf(c1, c2)).id;
    expect(b).not.toBe(a);
  });

  it('LAB-14 two copies claiming the same id at once both take fresh ones: neither keeps it, and they differ', async () => {
    const { channel, tab } = profile();
    const storage = new MemoryStorage();
    storage.setItem(TAB_ID_KEY, 'aaaaaaaaaaaaaaaa');
    // Both listen before either claims (a window opened while its opener was claiming). No deadline:
    // copies that ignored each other would wait for good (the test times out).
    const [c1, c2] = [channel(), channel()];
    const [x, y] = await Promise.all([tab(copyOf(storage), c1).id, tab(copyOf(storage), c2).id]);
    expect(new Set(['aaaaaaaaaaaaaaaa', x, y]).size).toBe(3);
  });

  it('LAB-14 without BroadcastChannel the kept id is used as it is (as before claims existed)', async () => {
    const { tab } = profile();
    const storage = new MemoryStorage();
    storage.setItem(TAB_ID_KEY, '0123456789abcdef');
    expect(await tab(storage, null).id).toBe('0123456789abcdef');
    expect(storage.getItem(TAB_ID_KEY)).toBe('0123456789abcdef');
  });
});
