/**
 * The fan-out floor (`npm run bench -- --floor`): the least a y-websocket relay can do on `ws`.
 * It receives each frame and `ws.send`s the same bytes to every socket of the room, sender
 * included (as both real servers do), answers a SyncStep1 with an empty SyncStep2 (the
 * generator's handshake), and does nothing else: no Y.Doc, no validation, no storage, no acks,
 * no limits. Not a usable server (a client that connects late gets nothing of the past); it
 * measures what the sockets alone cost on this machine, so a system's CPU per delivery can be
 * split into "sockets" and "everything else".
 *
 * Run as its own process like the reference: `PORT=… node --import tsx bench/floorServer.ts`;
 * prints "running at" once listening (what bench/servers.ts waits for).
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { Kind, STEP2_EMPTY, frameKind } from './wire.js';

const rooms = new Map<string, Set<WebSocket>>();
const server = createServer((_, res) => res.end('fan-out floor\n'));
const wss = new WebSocketServer({ server, perMessageDeflate: false });

wss.on('connection', (ws, req) => {
  const name = req.url ?? '/';
  let room = rooms.get(name);
  if (!room) rooms.set(name, (room = new Set()));
  const peers = room;
  peers.add(ws);
  ws.on('message', (data: Buffer) => {
    const kind = frameKind(data);
    if (kind === Kind.Step1) ws.send(STEP2_EMPTY);
    else if (kind === Kind.Update || kind === Kind.Awareness) for (const peer of peers) peer.send(data);
  });
  ws.on('close', () => peers.delete(ws));
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`fan-out floor running at ${typeof address === 'object' && address ? address.port : '?'}\n`);
});
