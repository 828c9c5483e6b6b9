import type { Gateway, createLogger } from 'herald';
import type { Database, Queries } from './db/database.js';
import { isUniqueViolation } from './db/database.js';
import type { Item, List, ListDetail, ListEvents, ListForUser, Member, Role, User } from './events.js';
import { badInput, HttpError, jsonBody, matchPath, optionalBooleanField, optionalTextField, textField } from './http.js';
import type { TokenSigner } from './keys.js';
import { clearCookieHeader, sessionOf, startSession } from './sessions.js';
import * as store from './store.js';
import type { SessionRecord } from './store.js';

export interface ApiDeps {
  db: Database;
  signer: TokenSigner;
  /** The embedded gateway: events after each write, disconnects at logout and password reset. */
  herald: Pick<Gateway, 'emit' | 'disconnectUser' | 'disconnectSession'>;
  log: ReturnType<typeof createLogger>;
}

type Handler = (request: Request, params: Record<string, string>, session: SessionRecord | undefined) => Promise<Response>;

interface Route {
  method: string;
  pattern: string;
  /** Public routes run without a session; the others answer 401 without one. */
  public?: boolean;
  handle: Handler;
}

const NAME = /^[A-Za-z0-9_.-]{1,32}$/;
/** argon2id at OWASP's recommended floor (19 MiB, 2 passes), not Bun's default 64 MiB: a quarter of the time. */
const PASSWORD_HASH = { algorithm: 'argon2id', memoryCost: 19456, timeCost: 2 } as const;
const hashPassword = (password: string) => Bun.password.hash(password, PASSWORD_HASH);
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 200;
const MAX_LIST_NAME = 100;
const MAX_ITEM_TEXT = 500;

/**
 * The app's REST API under /api: accounts and sessions, lists, items, sharing. Every write
 * commits first, then tells every user with access through Herald, except the acting session,
 * which has the answer (`inclusive: false`, `fromSessionId` = the acting session).
 */
export function createApi(deps: ApiDeps): (request: Request) => Promise<Response> {
  const { db, signer, herald, log } = deps;
  // Verifying against this when the name is unknown takes as long as a wrong password does.
  let unknownUserHash: Promise<string> | undefined;

  async function notify<T extends keyof ListEvents>(actor: SessionRecord, type: T, content: ListEvents[T], targets: string[]) {
    if (targets.length === 0) return;
    try {
      await herald.emit({ type, content, targetUsers: targets, fromUserId: actor.userId, fromSessionId: actor.id, inclusive: false });
    } catch (error) {
      // The write is committed; the other pages see it at their next load (or gap).
      log.error({ err: error, type }, 'the change is saved but its event was not published');
    }
  }

  /** The list with the user's role; 404 when it is not there for them, 403 when the role is not enough. */
  async function access(q: Queries, listId: string, session: SessionRecord, allowed: readonly Role[], doing: string): Promise<ListForUser> {
    const list = await store.listFor(q, listId, session.userId);
    if (!list) throw new HttpError(404, 'not_found', 'no such list');
    if (!allowed.includes(list.role)) {
      const who = allowed.includes('editor') ? 'its owner and editors' : `its owner (${list.ownerName})`;
      const you = list.role === 'viewer' ? 'a viewer' : list.role === 'editor' ? 'an editor' : 'the owner';
      throw new HttpError(403, 'forbidden', `You are ${you} of "${list.name}": only ${who} can ${doing}.`);
    }
    return list;
  }

  const EDIT: readonly Role[] = ['owner', 'editor'];
  const OWN: readonly Role[] = ['owner'];
  const secure = (request: Request) => new URL(request.url).protocol === 'https:';

  const routes: Route[] = [
    // ── accounts and sessions ──
    {
      method: 'POST',
      pattern: '/api/signup',
      public: true,
      handle: async (request) => {
        const body = await jsonBody(request);
        const name = userName(body);
        const password = passwordField(body, 'password');
        const passwordHash = await hashPassword(password);
        try {
          const { user, cookie } = await db.transaction(async (tx) => {
            const user = await store.insertUser(tx, name, passwordHash);
            return { user, ...(await startSession(tx, user.id, secure(request))) };
          });
          return Response.json({ user: { id: user.id, name: user.name } satisfies User }, { status: 201, headers: { 'set-cookie': cookie } });
        } catch (error) {
          if (isUniqueViolation(error)) throw new HttpError(409, 'name_taken', `the name ${name} is taken`);
          throw error;
        }
      },
    },
    {
      method: 'POST',
      pattern: '/api/login',
      public: true,
      handle: async (request) => {
        const body = await jsonBody(request);
        const name = textField(body, 'name', 32);
        const password = passwordField(body, 'password', 1);
        const user = await store.userByName(db, name);
        const valid = await Bun.password.verify(password, user?.passwordHash ?? (await (unknownUserHash ??= hashPassword(crypto.randomUUID()))));
        if (!user || !valid) throw new HttpError(401, 'bad_credentials', 'wrong name or password');
        const { cookie } = await startSession(db, user.id, secure(request));
        return Response.json({ user: { id: user.id, name: user.name } satisfies User }, { headers: { 'set-cookie': cookie } });
      },
    },
    {
      method: 'POST',
      pattern: '/api/logout',
      handle: async (request, _params, session) => {
        await store.deleteSession(db, session!.id);
        await herald.disconnectSession(session!.id);
        return Response.json({ signedOut: true }, { headers: { 'set-cookie': clearCookieHeader(secure(request)) } });
      },
    },
    {
      method: 'GET',
      pattern: '/api/me',
      handle: async (_request, _params, session) => Response.json({ user: { id: session!.userId, name: session!.userName } satisfies User }),
    },
    {
      // The password reset: every session of the user ends, here and on every device.
      method: 'POST',
      pattern: '/api/password',
      handle: async (request, _params, session) => {
        const body = await jsonBody(request);
        const current = passwordField(body, 'currentPassword', 1);
        const next = passwordField(body, 'newPassword');
        const user = await store.userById(db, session!.userId);
        if (!user || !(await Bun.password.verify(current, user.passwordHash))) {
          throw new HttpError(401, 'bad_credentials', 'the current password is wrong');
        }
        const passwordHash = await hashPassword(next);
        const sessions = await db.transaction(async (tx) => {
          await store.setPassword(tx, user.id, passwordHash);
          return store.deleteSessionsOf(tx, user.id);
        });
        // 4003 on every device, and Herald refuses the user's tokens issued until now (401).
        await herald.disconnectUser(user.id);
        await store.setTokensValidFrom(db, user.id, Date.now());
        log.info({ userId: user.id, sessions }, 'password reset: signed out everywhere');
        return Response.json({ signedOutSessions: sessions }, { headers: { 'set-cookie': clearCookieHeader(secure(request)) } });
      },
    },
    {
      method: 'GET',
      pattern: '/api/herald-token',
      handle: async (_request, _params, session) => {
        const token = await signer.sign({ userId: session!.userId, sessionId: session!.id, notBeforeMs: session!.tokensValidFrom });
        return Response.json({ token }, { headers: { 'cache-control': 'no-store' } });
      },
    },

    // ── lists ──
    {
      method: 'GET',
      pattern: '/api/lists',
      handle: async (_request, _params, session) => Response.json({ lists: await store.listsOf(db, session!.userId) }),
    },
    {
      method: 'POST',
      pattern: '/api/lists',
      handle: async (request, _params, session) => {
        const name = textField(await jsonBody(request), 'name', MAX_LIST_NAME);
        const list = await db.transaction((tx) => store.insertList(tx, { id: session!.userId, name: session!.userName }, name));
        await notify(session!, 'LIST_CREATED', { list }, [session!.userId]);
        return Response.json({ list: { ...list, role: 'owner' } satisfies ListForUser }, { status: 201 });
      },
    },
    {
      method: 'GET',
      pattern: '/api/lists/:listId',
      handle: async (_request, { listId }, session) => {
        const detail = await db.transaction(async (tx): Promise<ListDetail> => {
          const list = await access(tx, listId!, session!, ['owner', 'editor', 'viewer'], 'see it');
          return { list, items: await store.itemsOf(tx, list.id), members: await store.membersOf(tx, list.id) };
        });
        return Response.json(detail);
      },
    },
    {
      method: 'PATCH',
      pattern: '/api/lists/:listId',
      handle: async (request, { listId }, session) => {
        const name = textField(await jsonBody(request), 'name', MAX_LIST_NAME);
        const { list, audience } = await db.transaction(async (tx) => {
          const current = await access(tx, listId!, session!, EDIT, 'rename it');
          const list: List = await store.renameList(tx, current, name);
          return { list: { ...list, role: current.role }, audience: await store.audienceOf(tx, list.id) };
        });
        const { role: _role, ...shared } = list;
        await notify(session!, 'LIST_RENAMED', { list: shared }, audience);
        return Response.json({ list });
      },
    },
    {
      method: 'DELETE',
      pattern: '/api/lists/:listId',
      handle: async (_request, { listId }, session) => {
        const audience = await db.transaction(async (tx) => {
          const list = await access(tx, listId!, session!, OWN, 'delete it');
          const audience = await store.audienceOf(tx, list.id);
          await store.deleteList(tx, list.id);
          return audience;
        });
        await notify(session!, 'LIST_DELETED', { listId: listId! }, audience);
        return Response.json({ deleted: true });
      },
    },

    // ── sharing ──
    {
      method: 'POST',
      pattern: '/api/lists/:listId/members',
      handle: async (request, { listId }, session) => {
        const body = await jsonBody(request);
        const name = textField(body, 'name', 32);
        const role = body.role;
        if (role !== 'editor' && role !== 'viewer') throw badInput('role must be "editor" or "viewer"');
        const { list, member, audience } = await db.transaction(async (tx) => {
          const current = await access(tx, listId!, session!, OWN, 'share it');
          const user = await store.userByName(tx, name);
          if (!user) throw new HttpError(404, 'user_not_found', `there is no user named ${name}`);
          if (user.id === current.ownerId) throw badInput(`${user.name} owns this list`);
          await store.upsertMember(tx, current.id, user.id, role);
          const member: Member = { userId: user.id, name: user.name, role };
          const { role: _role, ...list } = current;
          return { list, member, audience: await store.audienceOf(tx, current.id) };
        });
        await notify(session!, 'LIST_SHARED', { list, member }, audience);
        return Response.json({ member });
      },
    },
    {
      // The owner takes a member off the list, or a member leaves it.
      method: 'DELETE',
      pattern: '/api/lists/:listId/members/:userId',
      handle: async (_request, { listId, userId }, session) => {
        const audience = await db.transaction(async (tx) => {
          const leaving = userId === session!.userId;
          const list = await access(tx, listId!, session!, leaving ? ['owner', 'editor', 'viewer'] : OWN, 'change who it is shared with');
          if (leaving && list.role === 'owner') throw badInput('the owner cannot leave a list: delete it instead');
          const audience = await store.audienceOf(tx, list.id);
          if ((await store.deleteMember(tx, list.id, userId!)) === 0) throw new HttpError(404, 'not_found', 'that user is not a member of this list');
          return audience;
        });
        await notify(session!, 'LIST_UNSHARED', { listId: listId!, userId: userId! }, audience);
        return Response.json({ unshared: true });
      },
    },

    // ── items ──
    {
      method: 'POST',
      pattern: '/api/lists/:listId/items',
      handle: async (request, { listId }, session) => {
        const text = textField(await jsonBody(request), 'text', MAX_ITEM_TEXT);
        const { item, audience } = await db.transaction(async (tx) => {
          const list = await access(tx, listId!, session!, EDIT, 'change it');
          return { item: await store.insertItem(tx, list.id, text), audience: await store.audienceOf(tx, list.id) };
        });
        await notify(session!, 'ITEM_CREATED', { listId: item.listId, item }, audience);
        return Response.json({ item }, { status: 201 });
      },
    },
    {
      method: 'PATCH',
      pattern: '/api/lists/:listId/items/:itemId',
      handle: async (request, { listId, itemId }, session) => {
        const body = await jsonBody(request);
        const change = { text: optionalTextField(body, 'text', MAX_ITEM_TEXT), checked: optionalBooleanField(body, 'checked') };
        if (change.text === undefined && change.checked === undefined) throw badInput('send text, checked or both');
        const { item, audience } = await db.transaction(async (tx) => {
          const list = await access(tx, listId!, session!, EDIT, 'change it');
          const item: Item | undefined = await store.updateItem(tx, list.id, itemId!, change);
          if (!item) throw new HttpError(404, 'not_found', 'no such item');
          return { item, audience: await store.audienceOf(tx, list.id) };
        });
        await notify(session!, 'ITEM_UPDATED', { listId: item.listId, item }, audience);
        return Response.json({ item });
      },
    },
    {
      method: 'DELETE',
      pattern: '/api/lists/:listId/items/:itemId',
      handle: async (_request, { listId, itemId }, session) => {
        const audience = await db.transaction(async (tx) => {
          const list = await access(tx, listId!, session!, EDIT, 'change it');
          if ((await store.deleteItem(tx, list.id, itemId!)) === 0) throw new HttpError(404, 'not_found', 'no such item');
          return store.audienceOf(tx, list.id);
        });
        await notify(session!, 'ITEM_DELETED', { listId: listId!, itemId: itemId! }, audience);
        return Response.json({ deleted: true });
      },
    },
  ];

  return async (request) => {
    const { pathname } = new URL(request.url);
    try {
      let pathMatched = false;
      for (const route of routes) {
        const params = matchPath(route.pattern, pathname);
        if (!params) continue;
        pathMatched = true;
        if (route.method !== request.method) continue;
        const session = route.public ? undefined : await sessionOf(db, request);
        if (!route.public && !session) throw new HttpError(401, 'signed_out', 'sign in first');
        return await route.handle(request, params, session);
      }
      throw pathMatched
        ? new HttpError(405, 'method_not_allowed', `${request.method} is not allowed on ${pathname}`)
        : new HttpError(404, 'not_found', `no route for ${pathname}`);
    } catch (error) {
      if (error instanceof HttpError) return error.toResponse();
      log.error({ err: error, method: request.method, path: pathname }, 'API request failed');
      return new HttpError(500, 'internal_error', 'the request failed; see the server log').toResponse();
    }
  };
}

function userName(body: Record<string, unknown>): string {
  const name = textField(body, 'name', 32);
  if (!NAME.test(name)) throw badInput('name: 1–32 letters, digits, "_", "." or "-"');
  return name;
}

function passwordField(body: Record<string, unknown>, field: string, min = MIN_PASSWORD): string {
  const value = body[field];
  if (typeof value !== 'string') throw badInput(`${field} must be a string`);
  if (value.length < min) throw badInput(`${field} must be at least ${min} characters`);
  if (value.length > MAX_PASSWORD) throw badInput(`${field} must be at most ${MAX_PASSWORD} characters`);
  return value;
}
