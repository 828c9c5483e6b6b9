import { describe, expect, it } from 'vitest';
import { failures, runBrokerOutageCases } from './broker-outage.case.js';
import { killAllPods, startPod } from './harness/pod.js';
import { AMQP_URL, deleteTopology, startAmqpRelay, uniqueExchange } from './harness/rabbitmq.js';
import type { TcpProxy } from './harness/tcp-proxy.js';

function outageBroker(relay: TcpProxy, url: string, exchange: string) {
  return {
    env: { HERALD_BUS: 'amqp', HERALD_AMQP_URL: url, HERALD_AMQP_EXCHANGE: exchange },
    freeze: async () => relay.freeze(),
    thaw: async () => relay.thaw(),
    async stop() {
      await relay.close();
      await deleteTopology(exchange);
    },
  };
}

// The shared RabbitMQ behind a relay of each test's own: the relay freezes or is missing, the broker never stops.
runBrokerOutageCases({
  bus: 'amqp',
  engine: 'bun',
  async startBroker() {
    const { relay, url } = await startAmqpRelay();
    return outageBroker(relay, url, uniqueExchange('outage'));
  },
  async absentBroker() {
    const { relay, url } = await startAmqpRelay();
    await relay.cut();
    const broker = outageBroker(relay, url, uniqueExchange('absent'));
    return {
      env: broker.env,
      async appear() {
        await relay.restore();
        return broker;
      },
    };
  },
});

describe('AMQP credentials on bun', () => {
  it('a wrong password is logged as refused credentials, not as an unreachable broker; the pod stays up, not ready', async () => {
    const url = new URL(AMQP_URL);
    url.password = 'not-the-password';
    const pod = await startPod({ env: { HERALD_BUS: 'amqp', HERALD_AMQP_URL: url.toString() } });
    try {
      await expect.poll(() => failures(pod).length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
      for (const line of failures(pod)) {
        expect(line.reason).toBe('authentication_refused');
        expect(line.msg).toBe(
          `RabbitMQ refused the credentials of HERALD_AMQP_URL (authentication refused) for user "${url.username}" at ` +
            `amqp://${url.username}:***@${url.host}; not ready, retrying`,
        );
      }
      expect(pod.logs.some((l) => String(l.msg).includes('unreachable'))).toBe(false);
      expect(JSON.stringify(pod.logs)).not.toContain('not-the-password');
      expect((await fetch(`${pod.http}/healthz`)).status).toBe(200);
      expect((await fetch(`${pod.http}/readyz`)).status).toBe(503);
      expect(pod.process.exitCode).toBeNull();
    } finally {
      await killAllPods();
    }
  }, 30_000);
});
