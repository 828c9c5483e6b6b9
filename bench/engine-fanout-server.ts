/**
 * One engine (Bun.serve under Bun, uWebSockets.js under Node) behind the Engine interface, with
 * no gateway on top: sockets subscribe to `all` and to `u:<their id>`; a POST runs one fan-out
 * scenario and answers how long the publish calls took. Started by bench/engine-fanout.ts.
 */
import { createEngine } from '../src/engine/create-engine.js';
import type { HttpResponse } from '../src/http/http-types.js';

export type Scenario =
  /** N publishes to `all`, made in one timer callback (outside any engine callback). */
  | 'broadcast-timer'
  /** N publishes to `all`, made in the HTTP handler right after its body arrived (inside the engine's callback). */
  | 'broadcast-in-callback'
  /** The same, each publish through `engine.fanOut` as the gateway's bus callback does. */
  | 'broadcast-fanout'
  /** N rounds of one publish to each socket's own topic, made in one timer callback. */
  | 'per-user-timer'
  /** The same from the HTTP handler, each publish through `engine.fanOut`. */
  | 'per-user-fanout';

export interface RunRequest {
  scenario: Scenario;
  /** Publishes to `all`, or rounds over every user topic. */
  count: number;
  users: number;
}

const FRAME = new TextEncoder().encode(
  JSON.stringify({
    type: 'ITEM_CREATED',
    id: '0193f0c2-7b1e-7c3a-9d2e-1a2b3c4d5e6f',
    content: { item: { id: 7, title: 'buy milk', done: false } },
    fromUserId: 'u-1',
    ts: 1732300000000,
  }),
);

async function main(): Promise<void> {
  const engine = await createEngine<{ user: string }>();
  const frame = engine.prepareFrame(FRAME);
  const fanOut = (work: () => void) => engine.fanOut(work);

  function run(request: RunRequest): void {
    const { scenario, count, users } = request;
    if (scenario === 'per-user-timer' || scenario === 'per-user-fanout') {
      // The gateway keeps each user's topic string with the user: made once, not per publish.
      const topics = Array.from({ length: users }, (_, user) => `u:${user}`);
      for (let round = 0; round < count; round++) {
        if (scenario === 'per-user-timer') for (const topic of topics) engine.publish(topic, frame);
        else for (const topic of topics) fanOut(() => engine.publish(topic, frame));
      }
    } else if (scenario === 'broadcast-fanout') {
      for (let i = 0; i < count; i++) fanOut(() => engine.publish('all', frame));
    } else {
      for (let i = 0; i < count; i++) engine.publish('all', frame);
    }
  }

  const { port } = await engine.listen(
    {
      host: '127.0.0.1',
      port: 0,
      socketPath: '/ws',
      maxPayloadLength: 1024 * 1024,
      idleTimeoutS: 0,
      // Far above what a scenario queues per socket: nothing is dropped, every frame is counted.
      backpressureLimit: 256 * 1024 * 1024,
      maxBodyBytes: 1024 * 1024,
      bodyTimeoutMs: 5_000,
    },
    {
      async upgrade(request) {
        const user = new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1)).get('u') ?? '';
        return { accept: true, data: { user } };
      },
      open(conn) {
        conn.subscribe('all');
        conn.subscribe(`u:${conn.data.user}`);
      },
      message() {},
      close() {},
      async http(request): Promise<HttpResponse> {
        const body = JSON.parse(Buffer.from(await request.body()).toString('utf8')) as RunRequest;
        if (body.scenario.endsWith('-timer')) await new Promise((resolve) => setTimeout(resolve, 0));
        const started = performance.now();
        run(body);
        const publishMs = performance.now() - started;
        return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ publishMs }) };
      },
    },
  );
  process.stdout.write(`${JSON.stringify({ listening: port, engine: engine.name })}\n`);
}

main().catch((error) => {
  process.stderr.write(`engine-fanout-server: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
