import { startAmqpTwoNodes, startFreshAmqpBroker } from './harness/amqp-broker.js';
import { runRevocationCases } from './revocation.case.js';

runRevocationCases({ bus: 'amqp', engine: 'bun', freshBroker: startFreshAmqpBroker, twoNodes: startAmqpTwoNodes });
