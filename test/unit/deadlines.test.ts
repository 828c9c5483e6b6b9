import { describe, expect, it } from 'vitest';
import { Deadlines } from '../../src/engine/deadlines.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Deadlines', () => {
  it('calls a deadline once it has passed (within the resolution), and never one cancelled before', async () => {
    const deadlines = new Deadlines(10);
    const fired: string[] = [];
    const startedAt = Date.now();
    let lateAt = 0;
    deadlines.add(40, () => {
      fired.push('late');
      lateAt = Date.now();
    });
    const cancelled = deadlines.add(40, () => fired.push('cancelled'));
    deadlines.add(5_000, () => fired.push('far'));
    cancelled.cancel();
    await sleep(120);
    expect(fired).toEqual(['late']);
    expect(lateAt - startedAt).toBeGreaterThanOrEqual(40);
  });

  it('fires each deadline once, and a deadline added after the others fired still fires', async () => {
    const deadlines = new Deadlines(5);
    let count = 0;
    deadlines.add(10, () => count++);
    await sleep(60);
    expect(count).toBe(1);
    deadlines.add(10, () => count++);
    await sleep(60);
    expect(count).toBe(2);
  });
});
