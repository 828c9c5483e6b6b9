/**
 * `bun bench/report/profile-summary.ts <file.cpuprofile>`: where a server's CPU went, as
 * inclusive shares (a sample counts for every function on its stack, once) of the profiled
 * process's busy samples, grouped by the parts of Herald's hot path.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A frame of the named source file: src/*.ts under Bun, dist/node/*.js under Node. */
const inFile = (f: ProfileNode['callFrame'], name: string) => f.url.endsWith(`${name}.ts`) || f.url.endsWith(`${name}.js`);

/** Stack frames that name a part of the path: first match wins for the label. */
const PARTS: [string, (f: ProfileNode['callFrame']) => boolean][] = [
  ['HTTP: read body (engine/bun.ts readBody)', (f) => inFile(f, 'engine/bun') && f.functionName.includes('readBody')],
  ['HTTP: uWebSockets.js request, body and answer (engine/uws-http)', (f) => inFile(f, 'engine/uws-http')],
  ['HTTP: the API handler (http/api), all of it', (f) => inFile(f, 'http/api') && f.functionName === 'handle'],
  ['  JSON.parse of the request body', (f) => inFile(f, 'http/api') && f.functionName === 'parse'],
  ['  checkBodyNesting (protocol/body-nesting)', (f) => inFile(f, 'protocol/body-nesting') && f.functionName === 'checkBodyNesting'],
  ['prepareEvents (protocol/event-encoder.ts), all of it', (f) => inFile(f, 'event-encoder') && (f.functionName === 'prepareEvents' || f.functionName === 'encodeEvents')],
  ['  typebox validation (Check / uniqueItems hashing)', (f) => f.url.includes('@sinclair/typebox') || (f.functionName === 'Check' && f.url.includes('typebox'))],
  ['  event ids (UUIDv7)', (f) => f.url.includes('uuidv7') || inFile(f, 'protocol/event-id')],
  ['  encodeBusMessage (bus-format.ts)', (f) => inFile(f, 'bus-format') && f.functionName === 'encodeBusMessage'],
  ['bus: LocalBus.publish promises (bus/local.ts)', (f) => inFile(f, 'bus/local')],
  ['decodeBusMessage (bus-format.ts)', (f) => inFile(f, 'bus-format') && f.functionName === 'decodeBusMessage'],
  ['deliverEvent (gateway/router.ts), all of it', (f) => inFile(f, 'router') && f.functionName === 'deliverEvent'],
  ['  engine.publish → native topic publish', (f) => (inFile(f, 'engine/bun') || inFile(f, 'engine/uws')) && f.functionName === 'publish'],
  ['  engine.prepareFrame (TextDecoder)', (f) => (inFile(f, 'engine/bun') || inFile(f, 'engine/uws')) && f.functionName === 'prepareFrame'],
  ['  prom-client metrics', (f) => f.url.includes('prom-client')],
  ['upgrade / auth (jose)', (f) => f.url.includes('jose')],
];

const file = process.argv[2];
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile>');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

let busy = 0;
const totals = new Map<string, number>();
const selfByFunction = new Map<string, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const leaf = byId.get(profile.samples[i]!)!;
  const dt = profile.timeDeltas[i] ?? 0;
  const name = leaf.callFrame.functionName;
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
    if (name === '(garbage collector)') totals.set('(garbage collector)', (totals.get('(garbage collector)') ?? 0) + dt);
    if (name !== '(garbage collector)') continue;
  }
  busy += dt;
  const describe = (f: ProfileNode['callFrame']) =>
    `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(src|dist\/node|node_modules)\//, '$1/')}:${f.lineNumber}`;
  // Native frames have no location: name them by their caller.
  const callerId = parent.get(leaf.id);
  const where = leaf.callFrame.url
    ? describe(leaf.callFrame)
    : `${name || '(anonymous)'} [native] ← ${callerId === undefined ? '?' : describe(byId.get(callerId)!.callFrame)}`;
  selfByFunction.set(where, (selfByFunction.get(where) ?? 0) + dt);
  const seen = new Set<string>();
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const frame = byId.get(id)!.callFrame;
    for (const [label, match] of PARTS) {
      if (!seen.has(label) && match(frame)) {
        seen.add(label);
        totals.set(label, (totals.get(label) ?? 0) + dt);
      }
    }
  }
}
const pct = (v: number) => `${((100 * v) / busy).toFixed(1).padStart(5)} %`;
process.stdout.write(`busy samples: ${(busy / 1e6).toFixed(2)} s\n\ninclusive share of busy time:\n`);
for (const [label] of PARTS) process.stdout.write(`${pct(totals.get(label) ?? 0)}  ${label}\n`);
process.stdout.write('\ntop self time:\n');
for (const [where, v] of [...selfByFunction].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`${pct(v)}  ${where}\n`);
