import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, expectStillReceives } from './harness/identities.js';
import { killAllPods, startPod } from './harness/pod.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** TIME_WAIT entries whose local port (the pod's side) or peer port (a client's side) is `port`. */
function timeWait(port: number): { pod: number; clients: number } {
  const rows = execFileSync('ss', ['-Htan', 'state', 'time-wait'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 4);
  const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
  return {
    pod: rows.filter((cols) => portOf(cols[2]!) === port).length,
    clients: rows.filter((cols) => portOf(cols[3]!) === port).length,
  };
}

describe('TIME_WAIT after a drain whose clients close first (4000), on bun', () => {
  afterAll(killAllPods);

  it('is kept by the pod, not the clients — uWebSockets ends TCP once it has answered the close frame — and the docs say so', async () => {
    const pod = await startPod({ env: { HERALD_DRAIN_TIMEOUT_MS: '10000' } });
    const other = await startPod();
    const clients = await Promise.all(Array.from({ length: 50 }, () => connect(pod)));
    for (const c of clients) {
      c.client.ws.on('message', (data) => {
        if (JSON.parse(data.toString()).type === 'herald.reconnect') c.client.ws.close(4000, 'leaving a draining pod');
      });
    }
    pod.process.kill('SIGTERM');
    expect(await pod.exited).toEqual({ code: 0, signal: null });
    expect((await Promise.all(clients.map((c) => c.client.closed))).every((closed) => closed.code === 4000)).toBe(true);

    const entries = timeWait(pod.port);
    expect(entries.pod).toBeGreaterThanOrEqual(45);
    expect(entries.clients).toBeLessThanOrEqual(5);
    // Other sockets, on the pod the clients move to, connect and receive.
    await expectStillReceives(other, await connect(other));

    for (const doc of ['docs/api.md', 'docs/operations.md', 'docs/client.md', 'README.md']) {
      const text = readFileSync(`${ROOT}${doc}`, 'utf8').replace(/\s+/g, ' ');
      expect(text, doc).not.toMatch(/TIME_WAIT (state )?(then )?(lands|stays) on the client/i);
    }
    expect(readFileSync(`${ROOT}docs/operations.md`, 'utf8')).toContain("does **not** put TCP's TIME_WAIT on the client");
  });
});
