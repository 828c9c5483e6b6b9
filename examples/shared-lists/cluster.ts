/**
 * `npm run demo:cluster`: two pods of the demo on two ports, on NATS, sharing one database (the
 * SQLite file in DATA_DIR, or PostgreSQL when DATABASE_URL is set) and one signing key. Starts
 * its own nats-server with JetStream (in DATA_DIR) unless HERALD_NATS_URL names one. Ctrl-C
 * drains both pods and stops everything it started.
 */
import { spawn, type Subprocess } from 'bun';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const EXAMPLE_DIR = dirname(fileURLToPath(import.meta.url));
const dataDir = resolve(process.env.DATA_DIR ?? join(EXAMPLE_DIR, '.data'));
const basePort = Number(process.env.PORT ?? 3000);
mkdirSync(dataDir, { recursive: true });

const podProcesses: Subprocess[] = [];
let natsProcess: Subprocess | undefined;
let natsUrl = process.env.HERALD_NATS_URL;

function natsServerBinary(): string {
  const candidates = [
    process.env.NATS_SERVER_BIN,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => dir && join(dir, 'nats-server')),
    '/usr/sbin/nats-server',
    '/usr/local/bin/nats-server',
  ].filter((c): c is string => Boolean(c));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  throw new Error('nats-server is not installed (apt-get install nats-server, or set NATS_SERVER_BIN), or set HERALD_NATS_URL');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/** Copies a child's lines to ours with a prefix; resolves when a line contains `ready`. */
function follow(child: Subprocess, prefix: string, ready?: string): Promise<void> {
  return new Promise((resolveReady) => {
    for (const stream of [child.stdout, child.stderr]) {
      if (!(stream instanceof ReadableStream)) continue;
      void (async () => {
        let rest = '';
        for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
          const lines = (rest + new TextDecoder().decode(chunk)).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) {
            process.stdout.write(`${prefix} ${line}\n`);
            if (ready && line.includes(ready)) resolveReady();
          }
        }
      })();
    }
  });
}

// Whatever happens to this process, what it started goes with it.
process.on('exit', () => {
  for (const child of [...podProcesses, natsProcess]) child?.kill('SIGKILL');
});

if (!natsUrl) {
  const port = await freePort();
  const nats = spawn([natsServerBinary(), '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dataDir, 'nats')], {
    stdout: 'pipe',
    stderr: 'pipe',
  });
  natsProcess = nats;
  await follow(nats, '[nats]', 'Server is ready');
  natsUrl = `nats://127.0.0.1:${port}`;
}

const pods = ['a', 'b'].map((name, i) => {
  const pod = spawn([process.execPath, join(EXAMPLE_DIR, 'server.ts')], {
    env: { ...process.env, PORT: String(basePort + i), DATA_DIR: dataDir, HERALD_BUS: 'nats', HERALD_NATS_URL: natsUrl },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  podProcesses.push(pod);
  return follow(pod, `[pod ${name}]`, 'shared-lists listening');
});
await Promise.all(pods);
process.stdout.write(
  `\nshared-lists cluster: two pods on NATS (${natsUrl}), ${process.env.DATABASE_URL ? 'PostgreSQL' : `SQLite in ${dataDir}`}\n` +
    `  pod a: http://127.0.0.1:${basePort}/\n  pod b: http://localhost:${basePort + 1}/   (another host name: another cookie, another session)\n` +
    `Ctrl-C drains both pods and stops.\n\n`,
);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const pod of podProcesses) pod.kill('SIGTERM');
  await Promise.all(podProcesses.map((pod) => pod.exited));
  natsProcess?.kill('SIGTERM');
  await natsProcess?.exited;
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
