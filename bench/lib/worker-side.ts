import { createInterface } from 'node:readline';

/**
 * The child's half of WorkerProcess: reads one JSON command a line from stdin, answers on
 * stdout. stdout carries only answers; anything else a worker says goes to stderr.
 */
export function serveCommands(handle: (command: Record<string, unknown> & { cmd: string }) => Promise<unknown> | unknown): void {
  createInterface({ input: process.stdin }).on('line', (line) => {
    let command: Record<string, unknown> & { id: number; cmd: string };
    try {
      command = JSON.parse(line);
    } catch {
      process.stderr.write(`not a command: ${line}\n`);
      return;
    }
    Promise.resolve()
      .then(() => handle(command))
      .then(
        (result) => process.stdout.write(JSON.stringify({ id: command.id, ok: true, result: result ?? null }) + '\n'),
        (error: unknown) =>
          process.stdout.write(
            JSON.stringify({ id: command.id, ok: false, error: error instanceof Error ? error.message : String(error) }) + '\n',
          ),
      );
  });
  // The parent's end of stdin closing means the parent is gone: do not outlive it.
  process.stdin.on('end', () => process.exit(0));
  // A clean exit on the parent's stop, so that a worker run with --cpu-prof writes its profile.
  process.on('SIGTERM', () => process.exit(0));
}
