import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Env, loadConfig } from '../../src/config.js';
import { killAllPods, startPod, type Pod } from '../e2e/harness/pod.js';
import { readDockerfile } from './harness/dockerfile.js';
import {
  ROOT,
  find,
  isK8sObject,
  kustomizationDirs,
  kustomizeBuild,
  parseYamlFile,
  readKustomization,
  schemaProblems,
  yamlFiles,
  type K8sObject,
} from './harness/manifests.js';
import { unknownFieldProblems } from './harness/unknown-fields.js';

const ENV_NAMES = new Set(Object.keys(Env.properties));
const OVERLAYS = kustomizationDirs().filter((dir) => dir.startsWith('k8s/overlays/'));
const GATEWAY = { deployment: 'herald', service: 'herald', configMap: 'herald-config', secret: 'herald-secrets' };

/** Files a kustomization names as resources (full objects), as patches, or not at all. */
function kustomizationReferences() {
  const resources = new Set<string>();
  const patches = new Set<string>();
  const missing: string[] = [];
  for (const dir of kustomizationDirs()) {
    const kustomization = readKustomization(dir);
    for (const entry of kustomization.resources ?? []) {
      const path = normalize(join(dir, entry));
      if (!existsSync(join(ROOT, path))) missing.push(`${dir}: resource ${entry}`);
      else if (/\.ya?ml$/.test(path)) resources.add(path);
      else if (!existsSync(join(ROOT, path, 'kustomization.yaml'))) missing.push(`${dir}: ${entry} has no kustomization.yaml`);
    }
    for (const patch of kustomization.patches ?? []) {
      if (patch.path === undefined) continue;
      const path = normalize(join(dir, patch.path));
      if (!existsSync(join(ROOT, path))) missing.push(`${dir}: patch ${patch.path}`);
      patches.add(path);
    }
  }
  return { resources, patches, missing };
}

function gatewayContainer(objects: K8sObject[]) {
  const deployment = find(objects, 'Deployment', GATEWAY.deployment) as unknown as IDeployment;
  const pod = deployment.spec!.template.spec!;
  const container = pod.containers.find((c) => c.name === 'herald');
  if (!container) throw new Error('the Deployment has no container named herald');
  return { deployment, pod, container };
}

/** The gateway's environment as the pod sees it: envFrom ConfigMap and Secret, then env. */
function podEnvironment(objects: K8sObject[]): Record<string, string> {
  const { container } = gatewayContainer(objects);
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, (find(objects, 'ConfigMap', source.configMapRef.name!) as IConfigMap).data);
    if (source.secretRef) {
      const secret = find(objects, 'Secret', source.secretRef.name!) as ISecret;
      for (const [name, value] of Object.entries(secret.data ?? {})) env[name] = Buffer.from(value, 'base64').toString('utf8');
      Object.assign(env, secret.stringData);
    }
  }
  for (const variable of container.env ?? []) env[variable.name] = variable.value ?? '';
  return env;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

describe('every manifest under k8s/', () => {
  const files = yamlFiles();

  it('finds the manifests', () => {
    expect(files).toContain('k8s/base/deployment.yaml');
    expect(files).toContain('k8s/nats/statefulset.yaml');
    expect(OVERLAYS.sort()).toEqual(['k8s/overlays/amqp', 'k8s/overlays/nats']);
  });

  it.each(files)('%s parses as YAML without errors or warnings', (file) => {
    expect(parseYamlFile(join(ROOT, file)).length).toBeGreaterThan(0);
  });

  it('is named by a kustomization (as a resource or a patch), and every path a kustomization names exists', () => {
    const { resources, patches, missing } = kustomizationReferences();
    expect(missing).toEqual([]);
    const orphans = files.filter((f) => !f.endsWith('/kustomization.yaml') && !resources.has(f) && !patches.has(f));
    expect(orphans).toEqual([]);
  });

  it('validates every resource file against the Kubernetes schema of its kind', async () => {
    const problems: string[] = [];
    for (const file of kustomizationReferences().resources) {
      for (const doc of parseYamlFile(join(ROOT, file))) {
        if (!isK8sObject(doc)) {
          problems.push(`${file}: not a Kubernetes object`);
          continue;
        }
        for (const p of await schemaProblems(doc)) problems.push(`${file} ${doc.kind}/${doc.metadata.name}${p}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the schema check can fail: a wrong type and a missing required field are reported', async () => {
    const deployment = find(kustomizeBuild('k8s/overlays/nats'), 'Deployment', 'herald') as unknown as IDeployment;
    const broken = structuredClone(deployment) as unknown as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    broken.spec.template.spec.containers[0]!.ports = [{ containerPort: 'eighty' }];
    delete broken.spec.template.spec.containers[0]!.name;
    const problems = await schemaProblems(broken as unknown as K8sObject);
    expect(problems.join('\n')).toMatch(/containerPort: must be integer/);
    expect(problems.join('\n')).toMatch(/containers\/0: must have required property name/);
  });

  it('the unknown-field check can fail: a misspelt probe is reported', () => {
    const deployment = find(kustomizeBuild('k8s/overlays/nats'), 'Deployment', 'herald');
    const misspelt = structuredClone(deployment) as unknown as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    const container = misspelt.spec.template.spec.containers[0]!;
    container.readinesProbe = container.readinessProbe;
    delete container.readinessProbe;
    const problems = unknownFieldProblems([{ origin: 'Deployment/misspelt', object: misspelt as unknown as K8sObject }]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^Deployment\/misspelt: .*readinesProbe.* does not exist in type 'IContainer'/);
  }, 60_000);
});

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  const bus = overlay.split('/').pop()!;
  let objects: K8sObject[];
  beforeAll(() => {
    objects = kustomizeBuild(overlay);
  });

  it('builds with kustomize, and every object it produces passes the schema of its kind', async () => {
    const problems: string[] = [];
    for (const object of objects) for (const p of await schemaProblems(object)) problems.push(`${object.kind}/${object.metadata.name}${p}`);
    expect(problems).toEqual([]);
    expect(objects.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['Namespace', 'ConfigMap', 'Secret', 'Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']),
    );
  });

  it('uses no field the Kubernetes API does not know (a misspelt field would be dropped silently)', () => {
    expect(unknownFieldProblems(objects.map((object) => ({ origin: `${object.kind}/${object.metadata.name}`, object })))).toEqual([]);
  }, 60_000);

  it('puts everything in one namespace', () => {
    const namespaced = objects.filter((o) => o.kind !== 'Namespace');
    expect(new Set(namespaced.map((o) => o.metadata.namespace))).toEqual(new Set([find(objects, 'Namespace', 'herald').metadata.name]));
  });

  it(`sets HERALD_BUS=${bus}, and every HERALD_* name in the ConfigMap, Secret and Deployment is in the config schema`, () => {
    const env = podEnvironment(objects);
    expect(env.HERALD_BUS).toBe(bus);
    const { container } = gatewayContainer(objects);
    const names = [
      ...Object.keys((find(objects, 'ConfigMap', GATEWAY.configMap) as IConfigMap).data ?? {}),
      ...Object.keys((find(objects, 'Secret', GATEWAY.secret) as ISecret).stringData ?? {}),
      ...Object.keys((find(objects, 'Secret', GATEWAY.secret) as ISecret).data ?? {}),
      ...(container.env ?? []).map((e) => e.name),
    ].filter((name) => name.startsWith('HERALD_'));
    expect(names.length).toBeGreaterThan(3);
    expect(names.filter((name) => !ENV_NAMES.has(name))).toEqual([]);
  });

  it('ships no usable secret: the gateway refuses the Secret as committed, and accepts it once filled', () => {
    const env = { ...podEnvironment(objects) };
    expect(() => loadConfig(env)).toThrow(/HERALD_JWT_SECRET: required in production/);
    const filled = {
      ...env,
      HERALD_JWT_SECRET: 'a'.repeat(48),
      HERALD_PUBLISH_TOKEN: 'b'.repeat(32),
      ...(bus === 'amqp' ? { HERALD_AMQP_URL: 'amqp://herald:pw@rabbitmq.rabbitmq:5672' } : {}),
    };
    const config = loadConfig(filled);
    expect(config.production).toBe(true);
    expect(config.bus).toBe(bus);
  });

  it('gives the pod longer to stop than its preStop pause plus HERALD_DRAIN_TIMEOUT_MS', () => {
    const { pod, container } = gatewayContainer(objects);
    const config = loadConfig({ ...podEnvironment(objects), HERALD_JWT_SECRET: 'a'.repeat(48), HERALD_PUBLISH_TOKEN: 'b'.repeat(32) });
    const preStop = container.lifecycle?.preStop?.exec?.command ?? [];
    const pauseS = preStop[0] === 'sleep' ? Number(preStop[1]) : 0;
    const graceS = pod.terminationGracePeriodSeconds!;
    expect(config.drainTimeoutMs).toBeGreaterThan(0);
    // Margin for closing sockets with 1012 and the bus after the drain.
    expect(graceS * 1000).toBeGreaterThanOrEqual(pauseS * 1000 + config.drainTimeoutMs + 5_000);
  });

  it('lines up the ports: HERALD_PORT, the container port, the probes, the Service, and the Dockerfile EXPOSE', () => {
    const { container } = gatewayContainer(objects);
    const config = loadConfig({ ...podEnvironment(objects), HERALD_JWT_SECRET: 'a'.repeat(48), HERALD_PUBLISH_TOKEN: 'b'.repeat(32) });
    const http = container.ports?.find((p) => p.name === 'http');
    expect(http?.containerPort).toBe(config.port);
    for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
      expect([http!.name, http!.containerPort]).toContain(probe?.httpGet?.port);
    }
    const service = find(objects, 'Service', GATEWAY.service) as IService;
    for (const port of service.spec!.ports!) expect([http!.name, http!.containerPort]).toContain(port.targetPort);
    const runtime = readDockerfile().at(-1)!;
    expect(runtime.exposed).toContain(String(config.port));
    expect(runtime.env.HERALD_PORT).toBe(String(config.port));
  });

  it('turns service links off: the Service herald would inject HERALD_PORT=tcp://… into the config', () => {
    const { pod } = gatewayContainer(objects);
    expect(find(objects, 'Service', GATEWAY.service).metadata.name.toUpperCase().replaceAll('-', '_') + '_PORT').toBe('HERALD_PORT');
    expect(pod.enableServiceLinks).toBe(false);
  });

  it('probes readiness on /readyz and liveness on /healthz', () => {
    const { container } = gatewayContainer(objects);
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container.startupProbe?.httpGet?.path ?? '/healthz').toBe('/healthz');
  });

  it('wires the Service, PodDisruptionBudget and HorizontalPodAutoscaler to the gateway pods, with no sticky sessions', () => {
    const { deployment } = gatewayContainer(objects);
    const podLabels = deployment.spec!.template.metadata!.labels;
    expect(selects(deployment.spec!.selector.matchLabels, podLabels)).toBe(true);
    const service = find(objects, 'Service', GATEWAY.service) as IService;
    expect(selects(service.spec!.selector, podLabels)).toBe(true);
    expect(service.spec!.sessionAffinity ?? 'None').toBe('None');
    const pdb = find(objects, 'PodDisruptionBudget', 'herald') as IPodDisruptionBudget;
    expect(selects(pdb.spec!.selector!.matchLabels, podLabels)).toBe(true);
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'herald') as unknown as IHorizontalPodAutoscaler;
    expect(hpa.spec!.scaleTargetRef).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata!.name });
    expect(hpa.spec!.minReplicas).toBe(deployment.spec!.replicas);
    // The budget must leave room for a drain at the smallest size, or node drains block forever.
    const minAvailable = pdb.spec!.minAvailable;
    if (minAvailable !== undefined) expect(Number(minAvailable)).toBeLessThan(hpa.spec!.minReplicas!);
    else expect(Number(pdb.spec!.maxUnavailable)).toBeGreaterThanOrEqual(1);
  });

  it('runs three replicas, rolls one new pod in before one old pod drains', () => {
    const { deployment } = gatewayContainer(objects);
    expect(deployment.spec!.replicas).toBe(3);
    expect(deployment.spec!.strategy).toMatchObject({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  });

  it('runs as the Dockerfile USER, not root, on a read-only root filesystem, with requests and limits', () => {
    const { pod, container } = gatewayContainer(objects);
    const [uid, gid] = readDockerfile().at(-1)!.user!.split(':').map(Number);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid });
    expect(uid).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    for (const kind of ['requests', 'limits'] as const) {
      expect(container.resources?.[kind]).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
    }
    // Bun may write temporary files: /tmp is the one writable place.
    expect(container.volumeMounts?.map((m) => m.mountPath)).toContain('/tmp');
  });
});

describe('the NATS cluster of k8s/overlays/nats', () => {
  let objects: K8sObject[];
  let natsConf: string;
  let statefulSet: IStatefulSet;
  beforeAll(() => {
    objects = kustomizeBuild('k8s/overlays/nats');
    statefulSet = find(objects, 'StatefulSet', 'nats') as unknown as IStatefulSet;
    const volume = statefulSet.spec!.template.spec!.volumes!.find((v) => v.configMap);
    natsConf = (find(objects, 'ConfigMap', volume!.configMap!.name!) as IConfigMap).data!['nats.conf']!;
  });

  function containerPort(name: string): number {
    const port = statefulSet.spec!.template.spec!.containers[0]!.ports!.find((p) => p.name === name);
    if (!port) throw new Error(`the NATS container has no port named ${name}`);
    return port.containerPort;
  }

  it('is a 3-server StatefulSet behind a headless Service that publishes not-ready addresses', () => {
    expect(statefulSet.spec!.replicas).toBe(3);
    const headless = find(objects, 'Service', statefulSet.spec!.serviceName!) as IService;
    expect(headless.spec!.clusterIP).toBe('None');
    expect(headless.spec!.publishNotReadyAddresses).toBe(true);
    expect(selects(headless.spec!.selector, statefulSet.spec!.template.metadata!.labels)).toBe(true);
    expect(statefulSet.spec!.template.spec!.securityContext?.runAsNonRoot).toBe(true);
  });

  it('routes every server to every server by its stable name, and enables JetStream', () => {
    const routes = [...natsConf.matchAll(/nats:\/\/([\w.-]+):(\d+)/g)].map((m) => `${m[1]}:${m[2]}`);
    const names = Array.from({ length: 3 }, (_, i) => `nats-${i}.${statefulSet.spec!.serviceName}:${containerPort('cluster')}`);
    expect(routes.sort()).toEqual(names);
    expect(natsConf).toMatch(/^\s*jetstream\s*\{/m);
    expect(natsConf).toMatch(new RegExp(`^\\s*port:\\s*${containerPort('client')}\\s*$`, 'm'));
    expect(natsConf).toMatch(new RegExp(`^\\s*http_port:\\s*${containerPort('monitor')}\\s*$`, 'm'));
  });

  it('is the server list HERALD_NATS_URL gives the gateway', () => {
    const servers = podEnvironment(objects).HERALD_NATS_URL!.split(',');
    const expected = Array.from({ length: 3 }, (_, i) => `nats://nats-${i}.${statefulSet.spec!.serviceName}:${containerPort('client')}`);
    expect(servers.sort()).toEqual(expected);
  });

  it('has a configuration nats-server accepts (nats-server -t)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-nats-conf-'));
    try {
      writeFileSync(join(dir, 'nats.conf'), natsConf);
      let output: string;
      try {
        output = execFileSync('nats-server', ['-c', join(dir, 'nats.conf'), '-t'], {
          env: { PATH: process.env.PATH, SERVER_NAME: 'nats-0' },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (error) {
        const e = error as NodeJS.ErrnoException & { stderr?: string };
        if (e.code === 'ENOENT') throw new Error('nats-server is not installed: apt-get install nats-server');
        throw new Error(`nats-server rejects the configuration: ${e.stderr ?? e.message}`);
      }
      expect(output).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the probe paths, asked of a real gateway', () => {
  let pod: Pod;
  beforeAll(async () => {
    pod = await startPod();
  });
  afterAll(async () => {
    await killAllPods();
  });

  it('answers 200 on every HTTP probe path of the Deployment', async () => {
    const { container } = gatewayContainer(kustomizeBuild('k8s/overlays/nats'));
    const paths = [container.readinessProbe, container.livenessProbe, container.startupProbe].map((p) => p?.httpGet?.path);
    expect(paths.every((p) => typeof p === 'string')).toBe(true);
    for (const path of new Set(paths)) expect({ path, status: (await fetch(`${pod.http}${path}`)).status }).toEqual({ path, status: 200 });
    // And a path the gateway does not serve is not 200: the check can fail.
    expect((await fetch(`${pod.http}/ready`)).status).toBe(404);
  });
});
