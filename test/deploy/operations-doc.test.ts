import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ROOT, find, kustomizeBuild, schemaProblems, type K8sObject } from './harness/manifests.js';

/*
 * docs/operations.md tells operators to paste a block that writes a private overlay with their
 * image and fresh secrets. This runs that block, as written, in a copy of k8s/ and checks
 * what they would get from `kubectl apply -k k8s/overlays/local`.
 */

const MARKER = '<!-- test/deploy/operations-doc.test.ts runs the next block -->';

function markedBlock(): string {
  const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const start = doc.indexOf(MARKER);
  if (start < 0) throw new Error(`docs/operations.md has no "${MARKER}"`);
  const match = /```sh\n([\s\S]*?)```/.exec(doc.slice(start));
  if (!match) throw new Error('no ```sh block after the marker in docs/operations.md');
  return match[1]!;
}

describe('the private-overlay recipe of docs/operations.md', () => {
  let workspace: string;
  let objects: K8sObject[];
  beforeAll(() => {
    workspace = mkdtempSync(join(tmpdir(), 'herald-ops-doc-'));
    cpSync(join(ROOT, 'k8s'), join(workspace, 'k8s'), { recursive: true, filter: (p) => !p.endsWith('/overlays/local') });
    execFileSync('bash', ['-euo', 'pipefail', '-c', markedBlock()], { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] });
    objects = kustomizeBuild('k8s/overlays/local', workspace);
  });
  afterAll(() => {
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  it('builds the NATS overlay with the pushed image, and every object passes its schema', async () => {
    const deployment = find(objects, 'Deployment', 'herald') as unknown as IDeployment;
    expect(deployment.spec!.template.spec!.containers[0]!.image).toBe('registry.example.com/herald:0.1.0');
    expect(objects.some((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats')).toBe(true);
    for (const object of objects) expect(await schemaProblems(object), `${object.kind}/${object.metadata.name}`).toEqual([]);
  });

  it('fills the Secret the Deployment reads with fresh values the gateway accepts in production', () => {
    const deployment = find(objects, 'Deployment', 'herald') as unknown as IDeployment;
    const container = deployment.spec!.template.spec!.containers[0]!;
    const secretName = container.envFrom!.find((e) => e.secretRef)!.secretRef!.name!;
    const secret = find(objects, 'Secret', secretName) as ISecret;
    expect(secret.stringData, 'no empty stringData left to override the values').toBeUndefined();
    const values = Object.fromEntries(Object.entries(secret.data!).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    const configMap = find(objects, 'ConfigMap', container.envFrom!.find((e) => e.configMapRef)!.configMapRef!.name!);
    const config = loadConfig({ ...(configMap.data as Record<string, string>), ...values, NODE_ENV: 'production' });
    expect(config.publishToken).toBe(values.HERALD_PUBLISH_TOKEN);
    expect(config.key).toEqual({ kind: 'secret', secret: values.HERALD_JWT_SECRET });
    expect(config.bus).toBe('nats');
  });

  it('writes the overlay where git ignores it', () => {
    const ignored = execFileSync('git', ['check-ignore', 'k8s/overlays/local/kustomization.yaml'], { cwd: ROOT, encoding: 'utf8' });
    expect(ignored.trim()).toBe('k8s/overlays/local/kustomization.yaml');
  });
});
