/**
 * The NATS part of emit → client alone: a HeraldPublisher (one process) at a fixed rate, two
 * NatsBus "pods" (one process each) that only read the stamp of every bus message — no
 * gateway, no WebSocket. Recovery off (core subject) and on (the event log's stream), and a
 * bare nats.js publish → subscribe, on one private nats-server. Prints µs percentiles of
 * emit → pod and each process's CPU.
 *
 *   flock /work/bench.lock bun bench/micro-nats-latency.ts [--rate 10000] [--seconds 5] [--runs 3] [--modes off,on,raw]
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { connect } from '@nats-io/transport-node';
import { NatsBus } from '../src/bus/nats/nats-bus.js';
import { forEachBundled } from '../src/protocol/bus-format.js';
import { connectNatsPublisher } from '../src/publisher/index.js';
import { createLogger } from '../src/log.js';
import { monotonicMicros } from './lib/clock.js';
import { readTimestamp } from './lib/frame-reader.js';
import { eventContent, EVENT_TYPE } from './lib/event-stream.js';
import { startNats } from './lib/nats-server.js';
import { sampleProcesses } from './lib/proc-stats.js';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    mode: { type: 'string' },
    url: { type: 'string' },
    subject: { type: 'string' },
    stream: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    runs: { type: 'string' },
    modes: { type: 'string' },
  },
});
const rate = Number(values.rate ?? 10_000);
const seconds = Number(values.seconds ?? 5);
type Mode = 'off' | 'on' | 'raw';
const MODES = (values.modes ?? 'off,on,raw').split(',') as Mode[];
const log = createLogger('warn', { component: 'micro' });

function percentiles(h: hdr.Histogram) {
  return { p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue, n: h.totalCount };
}

/** A pod: records now − stamp for every event of every bus message until told to report. */
async function pod(mode: Mode, url: string, subject: string, stream: string): Promise<void> {
  let h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const record = (msg: Uint8Array) => {
    const t = readTimestamp(Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength));
    if (t >= 0) h.recordValue(Math.max(1, monotonicMicros() - t));
  };
  if (mode === 'raw') {
    const nc = await connect({ servers: [url] });
    nc.subscribe(subject, { callback: (_e, m) => record(m.data) });
    await nc.flush();
  } else {
    const bus = new NatsBus({
      servers: [url],
      subject,
      log,
      ...(mode === 'on' ? { eventLog: { stream, windowS: 300, maxBytes: 1 << 30 } } : {}),
    });
    // A broker bus hands bytes: a message, or a request's bundle.
    await bus.start((msg) => forEachBundled(msg as Uint8Array, (m) => record(m)));
  }
  process.stdout.write('ready\n');
  for await (const line of console) {
    if (line === 'reset') h.reset();
    if (line === 'report') {
      process.stdout.write(`${JSON.stringify(percentiles(h))}\n`);
      process.exit(0);
    }
  }
}

/** The publisher: `rate` events/s for `seconds`, each tick's due events in one emit (as the latency bench). */
async function publisher(mode: Mode, url: string, subject: string, stream: string): Promise<void> {
  const encoder = new TextEncoder();
  let send: (users: string[], t: number) => void;
  if (mode === 'raw') {
    const nc = await connect({ servers: [url] });
    send = (users, t) => {
      for (const u of users) nc.publish(subject, encoder.encode(`{"type":"${EVENT_TYPE}","content":${JSON.stringify(eventContent(t))},"to":"${u}"}`));
    };
  } else {
    const pub = await connectNatsPublisher({ servers: [url], subject, stream, recoveryWindowS: mode === 'on' ? 300 : 0 });
    send = (users, t) => {
      pub.emit(users.map((u) => ({ type: EVENT_TYPE, content: eventContent(t), targetUsers: [u] }))).catch((e) => console.error(e));
    };
  }
  process.stdout.write('ready\n');
  for await (const line of console) {
    if (line !== 'go') continue;
    const start = monotonicMicros();
    const total = rate * (seconds + 1);
    let sent = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((monotonicMicros() - start) / 1e6) * rate));
        while (sent < due) {
          const users: string[] = [];
          for (; sent < due && users.length < 1000; sent++) users.push(`u${sent % 1000}`);
          send(users, monotonicMicros());
        }
        if (sent >= total) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    await new Promise((r) => setTimeout(r, 500));
    process.stdout.write('done\n');
    process.exit(0);
  }
}

interface Child {
  pid: number;
  next(): Promise<string>;
  send(line: string): void;
}

function child(args: string[]): Child {
  const p = spawn(process.execPath, [import.meta.path, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let buf = '';
  p.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  return {
    pid: p.pid!,
    next: () => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiters.push(r))),
    send: (l) => p.stdin!.write(`${l}\n`),
  };
}

async function measure(mode: Mode, url: string, natsPid: number, n: number) {
  const subject = `micro.lat.${n}`;
  const stream = `MICRO_LAT_${n}`;
  const args = ['--mode', mode, '--url', url, '--subject', subject, '--stream', stream, '--rate', String(rate), '--seconds', String(seconds)];
  const pods = [child(['--role', 'pod', ...args]), child(['--role', 'pod', ...args])];
  await Promise.all(pods.map((p) => p.next()));
  const pub = child(['--role', 'pub', ...args]);
  await pub.next();
  pub.send('go');
  await new Promise((r) => setTimeout(r, 1_000));
  for (const p of pods) p.send('reset');
  const pids = { pods: pods.map((p) => p.pid), publisher: [pub.pid], nats: [natsPid] };
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, v]) => [k, sampleProcesses(v).cpuS]));
  const t0 = performance.now();
  await pub.next();
  const s = (performance.now() - t0) / 1000;
  const cores = Object.fromEntries(Object.entries(pids).map(([k, v]) => [k, ((sampleProcesses(v).cpuS - cpu0[k]!) / s).toFixed(2)]));
  const reports = [];
  for (const p of pods) {
    p.send('report');
    reports.push(JSON.parse(await p.next()));
  }
  return { mode, reports, cores };
}

if (values.role === 'pod') await pod(values.mode as Mode, values.url!, values.subject!, values.stream!);
else if (values.role === 'pub') await publisher(values.mode as Mode, values.url!, values.subject!, values.stream!);
else {
  const nats = await startNats();
  const runs = Number(values.runs ?? 1);
  let n = 0;
  try {
    for (let run = 0; run < runs; run++) {
      const modes: Mode[] = run % 2 === 0 ? MODES : [...MODES].reverse();
      for (const mode of modes) {
        const r = await measure(mode, nats.url, nats.pid, ++n);
        const [a, b] = r.reports;
        console.log(
          `run ${run} ${mode.padEnd(7)} ${rate}/s  pod A p50 ${a.p50} p99 ${a.p99} p99.9 ${a.p999} max ${a.max} (n ${a.n}) | pod B p50 ${b.p50} p99 ${b.p99} p99.9 ${b.p999} (n ${b.n}) | cores ${JSON.stringify(r.cores)}`,
        );
      }
    }
  } finally {
    await nats.stop();
  }
  process.exit(0);
}
