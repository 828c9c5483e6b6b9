import { vi } from 'vitest';
import { runClusterCases } from './cluster.case.js';
import { connectAmqpTestPublisher, startAmqpBroker } from './harness/amqp-broker.js';

// Starting the broker waits for the broker lock, which another AMQP test file may hold for a while.
vi.setConfig({ hookTimeout: 180_000 });

runClusterCases({
  bus: 'amqp',
  engine: 'bun',
  startBroker: startAmqpBroker,
  connectPublisher: connectAmqpTestPublisher,
});
