/**
 * Helpers for the lab's e2e tests (e2e/lab.spec.ts): the Lab panel's controls by their labels,
 * the class view's parts, and simulated lab participants (a real stock provider per participant,
 * in this Node process, publishing a `lab` awareness state like the app does) for the
 * 30-participant class view check.
 */
import type { Locator, Page } from '@playwright/test';
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import { WebsocketProvider } from 'y-websocket';
import WebSocket from 'ws';
import { MessageType } from '../shared/protocol.js';
import { expect } from './appFixtures.js';

export const lab = {
  toggle: (page: Page): Locator => page.getByRole('button', { name: 'Lab', exact: true }),
  panel: (page: Page): Locator => page.getByRole('complementary', { name: 'Lab' }),
  open: async (page: Page): Promise<Locator> => {
    await lab.toggle(page).click();
    await expect(lab.toggle(page)).toHaveAttribute('aria-expanded', 'true');
    return lab.panel(page);
  },
  /** Opens the panel and applies a clock skew of `seconds`; resolves once the banner says `shown` ("clock -5 min"). */
  skew: async (page: Page, seconds: number, shown: string): Promise<void> => {
    await lab.open(page);
    await lab.field(page, 'Clock skew').fill(String(seconds));
    await lab.apply(page).click();
    await expect(lab.banner(page)).toContainText(shown);
  },
  partition: (page: Page): Locator => page.getByLabel(/^Partition:/),
  banner: (page: Page): Locator => page.getByTestId('lab-fault-banner'),
  field: (page: Page, label: string): Locator => lab.panel(page).getByLabel(label, { exact: false }),
  apply: (page: Page): Locator => page.getByRole('button', { name: 'Apply faults' }),
  /** The texts of one order column ("By HLC", "By sender wall clock", "By arrival here"). */
  order: (page: Page, title: RegExp): Locator =>
    lab.panel(page).getByRole('list', { name: title }).getByRole('listitem'),
  hash: (page: Page): Locator => page.getByTestId('lab-hash'),
  /** LAB-UI-5: the space-time diagram's SVG. */
  spaceTime: (page: Page): Locator => lab.panel(page).getByRole('img', { name: /^Space-time diagram/ }),
};

export type Box = { x: number; y: number; width: number; height: number };

/**
 * The rendered boxes of every element `locator` matches, measured together in one task of the
 * page, so they are one picture: the space-time diagram moves as time passes (it is redrawn each
 * second), and boxes measured one by one could come from two different drawings.
 */
export const boxesOf = (locator: Locator): Promise<Box[]> =>
  locator.evaluateAll((els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    }),
  );

export const intersect = (a: Box, b: Box): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

export const classView = {
  verdict: (page: Page): Locator => page.getByTestId('verdict'),
  /** The convergence chart (its aria-label gives each verdict's share of the time shown). */
  chart: (page: Page): Locator => page.getByRole('img', { name: /^(Of the time shown|Nothing recorded yet)/ }),
  table: (page: Page): Locator => page.getByRole('table'),
  row: (page: Page, name: string): Locator =>
    page.getByRole('row').filter({ has: page.getByRole('rowheader', { name }) }),
  rows: (page: Page): Locator => page.getByRole('table').getByRole('rowheader'),
  /** One participant's state-vector cells (LAB-UI-7): a clock per column, then the total. */
  svClocks: (page: Page, name: string): Locator => classView.row(page, name).locator('td.sv-clock'),
};

export interface SimulatedParticipant {
  setHash(hash: string): void;
  destroy(): void;
}

/**
 * `n` simulated lab participants in `room`, all with the same content (hash 0000abcd) and the same
 * state-vector summary (LAB-7: `svSummary`, one client "abcd" unless given).
 */
export const simulateParticipants = (
  wsUrl: string,
  room: string,
  n: number,
  svSummary = 'abcd:12',
): SimulatedParticipant[] => {
  const svTotal = svSummary.split(' ').reduce((sum, token) => sum + Number(token.split(':')[1]), 0);
  // Each stock provider in Node adds a process 'exit' listener (to announce leaving).
  process.setMaxListeners(process.getMaxListeners() + n);
  return Array.from({ length: n }, (_, i) => {
    const doc = new Y.Doc();
    const awareness = new awarenessProtocol.Awareness(doc);
    const id = `sim${String(i).padStart(23, '0')}`;
    const labState = (hash: string): unknown => ({
      faults: { partitioned: false },
      svSummary,
      svTotal,
      hash,
      pending: 0,
      at: Date.now(),
    });
    awareness.setLocalState({
      user: { id, name: `Sim ${String(i + 1).padStart(2, '0')}` },
      typing: false,
      sv: [],
      lab: labState('0000abcd'),
    });
    const provider = new WebsocketProvider(wsUrl, room, doc, {
      awareness,
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
    });
    // The relay's ack frames are not the stock provider's business (it would log them as unknown).
    provider.messageHandlers[MessageType.Ack] = () => undefined;
    return {
      setHash: (hash) => awareness.setLocalStateField('lab', labState(hash)),
      destroy: () => {
        provider.destroy();
        awareness.destroy();
        doc.destroy();
        process.setMaxListeners(process.getMaxListeners() - 1);
      },
    };
  });
};
