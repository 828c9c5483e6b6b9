/**
 * What each idle authenticated socket holds in the JavaScript heap: a pod takes a V8-format
 * heap snapshot after a full GC with no socket and again with N idle sockets, and this counts
 * the difference by kind of object (constructor and property names, closures by function,
 * strings by what they hold), per socket.
 *
 *   flock /work/bench.lock bun bench/heap-census.ts --runtime bun|node [--sockets 19800] [--recovery off] [--top 30]
 *
 * Node needs `npm run build:node` and the bench's peer build (`bun bench/run.ts` makes it).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { JWT_SECRET, ROOT } from './contenders.js';
import { ClientFleet } from './load/fleet.js';
import { sleep } from './lib/measure.js';
import { heapSnapshot, memoryAfterGc, startInspectablePod } from './scenarios/pod-memory.js';

const { values } = parseArgs({
  options: {
    runtime: { type: 'string', default: 'bun' },
    sockets: { type: 'string', default: '19800' },
    recovery: { type: 'string', default: 'on' },
    top: { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
    /** Also list the N largest single nodes with snapshot, and what holds each. */
    largest: { type: 'string', default: '0' },
  },
});
const sockets = Number(values.sockets);
const kind = values.runtime === 'node' ? 'herald-node' : 'herald-bun';
const dir = `${ROOT}.tmp/heap-census-${process.pid}`;
mkdirSync(dir, { recursive: true });

interface Tally {
  count: number;
  bytes: number;
}

/** Self sizes summed by a label per node: what kind of thing it is, not where it is. */
function census(path: string, largest = 0): Map<string, Tally> {
  const snapshot = JSON.parse(readFileSync(path, 'utf8'));
  const meta = snapshot.snapshot.meta;
  const nodeFields: string[] = meta.node_fields;
  const edgeFields: string[] = meta.edge_fields;
  const nodeTypes: string[] = meta.node_types[0];
  const edgeTypes: string[] = meta.edge_types[0];
  const nodes: number[] = snapshot.nodes;
  const edges: number[] = snapshot.edges;
  const strings: string[] = snapshot.strings;
  const nf = nodeFields.length;
  const ef = edgeFields.length;
  const typeAt = nodeFields.indexOf('type');
  const nameAt = nodeFields.indexOf('name');
  const sizeAt = nodeFields.indexOf('self_size');
  const edgeCountAt = nodeFields.indexOf('edge_count');
  const edgeTypeAt = edgeFields.indexOf('type');
  const edgeNameAt = edgeFields.indexOf('name_or_index');
  const tallies = new Map<string, Tally>();
  const labels: string[] = [];
  let edge = 0;
  for (let n = 0; n < nodes.length; n += nf) {
    const type = nodeTypes[nodes[n + typeAt]!]!;
    const name = strings[nodes[n + nameAt]!] ?? '';
    const edgeCount = nodes[n + edgeCountAt]!;
    let label: string;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') label = `string ${stringKind(name)}`;
    else if (type === 'object' && (name === 'Object' || name === '')) {
      const props: string[] = [];
      for (let e = edge; e < edge + edgeCount * ef && props.length < 5; e += ef) {
        if (edgeTypes[edges[e + edgeTypeAt]!] === 'property') props.push(strings[edges[e + edgeNameAt]!]!);
      }
      label = `object {${props.join(',')}}`;
    } else label = `${type} ${name.length > 60 ? `${name.slice(0, 60)}…` : name}`;
    labels[n / nf] = label;
    edge += edgeCount * ef;
    const tally = tallies.get(label) ?? { count: 0, bytes: 0 };
    tally.count++;
    tally.bytes += nodes[n + sizeAt]!;
    tallies.set(label, tally);
  }
  if (largest > 0) printLargest({ nodes, edges, strings, edgeTypes, nf, ef, sizeAt, edgeCountAt, edgeTypeAt, edgeNameAt, labels }, largest);
  return tallies;
}

/** The largest single nodes, each with the edge that holds it (retainer label and edge name). */
function printLargest(
  s: { nodes: number[]; edges: number[]; strings: string[]; edgeTypes: string[]; nf: number; ef: number; sizeAt: number; edgeCountAt: number; edgeTypeAt: number; edgeNameAt: number; labels: string[] },
  count: number,
): void {
  const toAt = 2; // edge fields: type, name_or_index, to_node
  const holder = new Map<number, string>();
  const order: number[] = [];
  for (let n = 0; n < s.nodes.length; n += s.nf) order.push(n);
  order.sort((a, b) => s.nodes[b + s.sizeAt]! - s.nodes[a + s.sizeAt]!);
  const wanted = new Set(order.slice(0, count));
  let edge = 0;
  for (let n = 0; n < s.nodes.length; n += s.nf) {
    const edgeCount = s.nodes[n + s.edgeCountAt]!;
    for (let e = edge; e < edge + edgeCount * s.ef; e += s.ef) {
      const to = s.edges[e + toAt]!;
      if (!wanted.has(to) || holder.has(to)) continue;
      const type = s.edgeTypes[s.edges[e + s.edgeTypeAt]!];
      const name = type === 'element' || type === 'hidden' ? `[${s.edges[e + s.edgeNameAt]}]` : s.strings[s.edges[e + s.edgeNameAt]!];
      holder.set(to, `${s.labels[n / s.nf]} .${name}`);
    }
    edge += edgeCount * s.ef;
  }
  console.log('\n| largest node | bytes | held by |\n|---|---:|---|');
  for (const n of order.slice(0, count)) console.log(`| ${s.labels[n / s.nf]} | ${s.nodes[n + s.sizeAt]} | ${holder.get(n) ?? '?'} |`);
}

/** Strings by what the bench's sockets put in them (users are `u<n>`, one session each). */
function stringKind(s: string): string {
  if (s.startsWith('eyJ')) return '(a JWT)';
  if (/^u\d+$/.test(s)) return '(a user id)';
  if (/^u:u\d+$/.test(s)) return '(a user topic)';
  if (/^[a-z0-9]+:\d+$/.test(s)) return '(a socket key)';
  if (/^u\d+\u0000/.test(s)) return '(a user\\0session key)';
  if (/^[0-9a-f-]{36}$/.test(s)) return '(a uuid)';
  return `(other, ${s.length < 16 ? '<16' : s.length < 64 ? '16–63' : s.length < 256 ? '64–255' : '≥256'} chars)`;
}

/** Resident bytes by kind of mapping: what RSS is made of outside the snapshot's view. */
function residentByMapping(pid: number): Map<string, number> {
  const byKind = new Map<string, number>();
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const [start, end] = line.split(' ')[0]!.split('-').map((h) => parseInt(h, 16));
      const name = head[1]!.trim();
      const mib = (end! - start!) / 2 ** 20;
      kind = name.startsWith('/') ? (name.endsWith('.node') || name.includes('.so') ? 'shared objects' : 'files') : name || `anonymous ${mib >= 64 ? '≥64' : mib >= 4 ? '4–64' : mib >= 1 ? '1–4' : '<1'} MiB`;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) byKind.set(kind, (byKind.get(kind) ?? 0) + Number(rss[1]) * 1024);
  }
  return byKind;
}

const env = {
  HERALD_IDLE_TIMEOUT_S: '120',
  BENCH_HEAP_SNAPSHOT_DIR: dir,
  ...(values.recovery === 'off' ? { HERALD_RECOVERY_WINDOW_S: '0' } : {}),
};
// The snapshot with no socket comes from a pod of its own: a snapshot's garbage would swell the
// measured pod's RSS before its sockets open, and the sockets would then reuse that memory.
const empty = await startInspectablePod(kind, env);
await sleep(500);
const snapshotBefore = await heapSnapshot(empty);
await empty.stop();
const pod = await startInspectablePod(kind, env);
const fleet = ClientFleet.start(Math.max(1, Math.ceil(sockets / 5000)));
try {
  await sleep(500);
  const before = await memoryAfterGc(pod);
  const mappedBefore = residentByMapping(pod.pid);
  const opened = await fleet.connect({ protocol: 'herald', jwtSecret: JWT_SECRET, targets: [{ port: pod.port, from: 0, to: sockets }], concurrency: 100 });
  await sleep(2_000);
  const after = await memoryAfterGc(pod);
  const mappedAfter = residentByMapping(pod.pid);
  const snapshotAfter = await heapSnapshot(pod);
  const a = census(snapshotBefore);
  const b = census(snapshotAfter, Number(values.largest));
  const rows: { label: string; count: number; bytes: number }[] = [];
  for (const [label, t] of b) {
    const was = a.get(label) ?? { count: 0, bytes: 0 };
    rows.push({ label, count: t.count - was.count, bytes: t.bytes - was.bytes });
  }
  for (const [label, t] of a) if (!b.has(label)) rows.push({ label, count: -t.count, bytes: -t.bytes });
  rows.sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  const per = (n: number) => (n / opened.opened).toFixed(n / opened.opened < 10 ? 2 : 0);
  console.log(`\n${kind}, recovery ${values.recovery}: ${opened.opened} sockets (${opened.failed} failed)`);
  console.log(`RSS ${before.rssMiB.toFixed(1)} → ${after.rssMiB.toFixed(1)} MiB = ${per((after.rssMiB - before.rssMiB) * 2 ** 20)} B/socket; heap used after GC ${before.heapUsedMiB.toFixed(1)} → ${after.heapUsedMiB.toFixed(1)} MiB = ${per((after.heapUsedMiB - before.heapUsedMiB) * 2 ** 20)} B/socket; snapshot self sizes Δ ${per(total)} B/socket`);
  console.log('\n| what | per socket (count) | per socket (bytes) |\n|---|---:|---:|');
  for (const r of rows.slice(0, Number(values.top))) console.log(`| ${r.label.replace(/\|/g, '\\|')} | ${per(r.count)} | ${per(r.bytes)} |`);
  // Read before the snapshot: its own garbage would swell them.
  console.log('\n| resident memory in | per socket (bytes) |\n|---|---:|');
  for (const [kind, bytes] of [...mappedAfter].sort((x, y) => y[1] - (mappedBefore.get(y[0]) ?? 0) - (x[1] - (mappedBefore.get(x[0]) ?? 0)))) {
    console.log(`| ${kind} | ${per(bytes - (mappedBefore.get(kind) ?? 0))} |`);
  }
} finally {
  await fleet.stop();
  await pod.stop();
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
