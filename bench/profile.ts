/**
 * `bun bench/profile.ts [--contender herald-bun|herald-node|raw-bun] [--sockets N] [--targeting single|group|all] [--seconds S]
 * [--bus local|nats|amqp] [--profile-publisher] [--env KEY=VALUE ...]`:
 * one flat-out cell with the runtime's sampling CPU profiler in the server, for finding where the
 * time goes. Writes the profile (Chrome .cpuprofile, and Bun's markdown) under .tmp/bench-profile/.
 * herald-node runs dist/node/main.js (run `npm run build:node` first) under Node's --cpu-prof.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BUN, heraldEnv, HERALD_NODE_ENTRY, JWT_SECRET, NODE, ROOT } from './contenders.js';
import { ClientFleet } from './load/fleet.js';
import { buildBodies, type Targeting } from './lib/event-stream.js';
import { signHs256 } from './lib/hs256.js';
import { measureFlat } from './lib/measure.js';
import { startNats } from './lib/nats-server.js';
import type { PublishTransport } from './load/publisher-protocol.js';
import { ServerProcess } from './lib/server-process.js';
import { WorkerProcess } from './lib/worker-process.js';
import { pidsNamed } from './scenarios/cluster.js';
import { clientProcessesFor, fmt, say } from './scenarios/common.js';
import { PUBLISH_TOKEN } from './contenders.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    contender: { type: 'string', default: 'herald-bun' },
    sockets: { type: 'string', default: '1000' },
    targeting: { type: 'string', default: 'single' },
    seconds: { type: 'string', default: '3' },
    /**
     * `nats`: the pod on a private nats-server, events from connectNatsPublisher (recovery as the pod's env says; on by default).
     * `amqp`: the pod on a fanout exchange of its own on the shared RabbitMQ (BENCH_AMQP_URL), events from connectAmqpPublisher.
     */
    bus: { type: 'string', default: 'local' },
    /** The publishing process profiled too (the publisher client on a broker bus), under publisher/. */
    'profile-publisher': { type: 'boolean', default: false },
    /** KEY=VALUE for the Herald pod, e.g. HERALD_RECOVERY_WINDOW_S=0; may be repeated. */
    env: { type: 'string', multiple: true, default: [] },
  },
});
const sockets = Number(values.sockets);
const extraEnv = Object.fromEntries((values.env as string[]).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const targeting = values.targeting as Targeting;
const dir = `${ROOT}.tmp/bench-profile/${values.contender}-${sockets}-${targeting}-${Date.now()}`;
mkdirSync(dir, { recursive: true });
const isNode = values.contender === 'herald-node';
// Both take the interval in microseconds; only Bun writes the markdown summary.
const flags = ['--cpu-prof', ...(isNode ? [] : ['--cpu-prof-md']), `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'];
const isHerald = values.contender === 'herald-bun' || isNode;
if (!isHerald && values.contender !== 'raw-bun') throw new Error(`--contender ${values.contender}: herald-bun, herald-node or raw-bun`);
const nats = values.bus === 'nats' ? await startNats() : undefined;
const logName = `PROFILE_${Date.now().toString(36)}`;
const windowS = Number(extraEnv.HERALD_RECOVERY_WINDOW_S ?? 300);
const natsEnv: Record<string, string> = nats ? { HERALD_NATS_STREAM: logName, HERALD_NATS_SUBJECT: `bench.${logName}` } : {};
const amqp = values.bus === 'amqp' ? { url: process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672', exchange: `bench.${logName}` } : undefined;
const amqpEnv: Record<string, string> = amqp ? { HERALD_AMQP_URL: amqp.url, HERALD_AMQP_EXCHANGE: amqp.exchange } : {};
const bus = nats ? 'nats' : amqp ? 'amqp' : 'local';
const pod = isHerald
  ? await ServerProcess.start(
      values.contender,
      isNode ? NODE : BUN,
      [...flags, isNode ? HERALD_NODE_ENTRY : `${ROOT}src/main.ts`],
      heraldEnv({ bus, brokers: { nats: nats?.url }, extra: { HERALD_DRAIN_TIMEOUT_MS: '200', ...natsEnv, ...amqpEnv, ...extraEnv } }),
    )
  : await ServerProcess.start('raw-bun', BUN, [...flags, `${ROOT}bench/peers/raw-bun.ts`], {});
const transport: PublishTransport = nats
  ? { kind: 'herald-nats', servers: [nats.url], subject: `bench.${logName}`, stream: logName, recoveryWindowS: windowS }
  : amqp
    ? { kind: 'herald-amqp', ...amqp }
    : { kind: 'http', url: `http://127.0.0.1:${pod.port}/v1/events`, token: PUBLISH_TOKEN };
if (isNode) await warmUpSocket(pod.port);
const fleet = ClientFleet.start(clientProcessesFor(sockets));
const publisherDir = `${dir}/publisher`;
const publisherFlags = values['profile-publisher'] ? ['--cpu-prof', `--cpu-prof-dir=${publisherDir}`, '--cpu-prof-interval=250'] : [];
const publisher = WorkerProcess.start('publisher', BUN, [...publisherFlags, `${ROOT}bench/load/publisher-worker.ts`]);
try {
  const opened = await fleet.connect({
    protocol: isHerald ? 'herald' : 'plain',
    jwtSecret: JWT_SECRET,
    targets: [{ port: pod.port, from: 0, to: sockets }],
    concurrency: isNode ? 10 : undefined,
  });
  if (opened.failed) throw new Error(opened.errors.join('; '));
  const stream = { from: 0, to: sockets, targeting };
  const result = await measureFlat({
    fleet,
    publisher,
    command: { transport, stream, concurrency: 2 },
    serverPids: [pod.pid],
    brokerPids: amqp ? pidsNamed('beam.smp') : nats ? [nats.pid] : [],
    warmupMs: 500,
    measureMs: Number(values.seconds) * 1000,
    window: Math.max(4 * Math.max(...buildBodies(stream).map((b) => b.deliveries)), 50 * sockets),
  });
  say(`${values.contender} ${sockets} ${targeting}: ${fmt(result.framesPerS)} frames/s, ${result.cpuSPerMFrames.toFixed(2)} CPU-s/M, pod ${result.serverCores.toFixed(2)} cores, publisher ${result.publisherCores.toFixed(2)}, broker ${result.brokerCores.toFixed(2)}, clients ${result.clientCores.toFixed(2)}`);
  // CPU by thread name: the JS thread against the GC's helper threads and the rest.
  const threads = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pod.pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pod.pid}/task/${tid}/comm`, 'utf8').trim();
      const fields = readFileSync(`/proc/${pod.pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      threads.set(name, (threads.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // Gone meanwhile.
    }
  }
  say(`pod CPU-s by thread since start: ${[...threads].sort((a, b) => b[1] - a[1]).map(([n, s]) => `${n} ${s.toFixed(2)}`).join(', ')}`);
} finally {
  await Promise.all([fleet.stop(), publisher.stop()]);
  // SIGTERM, not SIGKILL: Bun and Node write the profile on a clean exit (Herald drains; the peer exits on the signal).
  const exited = new Promise((resolve) => setTimeout(resolve, 8_000));
  pod.signal('SIGTERM');
  await Promise.race([exited, pod.waitFor(() => false, 8_000).catch(() => undefined)]);
  await pod.stop();
  await nats?.stop();
}
const profile = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (profile) spawnSync(BUN, [`${ROOT}bench/report/profile-summary.ts`, `${dir}/${profile}`], { stdio: 'inherit' });
const publisherProfile = values['profile-publisher'] ? readdirSync(publisherDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
if (publisherProfile) {
  say('the publisher:');
  spawnSync(BUN, [`${ROOT}bench/report/profile-summary.ts`, `${publisherDir}/${publisherProfile}`], { stdio: 'inherit' });
}
say(`profile in ${dir} (.cpuprofile for Chrome DevTools${isNode ? '' : ', .md from Bun'})`);

/**
 * Under --cpu-prof the pod's first WebSocket upgrade is slow enough that uWebSockets.js v20.30
 * closes the fresh socket before its welcome (1006, no close frame); later ones open. One
 * throwaway socket first keeps the fleet's connect from failing on it.
 */
async function warmUpSocket(port: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const token = signHs256({ sub: 'warm-up', sid: 'warm-up', iat: now, exp: now + 60 }, JWT_SECRET);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?access_token=${token}`);
  await new Promise<void>((resolve) => {
    ws.onmessage = () => {
      ws.close();
      resolve();
    };
    ws.onclose = () => resolve();
  });
}
