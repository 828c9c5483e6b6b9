/**
 * `bun bench/report/pool-ratios.ts <results.json> ...`: Herald on Node ÷ Herald on Bun in the
 * fan-out rows of several runs pooled, as the median of the per-run ratios (each run starts both
 * in turn, so a run's ratio shares its load), and each one's median CPU-s per M frames.
 */
import { readFileSync } from 'node:fs';
const files = process.argv.slice(2);
const rows = files.flatMap((f, k) => JSON.parse(readFileSync(f, 'utf8')).fanout.rows.map((r: any) => ({ ...r, run: `${k}-${r.run}` })));
const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
for (const [node, bun, rec] of [['herald-node', 'herald-bun', 'on'], ['herald-node-norecovery', 'herald-bun-norecovery', 'off']]) for (const t of ['single', 'group', 'all']) {
  const n = rows.filter((r) => r.contender === node && r.targeting === t); const b = rows.filter((r) => r.contender === bun && r.targeting === t);
  const ratios = n.map((r) => r.framesPerS / b.find((x) => x.run === r.run).framesPerS);
  const cpu = med(n.map((r) => r.cpuSPerMFrames)) / med(b.map((r) => r.cpuSPerMFrames));
  console.log(`| ${t}, recovery ${rec} | ${med(ratios).toFixed(2)} × | ${ratios.map((x) => x.toFixed(2)).join(', ')} | ${med(n.map((r) => r.cpuSPerMFrames)).toFixed(2)} / ${med(b.map((r) => r.cpuSPerMFrames)).toFixed(2)} (${cpu.toFixed(2)} ×) |`);
}
