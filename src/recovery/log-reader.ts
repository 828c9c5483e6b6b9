import type { Bus } from '../bus/bus.js';
import { decodeBusMessage, forEachBundled, MAX_BUNDLE_MESSAGES, MessageKind } from '../protocol/bus-format.js';
import type { KeptEvent } from './recent-events.js';

/** The most stored messages one resume may read from the log: past it the resume is a gap. */
export const MAX_LOG_MESSAGES_PER_RESUME = 100_000;

export interface MissedFromLog<Frame> {
  /** Events read up to this position; the index serves what came after. */
  upTo: number;
  events: KeptEvent<Frame>[];
}

/**
 * A resume older than a pod's memory, served from the log itself (NATS): the user's events with
 * a larger `seq` than `since`, up to `upTo`, as the router would have kept them. Undefined when
 * the log no longer holds them all, or when it would take more than the bound to read.
 */
export async function readMissedFromLog<Frame>(
  readLog: NonNullable<Bus['readLog']>,
  who: { userId: string; sessionId: string },
  since: number,
  upTo: number,
  prepare: (frame: string | Uint8Array, seq: number) => Frame,
): Promise<MissedFromLog<Frame> | undefined> {
  const events: KeptEvent<Frame>[] = [];
  const first = Math.floor(since / MAX_BUNDLE_MESSAGES);
  const last = Math.floor(upTo / MAX_BUNDLE_MESSAGES);
  const complete = await readLog(
    Math.max(1, first),
    last,
    (stored, position) => {
      forEachBundled(stored, (msg, index) => {
        const seq = position * MAX_BUNDLE_MESSAGES + index;
        if (seq <= since || seq > upTo) return;
        let decoded;
        try {
          decoded = decodeBusMessage(msg);
        } catch {
          return; // Unreadable here as it was for the router: nothing to replay.
        }
        if (decoded.kind !== MessageKind.Event) return;
        const { header } = decoded;
        if (!header.targetUsers.includes(who.userId)) return;
        const skipSessionId = header.inclusive ? null : header.fromSessionId;
        if (skipSessionId === who.sessionId) return;
        events.push({
          seq,
          frame: prepare(decoded.frame, seq),
          skipSessionId,
          bytes: 0,
          atMs: header.emittedAt,
        });
      });
    },
    MAX_LOG_MESSAGES_PER_RESUME,
  );
  return complete ? { upTo, events } : undefined;
}
