/**
 * What a team writes by hand on Node: the `ws` package and a Map from user to sockets, with an
 * HTTP publish endpoint. Built for Node by the bench (bun build --target=node).
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { counterId, listening, peerFrame, type PeerEvent } from './publish-body.js';

const sockets = new Map<string, Set<WebSocket>>();
let nextId = 0;

const http = createServer((req, res) => {
  if (req.url !== '/v1/events' || req.method !== 'POST') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as PeerEvent | PeerEvent[];
    const now = Date.now();
    for (const event of Array.isArray(body) ? body : [body]) {
      const frame = peerFrame(event, counterId(nextId++), now);
      for (const user of event.targetUsers) {
        const set = sockets.get(user);
        if (set) for (const ws of set) ws.send(frame);
      }
    }
    res.writeHead(202).end();
  });
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
http.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== '/ws') {
    socket.destroy();
    return;
  }
  const user = url.searchParams.get('user') ?? '';
  wss.handleUpgrade(req, socket, head, (ws) => {
    let set = sockets.get(user);
    if (!set) sockets.set(user, (set = new Set()));
    set.add(ws);
    ws.on('close', () => {
      set.delete(ws);
      if (set.size === 0) sockets.delete(user);
    });
    ws.on('error', () => ws.terminate());
    ws.send('{"type":"welcome"}');
  });
});

http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  listening(typeof address === 'object' && address ? address.port : 0);
});
