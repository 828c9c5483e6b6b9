import { runFanoutCases } from './fanout.case.js';

runFanoutCases('node');
