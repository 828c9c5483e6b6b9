import { runSharedListsSuite } from './shared-lists.case.js';

runSharedListsSuite('sqlite');
