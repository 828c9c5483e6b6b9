import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { DockerfileError, type Stage } from './dockerfile.js';

const execFileAsync = promisify(execFile);
// A CommonJS module (module.exports = factory) whose typings declare a default export:
// require gives the factory the typings describe.
const createIgnore = createRequire(import.meta.url)('@balena/dockerignore') as typeof import('@balena/dockerignore').default;

export interface BuildOptions {
  /** The build context: the repository root. */
  context: string;
  stages: Stage[];
  /** An empty directory; each stage's filesystem is a folder in it. */
  workspace: string;
  /** Directories put before the PATH of RUN steps: they stand in for the base image's binaries. */
  imagePath: string[];
  /** Bound for each RUN step. */
  runTimeoutMs: number;
}

export interface BuiltImage {
  stage: Stage;
  /** The final stage's WORKDIR, on this machine. */
  workdir: string;
  /** The output of every RUN step, for failure messages. */
  log: string[];
}

/**
 * Runs a Dockerfile's build steps on this machine, no engine: each stage's filesystem is a
 * folder, COPY copies from the build context (filtered by .dockerignore, as docker sends it)
 * or from an earlier stage's folder, RUN runs its shell command in the stage's WORKDIR with
 * the stage's ENV. RUN steps must use paths relative to WORKDIR: an absolute path would touch
 * this machine rather than the stage, so it is refused.
 */
export async function buildWithoutEngine(options: BuildOptions): Promise<BuiltImage> {
  const { context, stages, workspace } = options;
  const ignore = dockerignore(context);
  const roots = stages.map((_, i) => join(workspace, `stage-${i}`));
  const log: string[] = [];

  for (const [i, stage] of stages.entries()) {
    const root = roots[i]!;
    mkdirSync(root, { recursive: true });
    let workdir = '/';
    const env: Record<string, string> = {};
    for (const step of stage.steps) {
      switch (step.kind) {
        case 'WORKDIR':
          workdir = step.path;
          mkdirSync(join(root, workdir), { recursive: true });
          break;
        case 'ENV':
          for (const [name, value] of step.vars) env[name] = value;
          break;
        case 'COPY': {
          const fromIndex = step.from === undefined ? -1 : stages.findIndex((s, j) => s.name === step.from || String(j) === step.from);
          if (step.from !== undefined && (fromIndex < 0 || fromIndex >= i)) {
            throw new DockerfileError(`COPY --from=${step.from}: no earlier stage has that name`);
          }
          const dest = step.dest.startsWith('/') ? step.dest : join(workdir, step.dest);
          const intoDirectory = step.dest.endsWith('/') || step.sources.length > 1;
          for (const source of step.sources) {
            const from =
              fromIndex >= 0 ? join(roots[fromIndex]!, source.startsWith('/') ? source : join('/', source)) : join(context, source);
            if (fromIndex < 0 && ignore.ignores(relative(context, from))) {
              throw new DockerfileError(`COPY ${source}: excluded by .dockerignore, so docker would not find it`);
            }
            if (!existsSync(from)) throw new DockerfileError(`COPY ${source}: not found`);
            const isDirectory = statSync(from).isDirectory();
            // Docker copies a directory's contents, and a file into a directory under its own name.
            const target = join(root, dest, intoDirectory && !isDirectory ? basename(source) : '');
            cpSync(from, target, {
              recursive: true,
              verbatimSymlinks: true,
              filter: (path) => fromIndex >= 0 || path === from || !ignore.ignores(relative(context, path)),
            });
          }
          break;
        }
        case 'RUN': {
          if (/(^|[\s=:'"(])\/(?!dev\/null\b)/.test(step.shell)) {
            throw new DockerfileError(`RUN ${step.shell}: uses an absolute path; this check can run only paths relative to WORKDIR`);
          }
          const { stdout, stderr } = await execFileAsync('/bin/sh', ['-c', step.shell], {
            cwd: join(root, workdir),
            env: { ...env, PATH: [...options.imagePath, process.env.PATH].join(':'), HOME: process.env.HOME ?? '/root' },
            timeout: options.runTimeoutMs,
            maxBuffer: 16 * 1024 * 1024,
          }).catch((error: Error & { stdout?: string; stderr?: string }) => {
            throw new DockerfileError(`RUN ${step.shell} failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
          });
          log.push(`RUN ${step.shell}\n${stdout}${stderr}`);
          break;
        }
      }
    }
  }
  const last = stages.length - 1;
  return { stage: stages[last]!, workdir: join(roots[last]!, stages[last]!.workdir), log };
}

function dockerignore(context: string) {
  const path = join(context, '.dockerignore');
  const rules = existsSync(path) ? readFileSync(path, 'utf8') : '';
  return createIgnore().add(rules);
}
