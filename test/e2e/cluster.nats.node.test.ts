import { runClusterCases } from './cluster.case.js';
import { connectNatsTestPublisher, startNatsBroker, startNatsFailoverBroker } from './harness/nats-broker.js';

runClusterCases({
  bus: 'nats',
  engine: 'node',
  startBroker: startNatsBroker,
  connectPublisher: connectNatsTestPublisher,
  startFailoverBroker: startNatsFailoverBroker,
});
