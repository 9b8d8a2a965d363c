/**
 * The serving relay's `/config.json` (`RELAY_CONFIG_PATH`): NET-3's relay list and UP-2's
 * per-connection limits. It comes over the network: both are validated (`relayOrigins`,
 * `readPublishedLimits`), and anything else, a failed fetch included, reads as "none": the page's
 * own origin, uploads not paced.
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

/** Fetches `origin`'s config (`''` = the page's own); NO_RELAY_CONFIG on any failure. */
export const fetchRelayConfig = async (origin = '', fetchImpl: typeof fetch = fetch): Promise<RelayConfig> => {
  try {
    const res = await fetchImpl(origin + RELAY_CONFIG_PATH, { cache: 'no-store' });
    return res.ok ? readRelayConfig(await res.json()) : NO_RELAY_CONFIG;
  } catch {
    return NO_RELAY_CONFIG;
  }
};
