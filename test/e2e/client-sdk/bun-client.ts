/**
 * Run by client-sdk.test.ts under Bun, with Bun's own WebSocket: prints the open state, the
 * first event, then closes the client. The process must then exit by itself — a timer or a
 * socket the client forgot would keep it alive.
 */
import { HeraldClient } from 'herald/client';

const client = new HeraldClient({ url: process.env.HERALD_URL!, token: process.env.HERALD_TOKEN! });
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
client.onState((state) => {
  if (state.status === 'open') print({ status: 'open', userId: state.userId });
  if (state.status === 'closed') print({ status: 'closed', code: state.code, by: state.by });
});
client.onAny((event) => {
  print({ event: event.type, content: event.content });
  void client.close();
});
client.connect();
