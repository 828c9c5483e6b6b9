import { runClusterCases } from './cluster.case.js';
import { connectAmqpTestPublisher, startAmqpBroker } from './harness/amqp-broker.js';

runClusterCases({
  bus: 'amqp',
  engine: 'bun',
  startBroker: startAmqpBroker,
  connectPublisher: connectAmqpTestPublisher,
});
