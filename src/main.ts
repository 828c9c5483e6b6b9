import { createBackend } from './bus/create-backend.js';
import { loadConfig, type Config } from './config.js';
import { applyDevelopmentMode } from './dev-mode.js';
import { createEngine } from './engine/create-engine.js';
import { ConfigError, ListenError } from './errors.js';
import { Gateway } from './gateway/gateway.js';
import type { SocketState } from './gateway/socket-state.js';
import { createLogger } from './log.js';

/** Entry: config → gateway → listen → signals. Run it directly (not through npm) where it must drain. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`herald: invalid configuration: ${problem}\n`);
    process.exit(2);
  }
  const dev = await applyDevelopmentMode(config);
  if (dev) config = dev.config;

  const log = createLogger(config.logLevel);
  for (const warning of config.warnings) log.warn({ problem: warning }, `configuration: ${warning}`);
  // Signals are handled from here on: a pod stopped while it starts still exits 0.
  let gateway: Gateway | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'shutting down');
    if (!gateway) process.exit(0);
    gateway.drain().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const { bus, revocationStore } = await createBackend({ config, log });
  gateway = new Gateway({ config, engine: await createEngine<SocketState>({ log }), bus, log, revocationStore });
  const { port } = await gateway.start();
  if (dev) process.stderr.write(dev.banner.replaceAll(`:${config.port}/`, `:${port}/`) + '\n');
}

let shuttingDown = false;

main().catch((error) => {
  // A start cut short by SIGTERM fails on its closed bus; the drain decides the exit code.
  if (shuttingDown) return;
  if (error instanceof ListenError) {
    const { line, exitCode } = describeListenError(error);
    process.stderr.write(`herald: ${line}\n`);
    process.exit(exitCode);
  }
  process.stderr.write(`herald: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

/** One line an operator can act on: a bad value exits 2 like any invalid configuration. */
function describeListenError(error: ListenError): { line: string; exitCode: number } {
  const host = JSON.stringify(error.host);
  switch (error.failure) {
    case 'address_in_use':
      return { line: `cannot listen: HERALD_PORT ${error.port} is in use on HERALD_HOST ${host} (another process holds it)`, exitCode: 1 };
    case 'bad_host':
      return { line: `invalid configuration: HERALD_HOST: ${host} does not name an address of this machine (${error.code ?? 'no reason given'})`, exitCode: 2 };
    case 'permission_denied':
      return { line: `invalid configuration: HERALD_PORT: ${error.port} needs privileges this process does not have`, exitCode: 2 };
    default:
      return { line: `cannot listen on HERALD_HOST ${host}, HERALD_PORT ${error.port}: ${error.message}`, exitCode: 1 };
  }
}
