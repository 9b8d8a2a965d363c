/**
 * LAB-14: this browser tab's id, the same across the tab's reloads and another in each other live
 * tab of the profile. A class view tells a reload of a partitioned tab (it replaces that tab's row)
 * from a new tab opened beside it (both are listed).
 *
 * The id is kept in sessionStorage, which a reload keeps. But the browser copies sessionStorage
 * into a duplicated tab (Chrome's "Duplicate tab") and into a window opened without `noopener`, so
 * a kept id may be another live tab's. A page with a kept id therefore claims it on a channel every
 * tab of the profile listens on: a live tab holding (or itself claiming) that id answers, and then
 * the page takes a fresh id and keeps that one. No answer by the deadline: the id is this tab's.
 *
 * Invariants:
 * - A reload keeps the id: the old page is unloaded (pagehide: `hide()`) before the new one runs
 *   scripts (so in Chromium; a hidden page answers nothing should the old one still get the claim). A page restored from the back-forward cache is the
 *   same tab: it keeps its id without claiming it again and answers again (`show()`).
 * - Two pages that claim one id at the same time both answer each other and both take a fresh id:
 *   never both keep it. A page whose claim went out before the other page listened answers the
 *   other's claim and keeps the id.
 * - `id` resolves once and never changes after: a session publishes it only then (so a class view
 *   never sees a copied id, which would replace the other tab's row). An answer later than the
 *   deadline (a holder too busy to answer in time) is not acted on: both tabs then share the id, as
 *   they all did before the claim existed. So does a copy claimed while the holder sat hidden in the
 *   back-forward cache (its tab showing another page), once the holder is restored.
 * - Without a channel (no BroadcastChannel) the kept id is used as it is; without sessionStorage
 *   every page load is a tab of its own (a fresh id, nothing to claim).
 */

export const TAB_ID_KEY = 'converge:lab-tab';
/** The BroadcastChannel every tab of the profile claims and answers on. */
export const TAB_ID_CHANNEL = 'converge-lab-tab';

/**
 * How long a claim waits for a holder's answer. A live tab answers within milliseconds (a message
 * each way between tabs of one profile); the rest covers a holder busy for a moment. The wait only
 * holds back the session's first Lab publication (LAB-7 publishes at most once a second anyway).
 */
export const TAB_ID_CLAIM_MS = 500;

const VALID_ID = /^[0-9a-f]{16}$/;

/** What is needed of a BroadcastChannel. */
export interface TabIdChannel {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
}

export interface TabIdOptions {
  /** sessionStorage; null when the browser refuses it. Calls that throw count as refused. */
  readonly storage: Pick<Storage, 'getItem' | 'setItem'> | null;
  /** The profile's tab-id channel (`TAB_ID_CHANNEL`); null without BroadcastChannel. */
  readonly channel: TabIdChannel | null;
  /** A fresh id: 16 hex digits (random: never another tab's). */
  readonly fresh: () => string;
  /** Called when a claim starts; resolves when the wait for a holder's answer ends. */
  readonly deadline: () => Promise<void>;
}

type Message = { readonly claim: string } | { readonly held: string };

const parse = (data: unknown): Message | null => {
  if (typeof data !== 'object' || data === null) return null;
  const m = data as Record<string, unknown>;
  if (typeof m.claim === 'string') return { claim: m.claim };
  if (typeof m.held === 'string') return { held: m.held };
  return null;
};

export class TabId {
  /** This tab's id, once no other live tab holds it. Never rejects. */
  readonly id: Promise<string>;
  /** The id this page claims or holds: answered for. */
  private current: string;
  private claiming = false;
  private hidden = false;
  private settle: (id: string) => void = () => undefined;

  constructor(private readonly opts: TabIdOptions) {
    const kept = this.read();
    this.id = new Promise((resolve) => (this.settle = resolve));
    if (kept === null) {
      this.current = this.takeFresh();
      this.settle(this.current);
    } else {
      this.current = kept;
      if (opts.channel === null) this.settle(kept);
    }
    const channel = opts.channel;
    if (channel === null) return;
    channel.addEventListener('message', (e) => this.receive(channel, parse(e.data)));
    if (kept === null) return;
    this.claiming = true;
    channel.postMessage({ claim: kept } satisfies Message);
    void opts.deadline().then(() => this.end());
  }

  /** pagehide: the page is going away (a reload, another page, the back-forward cache): it answers nothing. */
  hide(): void {
    this.hidden = true;
  }

  /** pageshow from the back-forward cache: the same tab, back with its id. */
  show(): void {
    this.hidden = false;
  }

  private receive(channel: TabIdChannel, m: Message | null): void {
    if (m === null || this.hidden) return;
    if ('claim' in m) {
      if (m.claim === this.current) channel.postMessage({ held: this.current } satisfies Message);
    } else if (this.claiming && m.held === this.current) {
      // Another live tab has it (this page's sessionStorage is a copy of that tab's).
      this.current = this.takeFresh();
      this.end();
    }
  }

  private end(): void {
    if (!this.claiming) return;
    this.claiming = false;
    this.settle(this.current);
  }

  private read(): string | null {
    try {
      const kept = this.opts.storage?.getItem(TAB_ID_KEY) ?? null;
      return kept !== null && VALID_ID.test(kept) ? kept : null;
    } catch {
      return null;
    }
  }

  /** A fresh id, kept for this tab's reloads when sessionStorage takes it. */
  private takeFresh(): string {
    const id = this.opts.fresh();
    try {
      this.opts.storage?.setItem(TAB_ID_KEY, id);
    } catch {
      // Refused or full: this page load still has an id of its own; a reload gets another.
    }
    return id;
  }
}
