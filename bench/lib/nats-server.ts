import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A private nats-server (with JetStream, which Herald's revocation store uses): its CPU is the bench's alone. */
export interface BenchNats {
  url: string;
  pid: number;
  /** Warnings the server logged (slow consumers, above all), for the report. */
  warnings: string[];
  stop(): Promise<void>;
}

export async function startNats(binary = process.env.NATS_SERVER_BIN ?? 'nats-server'): Promise<BenchNats> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'herald-bench-nats-'));
  const child: ChildProcess = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Read the log (an unread pipe would block the server once full) and keep what matters.
  const warnings: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (/\[(WRN|ERR)\]/.test(line) && warnings.length < 20) warnings.push(line.replace(/^\[\d+\] \S+ \S+ /, ''));
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`nats-server did not start on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid!,
    warnings,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
