import { afterEach, describe } from 'vitest';
import { LocalBus, LocalChannel } from '../../src/bus/local.js';
import { runBusContractCases } from './bus.case.js';

/** The Bus guarantees on the embedded bus: buses sharing a channel stand in for pods. */
describe('LocalBus', () => {
  const channels = new Map<string, LocalChannel>();
  const open: LocalBus[] = [];
  let counter = 0;
  afterEach(async () => {
    await Promise.all(open.splice(0).map((bus) => bus.close()));
    channels.clear();
  });

  runBusContractCases({
    freshTopic: () => `local.${++counter}`,
    newBus: (topic, options) => {
      let channel = channels.get(topic);
      if (!channel) channels.set(topic, (channel = new LocalChannel()));
      const bus = new LocalBus({ channel, publishOnly: options?.publishOnly });
      open.push(bus);
      return bus;
    },
  });
});
