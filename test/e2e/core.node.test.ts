import { runCoreCases } from './core.case.js';

runCoreCases('node');
