import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, publish, refusedUpgrade, settle, type Frame } from './harness/client.js';
import { ids } from './harness/identities.js';
import { startNatsServer, stopAllNatsServers, type NatsServer } from './harness/nats-server.js';
import { killAllPods, metricValue, startPod, type EngineName, type Pod } from './harness/pod.js';
import { mintToken } from './harness/tokens.js';

export interface RecoverySuiteOptions {
  engine: EngineName;
  bus: 'local' | 'nats';
}

interface Who {
  userId: string;
  sessionId: string;
}

/** Opens a socket, resuming from `since` when given; waits for the welcome. */
async function open(pod: Pod, who: Who, since?: string): Promise<TestClient> {
  const token = await mintToken({ sub: who.userId, sid: who.sessionId });
  const url = since === undefined ? pod.ws : `${pod.ws}?since=${encodeURIComponent(since)}`;
  return TestClient.connect(url, token, { via: 'header' });
}

const welcomeOf = (client: TestClient): Frame => client.frames[0]!;
const sinceOf = (frame: Frame): string => `${frame.epoch}:${frame.seq}`;

/** Publishes `n` events, one request each, and returns their ids in publish order. */
async function publishEach(pod: Pod, events: object[]): Promise<string[]> {
  const ids: string[] = [];
  for (const event of events) {
    const result = await publish(pod.http, event);
    expect(result.status).toBe(202);
    ids.push(...result.body.ids);
  }
  return ids;
}

/** Contract §6 against real pods: resume with `since`, replay in log order and once, gaps. */
export function runRecoveryCases({ engine, bus }: RecoverySuiteOptions): void {
  describe(`recovery on ${bus} (${engine})`, () => {
    let nats: NatsServer | undefined;
    let env: Record<string, string> = {};
    let pod: Pod;
    let counter = 0;

    /** Each pod group of a test gets a log of its own on NATS: a fresh stream and subject. */
    const freshLog = (): Record<string, string> => {
      if (!nats) return {};
      const name = `T${process.pid}_${++counter}_${Date.now().toString(36)}`;
      return { HERALD_BUS: 'nats', HERALD_NATS_URL: nats.url, HERALD_NATS_STREAM: name, HERALD_NATS_SUBJECT: `herald.test.${name}` };
    };

    beforeAll(async () => {
      if (bus === 'nats') nats = await startNatsServer();
      env = freshLog();
      pod = await startPod({ engine, env });
    });
    afterAll(async () => {
      await killAllPods();
      await stopAllNatsServers();
    });

    it('a socket that resumes gets every event it missed, in log order and once, then live events', async () => {
      const who = ids('rec');
      const first = await open(pod, who);
      const welcome = welcomeOf(first);
      expect(welcome).toMatchObject({ epoch: expect.stringMatching(/^[^:]{1,64}$/), seq: expect.any(Number) });
      const seen = await publishEach(pod, [{ type: 'SEEN', content: 0, targetUsers: [who.userId] }]);
      const seenFrame = await first.event('SEEN');
      expect(seenFrame.id).toBe(seen[0]);
      expect(seenFrame.seq).toBeGreaterThan(welcome.seq as number);
      await first.close();

      // Missed: single events and a batch, some for others.
      const missed = await publishEach(pod, [
        { type: 'MISSED', content: 1, targetUsers: [who.userId] },
        { type: 'OTHER', content: 2, targetUsers: ['somebody-else'] },
        [
          { type: 'MISSED', content: 3, targetUsers: [who.userId, 'somebody-else'] },
          { type: 'MISSED', content: 4, targetUsers: [who.userId] },
        ],
      ]);
      const resumed = await open(pod, who, `${welcome.epoch}:${seenFrame.seq}`);
      const live = await publishEach(pod, [{ type: 'LIVE', content: 5, targetUsers: [who.userId] }]);
      await resumed.event('LIVE');
      const [resumedWelcome, ...events] = resumed.frames;
      expect(resumedWelcome).toMatchObject({ type: 'herald.welcome', epoch: welcome.epoch, gap: false, replayed: 3 });
      expect(events.map((e) => [e.type, e.content, e.id])).toEqual([
        ['MISSED', 1, missed[0]],
        ['MISSED', 3, missed[2]],
        ['MISSED', 4, missed[3]],
        ['LIVE', 5, live[0]],
      ]);
      const seqs = events.map((e) => e.seq as number);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(seqs.length);
      // Every replayed event comes after the position the resume started from, and before the welcome's.
      for (const seq of seqs.slice(0, 3)) {
        expect(seq).toBeGreaterThan(seenFrame.seq as number);
        expect(seq).toBeLessThanOrEqual(resumedWelcome!.seq as number);
      }
      expect(seqs[3]).toBeGreaterThan(resumedWelcome!.seq as number);
      await resumed.close();
    });

    it('resuming from the welcome position of a socket that got no event replays everything after it', async () => {
      const who = ids('rec');
      const first = await open(pod, who);
      await first.close();
      await publishEach(pod, [
        { type: 'A', content: 1, targetUsers: [who.userId] },
        { type: 'B', content: 2, targetUsers: [who.userId] },
      ]);
      const resumed = await open(pod, who, sinceOf(welcomeOf(first)));
      await resumed.event('B');
      expect(resumed.frames.map((f) => f.type)).toEqual(['herald.welcome', 'A', 'B']);
      expect(welcomeOf(resumed)).toMatchObject({ gap: false, replayed: 2 });
      await resumed.close();
    });

    it('does not replay to a session the events it sent with inclusive: false, but does to its other sessions', async () => {
      const who = ids('rec');
      const other = { userId: who.userId, sessionId: `${who.sessionId}-laptop` };
      const phone = await open(pod, who);
      const laptop = await open(pod, other);
      const since = sinceOf(welcomeOf(laptop));
      await Promise.all([phone.close(), laptop.close()]);
      await publishEach(pod, [
        { type: 'OWN_CHANGE', content: 1, targetUsers: [who.userId], fromSessionId: who.sessionId, inclusive: false },
        { type: 'INCLUSIVE_CHANGE', content: 2, targetUsers: [who.userId], fromSessionId: who.sessionId, inclusive: true },
      ]);
      const phoneAgain = await open(pod, who, since);
      const laptopAgain = await open(pod, other, since);
      await settle(pod.http, [
        { client: phoneAgain, userId: who.userId },
        { client: laptopAgain, userId: who.userId },
      ]);
      expect(phoneAgain.events.map((e) => e.type)).toEqual(['INCLUSIVE_CHANGE', expect.stringMatching(/^SETTLE_/)]);
      expect(laptopAgain.events.map((e) => e.type)).toEqual(['OWN_CHANGE', 'INCLUSIVE_CHANGE', expect.stringMatching(/^SETTLE_/)]);
      expect(welcomeOf(phoneAgain)).toMatchObject({ gap: false, replayed: 1 });
      expect(welcomeOf(laptopAgain)).toMatchObject({ gap: false, replayed: 2 });
      await Promise.all([phoneAgain.close(), laptopAgain.close()]);
    });

    it('answers a resume from an unknown epoch with gap: true and no replay, then live events', async () => {
      const who = ids('rec');
      const gapsBefore = await metricValue(pod, 'herald_recovery_gaps_total');
      const client = await open(pod, who, 'an-epoch-long-gone:42');
      expect(welcomeOf(client)).toMatchObject({ gap: true, replayed: 0, epoch: expect.any(String), seq: expect.any(Number) });
      await publishEach(pod, [{ type: 'AFTER_GAP', content: 1, targetUsers: [who.userId] }]);
      await client.event('AFTER_GAP');
      expect(client.frames.map((f) => f.type)).toEqual(['herald.welcome', 'AFTER_GAP']);
      expect(await metricValue(pod, 'herald_recovery_gaps_total')).toBe(gapsBefore + 1);
      await client.close();
    });

    it('counts replayed events in herald_recovery_replayed_total and reports herald_recovery_bytes', async () => {
      const who = ids('rec');
      const before = await metricValue(pod, 'herald_recovery_replayed_total');
      const first = await open(pod, who);
      await first.close();
      await publishEach(pod, [[1, 2, 3].map((n) => ({ type: 'COUNTED', content: n, targetUsers: [who.userId] }))]);
      const resumed = await open(pod, who, sinceOf(welcomeOf(first)));
      expect(welcomeOf(resumed)).toMatchObject({ replayed: 3 });
      expect(await metricValue(pod, 'herald_recovery_replayed_total')).toBe(before + 3);
      expect(await metricValue(pod, 'herald_recovery_bytes')).toBeGreaterThan(0);
      await resumed.close();
    });

    it('refuses an unreadable since with 400 invalid_since and a JSON body; other sockets keep receiving', async () => {
      const who = ids('rec');
      const bystander = await open(pod, ids('rec'));
      const token = await mintToken({ sub: who.userId, sid: who.sessionId });
      const bad = [
        'no-colon',
        ':5',
        'epoch:',
        'epoch:-1',
        'epoch:1.5',
        'epoch:1e3',
        'epoch:9007199254740993',
        'epoch:12345678901234567890',
        `${'e'.repeat(65)}:1`,
        'epoch: 1',
      ];
      for (const since of bad) {
        const refused = await refusedUpgrade(
          `${pod.ws}?since=${encodeURIComponent(since)}&access_token=${encodeURIComponent(token)}`,
          undefined,
        );
        expect({ since, status: refused.status, error: refused.body.error }).toEqual({ since, status: 400, error: 'invalid_since' });
        expect(typeof refused.body.message).toBe('string');
      }
      await publishEach(pod, [{ type: 'STILL_HERE', content: 1, targetUsers: [bystanderUser(bystander)] }]);
      await bystander.event('STILL_HERE');
      await bystander.close();
    });

    it('answers a resume from before the recovery window with gap: true', async () => {
      const shortLog = freshLog();
      const short = await startPod({ engine, env: { ...shortLog, HERALD_RECOVERY_WINDOW_S: '1' } });
      const who = ids('rec');
      const first = await open(short, who);
      await first.close();
      await publishEach(short, [{ type: 'TOO_OLD', content: 1, targetUsers: [who.userId] }]);
      // The pod sweeps once a second: past the window (and a sweep) the event is gone.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const resumed = await open(short, who, sinceOf(welcomeOf(first)));
      expect(welcomeOf(resumed)).toMatchObject({ gap: true, replayed: 0 });
      await publishEach(short, [{ type: 'FRESH', content: 2, targetUsers: [who.userId] }]);
      await resumed.event('FRESH');
      expect(resumed.events.map((e) => e.type)).toEqual(['FRESH']);
      await resumed.close();
      await short.kill();
    });

    it(
      bus === 'nats'
        ? 'serves a resume older than the pod\'s memory (HERALD_RECOVERY_MAX_BYTES) from the stream'
        : 'answers a resume older than the pod\'s memory (HERALD_RECOVERY_MAX_BYTES) with gap: true',
      async () => {
        const small = await startPod({ engine, env: { ...freshLog(), HERALD_RECOVERY_MAX_BYTES: String(1024 * 1024) } });
        const who = ids('rec');
        const first = await open(small, who);
        await first.close();
        const missed = await publishEach(small, [
          { type: 'EARLY', content: 1, targetUsers: [who.userId] },
          { type: 'EARLY', content: 2, targetUsers: [who.userId] },
        ]);
        // Over 1 MiB of other users' events: the pod's memory drops the early ones.
        const filler = 'x'.repeat(5_000);
        for (let request = 0; request < 2; request++) {
          await publishEach(small, [
            Array.from({ length: 150 }, (_, n) => ({ type: 'FILLER', content: filler + n, targetUsers: [`filler-${n}`] })),
          ]);
        }
        expect(await metricValue(small, 'herald_recovery_bytes')).toBeLessThanOrEqual(1024 * 1024);
        const resumed = await open(small, who, sinceOf(welcomeOf(first)));
        if (bus === 'nats') {
          expect(welcomeOf(resumed)).toMatchObject({ gap: false, replayed: 2 });
          await settle(small.http, [{ client: resumed, userId: who.userId }]);
          expect(resumed.events.filter((e) => e.type === 'EARLY').map((e) => e.id)).toEqual(missed);
        } else {
          expect(welcomeOf(resumed)).toMatchObject({ gap: true, replayed: 0 });
        }
        await resumed.close();
        await small.kill();
      },
    );

    it('with HERALD_RECOVERY_WINDOW_S=0: no epoch or seq anywhere, and every resume is a gap', async () => {
      const off = await startPod({ engine, env: { ...freshLog(), HERALD_RECOVERY_WINDOW_S: '0' } });
      const who = ids('rec');
      const client = await open(off, who);
      expect(welcomeOf(client)).not.toHaveProperty('epoch');
      expect(welcomeOf(client)).not.toHaveProperty('seq');
      await publishEach(off, [{ type: 'PLAIN', content: 1, targetUsers: [who.userId] }]);
      expect(await client.event('PLAIN')).not.toHaveProperty('seq');
      await client.close();
      const resumed = await open(off, who, 'whatever:1');
      expect(welcomeOf(resumed)).toMatchObject({ gap: true, replayed: 0 });
      await resumed.close();
      await off.kill();
    });

    if (bus === 'nats') {
      it('two pods of one cluster name the same epoch, and a resume on the other pod replays what the first sent', async () => {
        const log = freshLog();
        const a = await startPod({ engine, env: log });
        const b = await startPod({ engine, env: log });
        const who = ids('rec');
        const onA = await open(a, who);
        const onB = await open(b, ids('rec'));
        expect(welcomeOf(onA).epoch).toBe(welcomeOf(onB).epoch);
        await onB.close();
        await onA.close();
        const sent = await publishEach(a, [
          { type: 'ON_A', content: 1, targetUsers: [who.userId] },
          { type: 'ON_A', content: 2, targetUsers: [who.userId] },
        ]);
        const resumed = await open(b, who, sinceOf(welcomeOf(onA)));
        await resumed.event('ON_A');
        await settle(b.http, [{ client: resumed, userId: who.userId }]);
        expect(resumed.events.filter((e) => e.type === 'ON_A').map((e) => e.id)).toEqual(sent);
        await resumed.close();
        await Promise.all([a.kill(), b.kill()]);
      });

      it('a pod started after the events, even after every pod was killed (SIGKILL), serves the resume', async () => {
        const log = freshLog();
        const first = await startPod({ engine, env: log });
        const who = ids('rec');
        const client = await open(first, who);
        await client.close();
        const sent = await publishEach(first, [
          { type: 'SURVIVES', content: 1, targetUsers: [who.userId] },
          [
            { type: 'SURVIVES', content: 2, targetUsers: [who.userId] },
            { type: 'SURVIVES', content: 3, targetUsers: [who.userId] },
          ],
        ]);
        await first.kill();
        const later = await startPod({ engine, env: log });
        const resumed = await open(later, who, sinceOf(welcomeOf(client)));
        expect(welcomeOf(resumed)).toMatchObject({ epoch: welcomeOf(client).epoch, gap: false, replayed: 3 });
        await settle(later.http, [{ client: resumed, userId: who.userId }]);
        expect(resumed.events.filter((e) => e.type === 'SURVIVES').map((e) => e.id)).toEqual(sent);
        await resumed.close();
        await later.kill();
      });
    }
  });
}

/** The user a test socket belongs to, from its welcome. */
function bystanderUser(client: TestClient): string {
  return String(client.frames[0]!.userId);
}
