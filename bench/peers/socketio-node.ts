/**
 * Socket.IO 4 with a room per user, as its docs suggest; with BENCH_REDIS_URL set, the
 * @socket.io/redis-adapter carries emits between pods. Built for Node by the bench.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { counterId, listening, type PeerEvent } from './publish-body.js';

let nextId = 0;

const http = createServer((req, res) => {
  if (req.url !== '/v1/events' || req.method !== 'POST') {
    // Socket.IO answers its own path; everything else is ours.
    if (!req.url?.startsWith('/socket.io/')) res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as PeerEvent | PeerEvent[];
    const ts = Date.now();
    for (const event of Array.isArray(body) ? body : [body]) {
      const frame = { type: event.type, id: counterId(nextId++), content: event.content, fromUserId: event.fromUserId ?? null, ts };
      io.to(event.targetUsers.map((u) => `u:${u}`)).emit('event', frame);
    }
    res.writeHead(202).end();
  });
});

const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });

const redisUrl = process.env.BENCH_REDIS_URL;
if (redisUrl) {
  const pub = new Redis(redisUrl);
  const sub = pub.duplicate();
  // Each bench run uses its own channel prefix, so parallel runs and other users of Redis never mix.
  io.adapter(createAdapter(pub, sub, { key: process.env.BENCH_REDIS_KEY ?? 'socket.io' }));
}

io.on('connection', (socket) => {
  const user = String(socket.handshake.query.user ?? '');
  void socket.join(`u:${user}`);
});

http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  listening(typeof address === 'object' && address ? address.port : 0);
});
