/**
 * `npm run bench:engines`: the two engines side by side on raw fan-out, below the gateway.
 * Bun.serve runs under Bun, uWebSockets.js under Node (bundled by `bun build --target=node`);
 * this process holds the client sockets (raw TCP, frames counted by their headers) and reports
 * the wall time from the request that starts a scenario to the last frame counted.
 *
 *   bun bench/engine-fanout.ts [--users 1000] [--count 1000] [--rounds 1000] [--runs 3]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import type { RunRequest, Scenario } from './engine-fanout-server.js';
import { BUN, NODE, ROOT } from './contenders.js';
import { FrameReader, Opcode } from './lib/frame-reader.js';

type EngineName = 'bun' | 'node';

interface Options {
  users: number;
  count: number;
  rounds: number;
  runs: number;
}

interface Measured {
  engine: EngineName;
  scenario: Scenario;
  frames: number;
  /** Median over the runs: request sent → last frame counted. */
  deliveredMs: number;
  /** Median time the publish calls themselves took in the server (deferred work not included). */
  publishMs: number;
  runs: number;
}

const BUILD_DIR = `${ROOT}.tmp/engine-bench`;
/** A run slower than this is not repeated: its order of magnitude is the finding. */
const REPEAT_BELOW_MS = 5_000;

function parseOptions(argv: string[]): Options {
  const options: Options = { users: 1000, count: 1000, rounds: 1000, runs: 3 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '') as keyof Options;
    const value = Number(argv[i + 1]);
    if (!(name in options) || !Number.isInteger(value) || value < 1) throw new Error(`bad option ${argv[i]} ${argv[i + 1]}`);
    options[name] = value;
  }
  return options;
}

function startServer(engine: EngineName): Promise<{ child: ChildProcess; port: number }> {
  const child =
    engine === 'bun'
      ? spawn(BUN, [`${ROOT}bench/engine-fanout-server.ts`], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(NODE, [`${BUILD_DIR}/engine-fanout-server.js`], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => {
      resolve({ child, port: (JSON.parse(line) as { listening: number }).listening });
    });
    child.once('exit', (code) => reject(new Error(`${engine} server exited with ${code}`)));
  });
}

/** Opens `users` sockets, socket i as user i; `onText` runs once per text frame received. */
async function openSockets(port: number, users: number, onText: () => void): Promise<Socket[]> {
  const open = (user: number) =>
    new Promise<Socket>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const reader = new FrameReader(
        () => false,
        (opcode) => {
          if (opcode === Opcode.Text) onText();
        },
      );
      let handshake: Buffer | undefined = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        if (!handshake) return reader.push(chunk);
        handshake = Buffer.concat([handshake, chunk]);
        const end = handshake.indexOf('\r\n\r\n');
        if (end === -1) return;
        if (!handshake.subarray(0, 12).toString().includes('101')) return reject(new Error(handshake.toString()));
        const rest = handshake.subarray(end + 4);
        handshake = undefined;
        resolve(socket);
        if (rest.length > 0) reader.push(rest);
      });
      socket.once('error', reject);
      socket.write(
        `GET /ws?u=${user} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  const sockets: Socket[] = [];
  // A hundred handshakes at a time: the listen backlog stays small.
  for (let first = 0; first < users; first += 100) {
    const batch = [];
    for (let user = first; user < Math.min(users, first + 100); user++) batch.push(open(user));
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

async function measureEngine(engine: EngineName, options: Options): Promise<Measured[]> {
  const { child, port } = await startServer(engine);
  let received = 0;
  let target = Infinity;
  let reached: (() => void) | undefined;
  const sockets = await openSockets(port, options.users, () => {
    if (++received === target) reached?.();
  });
  const scenarios: [Scenario, number][] = [
    ['broadcast-timer', options.count],
    ['broadcast-in-callback', options.count],
    ['broadcast-fanout', options.count],
    ['per-user-timer', options.rounds],
    ['per-user-fanout', options.rounds],
  ];
  const results: Measured[] = [];
  try {
    for (const [scenario, count] of scenarios) {
      const frames = count * options.users;
      const delivered: number[] = [];
      const published: number[] = [];
      for (let run = 0; run < options.runs; run++) {
        received = 0;
        target = frames;
        const done = new Promise<void>((resolve) => (reached = resolve));
        const started = performance.now();
        const request: RunRequest = { scenario, count, users: options.users };
        const response = await fetch(`http://127.0.0.1:${port}/run`, { method: 'POST', body: JSON.stringify(request) });
        const { publishMs } = (await response.json()) as { publishMs: number };
        await done;
        delivered.push(performance.now() - started);
        published.push(publishMs);
        process.stderr.write(`${engine} ${scenario} run ${run + 1}: ${delivered.at(-1)!.toFixed(0)} ms\n`);
        if (delivered.at(-1)! > REPEAT_BELOW_MS) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      results.push({
        engine,
        scenario,
        frames,
        deliveredMs: median(delivered),
        publishMs: median(published),
        runs: delivered.length,
      });
    }
  } finally {
    for (const socket of sockets) socket.destroy();
    child.kill('SIGKILL');
  }
  return results;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function table(results: Measured[], options: Options): string {
  const rows = [
    '| scenario | frames | Bun.serve (Bun) | uWebSockets.js (Node) | Node / Bun |',
    '|---|---:|---:|---:|---:|',
  ];
  const describe: Record<Scenario, string> = {
    'broadcast-timer': `${options.count} publishes to 1 topic of ${options.users}, from a timer`,
    'broadcast-in-callback': `${options.count} publishes to 1 topic of ${options.users}, inside the HTTP callback`,
    'broadcast-fanout': `${options.count} publishes to 1 topic of ${options.users}, through engine.fanOut`,
    'per-user-timer': `${options.rounds * options.users} publishes to ${options.users} one-socket topics, from a timer`,
    'per-user-fanout': `${options.rounds * options.users} publishes to ${options.users} one-socket topics, through engine.fanOut`,
  };
  for (const scenario of Object.keys(describe) as Scenario[]) {
    const bun = results.find((r) => r.engine === 'bun' && r.scenario === scenario);
    const node = results.find((r) => r.engine === 'node' && r.scenario === scenario);
    const cell = (r: Measured | undefined) => (r ? `${(r.deliveredMs / 1000).toFixed(2)} s` : 'failed');
    const ratio = bun && node ? `${(node.deliveredMs / bun.deliveredMs).toFixed(2)}×` : '–';
    rows.push(`| ${describe[scenario]} | ${(bun ?? node)?.frames ?? 0} | ${cell(bun)} | ${cell(node)} | ${ratio} |`);
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  mkdirSync(BUILD_DIR, { recursive: true });
  execFileSync(
    BUN,
    ['build', 'bench/engine-fanout-server.ts', '--target=node', '--packages=external', `--outdir=${BUILD_DIR}`],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const startedAt = new Date();
  const results = [...(await measureEngine('bun', options)), ...(await measureEngine('node', options))];
  const versions = {
    bun: execFileSync(BUN, ['--version'], { encoding: 'utf8' }).trim(),
    node: execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim(),
  };
  const heading =
    `Engine fan-out, ${startedAt.toISOString()} · ${cpus().length}× ${cpus()[0]?.model.trim()} · ` +
    `Bun ${versions.bun}, Node ${versions.node} · load at start ${loadavg().map((l) => l.toFixed(1)).join(' ')} · ` +
    `median of up to ${options.runs} runs, wall time from the request to the last frame counted`;
  process.stdout.write(`${heading}\n\n${table(results, options)}\n`);
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(
    `${ROOT}bench/results/engine-fanout.json`,
    JSON.stringify({ startedAt, versions, options, results }, null, 2),
  );
}

main().catch((error) => {
  process.stderr.write(`engine-fanout: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
