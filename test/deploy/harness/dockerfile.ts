import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type Copy, type Env, type From, type JSONInstruction } from 'dockerfile-ast';
import { ROOT } from './manifests.js';

/** One build step of a stage, in the order the Dockerfile gives. */
export type Step =
  | { kind: 'WORKDIR'; path: string }
  | { kind: 'ENV'; vars: [string, string][] }
  | { kind: 'COPY'; from: string | undefined; sources: string[]; dest: string }
  | { kind: 'RUN'; shell: string };

/** A command as Docker keeps it: exec form (argv) or shell form (run by /bin/sh -c). */
export type Command = { form: 'exec'; argv: string[] } | { form: 'shell'; text: string };

export interface Stage {
  name: string | undefined;
  image: string;
  tag: string | undefined;
  steps: Step[];
  env: Record<string, string>;
  workdir: string;
  user: string | undefined;
  exposed: string[];
  healthcheck: { command: Command; flags: Record<string, string> } | undefined;
  entrypoint: Command | undefined;
  cmd: Command | undefined;
}

export class DockerfileError extends Error {
  override readonly name = 'DockerfileError';
}

/** Parses the repository's Dockerfile (dockerfile-ast) into stages with their image settings. */
export function readDockerfile(path = join(ROOT, 'Dockerfile')): Stage[] {
  const dockerfile = DockerfileParser.parse(readFileSync(path, 'utf8'));
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    const args = instruction.getArgumentsContent() ?? '';
    if (keyword === 'FROM') {
      const from = instruction as From;
      const parent = stages.find((s) => s.name !== undefined && s.name === from.getImageName());
      stage = {
        name: from.getBuildStage() ?? undefined,
        image: from.getImageName() ?? '',
        tag: from.getImageTag() ?? undefined,
        steps: [],
        // A stage built FROM an earlier stage starts with that stage's settings.
        env: { ...parent?.env },
        workdir: parent?.workdir ?? '/',
        user: parent?.user,
        exposed: [...(parent?.exposed ?? [])],
        healthcheck: parent?.healthcheck,
        entrypoint: parent?.entrypoint,
        cmd: parent?.cmd,
      };
      stages.push(stage);
      continue;
    }
    if (!stage) {
      if (keyword === 'ARG') continue;
      throw new DockerfileError(`${keyword} before the first FROM`);
    }
    switch (keyword) {
      case 'WORKDIR':
        stage.workdir = args.startsWith('/') ? args : join(stage.workdir, args);
        stage.steps.push({ kind: 'WORKDIR', path: stage.workdir });
        break;
      case 'ENV': {
        const vars = (instruction as Env).getProperties().map((p): [string, string] => [p.getName(), p.getValue() ?? '']);
        for (const [name, value] of vars) stage.env[name] = value;
        stage.steps.push({ kind: 'ENV', vars });
        break;
      }
      case 'COPY': {
        const copy = instruction as Copy;
        const json = copy.getJSONStrings().map((a) => a.getJSONValue());
        const parts = json.length > 0 ? json : copy.getArguments().map((a) => a.getValue());
        const dest = parts.pop();
        if (!dest || parts.length === 0) throw new DockerfileError(`COPY ${args}: needs a source and a destination`);
        stage.steps.push({ kind: 'COPY', from: copy.getFromFlag()?.getValue() ?? undefined, sources: parts, dest });
        break;
      }
      case 'RUN':
        stage.steps.push({ kind: 'RUN', shell: args });
        break;
      case 'USER':
        stage.user = args;
        break;
      case 'EXPOSE':
        stage.exposed.push(...args.split(/\s+/).filter(Boolean));
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = command(instruction as JSONInstruction, args);
        break;
      case 'CMD':
        stage.cmd = command(instruction as JSONInstruction, args);
        break;
      case 'HEALTHCHECK': {
        const flags = Object.fromEntries(
          (instruction as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] })
            .getFlags()
            .map((f) => [f.getName(), f.getValue() ?? '']),
        );
        const match = /^CMD\s+([\s\S]*)$/.exec(args);
        if (!match) throw new DockerfileError(`HEALTHCHECK ${args}: expected HEALTHCHECK [flags] CMD ...`);
        stage.healthcheck = { command: parseCommandText(match[1]!), flags };
        break;
      }
      case 'ARG':
      case 'LABEL':
        break;
      default:
        throw new DockerfileError(`${keyword}: this check does not know the instruction; teach test/deploy/harness/dockerfile.ts`);
    }
  }
  if (stages.length === 0) throw new DockerfileError('the Dockerfile has no FROM');
  return stages;
}

function command(instruction: JSONInstruction, args: string): Command {
  const json = instruction.getJSONStrings().map((a) => a.getJSONValue());
  return json.length > 0 ? { form: 'exec', argv: json } : { form: 'shell', text: args };
}

/** Docker's rule: a JSON array of strings is exec form; anything else is shell form. */
function parseCommandText(text: string): Command {
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return { form: 'exec', argv: parsed };
  } catch {
    // not JSON: shell form
  }
  return { form: 'shell', text };
}

/** The command the container runs: ENTRYPOINT followed by CMD (exec forms), as Docker composes them. */
export function containerCommand(stage: Stage): string[] {
  const { entrypoint, cmd } = stage;
  // A shell-form ENTRYPOINT ignores CMD; a shell-form CMD becomes `/bin/sh -c text` arguments.
  if (entrypoint?.form === 'shell') return ['/bin/sh', '-c', entrypoint.text];
  const argv = [...(entrypoint?.argv ?? [])];
  if (cmd) argv.push(...(cmd.form === 'exec' ? cmd.argv : ['/bin/sh', '-c', cmd.text]));
  if (argv.length === 0) throw new DockerfileError('the final stage has neither ENTRYPOINT nor CMD');
  return argv;
}
