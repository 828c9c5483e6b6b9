import { decodeJwt, decodeProtectedHeader } from 'jose';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoPod } from './harness/shared-lists-pod.js';
import { TestClient, refusedUpgrade } from './harness/client.js';
import { killAllPods, type Pod } from './harness/pod.js';

/** One browser session of the demo app, as plain HTTP: a cookie jar and JSON in, JSON out. */
class Session {
  private cookie = '';
  constructor(private readonly base: string) {}

  async call(method: string, path: string, body?: unknown, init: { contentType?: string; raw?: string } = {}) {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(body !== undefined || init.raw !== undefined ? { 'content-type': init.contentType ?? 'application/json' } : {}),
      },
      body: init.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0]!;
    return { status: response.status, body: (await response.json()) as any };
  }

  async token(): Promise<string> {
    const { status, body } = await this.call('GET', '/api/herald-token');
    expect(status).toBe(200);
    return body.token;
  }
}

/** The demo's REST API and its events, without a browser: one pod on the local bus, SQLite in a temp dir. */
describe('the shared-lists API', () => {
  let pod: Pod;
  let dataDir: string;
  let alice: Session;
  let aliceTablet: Session;
  let bob: Session;
  let carol: Session;
  let listId: string;
  let aliceId: string;
  const ws = () => `ws://127.0.0.1:${pod.port}/ws`;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'shared-lists-api-'));
    pod = await startDemoPod({ DATA_DIR: dataDir });
    const base = `http://127.0.0.1:${pod.port}`;
    [alice, aliceTablet, bob, carol] = [new Session(base), new Session(base), new Session(base), new Session(base)];
    const signedUp = await alice.call('POST', '/api/signup', { name: 'alice', password: 'alice-password' });
    expect(signedUp.status).toBe(201);
    aliceId = signedUp.body.user.id;
    expect((await aliceTablet.call('POST', '/api/login', { name: 'ALICE', password: 'alice-password' })).status).toBe(200);
    expect((await bob.call('POST', '/api/signup', { name: 'bob', password: 'bob-password' })).status).toBe(201);
    expect((await carol.call('POST', '/api/signup', { name: 'carol', password: 'carol-password' })).status).toBe(201);
    listId = (await alice.call('POST', '/api/lists', { name: 'Groceries' })).body.list.id;
  });

  afterAll(async () => {
    await killAllPods();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers bad input with 400 and a JSON error, a body that is not JSON with 415', async () => {
    const anonymous = new Session(`http://127.0.0.1:${pod.port}`);
    const cases: [Session, string, string, unknown, number, string][] = [
      [anonymous, 'POST', '/api/signup', { name: 'dave', password: 'short' }, 400, 'password must be at least 8 characters'],
      [anonymous, 'POST', '/api/signup', { name: 'da ve', password: 'long enough' }, 400, 'name: 1–32 letters, digits, "_", "." or "-"'],
      [anonymous, 'POST', '/api/signup', ['not', 'an', 'object'], 400, 'the body must be a JSON object'],
      [alice, 'POST', '/api/lists', { name: '   ' }, 400, 'name must not be empty'],
      [alice, 'POST', '/api/lists', { name: 'x'.repeat(101) }, 400, 'name must be at most 100 characters'],
      [alice, 'POST', `/api/lists/${listId}/items`, { text: 7 }, 400, 'text must be a string'],
      [alice, 'PATCH', `/api/lists/${listId}/items/whatever`, {}, 400, 'send text, checked or both'],
      [alice, 'PATCH', `/api/lists/${listId}/items/whatever`, { checked: 'yes' }, 400, 'checked must be true or false'],
      [alice, 'POST', `/api/lists/${listId}/members`, { name: 'bob', role: 'admin' }, 400, 'role must be "editor" or "viewer"'],
      [alice, 'POST', `/api/lists/${listId}/members`, { name: 'alice', role: 'editor' }, 400, 'alice owns this list'],
    ];
    for (const [session, method, path, body, status, message] of cases) {
      expect(await session.call(method, path, body), `${method} ${path} ${JSON.stringify(body)}`).toEqual({
        status,
        body: { error: 'invalid_input', message },
      });
    }
    expect((await alice.call('POST', '/api/lists', undefined, { raw: '{"name":' })).body).toEqual({
      error: 'invalid_input',
      message: 'the body is not valid JSON',
    });
    expect((await alice.call('POST', '/api/lists', undefined, { raw: 'name=x', contentType: 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await alice.call('POST', '/api/signup', { name: 'bob', password: 'another-password' })).status).toBe(409);
  });

  it('answers 401 without a session and for a wrong password, 404 for a list the user cannot see, 405 for a wrong method', async () => {
    const anonymous = new Session(`http://127.0.0.1:${pod.port}`);
    expect((await anonymous.call('GET', '/api/lists')).status).toBe(401);
    expect((await anonymous.call('GET', '/api/herald-token')).status).toBe(401);
    expect((await anonymous.call('POST', '/api/login', { name: 'alice', password: 'wrong-password' })).body.error).toBe('bad_credentials');
    expect((await anonymous.call('POST', '/api/login', { name: 'nobody', password: 'wrong-password' })).status).toBe(401);
    expect((await carol.call('GET', `/api/lists/${listId}`)).status).toBe(404);
    expect((await carol.call('POST', `/api/lists/${listId}/items`, { text: 'sneaky' })).status).toBe(404);
    expect((await alice.call('PUT', `/api/lists/${listId}`, { name: 'x' })).status).toBe(405);
  });

  it('enforces roles: a viewer cannot write (403, with the reason), an editor changes items but does not share or delete', async () => {
    expect((await alice.call('POST', `/api/lists/${listId}/members`, { name: 'bob', role: 'viewer' })).body.member).toMatchObject({ name: 'bob', role: 'viewer' });
    expect(await bob.call('POST', `/api/lists/${listId}/items`, { text: 'Chocolate' })).toEqual({
      status: 403,
      body: { error: 'forbidden', message: 'You are a viewer of "Groceries": only its owner and editors can change it.' },
    });
    expect((await bob.call('PATCH', `/api/lists/${listId}`, { name: 'Mine' })).status).toBe(403);
    expect((await bob.call('GET', `/api/lists/${listId}`)).body.list.role).toBe('viewer');

    expect((await alice.call('POST', `/api/lists/${listId}/members`, { name: 'bob', role: 'editor' })).status).toBe(200);
    const item = (await bob.call('POST', `/api/lists/${listId}/items`, { text: 'Milk' })).body.item;
    expect((await bob.call('PATCH', `/api/lists/${listId}/items/${item.id}`, { checked: true })).body.item).toMatchObject({ checked: true, version: 2 });
    expect((await bob.call('POST', `/api/lists/${listId}/members`, { name: 'carol', role: 'viewer' })).status).toBe(403);
    expect((await bob.call('DELETE', `/api/lists/${listId}`)).status).toBe(403);
    expect((await alice.call('POST', `/api/lists/${listId}/members`, { name: 'nobody', role: 'viewer' })).status).toBe(404);
  });

  it('tells every other session of every user with access, after the write, never the acting session', async () => {
    const [mine, myTablet, bobs, carols] = await Promise.all([
      TestClient.connect(ws(), await alice.token()),
      TestClient.connect(ws(), await aliceTablet.token()),
      TestClient.connect(ws(), await bob.token()),
      TestClient.connect(ws(), await carol.token()),
    ]);
    const created = (await alice.call('POST', `/api/lists/${listId}/items`, { text: 'Bread' })).body.item;
    for (const client of [myTablet, bobs]) {
      expect(await client.event('ITEM_CREATED')).toMatchObject({ content: { listId, item: created }, fromUserId: aliceId });
    }
    // bob renames: now alice's first session hears it; bob's own does not. carol has no access.
    const renamed = (await bob.call('PATCH', `/api/lists/${listId}/items/${created.id}`, { text: 'Rye bread' })).body.item;
    expect((await mine.event('ITEM_UPDATED')).content).toEqual({ listId, item: renamed });
    expect((await myTablet.event('ITEM_UPDATED')).content).toEqual({ listId, item: renamed });
    expect(mine.events.map((e) => e.type)).toEqual(['ITEM_UPDATED']);
    expect(bobs.events.map((e) => e.type)).toEqual(['ITEM_CREATED']);
    expect(carols.events).toEqual([]);
    // Unsharing tells the one who loses access too.
    expect((await alice.call('DELETE', `/api/lists/${listId}/members/${(await bob.call('GET', '/api/me')).body.user.id}`)).status).toBe(200);
    expect((await bobs.event('LIST_UNSHARED')).content).toMatchObject({ listId });
    expect((await bob.call('GET', `/api/lists/${listId}`)).status).toBe(404);
    await Promise.all([mine, myTablet, bobs, carols].map((c) => c.close()));
  });

  it('signs Herald tokens with its own ES256 key, kept in the data dir: sub is the user, sid the session', async () => {
    const token = await alice.token();
    const claims = decodeJwt(token);
    expect(decodeProtectedHeader(token).alg).toBe('ES256');
    expect(claims.sub).toBe((await alice.call('GET', '/api/me')).body.user.id);
    expect(claims.sid).toEqual(expect.any(String));
    expect(decodeJwt(await aliceTablet.token()).sid).not.toBe(claims.sid);
    expect(claims.exp! - claims.iat!).toBe(600);
    const keyFile = join(dataDir, 'herald-signing-key.jwk.json');
    expect(existsSync(keyFile)).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it('a password reset ends every session of the user: 4003 on each socket, 401 for the old token and the old cookies', async () => {
    const oldToken = await aliceTablet.token();
    const [mine, myTablet] = await Promise.all([TestClient.connect(ws(), await alice.token()), TestClient.connect(ws(), oldToken)]);
    expect((await alice.call('POST', '/api/password', { currentPassword: 'alice-password', newPassword: 'alice-password-2' })).body).toEqual({
      signedOutSessions: 2,
    });
    expect((await mine.closedWithin()).code).toBe(4003);
    expect((await myTablet.closedWithin()).code).toBe(4003);
    expect((await refusedUpgrade(ws(), oldToken)).status).toBe(401);
    expect((await aliceTablet.call('GET', '/api/lists')).status).toBe(401);
    // At once, with the new password: a token minted in the same second as the reset is taken.
    expect((await aliceTablet.call('POST', '/api/login', { name: 'alice', password: 'alice-password-2' })).status).toBe(200);
    const fresh = await TestClient.connect(ws(), await aliceTablet.token());
    await fresh.close();
  });
});
