import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT, type K8sObject } from './manifests.js';

/**
 * The OpenAPI schemas allow unknown fields (the API server drops them with at most a
 * warning), so a misspelt `readinesProbe` would pass schema validation and silently remove
 * the probe. This check types every object with the kubernetes-models interface of its kind
 * and lets the TypeScript compiler's excess-property check name any field the API does not have.
 */
export function unknownFieldProblems(objects: { origin: string; object: K8sObject }[]): string[] {
  const dir = join(ROOT, '.tmp', `unknown-fields-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'manifests.ts');
  const lines: string[] = [];
  const origins: string[] = [];
  objects.forEach(({ origin, object }, i) => {
    const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
    const module = ['kubernetes-models', group, version, object.kind].filter(Boolean).join('/');
    lines.push(`import type { I${object.kind} as T${i} } from '${module}';`);
    origins.push(origin);
  });
  objects.forEach(({ object }, i) => lines.push(`export const m${i}: T${i} = ${JSON.stringify(object)};`));
  writeFileSync(file, lines.join('\n'));
  try {
    const program = ts.createProgram([file], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    });
    const source = program.getSourceFile(file)!;
    return ts.getPreEmitDiagnostics(program, source).map((d) => {
      const line = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line;
      const index = line - objects.length;
      const origin = origins[index] ?? `import line ${line + 1}`;
      return `${origin}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
