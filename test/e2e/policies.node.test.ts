import { runPolicyCases } from './policies.case.js';

runPolicyCases('node');
