import { afterEach, describe, expect, it } from 'vitest';
import { SilenceWatch } from '../../src/bus/silence-watch.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SilenceWatch', () => {
  const watches: SilenceWatch[] = [];
  const watch = (probe: () => Promise<unknown>, silent: number[]) => {
    const w = new SilenceWatch({ probe, onSilent: (ms) => silent.push(ms), probeEveryMs: 20, silenceLimitMs: 150 });
    watches.push(w);
    w.start();
    return w;
  };
  afterEach(() => watches.splice(0).forEach((w) => w.stop()));

  it('calls a broker that answers no probe silent once, past the limit', async () => {
    const silent: number[] = [];
    let probes = 0;
    watch(() => (probes++, new Promise(() => {})), silent);
    await sleep(400);
    expect(silent).toHaveLength(1);
    expect(silent[0]).toBeGreaterThan(150);
    // One probe out at a time: an unanswered one is not repeated.
    expect(probes).toBe(1);
  });

  it('keeps a broker that answers its probes', async () => {
    const silent: number[] = [];
    watch(() => sleep(5), silent);
    await sleep(400);
    expect(silent).toEqual([]);
  });

  it('counts messages as heard: a busy broker whose probe answers are late is not silent', async () => {
    const silent: number[] = [];
    const w = watch(() => new Promise(() => {}), silent);
    for (let i = 0; i < 20; i++) {
      w.heard();
      await sleep(20);
    }
    expect(silent).toEqual([]);
  });

  it('starts afresh after a reconnect and stops for good on stop()', async () => {
    const silent: number[] = [];
    const w = watch(() => new Promise(() => {}), silent);
    await sleep(300);
    expect(silent).toHaveLength(1);
    w.start();
    await sleep(300);
    expect(silent).toHaveLength(2);
    w.start();
    w.stop();
    await sleep(300);
    expect(silent).toHaveLength(2);
  });
});
