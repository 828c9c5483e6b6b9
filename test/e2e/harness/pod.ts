import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TEST_JWT_SECRET, TEST_PUBLISH_TOKEN } from './tokens.js';

export type EngineName = 'bun' | 'node';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** How each engine's gateway process is started: the same entry, run directly so signals reach it. */
export function podCommand(engine: EngineName): { command: string; args: string[] } {
  if (engine === 'bun') return { command: `${ROOT}node_modules/.bin/bun`, args: [`${ROOT}src/main.ts`] };
  return { command: process.execPath, args: [`${ROOT}dist/node/main.js`] };
}

/** The test pod environment: test secrets on a free loopback port; `undefined` in `overrides` removes a variable. */
export function podEnv(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HERALD_HOST: '127.0.0.1',
    HERALD_PORT: '0',
    HERALD_JWT_SECRET: TEST_JWT_SECRET,
    HERALD_PUBLISH_TOKEN: TEST_PUBLISH_TOKEN,
    HERALD_LOG_LEVEL: 'info',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

export interface Pod {
  engine: EngineName;
  port: number;
  http: string;
  ws: string;
  process: ChildProcess;
  /** JSON log lines the pod wrote, parsed. */
  logs: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): Promise<void>;
}

export interface StartPodOptions {
  engine?: EngineName;
  env?: Record<string, string | undefined>;
  /** Resolve once this log message appears; default 'listening'. */
  readyMessage?: string;
  timeoutMs?: number;
  /** Starts the pod under `ulimit -n` of this many open files. */
  openFileLimit?: number;
  /** Runs this file with Bun instead of the gateway's entry (an app that embeds the gateway). */
  script?: string;
}

const running = new Set<Pod>();

/** Starts a gateway process on a free port with the test secrets; resolves once it listens. */
export async function startPod(options: StartPodOptions = {}): Promise<Pod> {
  const engine = options.engine ?? 'bun';
  const { command, args } = options.script
    ? { command: `${ROOT}node_modules/.bin/bun`, args: [options.script] }
    : podCommand(engine);
  const [file, argv] = options.openFileLimit
    ? ['sh', ['-c', `ulimit -n ${options.openFileLimit} && exec "$0" "$@"`, command, ...args]]
    : [command, args];
  const child = spawn(file, argv, { cwd: ROOT, env: podEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal })) as Pod['exited'];
  const readyMessage = options.readyMessage ?? 'listening';
  const listening = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        stderr.push(`(stdout, not JSON) ${line}`);
        return;
      }
      logs.push(entry);
      if (entry.msg === readyMessage) resolve(Number(entry.port));
    });
    createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
    exited.then(({ code }) => reject(new Error(`pod exited with ${code} before listening:\n${stderr.join('\n')}`)));
  });
  const timeoutMs = options.timeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  const port = await Promise.race([
    listening,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`pod did not listen within ${timeoutMs} ms:\n${stderr.join('\n')}`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));

  const pod: Pod = {
    engine,
    port,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/ws`,
    process: child,
    logs,
    stderr,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const result = await exited;
      running.delete(pod);
      return result;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      running.delete(pod);
    },
  };
  running.add(pod);
  return pod;
}

/** Kills every pod a test file started: call from afterAll/afterEach. */
export async function killAllPods(): Promise<void> {
  await Promise.all([...running].map((pod) => pod.kill()));
}

/** Reads one value from the pod's /metrics, e.g. metricValue(pod, 'herald_connections'). */
export async function metricValue(pod: Pod, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${pod.http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  if (!line) return 0;
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * Starts a gateway process that is expected to fail at start: its exit and what it wrote to
 * stderr, for the start-up error cases.
 */
export function spawnFailingPod(engine: EngineName, env: Record<string, string | undefined>) {
  const { command, args } = podCommand(engine);
  const child = spawn(command, args, { env: podEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, stderr: () => stderr };
}
