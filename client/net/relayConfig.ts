/**
 * The serving relay's `/config.json` (`RELAY_CONFIG_PATH`): NET-3's relay list and UP-2's
 * per-connection limits. It comes over the network: both are validated (`relayOrigins`,
 * `readPublishedLimits`), and anything else, a failed fetch included, reads as "none": the page's
 * own origin, uploads not paced. The limits last fetched are kept (`RelayConfigSource`, STRUCT-2).
 */
import { readPublishedLimits, RELAY_CONFIG_PATH, type PublishedLimits } from '../../shared/protocol.js';
import { relayOrigins } from './transport.js';

export interface RelayConfig {
  readonly relays: readonly string[];
  readonly limits: PublishedLimits | null;
}

export const NO_RELAY_CONFIG: RelayConfig = { relays: [], limits: null };

/** `json` (a parsed `/config.json`, untrusted) as a RelayConfig. */
export const readRelayConfig = (json: unknown): RelayConfig => {
  if (typeof json !== 'object' || json === null) return NO_RELAY_CONFIG;
  const { relays, limits } = json as { relays?: unknown; limits?: unknown };
  return { relays: relayOrigins(relays), limits: readPublishedLimits(limits) };
};

/** `origin`'s config, or null when it did not answer with one (offline, an error status, not JSON). */
const tryFetchRelayConfig = async (origin: string, fetchImpl: typeof fetch): Promise<RelayConfig | null> => {
  try {
    const res = await fetchImpl(origin + RELAY_CONFIG_PATH, { cache: 'no-store' });
    return res.ok ? readRelayConfig(await res.json()) : null;
  } catch {
    return null;
  }
};

/** Fetches `origin`'s config (`''` = the page's own); NO_RELAY_CONFIG on any failure. */
export const fetchRelayConfig = async (origin = '', fetchImpl: typeof fetch = fetch): Promise<RelayConfig> =>
  (await tryFetchRelayConfig(origin, fetchImpl)) ?? NO_RELAY_CONFIG;

/** STRUCT-2: where the last limits `relayOrigin` published are kept. */
export const limitsKey = (relayOrigin: string): string => `converge:relayLimits:${relayOrigin}`;

/**
 * STRUCT-2, STRUCT-3: one relay's config as this page knows it. Its limits are kept in `storage`
 * (localStorage) once fetched, so a page started offline, or whose fetch failed, still refuses
 * what that relay would refuse for good (STRUCT-1) and paces uploads (UP-2). What is read back
 * is validated like the fetched config (another version of the app may have written it). Only a
 * fetch that answers replaces them, with what it answers (none, for a relay that no longer
 * publishes limits); a failed one leaves them. The relay list (NET-3) is not kept: without it the
 * page's own origin is used, which always works.
 */
export class RelayConfigSource {
  private config: RelayConfig;
  private fetched = false;
  private inFlight: Promise<void> | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly storage: Storage,
    /** The relay's origin, for the storage key (e.g. `location.origin`). */
    private readonly relayOrigin: string,
    /** What `fetchRelayConfig` is given: `''` for the page's own origin. */
    private readonly fetchOrigin = '',
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  ) {
    this.config = { relays: [], limits: this.readStored() };
  }

  get current(): RelayConfig {
    return this.config;
  }

  /** True once a fetch answered: `current` is then the relay's own word. */
  get fresh(): boolean {
    return this.fetched;
  }

  /** Calls `changed` when the limits change; returns the unsubscribe. */
  subscribe(changed: () => void): () => void {
    this.listeners.add(changed);
    return () => {
      this.listeners.delete(changed);
    };
  }

  /** Fetches the config again (one fetch at a time: a call meanwhile gets the one in flight). */
  refresh(): Promise<void> {
    this.inFlight ??= tryFetchRelayConfig(this.fetchOrigin, this.fetchImpl)
      .then((answer) => {
        if (answer !== null) this.replace(answer);
      })
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  /**
   * Fetches the config once more after the fetch in flight, if any (STRUCT-3: the network came
   * back, and a fetch started before it would fail).
   */
  refreshAnew(): Promise<void> {
    const current = this.inFlight;
    return current === null ? this.refresh() : current.then(() => this.refresh());
  }

  /** Fetches the config unless a fetch already answered. */
  refreshUnlessFresh(): Promise<void> {
    return this.fetched ? Promise.resolve() : this.refresh();
  }

  private replace(answer: RelayConfig): void {
    this.fetched = true;
    const changed = JSON.stringify(answer.limits) !== JSON.stringify(this.config.limits);
    this.config = answer;
    try {
      if (answer.limits === null) this.storage.removeItem(limitsKey(this.relayOrigin));
      else this.storage.setItem(limitsKey(this.relayOrigin), JSON.stringify(answer.limits));
    } catch {
      // Full or refused: the limits then hold for this page only.
    }
    if (changed) for (const l of [...this.listeners]) l();
  }

  private readStored(): PublishedLimits | null {
    try {
      const raw = this.storage.getItem(limitsKey(this.relayOrigin));
      return raw === null ? null : readPublishedLimits(JSON.parse(raw));
    } catch {
      return null;
    }
  }
}
