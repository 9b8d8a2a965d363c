/**
 * Browser entry for the e2e tests, bundled by esbuild in e2e/fixtures.ts and injected into a
 * page: the STOCK y-websocket `WebsocketProvider`, constructed with no options, against the
 * relay. It exposes `startClient(url, room)` and, once called, `stockClient` on the page's
 * global object for the tests to drive through `page.evaluate`.
 */
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';

export interface StockClient {
  /** Appends `text` to the shared Y.Text `t`. */
  append(text: string): void;
  text(): string;
  /** `provider.wsconnected` and `provider.synced`, as the stock client sees them. */
  status(): { connected: boolean; synced: boolean };
  /** The stock provider's own offline switch (closes the socket, stops reconnecting). */
  disconnect(): void;
  connect(): void;
}

/** What this bundle adds to the page's global object. */
export interface StockClientGlobals {
  startClient(url: string, room: string): void;
  stockClient?: StockClient;
}

const g = globalThis as unknown as StockClientGlobals;

g.startClient = (url: string, room: string): void => {
  if (g.stockClient) throw new Error('startClient: this page already has a client');
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(url, room, doc);
  const ytext = doc.getText('t');
  g.stockClient = {
    append: (text) => ytext.insert(ytext.length, text),
    text: () => ytext.toJSON(),
    status: () => ({ connected: provider.wsconnected, synced: provider.synced }),
    disconnect: () => provider.disconnect(),
    connect: () => provider.connect(),
  };
};
