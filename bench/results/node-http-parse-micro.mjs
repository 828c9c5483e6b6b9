// `node bench/results/node-http-parse-micro.mjs 1` (after npm run build:node) or `bun … 100`: the
// publish body's decode + nesting check + parse, the old way and the new, CPU per request.
const root = typeof Bun === 'undefined' ? '../../dist/node' : '../../src';
const ext = typeof Bun === 'undefined' ? 'js' : 'ts';
const { checkBodyNesting } = await import(`${root}/protocol/body-nesting.${ext}`);
const { parseJsonBody, pieceBytesFor } = await import(`${root}/http/json-body.${ext}`);
const targets = Number(process.argv[2] ?? 1);
const perBody = Math.min(1000, Math.ceil(10000 / targets));
const events = Array.from({ length: perBody }, (_, i) => ({ type: 'bench.event', content: { t: 0, pad: 'x'.repeat(96) }, targetUsers: Array.from({ length: targets }, (_, j) => 'u' + ((i + j) % 1000)) }));
const src = Buffer.from(JSON.stringify(events));
const fatal = new TextDecoder('utf-8', { fatal: true });
const variants = {
  old: () => { const t = fatal.decode(src); checkBodyNesting(src); return JSON.parse(t); },
  new: () => parseJsonBody(src, checkBodyNesting(src, pieceBytesFor(src))).value,
};
for (let r = 0; r < 2; r++) for (const [name, f] of Object.entries(variants)) {
  for (let i = 0; i < 30; i++) f();
  const c = process.cpuUsage(); const N = 200; for (let i = 0; i < N; i++) f();
  const cu = process.cpuUsage(c);
  console.log(`${targets} targets, ${src.length} B:`, name, ((cu.user + cu.system) / N).toFixed(0), 'µs cpu/request', (cu.system / N).toFixed(0), 'sys');
}
