import type { Queries } from './db/database.js';
import { insertSession, sessionByTokenHash, type SessionRecord } from './store.js';

/** The login cookie: a random secret; the database keeps only its SHA-256. */
export const SESSION_COOKIE = 'sl_session';
export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

function hash(secret: string): string {
  return new Bun.CryptoHasher('sha256').update(secret).digest('hex');
}

/** Starts a session for the user: its id (Herald's `sid`) and the Set-Cookie header that carries its secret. */
export async function startSession(q: Queries, userId: string, secure: boolean): Promise<{ sessionId: string; cookie: string }> {
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
  const sessionId = await insertSession(q, userId, hash(secret), SESSION_TTL_MS);
  return { sessionId, cookie: cookieHeader(secret, SESSION_TTL_MS / 1000, secure) };
}

/** The session the request's cookie names, if it is still there. */
export async function sessionOf(q: Queries, request: Request): Promise<SessionRecord | undefined> {
  const secret = readCookie(request.headers.get('cookie') ?? '', SESSION_COOKIE);
  return secret ? sessionByTokenHash(q, hash(secret)) : undefined;
}

export function clearCookieHeader(secure: boolean): string {
  return cookieHeader('', 0, secure);
}

function cookieHeader(value: string, maxAgeS: number, secure: boolean): string {
  // SameSite=Strict and JSON-only bodies keep other sites from writing with the user's cookie.
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}

function readCookie(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=') || undefined;
  }
  return undefined;
}
