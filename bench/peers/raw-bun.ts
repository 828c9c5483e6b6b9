/**
 * The limit of the stack: Bun.serve with one topic per user and an HTTP publish endpoint,
 * no auth, no validation, no bus. Run with `bun bench/peers/raw-bun.ts`.
 */
import { counterId, listening, peerFrame, type PeerEvent } from './publish-body.js';

let nextId = 0;

const server = Bun.serve<{ user: string }>({
  hostname: '127.0.0.1',
  port: 0,
  maxRequestBodySize: 4 * 1024 * 1024,
  async fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === '/ws') {
      const user = url.searchParams.get('user') ?? '';
      return srv.upgrade(req, { data: { user } }) ? undefined : new Response('upgrade failed', { status: 400 });
    }
    if (url.pathname === '/v1/events' && req.method === 'POST') {
      const body = (await req.json()) as PeerEvent | PeerEvent[];
      const events = Array.isArray(body) ? body : [body];
      const now = Date.now();
      for (const event of events) {
        const frame = peerFrame(event, counterId(nextId++), now);
        for (const user of event.targetUsers) srv.publish(`u:${user}`, frame);
      }
      return new Response(null, { status: 202 });
    }
    return new Response('not found', { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    idleTimeout: 120,
    backpressureLimit: 512 * 1024,
    closeOnBackpressureLimit: false,
    open(ws) {
      ws.subscribe(`u:${ws.data.user}`);
      ws.sendText('{"type":"welcome"}');
    },
    message() {},
  },
});

listening(server.port!);
