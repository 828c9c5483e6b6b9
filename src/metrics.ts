import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * herald_delivery_seconds observes one delivered event in this many: a histogram update per
 * event cost the 1-target hot path ~3 % of the pod's CPU (bench/RESULTS.md).
 */
export const DELIVERY_SAMPLE_EVERY = 16;

/** Live values read at scrape time rather than kept in step on every change. */
export interface GaugeSources {
  connections(): number;
  userTopics(): number;
  expiryEntries(): number;
  revocations(): number;
  busUp(): boolean;
  recoveryBytes(): number;
}

/** The contract's metrics (§5), on a registry of their own so embedded gateways do not collide. */
export function createMetrics() {
  const registry = new Registry();
  let sources: GaugeSources | undefined;
  collectDefaultMetrics({ register: registry, prefix: 'herald_' });
  return {
    registry,
    connections: new Gauge({
      name: 'herald_connections',
      help: 'Open WebSockets on this pod',
      registers: [registry],
      collect() {
        this.set(sources?.connections() ?? 0);
      },
    }),
    connectionsClosed: new Counter({
      name: 'herald_connections_closed_total',
      help: 'Closed WebSockets by close code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    upgradesRejected: new Counter({
      name: 'herald_upgrades_rejected_total',
      help: 'Refused WebSocket upgrades by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    eventsReceived: new Counter({
      name: 'herald_events_received_total',
      help: 'Events this pod received from the bus',
      registers: [registry],
    }),
    eventsPublished: new Counter({
      name: 'herald_events_published_total',
      help: 'Events this pod put on the bus (HTTP and embedded API)',
      registers: [registry],
    }),
    framesSent: new Counter({
      name: 'herald_frames_sent_total',
      help: 'Event frames handed to local sockets',
      registers: [registry],
    }),
    slowConsumers: new Counter({
      name: 'herald_slow_consumer_total',
      help: 'Sockets closed with 4008 because their send buffer passed HERALD_MAX_BACKPRESSURE',
      registers: [registry],
    }),
    busUp: new Gauge({
      name: 'herald_bus_up',
      help: '1 while the event bus is connected',
      registers: [registry],
      collect() {
        this.set(sources?.busUp() ? 1 : 0);
      },
    }),
    busMessagesRejected: new Counter({
      name: 'herald_bus_messages_rejected_total',
      help: 'Bus messages this pod could not read (bad format or version)',
      registers: [registry],
    }),
    routeFailures: new Counter({
      name: 'herald_route_failures_total',
      help: 'Bus messages whose routing failed on this pod (a bug: see the error log)',
      registers: [registry],
    }),
    publishFailures: new Counter({
      name: 'herald_publish_failures_total',
      help: 'Publishes refused because the bus was down',
      registers: [registry],
    }),
    userTopics: new Gauge({
      name: 'herald_user_topics',
      help: 'Users with a socket on this pod (one uWebSockets topic each)',
      registers: [registry],
      collect() {
        this.set(sources?.userTopics() ?? 0);
      },
    }),
    expiryEntries: new Gauge({
      name: 'herald_token_expiry_entries',
      help: 'Sockets filed on the token-expiry wheel',
      registers: [registry],
      collect() {
        this.set(sources?.expiryEntries() ?? 0);
      },
    }),
    revocations: new Gauge({
      name: 'herald_revocations',
      help: 'Users with a revocation in force on this pod',
      registers: [registry],
      collect() {
        this.set(sources?.revocations() ?? 0);
      },
    }),
    recoveryReplayed: new Counter({
      name: 'herald_recovery_replayed_total',
      help: 'Missed events sent to resuming sockets (§6)',
      registers: [registry],
    }),
    recoveryGaps: new Counter({
      name: 'herald_recovery_gaps_total',
      help: 'Resumes answered with gap: true (another epoch, past the window, or too many missed events)',
      registers: [registry],
    }),
    recoveryBytes: new Gauge({
      name: 'herald_recovery_bytes',
      help: 'Bytes this pod counts for recent events kept for resumes (limit HERALD_RECOVERY_MAX_BYTES)',
      registers: [registry],
      collect() {
        this.set(sources?.recoveryBytes() ?? 0);
      },
    }),
    deliverySeconds: new Histogram({
      name: 'herald_delivery_seconds',
      help: `Emit to local send, per pod; sampled: 1 in ${DELIVERY_SAMPLE_EVERY} events that reached a local socket`,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    /** Connects the gauges to the gateway whose state they report. */
    watch(gaugeSources: GaugeSources): void {
      sources = gaugeSources;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
