import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A worker answered a command with an error. */
export class WorkerError extends Error {
  override readonly name = 'WorkerError';
}

/** A worker exited, or did not answer in time. */
export class WorkerGoneError extends Error {
  override readonly name = 'WorkerGoneError';
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * A load-generating child process driven by JSON lines: one command a line on its stdin,
 * one `{id, ok, result | error}` line back on its stdout (see worker-side.ts). Its stderr is kept.
 */
export class WorkerProcess {
  readonly stderr: string[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exitedWith: string | undefined;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderr.push(line);
      if (this.stderr.length > 200) this.stderr.shift();
    });
    child.on('exit', (code, signal) => {
      this.exitedWith = `exited with ${code ?? signal}`;
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new WorkerGoneError(`${this.name} ${this.exitedWith}: ${this.stderr.slice(-10).join('\n')}`));
      }
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static start(name: string, command: string, args: string[], env: Record<string, string> = {}): WorkerProcess {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new WorkerProcess(name, child);
  }

  request<T>(command: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    if (this.exitedWith) return Promise.reject(new WorkerGoneError(`${this.name} ${this.exitedWith}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new WorkerGoneError(`${this.name} did not answer ${String(command.cmd)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.stdin!.write(JSON.stringify({ id, ...command }) + '\n');
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  }

  private onLine(line: string): void {
    let reply: { id?: number; ok?: boolean; result?: unknown; error?: string };
    try {
      reply = JSON.parse(line);
    } catch {
      this.stderr.push(`(stdout) ${line}`);
      return;
    }
    const pending = reply.id === undefined ? undefined : this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id!);
    clearTimeout(pending.timer);
    if (reply.ok) pending.resolve(reply.result);
    else pending.reject(new WorkerError(`${this.name}: ${reply.error}`));
  }
}
