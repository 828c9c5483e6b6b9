/**
 * An app that embeds the gateway in its own Bun.serve (docs/embedding.md): its own routes and
 * Herald's `/ws` and `/v1/*` on one port. Run by test/e2e/embedding.bun.test.ts.
 */
import { Gateway, createBackend, createEngine, createLogger, loadConfig } from 'herald';

const config = loadConfig();
const log = createLogger(config.logLevel);
const { bus, revocationStore } = await createBackend({ config, log });
const gateway = new Gateway({ config, engine: await createEngine({ log }), bus, log, revocationStore });

const herald = await gateway.mount({
  fallback: async (request) => {
    const url = new URL(request.url);
    if (url.pathname === '/app/hello') return Response.json({ hello: 'from the app' });
    if (url.pathname === '/app/emit' && request.method === 'POST') {
      const ids = await gateway.emit(await request.json());
      return Response.json({ ids }, { status: 202 });
    }
    if (url.pathname === '/healthz-of-the-app') return new Response('app ok');
    return Response.json({ error: 'not_found', message: `the app has no ${url.pathname}` }, { status: 404 });
  },
});
const server = Bun.serve({ hostname: config.host, port: config.port, fetch: herald.fetch, websocket: herald.websocket });
log.info({ port: server.port }, 'app listening');

process.on('SIGTERM', async () => {
  await gateway.drain();
  await server.stop();
  process.exit(0);
});
