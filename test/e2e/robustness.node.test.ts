import { runRobustnessCases } from './robustness.case.js';

runRobustnessCases('node');
