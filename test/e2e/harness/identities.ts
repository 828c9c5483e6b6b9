import { expect } from 'vitest';
import { TestClient, publish } from './client.js';
import type { Pod } from './pod.js';
import { mintToken, type TokenClaims } from './tokens.js';

let counter = 0;

/** A fresh user and session id per call, so tests never see each other's sockets. */
export function ids(prefix = 'u'): { userId: string; sessionId: string } {
  const n = `${process.pid.toString(36)}${Date.now().toString(36)}${(++counter).toString(36)}`;
  return { userId: `${prefix}-${n}`, sessionId: `s-${prefix}-${n}` };
}

export interface Connected {
  client: TestClient;
  userId: string;
  sessionId: string;
}

/** Opens a socket for a user and session (fresh ones by default) and waits for the welcome. */
export async function connect(
  pod: Pod,
  who: { userId: string; sessionId: string } = ids(),
  claims: TokenClaims = {},
): Promise<Connected> {
  const token = await mintToken({ sub: who.userId, sid: who.sessionId, ...claims });
  const client = await TestClient.connect(pod.ws, token);
  return { client, ...who };
}

/** Publishes a fresh event to `c` through `pod` and checks it arrives: "other sockets keep receiving". */
export async function expectStillReceives(pod: Pod, c: Connected): Promise<void> {
  const type = `STILL_HERE_${(++counter).toString(36)}`;
  const result = await publish(pod.http, { type, content: { n: counter }, targetUsers: [c.userId] });
  expect(result.status).toBe(202);
  await c.client.event(type);
}
