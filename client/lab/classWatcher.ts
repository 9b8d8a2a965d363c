/// <reference lib="dom" />
/**
 * The class view's connection to a room: it only watches the room's awareness states.
 *
 * LAB-UI-4: the class view is not a participant. It publishes no awareness state at all (local
 * state null: no name, no typing, no `sv`, so it never marks anything "seen"), keeps no document
 * (sync frames are ignored: it neither stores nor shows the room's content, and answers nothing),
 * and does not join other tabs over BroadcastChannel. It connects as an awareness-only observer
 * (WATCH-1, `?mode=awareness`), so the relay does not send it the room it would ignore. It reconnects through the
 * stock provider and the jittered transport (NET-1), as the app does, but with shorter waits (LAB-UI-12).
 */
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import { WebsocketProvider } from 'y-websocket';
import { ConnectionMode, MessageType } from '../../shared/protocol.js';
import { Transport } from '../net/transport.js';
import { keepPresenceAcrossReconnects } from '../sync/awarenessClocks.js';

/**
 * LAB-UI-12: the view's reconnect waits. The app's (a 10 s backoff plus up to 8 s of NET-1 jitter)
 * kept a projector on "view not connected" for up to 18 s after its relay came back. Here an
 * attempt waits at most WATCHER_MAX_BACKOFF_MS + WATCHER_JITTER_MAX_MS: back within about 2 s. A
 * steady retry waits at least WATCHER_MAX_BACKOFF_MS, so one view makes at most about 60 attempts a
 * minute while its relay refuses it (one that is down takes none: the TCP connection fails):
 * a twentieth of MAX_UPGRADES_PER_IP_PER_MINUTE's default 1200, so a view alone cannot get its
 * address refused (CLOSE-7). The jitter stays: many views (every student can open one) still
 * spread out after a relay restart.
 */
export const WATCHER_MAX_BACKOFF_MS = 1000;
export const WATCHER_JITTER_BASE_MS = 250;
export const WATCHER_JITTER_MAX_MS = 1000;

export class ClassWatcher {
  private readonly doc = new Y.Doc();
  private readonly awareness: awarenessProtocol.Awareness;
  private readonly provider: WebsocketProvider;
  private readonly stopKeepingPresence: () => void;
  private readonly listeners = new Set<() => void>();
  /** Every present state as of the last change event, so a removed one's last state is known. */
  private readonly mirror = new Map<number, unknown>();
  private departed = new Map<number, unknown>();
  /**
   * LAB-UI-17: the relay answered this socket's SyncStep1. It sends the room's states on join,
   * before that answer (one socket, in order): until then an open socket has no states yet, and
   * everyone missing from them would be taken for offline.
   */
  private joined = false;

  constructor(room: string, relayUrl: string, WebSocketImpl?: typeof WebSocket) {
    this.awareness = new awarenessProtocol.Awareness(this.doc);
    this.awareness.setLocalState(null);
    const transport = new Transport({
      WebSocketImpl,
      jitterBaseMs: WATCHER_JITTER_BASE_MS,
      jitterMaxMs: WATCHER_JITTER_MAX_MS,
    });
    this.provider = new WebsocketProvider(relayUrl, room, this.doc, {
      connect: false,
      awareness: this.awareness,
      WebSocketPolyfill: transport.WebSocket,
      maxBackoffTime: WATCHER_MAX_BACKOFF_MS,
      disableBc: true,
      params: { [ConnectionMode.param]: ConnectionMode.awarenessOnly },
    });
    const ignore = (): void => undefined;
    this.provider.messageHandlers[MessageType.Sync] = () => {
      if (this.joined) return;
      this.joined = true;
      this.emit();
    };
    this.provider.messageHandlers[MessageType.Ack] = ignore;
    // PRES-7: after its own reconnect the view takes the states the relay re-sends at the clocks it
    // had seen; else everyone looked unreachable until their state changed.
    this.stopKeepingPresence = keepPresenceAcrossReconnects(this.provider, this.awareness);
    this.awareness.on('change', (c: { added: number[]; updated: number[]; removed: number[] }) => {
      const states = this.awareness.getStates();
      for (const id of [...c.added, ...c.updated]) this.mirror.set(id, states.get(id));
      for (const id of c.removed) {
        if (this.mirror.has(id)) this.departed.set(id, this.mirror.get(id));
        this.mirror.delete(id);
      }
      this.emit();
    });
    // Any status is a socket opening or gone: nothing of it has been answered yet.
    this.provider.on('status', () => {
      this.joined = false;
      this.emit();
    });
    this.provider.on('connection-close', () => {
      this.joined = false;
      this.emit();
    });
    this.provider.connect();
  }

  /** Every awareness state the relay told us about (untrusted), by awareness client id. */
  states(): ReadonlyMap<number, unknown> {
    return this.awareness.getStates();
  }

  /**
   * The last states of the clients removed since the previous call. The view samples states in
   * batches; a state that was replaced and removed within one batch (LAB-7: a participant
   * announces its partition, then its link goes down) would otherwise never be seen.
   */
  takeDeparted(): ReadonlyMap<number, unknown> {
    const d = this.departed;
    this.departed = new Map();
    return d;
  }

  /** Connected, with the room's states as the relay sent them on join (LAB-UI-17). */
  get connected(): boolean {
    return this.provider.wsconnected && this.joined;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  destroy(): void {
    this.stopKeepingPresence();
    this.listeners.clear();
    this.provider.destroy();
    this.awareness.destroy();
    this.doc.destroy();
  }

  private emit(): void {
    for (const l of [...this.listeners]) l();
  }
}
