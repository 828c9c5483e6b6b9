import { afterAll } from 'vitest';
import { startFreshNatsBroker, startNatsTwoNodes } from './harness/nats-broker.js';
import { stopAllNatsServers } from './harness/nats-server.js';
import { runRevocationCases } from './revocation.case.js';

afterAll(stopAllNatsServers);

runRevocationCases({ bus: 'nats', engine: 'bun', freshBroker: startFreshNatsBroker, twoNodes: startNatsTwoNodes });

// Without the event log, control messages travel core NATS: what a cut-off pod missed comes from the bucket alone.
runRevocationCases({
  bus: 'nats',
  engine: 'bun',
  extraEnv: { HERALD_RECOVERY_WINDOW_S: '0' },
  only: ['partition', 'one-socket'],
  freshBroker: startFreshNatsBroker,
  twoNodes: startNatsTwoNodes,
});
