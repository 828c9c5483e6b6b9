/**
 * One pod of the shared-lists demo: the page, the REST API and Herald's /ws on one port, with
 * Herald embedded through its public API (Gateway.mount into this process's Bun.serve).
 * `npm run demo` runs one; `npm run demo:cluster` runs two on NATS. See docs/demo.md.
 */
import { ConfigError, Gateway, createBackend, createEngine, createLogger, loadConfig } from 'herald';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApi } from './api.js';
import type { Database } from './db/database.js';
import { migrate } from './db/migrations.js';
import { openPostgres } from './db/postgres.js';
import { openSqlite } from './db/sqlite.js';
import { loadSigner } from './keys.js';
import { buildPage, servePage } from './page-bundle.js';
import { readSettings, SETTINGS_HELP, type Settings } from './settings.js';

const EXAMPLE_DIR = dirname(fileURLToPath(import.meta.url));

function fail(lines: string, exitCode = 2): never {
  process.stderr.write(`${lines}\n`);
  process.exit(exitCode);
}

let settings: Settings;
try {
  settings = readSettings(process.env, EXAMPLE_DIR);
} catch (error) {
  fail(`shared-lists: invalid configuration:\n${(error as Error).message}\n\n${SETTINGS_HELP}`);
}

const signer = await loadSigner(settings.dataDir);
let config;
try {
  // Herald verifies the tokens this app signs: the public half of the app's own key.
  config = loadConfig({ ...process.env, HERALD_JWT_PUBLIC_KEY: signer.publicKeyPem });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(error.problems.map((problem) => `shared-lists: invalid configuration: ${problem}`).join('\n'));
}
const log = createLogger(config.logLevel);

let stopping = false;
let shutdown: (() => Promise<void>) | undefined;
const onSignal = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  if (!shutdown) process.exit(0);
  shutdown().then(
    () => process.exit(0),
    (error) => {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

const db: Database =
  settings.storage.kind === 'postgres' ? openPostgres(settings.storage.url, settings.storage.schema) : openSqlite(settings.storage.file);
if (settings.storage.kind === 'postgres' && settings.storage.schema) {
  // The name passed readSettings' check: lower-case letters, digits and "_".
  await db.run(`CREATE SCHEMA IF NOT EXISTS ${settings.storage.schema}`);
}
const migrated = await migrate(db);
const page = await buildPage(EXAMPLE_DIR);

const { bus, revocationStore } = await createBackend({ config, log });
const gateway = new Gateway({ config, engine: await createEngine({ log }), bus, log, revocationStore });
const api = createApi({ db, signer, herald: gateway, log });

const herald = await gateway.mount({
  fallback: (request) => {
    const { pathname } = new URL(request.url);
    return pathname.startsWith('/api/') ? api(request) : servePage(page, request);
  },
});
const server = Bun.serve({ hostname: settings.host, port: settings.port, fetch: herald.fetch, websocket: herald.websocket });

shutdown = async () => {
  // Sockets first (herald.reconnect, then 1012): the API keeps answering while they move.
  await gateway.drain();
  await server.stop();
  await db.close();
};
if (stopping) await shutdown().then(() => process.exit(0));

const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${server.port}/`;
log.info(
  {
    url,
    port: server.port,
    storage: settings.storage.kind === 'sqlite' ? `sqlite ${settings.storage.file}` : `postgres${settings.storage.schema ? ` schema ${settings.storage.schema}` : ''}`,
    schemaVersion: migrated.to,
    bus: config.bus,
    podId: gateway.podId,
  },
  'shared-lists listening',
);
