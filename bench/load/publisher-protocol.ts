import type { StreamSpec } from '../lib/event-stream.js';

/**
 * How events reach the contender: Herald's HTTP API (every HTTP contender accepts its format),
 * Herald's publisher client on NATS, or bare NATS messages (the latency baseline).
 */
export type PublishTransport =
  /** `connections`: rate runs POST over that many keep-alive connections opened up front (never a new one later). */
  | { kind: 'http'; url: string; token: string; connections?: number }
  /** `recoveryWindowS` and `stream` as the pods have them: 0 publishes on core NATS, above 0 stores in the stream (§6). */
  | { kind: 'herald-nats'; servers: string[]; subject: string; stream?: string; recoveryWindowS?: number }
  | { kind: 'herald-amqp'; url: string; exchange: string }
  | { kind: 'raw-nats'; servers: string[]; subject: string };

export interface FlatCommand {
  transport: PublishTransport;
  stream: StreamSpec;
  /** Requests (or publisher-client calls) in flight at once. */
  concurrency: number;
}

export interface RateCommand {
  transport: PublishTransport;
  /** Users to address, one per event, round-robin. */
  from: number;
  to: number;
  eventsPerSecond: number;
  durationMs: number;
}

export interface PublishProgress {
  events: number;
  /** Frames the clients should get for what was accepted so far. */
  deliveries: number;
  requests: number;
  errors: number;
  lastError: string | undefined;
  /** For rate runs: the largest lag behind the schedule, ms. */
  maxLagMs: number;
}
