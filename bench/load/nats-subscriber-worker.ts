/**
 * The latency baseline: a bare NATS subscriber that reads the send timestamp from each
 * message, as the WebSocket clients do from each frame. No gateway, no WebSocket hop.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import * as hdr from 'hdr-histogram-js';
import { readTimestamp } from '../lib/frame-reader.js';
import { monotonicMicros } from '../lib/clock.js';
import { serveCommands } from '../lib/worker-side.js';
import type { LatencyReport } from './client-protocol.js';

const newHistogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
let histogram = newHistogram();
let events = 0;
let nc: NatsConnection | undefined;

serveCommands(async (command) => {
  switch (command.cmd) {
    case 'subscribe': {
      nc = await connect({ servers: command.servers as string[] });
      nc.subscribe(command.subject as string, {
        callback: (_error, msg) => {
          events++;
          const sentAt = readTimestamp(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength));
          if (sentAt >= 0) histogram.recordValue(Math.max(1, monotonicMicros() - sentAt));
        },
      });
      await nc.flush();
      return null;
    }
    case 'stats':
      return { events, bytes: 0, open: 1, closes: {} };
    case 'latency': {
      const report: LatencyReport = { histogram: hdr.encodeIntoCompressedBase64(histogram), count: histogram.totalCount };
      histogram = newHistogram();
      return report;
    }
    case 'close':
      await nc?.drain();
      return null;
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
});
