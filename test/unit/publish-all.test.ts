import { describe, expect, it } from 'vitest';
import type { Bus } from '../../src/bus/bus.js';
import { publishAll } from '../../src/emitter.js';
import { BusUnavailableError, MessageTooLargeError } from '../../src/errors.js';
import { outgoingBytes, type OutgoingMessage } from '../../src/protocol/bus-format.js';
import { numbered } from '../e2e/harness/bus-messages.js';

function recordingBus(options: { up?: boolean; maxMessageBytes?: number } = {}) {
  const sent: OutgoingMessage[] = [];
  const bus: Bus = {
    name: 'recording',
    up: options.up ?? true,
    maxMessageBytes: options.maxMessageBytes,
    start: async () => {},
    publish: async (msg) => {
      sent.push(msg);
    },
    publishBatch: async (messages) => {
      sent.push(...messages);
    },
    onStatus: () => {},
    close: async () => {},
  };
  return { bus, sent };
}

describe('publishAll', () => {
  it('publishes every message in order', async () => {
    const { bus, sent } = recordingBus();
    const messages = [1, 2, 3].map((n) => numbered(n));
    await publishAll(bus, messages);
    expect(sent).toEqual(messages);
  });

  it('publishes nothing of a batch when one message is over the broker limit', async () => {
    const small = outgoingBytes(numbered(1)).length;
    const { bus, sent } = recordingBus({ maxMessageBytes: small });
    await expect(publishAll(bus, [numbered(1), numbered(2, 1), numbered(3)])).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(sent).toEqual([]);
  });

  it('publishes nothing while the bus is down', async () => {
    const { bus, sent } = recordingBus({ up: false });
    await expect(publishAll(bus, [numbered(1)])).rejects.toBeInstanceOf(BusUnavailableError);
    expect(sent).toEqual([]);
  });
});
