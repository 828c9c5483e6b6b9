import { PUBLISH_TOKEN } from '../contenders.js';
import { eventContent, EVENT_TYPE } from './event-stream.js';

/** Herald's limit per request (contract §2). */
const MAX_EVENTS_PER_REQUEST = 1000;
/** Below Herald's 1 MiB per request, with room for the JSON around the events. */
const MAX_BODY_CHARS = 900 * 1024;

/**
 * POSTs `count` events (event i to `targetsOf(i)`) to a pod's /v1/events from the bench
 * process, `inFlight` requests at a time, and throws unless every one was answered 202. For
 * scenarios that set a pod up (events to replay, events to keep), not for measured publishing.
 */
export async function publishBulk(
  port: number,
  count: number,
  targetsOf: (index: number) => string[],
  inFlight = 2,
): Promise<{ requests: number; ms: number }> {
  const started = performance.now();
  const bodies: string[] = [];
  let batch: string[] = [];
  let chars = 2;
  const content = JSON.stringify(eventContent(0));
  for (let i = 0; i < count; i++) {
    const event = `{"type":"${EVENT_TYPE}","content":${content},"targetUsers":${JSON.stringify(targetsOf(i))}}`;
    if (batch.length >= MAX_EVENTS_PER_REQUEST || chars + event.length + 1 > MAX_BODY_CHARS) {
      bodies.push(`[${batch.join(',')}]`);
      batch = [];
      chars = 2;
    }
    batch.push(event);
    chars += event.length + 1;
  }
  if (batch.length > 0) bodies.push(`[${batch.join(',')}]`);
  const url = `http://127.0.0.1:${port}/v1/events`;
  const headers = { authorization: `Bearer ${PUBLISH_TOKEN}`, 'content-type': 'application/json' };
  let next = 0;
  const lane = async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const response = await fetch(url, { method: 'POST', headers, body });
      const text = await response.text();
      if (response.status !== 202) throw new Error(`publish: HTTP ${response.status}: ${text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, bodies.length) }, lane));
  return { requests: bodies.length, ms: performance.now() - started };
}
