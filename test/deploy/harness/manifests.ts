import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const K8S = join(ROOT, 'k8s');

/** A Kubernetes object as parsed from YAML: only the fields every object has are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface Kustomization {
  resources?: string[];
  patches?: { path?: string; patch?: string }[];
  [field: string]: unknown;
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

/** Every YAML document of a file; a syntax error or a warning fails loudly. */
export function parseYamlFile(path: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  return docs.map((doc) => {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) {
      throw new ManifestError(`${relative(ROOT, path)}: ${problems.map((p) => p.message).join('; ')}`);
    }
    return doc.toJS();
  });
}

export function parseYamlText(text: string, origin: string): unknown[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new ManifestError(`${origin}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS();
  });
}

/**
 * Every YAML file under k8s/, relative to the repository root. A private overlay an operator
 * made from docs/operations.md ("Secrets", k8s/overlays/local, git-ignored) is not the project's.
 */
export function yamlFiles(dir = K8S): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (path === join(K8S, 'overlays', 'local')) continue;
    if (statSync(path).isDirectory()) found.push(...yamlFiles(path));
    else if (/\.ya?ml$/.test(entry)) found.push(relative(ROOT, path));
  }
  return found.sort();
}

/** Directories that hold a kustomization.yaml, relative to the repository root. */
export function kustomizationDirs(): string[] {
  return yamlFiles()
    .filter((file) => file.endsWith('/kustomization.yaml'))
    .map((file) => file.slice(0, -'/kustomization.yaml'.length));
}

export function readKustomization(dir: string): Kustomization {
  const [doc] = parseYamlFile(join(ROOT, dir, 'kustomization.yaml'));
  return doc as Kustomization;
}

export function isK8sObject(value: unknown): value is K8sObject {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.apiVersion === 'string' && typeof v.kind === 'string' && typeof v.metadata === 'object';
}

/**
 * Builds a kustomization with the kustomize that kubectl embeds (v5 on this project's machines).
 * Missing kubectl is an error that says what to install, never a skipped check.
 */
export function kustomizeBuild(dir: string, root = ROOT): K8sObject[] {
  let output: string;
  try {
    output = execFileSync('kubectl', ['kustomize', join(root, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new ManifestError('kubectl is not installed: the overlay checks build with `kubectl kustomize` (kubectl 1.27+, kustomize v5)');
    }
    throw new ManifestError(`kubectl kustomize ${dir} failed: ${e.stderr ?? e.message}`);
  }
  return parseYamlText(output, `kustomize build of ${dir}`).map((doc) => {
    if (!isK8sObject(doc)) throw new ManifestError(`kustomize build of ${dir} produced a non-object: ${JSON.stringify(doc)}`);
    return unwrapSecretData(doc);
  });
}

/**
 * Validates an object against the Kubernetes OpenAPI schema of its apiVersion and kind, with
 * the schemas that kubernetes-models bundles (compiled ajv validators). Returns the problems.
 */
export async function schemaProblems(object: K8sObject): Promise<string[]> {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  const modulePath = group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  let models: Record<string, unknown>;
  try {
    models = (await import(modulePath)) as Record<string, unknown>;
  } catch {
    return [`no schema for apiVersion ${object.apiVersion}`];
  }
  const Model = models[object.kind] as (new (data: unknown) => { validate(): void }) | undefined;
  if (typeof Model !== 'function') return [`no schema for ${object.apiVersion} ${object.kind}`];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    const details = (error as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (details) return details.map((d) => `${d.instancePath || '/'}: ${d.message ?? 'invalid'}`);
    return [(error as Error).message];
  }
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new ManifestError(`no ${kind} named ${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

/**
 * kustomize prints a generated Secret's long base64 values as literal blocks wrapped at 76
 * characters. The API server's decoder (Go's encoding/base64) drops those line breaks; do the
 * same, so the schema's `byte` format sees the value the server sees.
 */
function unwrapSecretData(object: K8sObject): K8sObject {
  if (object.kind !== 'Secret' || typeof object.data !== 'object' || object.data === null) return object;
  const data = Object.fromEntries(Object.entries(object.data as Record<string, string>).map(([k, v]) => [k, v.replace(/[\r\n]/g, '')]));
  return { ...object, data };
}
