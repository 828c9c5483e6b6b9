import { BusUnavailableError, MessageTooLargeError } from '../errors.js';
import type { Bus } from './bus.js';

/**
 * Publishes one request's messages in order, all or nothing as far as this process can tell:
 * nothing goes out while the bus is down or when any message is over the broker's limit.
 */
export async function publishAll(bus: Bus, messages: Uint8Array[]): Promise<void> {
  if (!bus.up) throw new BusUnavailableError();
  const limit = bus.maxMessageBytes;
  if (limit !== undefined) {
    for (const msg of messages) {
      if (msg.length > limit) {
        throw new MessageTooLargeError(`an event of ${msg.length} bytes on the bus is over the broker's limit of ${limit}`);
      }
    }
  }
  try {
    // Called in order without awaiting in between: every bus keeps call order.
    await Promise.all(messages.map((msg) => bus.publish(msg)));
  } catch (error) {
    if (error instanceof BusUnavailableError || error instanceof MessageTooLargeError) throw error;
    throw new BusUnavailableError('publish failed', { cause: error });
  }
}
