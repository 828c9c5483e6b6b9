import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Env, loadConfig } from '../../src/config.js';
import { containerCommand, readDockerfile } from './harness/dockerfile.js';
import { ROOT } from './harness/manifests.js';

const createIgnore = createRequire(import.meta.url)('@balena/dockerignore') as typeof import('@balena/dockerignore').default;
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const stages = readDockerfile();
const runtime = stages.at(-1)!;

describe('the Dockerfile', () => {
  it('builds in stages on the official Bun image, at the Bun version package.json pins', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const bun = packageJson.dependencies.bun!;
    expect(bun).toMatch(/^\d+\.\d+\.\d+$/);
    for (const stage of stages) {
      expect(stage.image).toBe('oven/bun');
      expect(stage.tag).toMatch(new RegExp(`^${bun.replaceAll('.', '\\.')}(-[a-z]+)?$`));
    }
  });

  it('installs production dependencies only, without the optional Node engine, from the lockfile, and copies them into the runtime stage', () => {
    const runs = stages.flatMap((s) => s.steps.filter((step) => step.kind === 'RUN').map((step) => (step.kind === 'RUN' ? step.shell : '')));
    const install = runs.find((r) => /\bbun install\b/.test(r));
    expect(install).toMatch(/--production/);
    expect(install).toMatch(/--frozen-lockfile/);
    expect(install).toMatch(/--omit[= ]optional/);
    expect(runtime.steps.filter((s) => s.kind === 'RUN')).toEqual([]);
    expect(runtime.steps).toContainEqual(expect.objectContaining({ kind: 'COPY', from: stages[0]!.name }));
  });

  it('runs the gateway directly, exec form, so SIGTERM reaches it', () => {
    expect(runtime.entrypoint).toEqual({ form: 'exec', argv: ['bun', 'src/main.ts'] });
    expect(containerCommand(runtime)).toEqual(['bun', 'src/main.ts']);
  });

  it('runs as a numeric non-root user, exposes HERALD_PORT, and sets production mode', () => {
    const [uid, gid] = (runtime.user ?? '').split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    expect(runtime.exposed).toEqual(['8080']);
    expect(runtime.env.NODE_ENV).toBe('production');
    const heraldNames = Object.keys(runtime.env).filter((n) => n.startsWith('HERALD_'));
    expect(heraldNames.filter((n) => !(n in Env.properties))).toEqual([]);
    // The image's ENV is a valid configuration once the secrets are added at run time.
    const config = loadConfig({ ...runtime.env, HERALD_JWT_SECRET: 'a'.repeat(48), HERALD_PUBLISH_TOKEN: 'b'.repeat(32) });
    expect(config.port).toBe(8080);
  });

  it('checks its health on /healthz with Bun (the image has no curl), exec form', () => {
    const check = runtime.healthcheck;
    expect(check?.command.form).toBe('exec');
    const argv = check!.command.form === 'exec' ? check!.command.argv : [];
    expect(argv.slice(0, 2)).toEqual(['bun', '-e']);
    expect(argv[2]).toContain('/healthz');
    expect(Object.keys(check!.flags).sort()).toEqual(['interval', 'retries', 'start-period', 'timeout']);
  });

  it('sends only what it copies: .dockerignore keeps node_modules, .git, tests and secrets out', () => {
    const ignore = createIgnore().add(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
    for (const path of ['node_modules/pino/package.json', '.git/HEAD', 'test/deploy/dockerfile.test.ts', 'bench/x.ts', '.env', 'k8s/base/secret.yaml']) {
      expect(ignore.ignores(path), path).toBe(true);
    }
    const copied = stages.flatMap((s) => s.steps.flatMap((step) => (step.kind === 'COPY' && step.from === undefined ? step.sources : [])));
    for (const path of [...copied, 'src/main.ts', 'src/gateway/gateway.ts']) expect(ignore.ignores(path), path).toBe(false);
  });
});
