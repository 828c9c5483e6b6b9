/**
 * `npm run bench:time-wait` (Bun): where TCP TIME_WAIT lands when clients leave a draining pod
 * first, and what TIME_WAIT on the pod costs. bench/RESULTS.md ("TIME_WAIT") explains.
 *
 * 1. Drain: N sockets of one client kind on a fresh pod; SIGTERM; every client closes with
 *    4000 on herald.reconnect (as the SDK does); then `ss -tan state time-wait` counts the
 *    entries on the pod's side (local port = the pod's) and on the clients' side.
 * 2. Cost: new raw connections to a pod from 127.0.0.2, timed (TCP connect, then the welcome),
 *    before and after W open-welcome-close cycles from that address left W TIME_WAIT entries on
 *    the pod's port; how many new connections reused a source port whose 4-tuple was in
 *    TIME_WAIT on the pod; the kernel memory those entries take.
 *
 *   bun bench/time-wait.ts [--sockets 1000] [--entries 20000] [--probes 2000] [--kinds ws,bun,...] [--out name]
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { BUN, heraldEnv, NODE, PEER_BUILD, ROOT, startHeraldPod, JWT_SECRET, type HeraldRuntime } from './contenders.js';
import type { HoldKind } from './time-wait/client.js';

const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '1000' },
    entries: { type: 'string', default: '20000' },
    probes: { type: 'string', default: '2000' },
    kinds: { type: 'string', default: 'ws,bun,node,chromium,raw-wait,raw-half-close' },
    out: { type: 'string', default: 'time-wait' },
  },
});
const SOCKETS = Number(values.sockets);
const ENTRIES = Number(values.entries);
const PROBES = Number(values.probes);
const CLIENT_BUILD = `${PEER_BUILD}/time-wait-client.js`;
const SOURCE = '127.0.0.2';

type Kind = HoldKind | 'chromium';
const KINDS: Record<Kind, { label: string; runtime: 'node' | 'bun' | 'chromium'; nodeFlags?: string[] }> = {
  ws: { label: '`ws` 8 on Node 20 (the SDK on Node 20 with `WebSocket: ws`)', runtime: 'node' },
  bun: { label: "Bun 1.4's WebSocket (the SDK on Bun)", runtime: 'bun' },
  node: { label: "Node 20's WebSocket, --experimental-websocket (undici; Node 22's global)", runtime: 'node', nodeFlags: ['--experimental-websocket'] },
  chromium: { label: 'Chromium (Debian) in a page (browsers)', runtime: 'chromium' },
  'raw-wait': { label: 'raw TCP: close frame, then wait for the server to end TCP', runtime: 'node' },
  'raw-half-close': { label: 'raw TCP: close frame, then shut own side at once (half-close)', runtime: 'node' },
};

const say = (text: string) => process.stderr.write(`${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface TimeWaitCount {
  /** Local port is the pod's: the pod closed TCP first. */
  pod: number;
  /** Peer port is the pod's: the client closed TCP first. */
  clients: number;
  /** Pod-side entries by the client's source port, for one source address. */
  podPortsOf(address: string): Set<number>;
}

function timeWait(podPort: number): TimeWaitCount {
  const lines = execFileSync('ss', ['-Htan', 'state', 'time-wait'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n');
  const entries = lines
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 4)
    .map((cols) => ({ local: cols[2]!, peer: cols[3]! }));
  const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
  const pod = entries.filter((e) => portOf(e.local) === podPort);
  return {
    pod: pod.length,
    clients: entries.filter((e) => portOf(e.peer) === podPort).length,
    podPortsOf: (address) => new Set(pod.filter((e) => e.peer.startsWith(`${address}:`)).map((e) => portOf(e.peer))),
  };
}

function kernelTimeWait(): { sockstat: string; objectBytes: number | undefined; maxBuckets: string } {
  const sockstat = readFileSync('/proc/net/sockstat', 'utf8').split('\n').find((l) => l.startsWith('TCP:')) ?? '';
  let objectBytes: number | undefined;
  try {
    const slab = readFileSync('/proc/slabinfo', 'utf8').split('\n').find((l) => l.startsWith('tw_sock_TCP '));
    objectBytes = slab ? Number(slab.split(/\s+/)[3]) : undefined;
  } catch {
    // Not readable without root.
  }
  const maxBuckets = readFileSync('/proc/sys/net/ipv4/tcp_max_tw_buckets', 'utf8').trim();
  return { sockstat, objectBytes, maxBuckets };
}

/** Runs the client script; resolves with its JSON lines once it exits, calling `onLine` as they come. */
function client(kind: Kind | 'raw', mode: string, config: object, onLine: (line: Record<string, unknown>) => void = () => {}) {
  const runtime = kind === 'raw' ? 'node' : KINDS[kind].runtime === 'chromium' ? 'node' : KINDS[kind].runtime;
  const flags = kind !== 'raw' ? (KINDS[kind].nodeFlags ?? []) : [];
  const [command, args] =
    runtime === 'bun' ? [BUN, [`${ROOT}bench/time-wait/client.ts`]] : [NODE, [...flags, CLIENT_BUILD]];
  const child = spawn(command, [...args, mode, JSON.stringify(config)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    lines.push(line);
    onLine(line);
  });
  const done = new Promise<Record<string, unknown>[]>((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(lines) : reject(new Error(`${kind} ${mode} exited ${code}: ${JSON.stringify(lines)}`)))),
  );
  return { child, done };
}

interface DrainRow {
  kind: Kind;
  engine: HeraldRuntime;
  sockets: number;
  onPod: number;
  onClients: number;
}

async function drainRun(kind: Kind, engine: HeraldRuntime): Promise<DrainRow> {
  const pod = await startHeraldPod(engine, heraldEnv({ extra: { HERALD_DRAIN_TIMEOUT_MS: '20000' } }), `herald-${engine}`);
  // Chromium opens at most ~255 WebSockets per page; 200 are enough to see who closes first.
  const sockets = kind === 'chromium' ? Math.min(SOCKETS, 200) : SOCKETS;
  const config = { port: pod.port, secret: JWT_SECRET, kind, count: sockets };
  let opened!: () => void;
  const allOpen = new Promise<void>((resolve) => (opened = resolve));
  const run =
    kind === 'chromium'
      ? client('raw', 'chromium', config, (line) => line.open !== undefined && opened())
      : client(kind, 'hold', config, (line) => line.open !== undefined && opened());
  await Promise.race([allOpen, run.done]);
  const exited = pod.waitForExit();
  pod.signal('SIGTERM');
  await run.done;
  await exited;
  await sleep(1_000);
  const count = timeWait(pod.port);
  return { kind, engine, sockets, onPod: count.pod, onClients: count.clients };
}

interface ProbeStats {
  probes: number;
  failed: number;
  connectP50: number;
  connectP99: number;
  connectMax: number;
  welcomeP50: number;
  welcomeP99: number;
  welcomeMax: number;
  /** New connections slower than 900 ms to connect: a SYN refused once and sent again after 1 s. */
  slowConnects: number;
  /** New connections whose source port had a TIME_WAIT entry on the pod. */
  reusedPorts: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function probeRun(port: number, inTimeWait: Set<number>): Promise<ProbeStats> {
  const [line] = (await client('raw', 'probe', { port, secret: JWT_SECRET, localAddress: SOURCE, count: PROBES, concurrency: 50 }).done).filter(
    (l) => l.probed !== undefined,
  );
  const times = (line!.times as { connectMs: number; welcomeMs: number; localPort: number }[]) ?? [];
  const connect = times.map((t) => t.connectMs).sort((a, b) => a - b);
  const welcome = times.map((t) => t.welcomeMs).sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    probes: PROBES,
    failed: Number(line!.failed),
    connectP50: round(quantile(connect, 0.5)),
    connectP99: round(quantile(connect, 0.99)),
    connectMax: round(connect.at(-1) ?? 0),
    welcomeP50: round(quantile(welcome, 0.5)),
    welcomeP99: round(quantile(welcome, 0.99)),
    welcomeMax: round(welcome.at(-1) ?? 0),
    slowConnects: connect.filter((ms) => ms > 900).length,
    reusedPorts: times.filter((t) => inTimeWait.has(t.localPort)).length,
  };
}

async function costRun() {
  const pod = await startHeraldPod('bun', heraldEnv(), 'herald-bun');
  try {
    const before = await probeRun(pod.port, new Set());
    const rssBefore = rssOf(pod.pid);
    const started = Date.now();
    // A new connection from a source port whose 4-tuple is in TIME_WAIT takes that entry over,
    // so one source address leaves only a few thousand entries however many cycles it runs:
    // rounds of 4 addresses (SOURCE first), one process each, 3,000 cycles each, until the pod
    // holds ENTRIES — fast enough that they do not expire (60 s each) meanwhile.
    let cycles = 0;
    let cycleFailures = 0;
    let addresses = 0;
    while (timeWait(pod.port).pod < ENTRIES && addresses < 16) {
      const round = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          client('raw', 'cycles', {
            port: pod.port,
            secret: JWT_SECRET,
            localAddress: `127.0.0.${2 + addresses + i}`,
            count: 3_000,
            concurrency: 50,
          }).done,
        ),
      );
      addresses += 4;
      cycles += 4 * 3_000;
      cycleFailures += round.flat().reduce((sum, l) => sum + Number(l.failed ?? 0), 0);
    }
    const cyclesMs = Date.now() - started;
    const count = timeWait(pod.port);
    const ports = count.podPortsOf(SOURCE);
    const kernel = kernelTimeWait();
    const rss = rssOf(pod.pid);
    const after = await probeRun(pod.port, ports);
    const stillThere = timeWait(pod.port).pod;
    return {
      cycles,
      addresses,
      cyclesMs,
      cycleFailures,
      entriesOnPod: count.pod,
      entriesFromSource: ports.size,
      entriesAfterProbe: stillThere,
      kernel,
      podRssBytesBefore: rssBefore,
      podRssBytes: rss,
      before,
      after,
    };
  } finally {
    await pod.stop();
  }
}

function rssOf(pid: number): number {
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) * 1024;
}

function sysctl(name: string): string {
  return readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim().replace(/\s+/g, ' ');
}

async function main(): Promise<void> {
  mkdirSync(PEER_BUILD, { recursive: true });
  execFileSync(BUN, ['build', 'bench/time-wait/client.ts', '--target=node', '--packages=external', `--outfile=${CLIENT_BUILD}`], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const kinds = values.kinds!.split(',').filter(Boolean) as Kind[];
  const drains: DrainRow[] = [];
  for (const kind of kinds) {
    if (kind === 'chromium' && !existsSync('/usr/bin/chromium')) {
      say('no /usr/bin/chromium: the browser row is skipped');
      continue;
    }
    const engines: HeraldRuntime[] = kind === 'ws' ? ['bun', 'node'] : ['bun'];
    for (const engine of engines) {
      say(`drain: ${SOCKETS} ${kind} clients on Herald/${engine}`);
      const row = await drainRun(kind, engine);
      say(`  TIME_WAIT on the pod's side ${row.onPod}, on the clients' side ${row.onClients}`);
      drains.push(row);
    }
  }
  say(`cost: ${PROBES} new connections before and after ${ENTRIES} TIME_WAIT entries on the pod's port`);
  const cost = ENTRIES > 0 ? await costRun() : undefined;
  if (cost) say(`  ${JSON.stringify(cost)}`);

  const results = {
    startedAt: new Date().toISOString(),
    machine: {
      kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
      tcp_timestamps: sysctl('net.ipv4.tcp_timestamps'),
      tcp_tw_reuse: sysctl('net.ipv4.tcp_tw_reuse'),
      tcp_max_tw_buckets: sysctl('net.ipv4.tcp_max_tw_buckets'),
      ip_local_port_range: sysctl('net.ipv4.ip_local_port_range'),
      tcp_fin_timeout: sysctl('net.ipv4.tcp_fin_timeout'),
    },
    drains: drains.map((d) => ({ ...d, client: KINDS[d.kind].label })),
    cost,
  };
  const path = `${ROOT}bench/results/${values.out}`;
  const markdown = renderMarkdown(results);
  writeFileSync(`${path}.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${path}.md`, `${markdown}\n`);
  process.stdout.write(`${markdown}\n`);
  say(`written: ${path}.json and .md`);
}

function renderMarkdown(results: {
  startedAt: string;
  machine: Record<string, string>;
  drains: (DrainRow & { client: string })[];
  cost: Awaited<ReturnType<typeof costRun>> | undefined;
}): string {
  const lines = [
    `Run ${results.startedAt}. Kernel ${results.machine.kernel}; tcp_timestamps ${results.machine.tcp_timestamps}, tcp_tw_reuse ${results.machine.tcp_tw_reuse}, tcp_max_tw_buckets ${results.machine.tcp_max_tw_buckets}, ip_local_port_range ${results.machine.ip_local_port_range}.`,
    '',
    '| client | pod engine | sockets | TIME_WAIT on the pod | TIME_WAIT on the clients |',
    '|---|---|---:|---:|---:|',
    ...results.drains.map((d) => `| ${d.client} | ${d.engine} | ${d.sockets} | ${d.onPod} | ${d.onClients} |`),
  ];
  const cost = results.cost;
  if (cost) {
    const row = (name: string, s: ProbeStats) =>
      `| ${name} | ${s.probes - s.failed}/${s.probes} | ${s.reusedPorts} | ${s.connectP50} / ${s.connectP99} / ${s.connectMax} | ${s.slowConnects} | ${s.welcomeP50} / ${s.welcomeP99} / ${s.welcomeMax} |`;
    lines.push(
      '',
      `${cost.entriesOnPod} TIME_WAIT entries on the pod's port (${cost.entriesFromSource} from ${SOURCE}), made by ${cost.cycles} open-welcome-close cycles from ${cost.addresses} source addresses in ${(cost.cyclesMs / 1000).toFixed(1)} s (${cost.cycleFailures} failed); kernel: \`${cost.kernel.sockstat}\`, tw_sock_TCP object ${cost.kernel.objectBytes ?? '?'} B; pod RSS ${(cost.podRssBytesBefore / 2 ** 20).toFixed(0)} MiB before the cycles, ${(cost.podRssBytes / 2 ** 20).toFixed(0)} MiB after (TIME_WAIT is kernel memory: the pod holds no file descriptor for it).`,
      '',
      `| new connections from ${SOURCE} | accepted | source port in TIME_WAIT on the pod | TCP connect ms p50 / p99 / max | connects > 900 ms | welcome ms p50 / p99 / max |`,
      '|---|---:|---:|---:|---:|---:|',
      row('before (no TIME_WAIT)', cost.before),
      row(`with ${cost.entriesOnPod} entries`, cost.after),
    );
  }
  return lines.join('\n');
}

main().catch((error: unknown) => {
  say(String(error instanceof Error ? error.stack : error));
  process.exit(1);
});
