/**
 * `bun bench/micro-hot-path.ts`: the per-event cost of each step of Herald's publish path,
 * measured on the project's own functions in one process (bench/RESULTS.md quotes it).
 */
import { eventId } from '../src/protocol/event-id.js';
import { decodeBusMessage, encodeEventMessage } from '../src/protocol/bus-format.js';
import { publishBatchValidator, publishEventValidator } from '../src/protocol/event.js';
import { encodeEvents } from '../src/protocol/event-encoder.js';
import { eventContent } from './lib/event-stream.js';

function time(label: string, iterations: number, perIteration: number, unit: 'µs' | 'ms', work: () => void): void {
  for (let i = 0; i < Math.min(iterations, 5); i++) work();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) work();
  const ms = (performance.now() - start) / iterations / perIteration;
  process.stdout.write(`${label.padEnd(58)} ${(unit === 'µs' ? ms * 1000 : ms).toFixed(2)} ${unit}\n`);
}

const batch = Array.from({ length: 1000 }, (_, i) => ({ type: 'bench.event', content: eventContent(0), targetUsers: [`u${i}`] }));
const everyone = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
const toEveryone = { type: 'bench.event', content: eventContent(0), targetUsers: everyone };

process.stdout.write('per event, 1,000-event batch of 1-target events:\n');
time('  publishBatchValidator.Check', 50, 1000, 'µs', () => publishBatchValidator.Check(batch));
time('  eventId()', 50, 1000, 'µs', () => batch.forEach(() => eventId()));
const frame = `{"type":"bench.event","id":"${eventId()}","content":${JSON.stringify(eventContent(0))},"fromUserId":null,"ts":1}`;
time('  encodeEventMessage (header JSON + frame into one buffer)', 50, 1000, 'µs', () =>
  batch.forEach((e) => encodeEventMessage({ targetUsers: e.targetUsers, fromSessionId: null, inclusive: false, emittedAt: 1 }, frame)),
);
time('  encodeEvents, all of it', 50, 1000, 'µs', () => encodeEvents(batch));
const { messages } = encodeEvents(batch);
time('  decodeBusMessage', 50, 1000, 'µs', () => messages.forEach((m) => decodeBusMessage(m)));
time('  the raw peer: frame template + JSON.stringify(content)', 50, 1000, 'µs', () =>
  batch.forEach((e) => `{"type":${JSON.stringify(e.type)},"id":"x","content":${JSON.stringify(e.content)},"fromUserId":null,"ts":1}`),
);
process.stdout.write('one event to 10,000 users:\n');
time('  publishEventValidator.Check (uniqueItems included)', 10, 1, 'ms', () => publishEventValidator.Check(toEveryone));
time('  uniqueness by Set instead', 10, 1, 'ms', () => new Set(everyone).size === everyone.length);
