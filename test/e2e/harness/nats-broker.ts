import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Broker, FailoverBroker } from '../cluster.case.js';
import type { RevocationBroker, TwoNodes } from '../revocation.case.js';
// Through the package entry, as a backend service imports it.
import { connectNatsPublisher, type HeraldPublisher } from 'herald/publisher';
import { createLogger } from '../../../src/log.js';
import type { Pod } from './pod.js';
import { startNatsCluster, startNatsServer, stopAllNatsServers } from './nats-server.js';

/** The cluster suite's broker: one nats-server with JetStream, on free ports. */
export async function startNatsBroker(): Promise<Broker> {
  const server = await startNatsServer();
  return {
    env: { HERALD_BUS: 'nats', HERALD_NATS_URL: server.url },
    down: () => server.kill(),
    up: () => server.restart(),
    stop: () => stopAllNatsServers(),
  };
}

export function connectNatsTestPublisher(broker: Broker): Promise<HeraldPublisher> {
  return connectNatsPublisher({ servers: broker.env.HERALD_NATS_URL!.split(','), log: createLogger('silent') });
}

/** The server (host:port) a pod's NatsBus last said it is connected to. */
function connectedServer(pod: Pod, since = 0): string | undefined {
  const entries = pod.logs.slice(since).filter((l) => l.msg === 'connected to NATS' || l.msg === 'NATS reconnected');
  return entries.at(-1)?.server as string | undefined;
}

/** A 3-node JetStream cluster; pods get every node's URL. */
export async function startNatsFailoverBroker(): Promise<FailoverBroker> {
  const cluster = await startNatsCluster(3);
  const killedAt = new Map<Pod, number>();
  return {
    env: { HERALD_BUS: 'nats', HERALD_NATS_URL: cluster.urls },
    async killNodeOf(pod) {
      const server = connectedServer(pod);
      const node = cluster.nodes.find((n) => server !== undefined && server.endsWith(`:${n.port}`));
      if (!node) throw new Error(`cannot tell which node ${pod.http} is connected to (last said: ${server})`);
      killedAt.set(pod, pod.logs.length);
      await node.kill();
    },
    async reconnected(pod) {
      const since = killedAt.get(pod) ?? 0;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const reconnect = pod.logs.slice(since).find((l) => l.msg === 'NATS reconnected');
        if (reconnect) {
          const dead = cluster.nodes.filter((n) => !n.running).map((n) => `:${n.port}`);
          const server = String(reconnect.server);
          if (dead.some((suffix) => server.endsWith(suffix))) throw new Error(`pod reconnected to a dead node ${server}`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`${pod.http} did not reconnect within 30 s: ${JSON.stringify(pod.logs.slice(since))}`);
    },
    stop: () => stopAllNatsServers(),
  };
}

/** The revocation suite's broker: a nats-server of the test's own, so its bucket and stream are fresh. */
export async function startFreshNatsBroker(): Promise<RevocationBroker> {
  const server = await startNatsServer();
  const env = (port: number) => ({ HERALD_BUS: 'nats', HERALD_NATS_URL: `nats://127.0.0.1:${port}` });
  return {
    env: env(server.port),
    port: server.port,
    envVia: env,
    // Recovery off: with no pod running yet, its disconnects land in the bucket only, as old ones do.
    publisher: () => connectNatsPublisher({ servers: [server.url], recoveryWindowS: 0, log: createLogger('silent') }),
    async storeSettings() {
      const nc = await connect({ servers: server.url });
      try {
        const jsm = await jetstreamManager(nc);
        const { config } = await jsm.streams.info('KV_herald_revocations');
        return { maxAge: config.max_age, maxMsgSize: config.max_msg_size };
      } finally {
        await nc.close();
      }
    },
    stop: () => server.kill(),
  };
}

/** Two pods' environments, each on its own node of a fresh 3-node JetStream cluster. */
export async function startNatsTwoNodes(): Promise<TwoNodes> {
  const cluster = await startNatsCluster(3);
  return {
    envA: { HERALD_BUS: 'nats', HERALD_NATS_URL: cluster.nodes[0]!.url },
    envB: { HERALD_BUS: 'nats', HERALD_NATS_URL: cluster.nodes[1]!.url },
    stop: () => Promise.all(cluster.nodes.map((node) => node.kill())).then(() => undefined),
  };
}
