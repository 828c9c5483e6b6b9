import { runRobustnessCases } from './robustness.case.js';

runRobustnessCases('bun');
