import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './harness/manifests.js';

const run = promisify(execFile);
const ENTRIES = ['herald', 'herald/client', 'herald/publisher'] as const;

/*
 * A project of its own in a temp dir, with the package linked into its node_modules as an
 * install would put it: what `import('herald/client')` gives a Node or TypeScript consumer,
 * and what it gives Bun. The dist/ it reads is what `npm run build:node` (run by `npm test`
 * first, and by `npm pack`) makes.
 */
let project: string;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/node/client/index.d.ts'))) {
    throw new Error('dist/node is not built with its .d.ts files: run `npm run build:node` (npm test does it first)');
  }
  project = mkdtempSync(join(tmpdir(), 'herald-consumer-'));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(ROOT, join(project, 'node_modules/herald'), 'dir');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
});

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the package entry points', () => {
  it('give compiled JavaScript to plain Node: import() of herald, herald/client and herald/publisher works', async () => {
    writeFileSync(
      join(project, 'consumer.mjs'),
      `const seen = {};
for (const entry of ${JSON.stringify(ENTRIES)}) {
  const module = await import(entry);
  seen[entry] = { resolved: import.meta.resolve(entry), exports: Object.keys(module).sort() };
}
console.log(JSON.stringify(seen));`,
    );
    const { stdout } = await run(process.execPath, ['consumer.mjs'], { cwd: project });
    const seen = JSON.parse(stdout) as Record<string, { resolved: string; exports: string[] }>;
    const dist = `file://${realpathSync(ROOT)}/dist/node`;
    expect(seen['herald']!.resolved).toBe(`${dist}/index.js`);
    expect(seen['herald/client']!.resolved).toBe(`${dist}/client/index.js`);
    expect(seen['herald/publisher']!.resolved).toBe(`${dist}/publisher/index.js`);
    expect(seen['herald']!.exports).toEqual(expect.arrayContaining(['Gateway', 'loadConfig', 'createEngine', 'LocalBus']));
    expect(seen['herald/client']!.exports).toEqual(expect.arrayContaining(['HeraldClient', 'closeAction', 'CloseCode']));
    expect(seen['herald/publisher']!.exports).toEqual(
      expect.arrayContaining(['connectNatsPublisher', 'connectAmqpPublisher', 'HeraldPublisher', 'encodeEvents']),
    );
  });

  it('carry their types: a TypeScript consumer on NodeNext type-checks against the .d.ts files, and a misuse fails', async () => {
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { HeraldClient, type ConnectionState } from 'herald/client';
import { connectNatsPublisher, type HeraldPublisher } from 'herald/publisher';
import { Gateway, loadConfig } from 'herald';

const client = new HeraldClient({ url: 'ws://127.0.0.1:1/ws', token: () => 'a token' });
const state: ConnectionState['status'] = client.state.status;
const publisher: Promise<HeraldPublisher> = connectNatsPublisher({ servers: ['nats://127.0.0.1:4222'] });
const gateway: typeof Gateway = Gateway;
// @ts-expect-error the options are typed: a url is a string
new HeraldClient({ url: 42, token: 't' });
export { state, publisher, gateway, loadConfig };
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2023', 'dom'],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', project, '--traceResolution'], { cwd: project, maxBuffer: 64 * 1024 * 1024 }).catch(
      (error: { stdout: string }) => {
        throw new Error(`the consumer does not type-check:\n${error.stdout.split('\n').filter((l) => l.includes('error')).join('\n')}`);
      },
    );
    // Resolved through the "types" condition to the declaration files, not to the sources.
    expect(result.stdout).toMatch(/Module name 'herald\/client' was successfully resolved to '[^']*\/dist\/node\/client\/index\.d\.ts'/);
  }, 60_000);

  it('the client on Node 20 runs with --experimental-websocket, and says so without it', async () => {
    const script = `const { HeraldClient } = await import('herald/client');
try { new HeraldClient({ url: 'ws://127.0.0.1:1/ws', token: 't' }); console.log('constructed'); }
catch (error) { console.log(error.name + ': ' + error.message); }`;
    const withFlag = await run(process.execPath, ['--experimental-websocket', '--input-type=module', '-e', script], { cwd: project });
    expect(withFlag.stdout.trim()).toBe('constructed');
    if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
      const without = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project });
      expect(without.stdout.trim()).toMatch(/^UsageError: no WebSocket on this platform: on Node 20 run node --experimental-websocket/);
    }
  });

  it('give Bun the TypeScript sources (the "bun" condition)', async () => {
    const bun = join(ROOT, 'node_modules/.bin/bun');
    const { stdout } = await run(bun, ['-e', `console.log(import.meta.resolve('herald/client'))`], { cwd: project });
    expect(stdout.trim()).toBe(`file://${realpathSync(ROOT)}/src/client/index.ts`);
  });
});
