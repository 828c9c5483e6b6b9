import { expect, it } from 'vitest';
import type { Bus } from '../../src/bus/bus.js';
import { numbered, numbersIn } from './harness/bus-messages.js';
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
    const received: number[][] = [[], []];
    const sender = newBus(topic);
    const other = newBus(topic);
    await sender.start((stored) => received[0]!.push(...numbersIn(stored)));
    await other.start((stored) => received[1]!.push(...numbersIn(stored)));
    const sent = Array.from({ length: 200 }, (_, n) => n);
    await Promise.all(sent.map((n) => sender.publish(numbered(n))));
    await waitFor('both buses to receive everything', () => received.every((r) => r.length === sent.length));
    for (const r of received) expect(r).toEqual(sent);
  });

  it('a publish-only bus sends without receiving', async () => {
    const topic = freshTopic();
    const heard: number[] = [];
    const seen: number[] = [];
    const publisher = newBus(topic, { publishOnly: true });
    const pod = newBus(topic);
    await publisher.start((stored) => heard.push(...numbersIn(stored)));
    await pod.start((stored) => seen.push(...numbersIn(stored)));
    await publisher.publish(numbered(1));
    await waitFor('the pod to receive it', () => seen.length === 1);
    expect(seen).toEqual([1]);
    expect(heard).toEqual([]);
  });
}
