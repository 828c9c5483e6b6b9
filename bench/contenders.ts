/**
 * The servers compared, each a real process on loopback, and how the same clients and the
 * same event stream reach them.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClientProtocol } from './load/client-protocol.js';
import type { PublishTransport } from './load/publisher-protocol.js';
import { ServerProcess } from './lib/server-process.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUN = `${ROOT}node_modules/.bin/bun`;
export const NODE = process.env.BENCH_NODE ?? 'node';
/** Where the bench puts the Node builds of its peers (bun build --target=node). */
export const PEER_BUILD = `${ROOT}.tmp/bench-build`;
export const HERALD_NODE_ENTRY = `${ROOT}dist/node/main.js`;

export const JWT_SECRET = 'herald-bench-secret-0123456789abcdef0123456789';
export const PUBLISH_TOKEN = 'herald-bench-publish-token-0123456789';

export interface Running {
  pods: ServerProcess[];
  /** How the publisher reaches this contender. */
  transport: PublishTransport;
  protocol: ClientProtocol;
  stop(): Promise<void>;
}

export interface BrokerUrls {
  nats?: string;
  amqp?: string;
  redis?: string;
}

export interface HeraldEnvOptions {
  bus?: 'local' | 'nats' | 'amqp';
  brokers?: BrokerUrls;
  extra?: Record<string, string>;
}

export function heraldEnv(options: HeraldEnvOptions = {}): Record<string, string> {
  const env: Record<string, string> = {
    HERALD_HOST: '127.0.0.1',
    HERALD_PORT: '0',
    HERALD_BUS: options.bus ?? 'local',
    HERALD_JWT_SECRET: JWT_SECRET,
    HERALD_PUBLISH_TOKEN: PUBLISH_TOKEN,
    HERALD_LOG_LEVEL: 'info',
    ...options.extra,
  };
  if (options.brokers?.nats) env.HERALD_NATS_URL = options.brokers.nats;
  if (options.brokers?.amqp) env.HERALD_AMQP_URL = options.brokers.amqp;
  return env;
}

export type HeraldRuntime = 'bun' | 'node';

export function startHeraldPod(
  runtime: HeraldRuntime,
  env: Record<string, string>,
  name: string,
  preload?: string,
): Promise<ServerProcess> {
  if (runtime === 'bun') {
    const args = preload ? ['--preload', preload, `${ROOT}src/main.ts`] : [`${ROOT}src/main.ts`];
    return ServerProcess.start(name, BUN, args, env);
  }
  if (!existsSync(HERALD_NODE_ENTRY)) throw new Error(`${HERALD_NODE_ENTRY} is missing: run npm run build:node`);
  const args = preload ? ['--expose-gc', '--import', preload, HERALD_NODE_ENTRY] : [HERALD_NODE_ENTRY];
  return ServerProcess.start(name, NODE, args, env);
}

function httpTransport(pod: ServerProcess): PublishTransport {
  return { kind: 'http', url: `http://127.0.0.1:${pod.port}/v1/events`, token: PUBLISH_TOKEN };
}

function running(pods: ServerProcess[], protocol: ClientProtocol, transport = httpTransport(pods[0]!)): Running {
  return { pods, protocol, transport, stop: async () => void (await Promise.all(pods.map((p) => p.stop()))) };
}

export interface Contender {
  id: string;
  label: string;
  /** Why this contender is here, for the report. */
  note: string;
  start(brokers: BrokerUrls): Promise<Running>;
}

/**
 * BENCH_BASELINE=<checkout of an earlier commit>: Herald from there, run beside this one in the
 * same cells (contenders herald-bun-baseline and herald-bun-baseline-norecovery), so a change is
 * measured before and after in one run rather than across runs on a noisy machine.
 */
const BASELINE = process.env.BENCH_BASELINE;

function baselineContenders(dir: string): Contender[] {
  const entry = `${dir.replace(/\/$/, '')}/src/main.ts`;
  if (!existsSync(entry)) throw new Error(`BENCH_BASELINE=${dir}: ${entry} is missing`);
  const start = (name: string, extra: Record<string, string>) => ServerProcess.start(name, BUN, [entry], heraldEnv({ extra }));
  return [
    {
      id: 'herald-bun-baseline',
      label: 'Herald on Bun, baseline',
      note: `bun ${entry} (BENCH_BASELINE), HERALD_BUS=local`,
      start: async () => running([await start('herald-bun-baseline', {})], 'herald'),
    },
    {
      id: 'herald-bun-baseline-norecovery',
      label: 'Herald on Bun, baseline, recovery off',
      note: `bun ${entry} (BENCH_BASELINE), HERALD_RECOVERY_WINDOW_S=0`,
      start: async () => running([await start('herald-bun-baseline-norecovery', { HERALD_RECOVERY_WINDOW_S: '0' })], 'herald'),
    },
  ];
}

/** Scenario 1: one process each. */
export const ONE_POD: Contender[] = [
  {
    id: 'raw-bun',
    label: 'raw Bun.serve',
    note: 'per-user topics + HTTP publish, no auth/validation/bus: the limit of the stack',
    start: async () => running([await ServerProcess.start('raw-bun', BUN, [`${ROOT}bench/peers/raw-bun.ts`], {})], 'plain'),
  },
  {
    id: 'herald-bun',
    label: 'Herald on Bun',
    note: 'bun src/main.ts, HERALD_BUS=local',
    start: async () => running([await startHeraldPod('bun', heraldEnv(), 'herald-bun')], 'herald'),
  },
  {
    id: 'herald-bun-norecovery',
    label: 'Herald on Bun, recovery off',
    note: 'bun src/main.ts, HERALD_BUS=local, HERALD_RECOVERY_WINDOW_S=0 (herald-bun has recovery on, the default)',
    start: async () => running([await startHeraldPod('bun', heraldEnv({ extra: { HERALD_RECOVERY_WINDOW_S: '0' } }), 'herald-bun-norecovery')], 'herald'),
  },
  {
    id: 'herald-node',
    label: 'Herald on Node/uWS.js',
    note: 'node dist/node/main.js, HERALD_BUS=local',
    start: async () => running([await startHeraldPod('node', heraldEnv(), 'herald-node')], 'herald'),
  },
  {
    id: 'herald-node-norecovery',
    label: 'Herald on Node/uWS.js, recovery off',
    note: 'node dist/node/main.js, HERALD_BUS=local, HERALD_RECOVERY_WINDOW_S=0 (herald-node has recovery on, the default)',
    start: async () => running([await startHeraldPod('node', heraldEnv({ extra: { HERALD_RECOVERY_WINDOW_S: '0' } }), 'herald-node-norecovery')], 'herald'),
  },
  {
    id: 'ws-node',
    label: 'ws + Map (Node)',
    note: 'the ws package and a Map of user → sockets: what a team writes by hand',
    start: async () => running([await ServerProcess.start('ws-node', NODE, [`${PEER_BUILD}/ws-node.js`], {})], 'plain'),
  },
  {
    id: 'socketio',
    label: 'Socket.IO 4 (Node)',
    note: 'a room per user, io.to(rooms).emit',
    start: async () =>
      running([await ServerProcess.start('socketio', NODE, [`${PEER_BUILD}/socketio-node.js`], {})], 'socketio'),
  },
  ...(BASELINE ? baselineContenders(BASELINE) : []),
];

async function twoHeraldPods(bus: 'nats' | 'amqp', brokers: BrokerUrls, id: string, extra: Record<string, string>) {
  const env = heraldEnv({ bus, brokers, extra });
  return Promise.all([startHeraldPod('bun', env, `${id}-a`), startHeraldPod('bun', env, `${id}-b`)]);
}

/** HERALD_RECOVERY_WINDOW_S=0: no event log, events on core NATS (what the NATS contenders measured before §6). */
const RECOVERY_OFF = { HERALD_RECOVERY_WINDOW_S: '0' };
/** The product's default window (§6), spelled out: the pods and the publisher client must agree on it. */
const RECOVERY_WINDOW_S = 300;

/**
 * Scenario 2: two pods and a broker; sockets split half and half. The NATS contenders run with
 * recovery off unless their id ends in `-recovery`; a contender with recovery gets a fresh
 * JetStream stream and subject at every start, so that its pods never read an earlier start's
 * log (pods read the stream from its first message).
 */
export function twoPodContenders(runId: string): Contender[] {
  const subject = `bench.${runId}.events`;
  let logs = 0;
  /** Two pods with recovery on, on a stream and subject of their own (pods read a stream from its first message). */
  async function podsWithLog(brokers: BrokerUrls, id: string) {
    const stream = `BENCH_${runId}_${++logs}`;
    const logSubject = `bench.${runId}.log${logs}.events`;
    const pods = await twoHeraldPods('nats', brokers, id, {
      HERALD_NATS_SUBJECT: logSubject,
      HERALD_NATS_STREAM: stream,
      HERALD_RECOVERY_WINDOW_S: String(RECOVERY_WINDOW_S),
    });
    return { pods, stream, logSubject };
  }
  return [
    {
      id: 'herald-nats',
      label: 'Herald ×2 + NATS (publisher client)',
      note: 'two Bun pods on a private nats-server, recovery off; events from connectNatsPublisher',
      start: async (brokers) => {
        const pods = await twoHeraldPods('nats', brokers, 'herald-nats', { HERALD_NATS_SUBJECT: subject, ...RECOVERY_OFF });
        return running(pods, 'herald', { kind: 'herald-nats', servers: [brokers.nats!], subject, recoveryWindowS: 0 });
      },
    },
    {
      id: 'herald-nats-recovery',
      label: 'Herald ×2 + NATS, recovery on (publisher client)',
      note: 'the same with HERALD_RECOVERY_WINDOW_S=300: the event log in a JetStream stream, a 202 once stored, pods on an ordered consumer',
      start: async (brokers) => {
        const { pods, stream, logSubject } = await podsWithLog(brokers, 'herald-nats-recovery');
        return running(pods, 'herald', {
          kind: 'herald-nats',
          servers: [brokers.nats!],
          subject: logSubject,
          stream,
          recoveryWindowS: RECOVERY_WINDOW_S,
        });
      },
    },
    {
      id: 'herald-nats-http',
      label: 'Herald ×2 + NATS (HTTP to pod A)',
      note: 'the same two pods (recovery off), with events POSTed to one pod: the same shape as Socket.IO below',
      start: async (brokers) =>
        running(await twoHeraldPods('nats', brokers, 'herald-nats-http', { HERALD_NATS_SUBJECT: subject, ...RECOVERY_OFF }), 'herald'),
    },
    {
      id: 'herald-nats-http-recovery',
      label: 'Herald ×2 + NATS, recovery on (HTTP to pod A)',
      note: 'the same two pods with recovery on (a stream of its own), events POSTed to one pod: a 202 once stored',
      start: async (brokers) => running((await podsWithLog(brokers, 'herald-nats-http-recovery')).pods, 'herald'),
    },
    {
      id: 'herald-amqp',
      label: 'Herald ×2 + RabbitMQ (publisher client)',
      note: 'two Bun pods, a fanout exchange of its own on the shared RabbitMQ; events from connectAmqpPublisher',
      start: async (brokers) => {
        const exchange = `bench.${runId}`;
        const pods = await twoHeraldPods('amqp', brokers, 'herald-amqp', { HERALD_AMQP_EXCHANGE: exchange });
        return running(pods, 'herald', { kind: 'herald-amqp', url: brokers.amqp!, exchange });
      },
    },
    {
      id: 'herald-amqp-norecovery',
      label: 'Herald ×2 + RabbitMQ, recovery off (publisher client)',
      note: 'the same with HERALD_RECOVERY_WINDOW_S=0 (on AMQP every resume is a gap either way; the pods keep no ring)',
      start: async (brokers) => {
        const exchange = `bench.${runId}.norecovery`;
        const pods = await twoHeraldPods('amqp', brokers, 'herald-amqp-norecovery', { HERALD_AMQP_EXCHANGE: exchange, ...RECOVERY_OFF });
        return running(pods, 'herald', { kind: 'herald-amqp', url: brokers.amqp!, exchange });
      },
    },
    {
      id: 'socketio-redis',
      label: 'Socket.IO ×2 + Redis adapter (HTTP to pod A)',
      note: '@socket.io/redis-adapter on the shared Redis, a key prefix of its own',
      start: async (brokers) => {
        const env = { BENCH_REDIS_URL: brokers.redis!, BENCH_REDIS_KEY: `bench.${runId}` };
        const pods = await Promise.all([
          ServerProcess.start('socketio-redis-a', NODE, [`${PEER_BUILD}/socketio-node.js`], env),
          ServerProcess.start('socketio-redis-b', NODE, [`${PEER_BUILD}/socketio-node.js`], env),
        ]);
        return running(pods, 'socketio');
      },
    },
  ];
}
