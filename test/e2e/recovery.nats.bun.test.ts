import { runRecoveryCases } from './recovery.case.js';

runRecoveryCases({ engine: 'bun', bus: 'nats' });
