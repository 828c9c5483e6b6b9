import { runBrokerOutageCases } from './broker-outage.case.js';
import { freePort } from './harness/free-port.js';
import { startNatsServer, stopAllNatsServers, type NatsServer } from './harness/nats-server.js';

function outageBroker(server: NatsServer) {
  return {
    env: { HERALD_BUS: 'nats', HERALD_NATS_URL: server.url },
    freeze: async () => server.freeze(),
    thaw: async () => server.thaw(),
    stop: stopAllNatsServers,
  };
}

runBrokerOutageCases({
  bus: 'nats',
  engine: 'bun',
  startBroker: async () => outageBroker(await startNatsServer()),
  async absentBroker() {
    const port = await freePort();
    return {
      env: { HERALD_BUS: 'nats', HERALD_NATS_URL: `nats://127.0.0.1:${port}` },
      appear: async () => outageBroker(await startNatsServer({ port })),
    };
  },
});
