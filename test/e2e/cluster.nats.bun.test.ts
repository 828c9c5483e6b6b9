import { runClusterCases } from './cluster.case.js';
import { connectNatsTestPublisher, startNatsBroker, startNatsFailoverBroker } from './harness/nats-broker.js';

runClusterCases({
  bus: 'nats',
  engine: 'bun',
  startBroker: startNatsBroker,
  connectPublisher: connectNatsTestPublisher,
  startFailoverBroker: startNatsFailoverBroker,
});
