import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startPod, type Pod } from './pod.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const DEMO_SERVER = `${ROOT}examples/shared-lists/server.ts`;
const BUN = `${ROOT}node_modules/.bin/bun`;

export type Storage = 'sqlite' | 'postgres';

/** The PostgreSQL server the tests use: the machine's, trust auth, database `test`. */
export const TEST_DATABASE_URL = process.env.SHARED_LISTS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Runs SQL with Bun's own client (the test process is Node, which has none). */
export function runSql(url: string, sql: string): void {
  const script = "import { SQL } from 'bun'; const sql = new SQL(process.env.SQL_URL); await sql.unsafe(process.env.SQL_TEXT); await sql.close();";
  const run = spawnSync(BUN, ['-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, SQL_URL: url, SQL_TEXT: sql } });
  if (run.status !== 0) throw new Error(`SQL failed (${sql}): ${run.stderr}`);
}

/** One pod of the demo: the app with Herald mounted, on a free port, on the test's NATS and database. */
export function startDemoPod(env: Record<string, string | undefined>): Promise<Pod> {
  return startPod({
    script: DEMO_SERVER,
    readyMessage: 'shared-lists listening',
    timeoutMs: 30_000,
    // The app verifies its own ES256 tokens: no test secret, no publish token.
    env: { HERALD_JWT_SECRET: undefined, HERALD_PUBLISH_TOKEN: undefined, HOST: '127.0.0.1', PORT: '0', ...env },
  });
}

