/**
 * `bun bench/publish-body-shapes.ts [--requests N] [--engines bun,node]`: the pod's CPU per
 * `POST /v1/events` for bodies of ~1 MiB in the worst shapes we know (deep, wide, many keys,
 * escapes, huge numbers, many targets, invalid everywhere…). Each shape is sent N times over
 * one keep-alive connection to a pod with no sockets; the pod's utime+stime (/proc, 10 ms
 * ticks) over the N answers, divided by N. Issue 12's budget: any shape answered within 50 ms
 * of CPU. Run `npm run build:node` first for the Node engine. bench/RESULTS.md quotes it.
 */
import { parseArgs } from 'node:util';
import { heraldEnv, PUBLISH_TOKEN, startHeraldPod, type HeraldRuntime } from './contenders.js';
import { sampleProcess } from './lib/proc-stats.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20' },
    engines: { type: 'string', default: 'bun,node' },
  },
});
const REQUESTS = Number(values.requests);
const ENGINES = values.engines!.split(',') as HeraldRuntime[];
const MIB = 1024 * 1024;
const BUDGET_MS = 50;

interface Shape {
  name: string;
  body: Uint8Array;
  contentType?: string;
}

const utf8 = (text: string) => new TextEncoder().encode(text);
/** Repeats `unit` as often as fits in `bytes` (less `overhead`). */
const fill = (unit: string, bytes: number, overhead = 200) => unit.repeat(Math.floor((bytes - overhead) / unit.length));
const event = (content: string, targets = '["u1"]', type = 'SHAPE') => `{"type":"${type}","content":${content},"targetUsers":${targets}}`;
const nestedArrays = (depth: number, inner: string) => '['.repeat(depth) + inner + ']'.repeat(depth);

function shapes(): Shape[] {
  const list: Shape[] = [];
  const add = (name: string, text: string, contentType?: string) => list.push({ name, body: utf8(text), contentType });

  // Issue 12's report: 16 contents nested 32k deep in one batch.
  add('16 contents nested 32k deep (batch)', `[${Array.from({ length: 16 }, () => event(nestedArrays(32_000, '0'))).join(',')}]`);
  add('1 MiB of "[" (unclosed, one event)', `{"type":"SHAPE","targetUsers":["u1"],"content":${'['.repeat(MIB - 100)}`);
  add('1 MiB of "{"a":" nested (unclosed)', `{"type":"SHAPE","targetUsers":["u1"],"content":${fill('{"a":', MIB)}`);
  // Accepted: 64 deep is allowed. 1000 events of 64-deep content with padding: 1 MiB.
  const deep64 = nestedArrays(64, `"${'x'.repeat(800)}"`);
  add('1000 events, content 64 deep (accepted)', `[${Array.from({ length: 1000 }, (_, i) => event(deep64, `["u${i}"]`)).join(',')}]`);
  add('content 65 deep in each of 1000 events', `[${Array.from({ length: 1000 }, (_, i) => event(nestedArrays(65, `"${'x'.repeat(800)}"`), `["u${i}"]`)).join(',')}]`);
  add('one content: array of 500k numbers', event(`[${fill('0,', MIB)}0]`));
  add('one content: object of 70k keys', event(`{${Array.from({ length: 70_000 }, (_, i) => `"k${i}":0`).join(',')}}`));
  add('one content: 1 MiB string of \\u0000 escapes', event(`"${fill('\\u0000', MIB)}"`));
  add('one content: 1 MiB string of 3-byte characters', event(`"${fill('€', MIB / 3)}"`));
  add('one content: 100k numbers 1e999 (not finite)', event(`[${fill('1e999,', MIB)}1]`));
  add('one content: 100k numbers 1e308 (finite)', event(`[${fill('1e308,', MIB)}1]`));
  add('16 events of 64 KiB content (accepted)', `[${Array.from({ length: 16 }, (_, i) => event(`"${'y'.repeat(60_000)}"`, `["u${i}"]`)).join(',')}]`);
  const targets = (n: number, prefix: string) => `[${Array.from({ length: n }, (_, i) => `"${prefix}${i}"`).join(',')}]`;
  add('7 events x 10,000 targets (accepted)', `[${Array.from({ length: 7 }, (_, e) => event('1', targets(10_000, `user-${e}-`))).join(',')}]`);
  add('7 events x 10,000 equal targets', `[${Array.from({ length: 7 }, () => event('1', `[${fill('"same-user",', 130_000, 0)}"x"]`)).join(',')}]`);
  add('1000 events, every one invalid', `[${Array.from({ length: 1000 }, () => `{"type":"bad type!","content":${'1'.repeat(900)},"targetUsers":[]}`).join(',')}]`);
  add('broken JSON: 1 MiB array never closed', event(`[${fill('1,', MIB)}`).slice(0, -1));
  const notUtf8 = utf8(event(`"${fill('a', MIB)}"`));
  notUtf8[notUtf8.length - 20] = 0xff;
  list.push({ name: 'not UTF-8 (one bad byte at the end)', body: notUtf8 });
  for (const shape of list) if (shape.body.length > MIB) throw new Error(`${shape.name}: ${shape.body.length} bytes, over 1 MiB`);
  return list;
}

interface Row {
  engine: HeraldRuntime;
  shape: string;
  bytes: number;
  status: number;
  cpuMsPerRequest: number;
  wallMsMedian: number;
}

async function measure(engine: HeraldRuntime, list: Shape[]): Promise<Row[]> {
  const pod = await startHeraldPod(engine, heraldEnv(), `shapes-${engine}`);
  const url = `http://127.0.0.1:${pod.port}/v1/events`;
  const rows: Row[] = [];
  try {
    for (const shape of list) {
      const send = async () => {
        const started = performance.now();
        const response = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${PUBLISH_TOKEN}`, 'content-type': shape.contentType ?? 'application/json' },
          body: shape.body as BodyInit,
        });
        await response.arrayBuffer();
        return { status: response.status, ms: performance.now() - started };
      };
      await send(); // warm-up
      const cpuBefore = sampleProcess(pod.pid)!.cpuS;
      const walls: number[] = [];
      let status = 0;
      for (let i = 0; i < REQUESTS; i++) {
        const answer = await send();
        status = answer.status;
        walls.push(answer.ms);
      }
      const cpuMs = ((sampleProcess(pod.pid)!.cpuS - cpuBefore) * 1000) / REQUESTS;
      walls.sort((a, b) => a - b);
      const row = { engine, shape: shape.name, bytes: shape.body.length, status, cpuMsPerRequest: cpuMs, wallMsMedian: walls[walls.length >> 1]! };
      rows.push(row);
      process.stderr.write(`${engine} ${shape.name}: ${status}, ${cpuMs.toFixed(1)} ms CPU, ${row.wallMsMedian.toFixed(1)} ms wall\n`);
      if (!pod.alive) throw new Error(`the ${engine} pod died`);
    }
  } finally {
    await pod.stop();
  }
  return rows;
}

const list = shapes();
const rows: Row[] = [];
for (const engine of ENGINES) rows.push(...(await measure(engine, list)));

const out = [
  `Pod CPU per request (utime+stime over ${REQUESTS} requests), and the median answer time at the client; budget ${BUDGET_MS} ms of CPU.`,
  '',
  `| shape | bytes | status | ${ENGINES.map((e) => `${e} CPU ms | ${e} wall ms`).join(' | ')} | budget |`,
  `|---|---:|---:|${ENGINES.map(() => '---:|---:').join('|')}|---|`,
];
for (const shape of list) {
  const cells = ENGINES.map((e) => rows.find((r) => r.engine === e && r.shape === shape.name)!);
  const worst = Math.max(...cells.map((c) => c.cpuMsPerRequest));
  out.push(
    `| ${shape.name} | ${shape.body.length} | ${cells[0]!.status} | ${cells.map((c) => `${c.cpuMsPerRequest.toFixed(1)} | ${c.wallMsMedian.toFixed(1)}`).join(' | ')} | ${worst <= BUDGET_MS ? 'met' : 'missed'} |`,
  );
}
process.stdout.write(out.join('\n') + '\n');
