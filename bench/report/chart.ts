import type { BenchResults } from './results.js';
import { cells, latencyMedians, targetingLabel, type Cell } from './summary.js';

const COLORS: Record<string, string> = {
  'raw-bun': '#9aa0a6',
  'herald-bun': '#1a73e8',
  'herald-bun-norecovery': '#8ab4f8',
  'herald-node': '#12b5cb',
  'herald-node-norecovery': '#7fd8e5',
  'ws-node': '#f29900',
  socketio: '#d93025',
  'herald-nats': '#1a73e8',
  'herald-nats-recovery': '#0b57d0',
  'herald-nats-http': '#4285f4',
  'herald-nats-http-recovery': '#0b57d0',
  'herald-amqp': '#7baaf7',
  'socketio-redis': '#d93025',
  herald: '#1a73e8',
  'herald-recovery': '#0b57d0',
  'raw-nats': '#9aa0a6',
};

interface Bar {
  label: string;
  value: number;
  color: string;
}
interface Group {
  name: string;
  bars: Bar[];
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function compact(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)} k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  if (n >= 100) return n.toFixed(0);
  return n.toFixed(2);
}

/** Horizontal bars, one group per cell, each group scaled to its own largest bar. */
function panel(title: string, note: string, groups: Group[]): string {
  const width = 600;
  const labelWidth = 290;
  const barHeight = 16;
  const gap = 4;
  const groupGap = 26;
  let y = 44;
  const parts: string[] = [];
  for (const group of groups) {
    parts.push(`<text x="0" y="${y}" class="group">${escape(group.name)}</text>`);
    y += 8;
    const max = Math.max(...group.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), 1e-9);
    for (const bar of group.bars) {
      const w = Number.isFinite(bar.value) ? Math.max(1, ((width - labelWidth - 70) * bar.value) / max) : 0;
      parts.push(`<text x="${labelWidth - 6}" y="${y + 12}" class="label" text-anchor="end">${escape(bar.label)}</text>`);
      parts.push(`<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${bar.color}" rx="2"/>`);
      parts.push(`<text x="${labelWidth + w + 4}" y="${y + 12}" class="value">${compact(bar.value)}</text>`);
      y += barHeight + gap;
    }
    y += groupGap - gap;
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">` +
    `<text x="0" y="16" class="title">${escape(title)}</text><text x="0" y="32" class="note">${escape(note)}</text>${parts.join('')}</svg>`
  );
}

function flatGroups(list: Cell[], metric: 'framesPerS' | 'cpuSPerMFrames'): Group[] {
  const keys = [...new Set(list.map((c) => `${c.sockets}|${c.targeting}`))];
  return keys.map((key) => {
    const [sockets, targeting] = key.split('|');
    return {
      name: `${Number(sockets).toLocaleString('en-US')} sockets · event to ${targetingLabel(targeting!)}`,
      bars: list
        .filter((c) => `${c.sockets}|${c.targeting}` === key)
        .map((c) => ({ label: c.label, value: c[metric], color: COLORS[c.contender] ?? '#555' })),
    };
  });
}

/** The page height a screenshot needs: the taller panel of each section, plus headings. */
export function chartHeight(html: string): number {
  let total = 120;
  for (const section of html.split('<h2>').slice(1)) {
    const heights = [...section.matchAll(/<svg[^>]* height="(\d+)"/g)].map((m) => Number(m[1]));
    total += 60 + Math.max(0, ...heights);
  }
  return total;
}

/** A self-contained HTML page of the run's figures (no scripts, no network). */
export function renderChart(results: BenchResults): string {
  const sections: string[] = [];
  if (results.fanout) {
    const list = cells(results.fanout.rows);
    sections.push(
      `<h2>1. Fan-out on one pod</h2><div class="row">` +
        panel('Delivered frames/s', 'higher is better', flatGroups(list, 'framesPerS')) +
        panel('Server CPU-seconds per million frames', 'lower is better', flatGroups(list, 'cpuSPerMFrames')) +
        `</div>`,
    );
  }
  if (results.cluster) {
    const list = cells(results.cluster.rows);
    sections.push(
      `<h2>2. Two pods and a broker</h2><div class="row">` +
        panel('Delivered frames/s', 'higher is better', flatGroups(list, 'framesPerS')) +
        panel('Pods\u2019 CPU-seconds per million frames', 'lower is better; broker CPU not included', flatGroups(list, 'cpuSPerMFrames')) +
        `</div>`,
    );
  }
  if (results.latency) {
    const rates = [...new Set(results.latency.rows.map((r) => r.eventsPerSecond))];
    const groups: Group[] = [];
    for (const rate of rates) {
      for (const [key, name] of [['p50', 'p50'], ['p99', 'p99'], ['p999', 'p99.9']] as const) {
        groups.push({
          name: `${rate.toLocaleString('en-US')} events/s · ${name}`,
          bars: latencyMedians(results.latency.rows)
            .filter((r) => r.eventsPerSecond === rate)
            .map((r) => ({ label: r.label, value: r[key], color: COLORS[r.system] ?? '#555' })),
        });
      }
    }
    const half = Math.ceil(groups.length / 2);
    sections.push(
      `<h2>3. Latency emit → receive (µs)</h2><div class="row">` +
        panel('Latency, µs', 'lower is better', groups.slice(0, half)) +
        panel('Latency, µs (continued)', 'lower is better', groups.slice(half)) +
        `</div>`,
    );
  }
  if (results.capacity || results.churn) {
    const capacity = (results.capacity ?? []).map((r) => ({
      label: `${r.pod}${r.recovery === undefined ? '' : r.recovery ? ' rec. on' : ' rec. off'} (${r.opened.toLocaleString('en-US')} sockets)`,
      value: r.rssBytesPerSocket,
      color: COLORS[r.pod] ?? '#555',
    }));
    const churn = (results.churn ?? []).map((r) => ({
      label: `${r.pod} heap Δ MiB after ${r.cycles.toLocaleString('en-US')}`,
      value: r.heapDeltaMiB,
      color: COLORS[r.pod] ?? '#555',
    }));
    sections.push(
      `<h2>4–5. Capacity and churn</h2><div class="row">` +
        panel('RSS per idle authenticated socket (bytes)', 'goal ≤ 2662', [{ name: 'after a full GC', bars: capacity }]) +
        panel('Heap growth over churn (MiB)', 'goal ≤ 2', [{ name: 'after a full GC', bars: churn }]) +
        `</div>`,
    );
  }
  const m = results.meta;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Herald benchmarks</title><style>
body{font:14px system-ui,sans-serif;margin:24px;color:#202124;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}.meta{color:#5f6368;max-width:1150px}
.row{display:flex;gap:32px;flex-wrap:wrap}.title{font-weight:600;font-size:14px}.note{fill:#5f6368;font-size:12px}
.group{font-weight:600;font-size:12px;fill:#3c4043}.label{font-size:12px;fill:#3c4043}.value{font-size:11px;fill:#202124}
</style></head><body><h1>Herald benchmarks</h1><p class="meta">${escape(
    `${m.startedAt.slice(0, 16).replace('T', ' ')} UTC · ${m.machine.cpu}, ${m.machine.cores} cores · Bun ${m.versions.bun}, Node ${m.versions.node} · commit ${m.versions.commit} · ` +
      `${m.options.runs} run(s), ${m.options.warmupMs / 1000} s warm-up, ${m.options.measureMs / 1000} s measured, median · load average at start ${m.loadAverageAtStart}`,
  )}</p>${sections.join('')}</body></html>\n`;
}
