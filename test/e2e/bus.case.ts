import { expect, it } from 'vitest';
import type { Bus } from '../../src/bus/bus.js';
import { waitFor } from './harness/wait-for.js';

export interface BusContractOptions {
  /** A fresh subject or exchange name, so tests never hear each other. */
  freshTopic(): string;
  /** A bus on `topic`, closed by the caller after each test. */
  newBus(topic: string, options?: { publishOnly?: boolean }): Bus;
}

/** The guarantees written on the Bus interface, against one real broker (no gateway). */
export function runBusContractCases({ freshTopic, newBus }: BusContractOptions): void {
  it('every bus on the topic, the sender included, receives every message unchanged and in publish order', async () => {
    const topic = freshTopic();
    const received: Uint8Array[][] = [[], []];
    const sender = newBus(topic);
    const other = newBus(topic);
    await sender.start((msg) => received[0]!.push(msg));
    await other.start((msg) => received[1]!.push(msg));
    // Views into a larger buffer, as the encoder's are: only the view's bytes go out.
    const backing = new Uint8Array(200 * 8).map((_, i) => i % 251);
    const sent = Array.from({ length: 200 }, (_, n) => backing.subarray(n * 8, n * 8 + 6));
    await Promise.all(sent.map((msg) => sender.publish(msg)));
    await waitFor('both buses to receive everything', () => received.every((r) => r.length === sent.length));
    for (const r of received) expect(r.map((m) => [...m])).toEqual(sent.map((m) => [...m]));
  });

  it('a publish-only bus sends without receiving', async () => {
    const topic = freshTopic();
    const heard: Uint8Array[] = [];
    const seen: Uint8Array[] = [];
    const publisher = newBus(topic, { publishOnly: true });
    const pod = newBus(topic);
    await publisher.start((msg) => heard.push(msg));
    await pod.start((msg) => seen.push(msg));
    await publisher.publish(new Uint8Array([1, 2, 3]));
    await waitFor('the pod to receive it', () => seen.length === 1);
    expect(heard).toEqual([]);
  });
}
