import type { StoredMessage } from '../../../src/bus/bus.js';
import { decodeBusMessage, forEachBundled, MessageKind, outgoingEvent, type BusMessage, type OutgoingMessage } from '../../../src/protocol/bus-format.js';

/** A test message the bus carries like any event: to user `u<n>`, its frame `{"n":<n>}` plus `padding` bytes of filler. */
export function numbered(n: number, padding = 0): OutgoingMessage {
  const filler = padding > 0 ? `,"pad":"${'x'.repeat(padding)}"` : '';
  return outgoingEvent({ targetUsers: [`u${n}`], fromSessionId: null, inclusive: false, emittedAt: 0 }, `{"n":${n}${filler}`);
}

/**
 * The numbers of the `numbered` messages in what a bus handed over, in order: a broker's bytes
 * (a message or a bundle) or the local bus's messages as they were made.
 */
export function numbersIn(stored: StoredMessage): number[] {
  const messages: BusMessage[] = [];
  if (stored instanceof Uint8Array) forEachBundled(stored, (msg) => messages.push(decodeBusMessage(msg)));
  else messages.push(...stored);
  return messages.map((msg) => {
    if (msg.kind !== MessageKind.Event) throw new Error(`not a numbered test message: kind ${msg.kind}`);
    const frame = typeof msg.frame === 'string' ? msg.frame : new TextDecoder().decode(msg.frame);
    return (JSON.parse(frame) as { n: number }).n;
  });
}
