import { afterAll } from 'vitest';
import { startFreshNatsBroker, startNatsTwoNodes } from './harness/nats-broker.js';
import { stopAllNatsServers } from './harness/nats-server.js';
import { runRevocationCases } from './revocation.case.js';

afterAll(stopAllNatsServers);

runRevocationCases({ bus: 'nats', engine: 'node', freshBroker: startFreshNatsBroker, twoNodes: startNatsTwoNodes });
