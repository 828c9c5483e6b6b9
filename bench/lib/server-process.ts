import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A server did not come up, or died. */
export class ServerStartError extends Error {
  override readonly name = 'ServerStartError';
}

/**
 * A contender's server process (a Herald pod or a peer). Every one of them writes a JSON
 * line `{"msg":"listening","port":N}` on stdout once it accepts connections.
 */
export class ServerProcess {
  readonly lines: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  private lineWaiters: { match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  private exited = false;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    public port = 0,
  ) {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      if (line.level !== undefined && Number(line.level) < 40 && line.msg !== 'listening') return;
      this.lines.push(line);
      if (this.lines.length > 500) this.lines.shift();
      this.lineWaiters = this.lineWaiters.filter((w) => {
        if (!w.match(line)) return true;
        w.resolve(line);
        return false;
      });
    });
    createInterface({ input: child.stderr! }).on('line', (text) => {
      this.stderr.push(text);
      if (this.stderr.length > 100) this.stderr.shift();
    });
    child.on('exit', () => (this.exited = true));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return !this.exited;
  }

  static async start(
    name: string,
    command: string,
    args: string[],
    env: Record<string, string>,
    timeoutMs = 20_000,
  ): Promise<ServerProcess> {
    const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new ServerProcess(name, child);
    try {
      const line = await server.waitFor((l) => l.msg === 'listening', timeoutMs);
      server.port = Number(line.port);
      return server;
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  /** Resolves with the next stdout JSON line that matches. */
  waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new ServerStartError(`${this.name}: no matching line within ${timeoutMs} ms; stderr: ${this.stderr.slice(-8).join(' | ')}`));
      }, timeoutMs);
      const onExit = () => {
        clearTimeout(timer);
        reject(new ServerStartError(`${this.name} exited: ${this.stderr.slice(-8).join(' | ')}`));
      };
      if (this.exited) return onExit();
      this.child.once('exit', onExit);
      this.lineWaiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          this.child.off('exit', onExit);
          resolve(line);
        },
      });
    });
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** Resolves once the process has exited (after a signal, say). */
  waitForExit(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  /** SIGKILL: the bench does not measure drains, and a drain would wait for every client. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}
