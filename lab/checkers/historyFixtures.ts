/**
 * Builders for crafted histories in the lab's tests (checkers, SLIs, report): short, readable
 * ids ('m1', 'c0') so a failing test's evidence reads like the docs.
 */
import type { FinalMessage, FinalReplica, History, HistoryEvent } from '../history.js';
import { HISTORY_VERSION } from '../history.js';

/** A displayed message; `at` is its wall clock and HLC wall unless `hlcWall` says otherwise. */
export const fm = (
  id: string,
  at: number,
  opts: { replyTo?: string; hlcWall?: number; author?: string; after?: string } = {},
): FinalMessage => ({
  id,
  hlc: { wall: opts.hlcWall ?? at, counter: 0, node: 'n' },
  wall: at,
  authorId: opts.author ?? 'a0',
  replyTo: opts.replyTo ?? null,
  after: opts.after ?? null,
});

export const replica = (
  client: string,
  displayed: readonly FinalMessage[],
  opts: { hash?: string; sv?: Record<string, number> } = {},
): FinalReplica => ({
  client,
  displayed,
  contentHash: opts.hash ?? 'h0',
  stateVector: opts.sv ?? { '1': displayed.length },
});

/** A history of `clients` ('c0'...) with the given events and final replicas (null: no final read). */
export const history = (
  clients: readonly string[],
  events: readonly HistoryEvent[],
  replicas: readonly FinalReplica[] | null,
  slo: History['scenario']['slo'] = null,
): History => ({
  version: HISTORY_VERSION,
  scenario: { name: 'crafted', file: null, slo },
  seed: 1,
  options: {},
  clients: clients.map((id) => ({ id, authorId: `a${id}`, name: id })),
  startedAt: '2026-01-01T00:00:00.000Z',
  events,
  final: replicas === null ? null : { t: events.at(-1)?.t ?? 0, replicas },
});

/** A `send` event; the HLC wall is `wall` unless given. */
export const send = (
  t: number,
  client: string,
  msgId: string,
  opts: { replyTo?: string; wall?: number; hlcWall?: number; text?: string } = {},
): HistoryEvent => ({
  t,
  kind: 'send',
  client,
  msgId,
  replyTo: opts.replyTo ?? null,
  wall: opts.wall ?? t,
  hlc: { wall: opts.hlcWall ?? opts.wall ?? t, counter: 0, node: client },
  text: opts.text ?? `text of ${msgId}`,
});
