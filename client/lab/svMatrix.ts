/**
 * LAB-UI-7: the class view's state vectors aligned in columns. Each participant publishes only a
 * summary of its state vector (LAB-7, `summariseStateVector` in ../sync/labHooks.ts):
 *
 *     "3f2a:12 b1c4:7 +3"   its 6 largest clocks, Yjs client ids as their last 4 hex digits,
 *                           then how many entries were left out
 *
 * Each summary is sorted by its own clocks, so the same client sits in different places in
 * different rows. The matrix gives every client named by a counted participant (LAB-UI-1) one
 * column, ordered by the largest clock a counted participant published for it, then id, and
 * gives every participant one cell per column: the clock it published for that client and how far
 * that is below the column's largest. A client a complete summary does not name is 0 (the
 * replica holds nothing from it). One a summary with entries left out does not name is not 0: it
 * may be among the entries left out, whose clocks are at most the smallest clock the summary
 * names (it names the largest). Its cell says "at most that, so behind by at least max − that"
 * when the column's largest is above it, else unknown.
 *
 * A column names the participants writing with that client: a session's awareness client id is its
 * document's Yjs client id (y-protocols' Awareness takes `doc.clientID`), so a participant owns the
 * column of its own id. A column no participant owns is a tab that is not here now (closed, or
 * reloaded: a reload gets a new client id), or one that publishes no lab state.
 *
 * The summary is untrusted (LAB-UI-2): a token that does not parse is ignored; nothing here throws.
 */
import { shortClientId } from '../sync/labHooks.js';
import { MAX_SV_SUMMARY } from './labPresence.js';

/** Columns shown; the clients with the smallest clocks beyond it are only counted. */
export const MAX_SV_COLUMNS = 8;

export interface SvSummaryInput {
  readonly svSummary: string;
  /** Counts for the verdict (LAB-UI-1): only counted participants make columns and maxima. */
  readonly counted: boolean;
  /** Its awareness client id, which is its document's Yjs client id. */
  readonly clientId: number;
  readonly name: string;
}

export interface SvColumn {
  /** The Yjs client id's last 4 hex digits, as published. */
  readonly client: string;
  /** The largest clock a counted participant published for this client. */
  readonly max: number;
  /** The names of the participants (counted or not) whose client id ends so, in participant order. */
  readonly owners: readonly string[];
}

/**
 * `exact`: the clock published, `behind` the column's largest minus it. Not exact: left out of
 * a summary, which bounds it: at most `clock`, behind by at least `behind`. null: unknown.
 */
export type SvCell = { readonly clock: number; readonly behind: number; readonly exact: boolean } | null;

export interface SvMatrix {
  readonly columns: readonly SvColumn[];
  /** Clients named by counted participants that got no column (beyond `MAX_SV_COLUMNS`). */
  readonly hidden: number;
  /** One row per participant, in the order given; one cell per column. */
  readonly rows: readonly (readonly SvCell[])[];
}

export interface ParsedSvSummary {
  readonly clocks: ReadonlyMap<string, number>;
  /** It names every entry of the state vector: a client it does not name has clock 0. */
  readonly complete: boolean;
  /**
   * Not complete: the largest clock a client it does not name can have (the smallest it names,
   * the publisher naming the largest); null when a token not ours to read leaves that open.
   */
  readonly bound: number | null;
}

const ENTRY = /^([0-9a-f]{4}):(\d{1,16})$/;
const LEFT_OUT = /^\+\d{1,16}$/;

export const parseSvSummary = (summary: string): ParsedSvSummary => {
  const clocks = new Map<string, number>();
  const tokens = summary.split(/\s+/).filter((token) => token !== '');
  // A summary cut at LAB-UI-2's limit may have lost entries, and its last token may be cut short.
  const cut = summary.length >= MAX_SV_SUMMARY;
  if (cut) tokens.pop();
  let complete = !cut;
  let readable = true;
  let smallest = Infinity;
  for (const token of tokens) {
    const m = ENTRY.exec(token);
    const clock = m ? Number(m[2]) : NaN;
    if (m && Number.isSafeInteger(clock)) {
      // Two clients can share their last 4 hex digits; their column shows the larger clock.
      clocks.set(m[1]!, Math.max(clock, clocks.get(m[1]!) ?? 0));
      smallest = Math.min(smallest, clock);
    } else {
      // "+n": entries left out; anything else is not ours to read, and may hide entries too.
      complete = false;
      if (!LEFT_OUT.test(token)) readable = false;
    }
  }
  return { clocks, complete, bound: complete || !readable || smallest === Infinity ? null : smallest };
};

export const svMatrix = (participants: readonly SvSummaryInput[], maxColumns = MAX_SV_COLUMNS): SvMatrix => {
  const parsed = participants.map((p) => parseSvSummary(p.svSummary));
  const maxima = new Map<string, number>();
  participants.forEach((p, i) => {
    if (!p.counted) return;
    for (const [client, clock] of parsed[i]!.clocks) maxima.set(client, Math.max(clock, maxima.get(client) ?? 0));
  });
  const all = [...maxima]
    .map(([client, max]) => ({
      client,
      max,
      owners: participants.filter((p) => shortClientId(p.clientId) === client).map((p) => p.name),
    }))
    .sort((a, b) => b.max - a.max || (a.client < b.client ? -1 : 1));
  const columns: SvColumn[] = all.slice(0, maxColumns);
  const rows = parsed.map(({ clocks, complete, bound }) =>
    columns.map(({ client, max }): SvCell => {
      const clock = clocks.get(client) ?? (complete ? 0 : undefined);
      if (clock !== undefined) return { clock, behind: Math.max(0, max - clock), exact: true };
      return bound !== null && max > bound ? { clock: bound, behind: max - bound, exact: false } : null;
    }),
  );
  return { columns, hidden: all.length - columns.length, rows };
};

/** Same cells: a row whose participant and cells did not change need not re-render. */
export const sameSvRow = (a: readonly SvCell[], b: readonly SvCell[]): boolean =>
  a === b ||
  (a.length === b.length &&
    a.every((c, i) => {
      const d = b[i]!;
      return c === null || d === null ? c === d : c.clock === d.clock && c.behind === d.behind && c.exact === d.exact;
    }));
