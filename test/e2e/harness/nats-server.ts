import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './free-port.js';

export { freePort };

/**
 * Real nats-server processes on free loopback ports, for tests. Every server started here is
 * killed and its storage removed when the test file ends (stopAllNatsServers) or, failing
 * that, when the test process exits.
 */

const INSTALL_HINT =
  'nats-server is not installed: the NATS tests start real nats-server processes. ' +
  'Install it with `apt-get install nats-server` (Debian/Ubuntu), or put the binary on PATH, ' +
  'or set NATS_SERVER_BIN to its path.';

export class NatsServerMissingError extends Error {
  override readonly name = 'NatsServerMissingError';
  constructor() {
    super(INSTALL_HINT);
  }
}

const USUAL_PLACES = ['/usr/sbin/nats-server', '/usr/local/bin/nats-server'];

/** The nats-server binary: NATS_SERVER_BIN, then PATH, then Debian's /usr/sbin. */
export function natsServerBinary(env: NodeJS.ProcessEnv = process.env, usualPlaces = USUAL_PLACES): string {
  const candidates = [
    env.NATS_SERVER_BIN,
    ...(env.PATH ?? '').split(delimiter).map((dir) => dir && join(dir, 'nats-server')),
    ...usualPlaces,
  ].filter((c): c is string => Boolean(c));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not this one.
    }
  }
  throw new NatsServerMissingError();
}


export interface NatsServer {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** The process of the current run (changes on restart). */
  readonly process: ChildProcess;
  readonly running: boolean;
  /** Everything the server wrote, for failure messages. */
  readonly output: string[];
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash. */
  kill(): Promise<void>;
  /** Starts again on the same ports with the same storage; resolves once it is ready. */
  restart(): Promise<void>;
  /** SIGSTOP: the process stops answering; its connections stay open and its kernel still accepts. */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
}

interface ServerSpec {
  name: string;
  port: number;
  monitorPort: number;
  /** Undefined: no JetStream. */
  storeDir: string | undefined;
  cluster?: { name: string; port: number; routes: number[] };
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function argsFor(spec: ServerSpec): string[] {
  const args = ['-a', '127.0.0.1', '-p', String(spec.port), '-m', String(spec.monitorPort), '-n', spec.name];
  if (spec.storeDir) args.push('-js', '-sd', spec.storeDir);
  if (spec.cluster) {
    const { name, port, routes } = spec.cluster;
    args.push('--cluster_name', name, '--cluster', `nats://127.0.0.1:${port}`);
    args.push('--routes', routes.map((p) => `nats://127.0.0.1:${p}`).join(','));
  }
  return args;
}

class RunningNatsServer implements NatsServer {
  process!: ChildProcess;
  readonly output: string[] = [];
  private exited!: Promise<void>;

  constructor(
    private readonly binary: string,
    private readonly spec: ServerSpec,
  ) {}

  get name(): string {
    return this.spec.name;
  }
  get port(): number {
    return this.spec.port;
  }
  get url(): string {
    return `nats://127.0.0.1:${this.spec.port}`;
  }
  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  async launch(): Promise<void> {
    const child = spawn(this.binary, argsFor(this.spec), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    live.add(child);
    const onData = (chunk: Buffer) => this.output.push(...chunk.toString().split('\n').filter(Boolean));
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.exited = once(child, 'exit').then(() => {
      live.delete(child);
    });
    await this.waitHealthy();
  }

  /** Ready means clients are accepted and, in a cluster, JetStream has a meta leader. */
  private async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`nats-server ${this.name} exited:\n${this.output.join('\n')}`);
      try {
        const response = await fetch(`http://127.0.0.1:${this.spec.monitorPort}/healthz`);
        last = await response.text();
        if (response.ok) return;
      } catch (error) {
        last = String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`nats-server ${this.name} not healthy within ${timeoutMs} ms (${last}):\n${this.output.join('\n')}`);
  }

  async stop(): Promise<void> {
    if (this.running) this.process.kill('SIGTERM');
    await this.exited;
  }

  async kill(): Promise<void> {
    if (this.running) this.process.kill('SIGKILL');
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  freeze(): void {
    this.process.kill('SIGSTOP');
  }

  thaw(): void {
    this.process.kill('SIGCONT');
  }
}

const started = new Set<RunningNatsServer>();

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** One nats-server, with JetStream (storage in a fresh temp dir) unless told otherwise, on `port` or a free one. */
export async function startNatsServer(options: { jetstream?: boolean; port?: number } = {}): Promise<NatsServer> {
  const binary = natsServerBinary();
  const server = new RunningNatsServer(binary, {
    name: `herald-test-${process.pid}-${started.size}`,
    port: options.port ?? (await freePort()),
    monitorPort: await freePort(),
    storeDir: options.jetstream === false ? undefined : tempDir('herald-nats-'),
  });
  started.add(server);
  await server.launch();
  return server;
}

export interface NatsCluster {
  readonly nodes: NatsServer[];
  /** Every node's client URL, comma-separated: HERALD_NATS_URL. */
  readonly urls: string;
}

/** A JetStream cluster of `size` nodes with full-mesh routes, on loopback. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const binary = natsServerBinary();
  const clusterName = `herald-test-${process.pid}-${started.size}`;
  const routePorts: number[] = [];
  const specs: ServerSpec[] = [];
  for (let i = 0; i < size; i++) routePorts.push(await freePort());
  const root = tempDir('herald-nats-cluster-');
  for (let i = 0; i < size; i++) {
    specs.push({
      name: `${clusterName}-n${i + 1}`,
      port: await freePort(),
      monitorPort: await freePort(),
      storeDir: join(root, `n${i + 1}`),
      cluster: { name: clusterName, port: routePorts[i]!, routes: routePorts.filter((_, j) => j !== i) },
    });
  }
  const nodes = specs.map((spec) => new RunningNatsServer(binary, spec));
  for (const node of nodes) started.add(node);
  // All at once: a JetStream cluster elects its meta leader only once a quorum is up.
  await Promise.all(nodes.map((node) => node.launch()));
  return { nodes, urls: nodes.map((n) => n.url).join(',') };
}

/** Kills every server this test process started and removes their storage. */
export async function stopAllNatsServers(): Promise<void> {
  await Promise.all([...started].map((server) => server.kill()));
  started.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
