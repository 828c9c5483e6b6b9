/** Who an event goes to: one user, a block of `GROUP_SIZE` users, or every connected user. */
export type Targeting = 'single' | 'group' | 'all';

export const GROUP_SIZE = 100;
export const EVENT_TYPE = 'bench.event';
/** Padding that brings every client frame to about 200 bytes of JSON. */
const PAD = 'x'.repeat(96);
/** Herald's own limits (contract §2): 1000 events and 1 MiB per request, 10 000 targets per event. */
const MAX_EVENTS_PER_BODY = 1000;
const MAX_BODY_BYTES = 900 * 1024;
/** Deliveries one request aims for, so that HTTP overhead stays small next to fan-out work. */
const DELIVERIES_PER_BODY = 10_000;

export interface StreamSpec {
  /** Users u<from> … u<to - 1> have one socket each. */
  from: number;
  to: number;
  targeting: Targeting;
}

export interface BenchEvent {
  type: string;
  content: { t: number; pad: string };
  targetUsers: string[];
}

/** The content every contender's frame carries; `t` is the send time in µs in latency runs, else 0. */
export function eventContent(t: number): { t: number; pad: string } {
  return { t, pad: PAD };
}

/** One pass over the users: every user gets the same number of events whatever the targeting. */
export function targetSets(spec: StreamSpec): string[][] {
  const users = Array.from({ length: spec.to - spec.from }, (_, i) => `u${spec.from + i}`);
  if (spec.targeting === 'single') return users.map((u) => [u]);
  if (spec.targeting === 'all') return [users];
  const sets: string[][] = [];
  for (let i = 0; i < users.length; i += GROUP_SIZE) sets.push(users.slice(i, i + GROUP_SIZE));
  return sets;
}

export interface Body {
  bytes: Uint8Array;
  events: number;
  /** Frames the clients must receive for this body: one per target (each user has one socket). */
  deliveries: number;
}

/** The publish requests of one pass, in Herald's POST /v1/events format, which every HTTP contender accepts. */
export function buildBodies(spec: StreamSpec): Body[] {
  const sets = targetSets(spec);
  const perEvent = sets[0]!.length;
  const eventsPerBody = Math.max(1, Math.min(MAX_EVENTS_PER_BODY, Math.ceil(DELIVERIES_PER_BODY / perEvent)));
  const encoder = new TextEncoder();
  const bodies: Body[] = [];
  let batch: BenchEvent[] = [];
  let size = 2;
  let deliveries = 0;
  const flush = () => {
    if (batch.length === 0) return;
    bodies.push({ bytes: encoder.encode(JSON.stringify(batch)), events: batch.length, deliveries });
    batch = [];
    size = 2;
    deliveries = 0;
  };
  for (const targets of sets) {
    const event: BenchEvent = { type: EVENT_TYPE, content: eventContent(0), targetUsers: targets };
    const eventSize = JSON.stringify(event).length + 1;
    if (batch.length >= eventsPerBody || size + eventSize > MAX_BODY_BYTES) flush();
    batch.push(event);
    size += eventSize;
    deliveries += targets.length;
  }
  flush();
  return bodies;
}
