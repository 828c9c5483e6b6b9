import type { Broker, FailoverBroker } from '../cluster.case.js';
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
