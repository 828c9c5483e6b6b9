import { runRecoveryCases } from './recovery.case.js';

runRecoveryCases({ engine: 'node', bus: 'nats' });
