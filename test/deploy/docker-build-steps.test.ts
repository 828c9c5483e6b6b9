import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWithoutEngine, type BuiltImage } from './harness/build-without-engine.js';
import { containerCommand, readDockerfile } from './harness/dockerfile.js';
import { ROOT } from './harness/manifests.js';
import { freePort } from '../e2e/harness/free-port.js';

/*
 * No Docker engine runs on these machines, so this test runs the Dockerfile's own steps here:
 * the same install command into a copy of the build context, the same ENTRYPOINT with the
 * image's ENV, and checks what an operator checks of a container: /readyz answers 200, the
 * HEALTHCHECK passes, SIGTERM ends it with exit 0. The repository's Bun (package.json pins the
 * same version as the base image tag) stands in for the image's /usr/local/bin/bun.
 * As in Kubernetes (runAsUser, readOnlyRootFilesystem), the gateway runs as the Dockerfile's
 * USER when this test runs as root, with the image's files read-only and no writable HOME.
 */

const execFileAsync = promisify(execFile);
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  optionalDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
// What `docker run -e` / the Kubernetes Secret adds to the image's ENV at run time.
const RUNTIME_SECRETS = {
  HERALD_JWT_SECRET: 'docker-build-steps-test-secret-0123456789abcdef',
  HERALD_PUBLISH_TOKEN: 'docker-build-steps-publish-token-0123',
};

let workspace: string;
let image: BuiltImage;
let imagePath: string;
const started = new Set<ChildProcess>();

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'herald-image-'));
  chmodSync(workspace, 0o755);
  imagePath = join(workspace, 'image-bin');
  mkdirSync(imagePath);
  symlinkSync(realpathSync(join(ROOT, 'node_modules/.bin/bun')), join(imagePath, 'bun'));
  image = await buildWithoutEngine({
    context: ROOT,
    stages: readDockerfile(),
    workspace,
    imagePath: [imagePath],
    runTimeoutMs: 150_000,
  });
  await execFileAsync('chmod', ['-R', 'a-w,a+rX', image.workdir]);
}, 180_000);

afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (!workspace) return;
  await execFileAsync('chmod', ['-R', 'u+w', workspace]);
  rmSync(workspace, { recursive: true, force: true });
});

/** The Dockerfile's USER (uid:gid) when this process may switch to it, else this process's own. */
function imageUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const [uid, gid] = image.stage.user!.split(':').map(Number);
  return { uid: uid!, gid: gid ?? uid! };
}


/** The container's environment: the image's ENV, then the run-time variables, then PATH. */
function containerEnv(extra: Record<string, string>): Record<string, string> {
  return { ...image.stage.env, ...extra, PATH: `${imagePath}:${process.env.PATH}`, HOME: '/nonexistent' };
}

function startContainer(env: Record<string, string>) {
  const [command, ...args] = containerCommand(image.stage);
  const child = spawn(command!, args, { cwd: image.workdir, env, stdio: ['ignore', 'pipe', 'pipe'], ...imageUser() });
  started.add(child);
  const output: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, output, exited };
}

async function waitForStatus(url: string, status: number, timeoutMs: number, output: string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.status === status) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last}). Output:\n${output.join('')}`);
}

async function runHealthcheck(env: Record<string, string>): Promise<number> {
  const command = image.stage.healthcheck!.command;
  const argv = command.form === 'exec' ? command.argv : ['/bin/sh', '-c', command.text];
  try {
    await execFileAsync(argv[0]!, argv.slice(1), { cwd: image.workdir, env, timeout: 10_000, ...imageUser() });
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

describe('the Dockerfile, built and started without a container engine', () => {
  it('installs the production dependencies, none of the development ones, and not uWebSockets.js (Node only, ~113 MB)', () => {
    const modules = join(image.workdir, 'node_modules');
    for (const name of Object.keys(packageJson.dependencies)) {
      // The npm package "bun" is removed on purpose: the base image's Bun runs the gateway.
      if (name === 'bun') expect(existsSync(join(modules, name)), 'node_modules/bun was pruned').toBe(false);
      else expect(existsSync(join(modules, name, 'package.json')), `${name} is installed`).toBe(true);
    }
    for (const name of Object.keys(packageJson.devDependencies)) {
      expect(existsSync(join(modules, name)), `dev dependency ${name} stays out of the image`).toBe(false);
    }
    // The Node engine's native addons: Bun serves with Bun.serve and never loads them.
    expect(Object.keys(packageJson.optionalDependencies)).toEqual(['uWebSockets.js']);
    expect(existsSync(join(modules, 'uWebSockets.js')), 'uWebSockets.js stays out of the Bun image').toBe(false);
    expect(existsSync(join(image.workdir, 'src/main.ts'))).toBe(true);
    expect(existsSync(join(image.workdir, 'test')), 'tests stay out of the image').toBe(false);
  });

  it('serves /readyz 200 with the image ENV, passes its HEALTHCHECK, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const env = containerEnv({ ...RUNTIME_SECRETS, HERALD_HOST: '127.0.0.1', HERALD_PORT: String(port) });
    const container = startContainer(env);

    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 20_000, container.output);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const { uid } = imageUser();
    if (uid !== undefined) {
      const status = readFileSync(`/proc/${container.child.pid}/status`, 'utf8');
      expect(status, 'runs as the Dockerfile USER').toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
    }
    expect(await runHealthcheck(env)).toBe(0);
    const logLines = container.output.join('').split('\n').filter((l) => l.startsWith('{'));
    expect(logLines.length, 'the gateway logs JSON lines').toBeGreaterThan(0);
    expect(container.output.join(''), 'production: no development-mode banner').not.toContain('development mode');

    container.child.kill('SIGTERM');
    const [code, signal] = await container.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    // The same HEALTHCHECK fails once nothing serves: it can tell a dead container.
    expect(await runHealthcheck(env)).not.toBe(0);
  }, 40_000);

  it('refuses to start without its secrets (NODE_ENV=production from the image), exit 2 naming them', async () => {
    const port = await freePort();
    const container = startContainer(containerEnv({ HERALD_HOST: '127.0.0.1', HERALD_PORT: String(port) }));
    const [code] = await container.exited;
    expect(code).toBe(2);
    expect(container.output.join('')).toContain('HERALD_JWT_SECRET');
    expect(container.output.join('')).toContain('HERALD_PUBLISH_TOKEN');
  }, 20_000);
});
