import { SignJWT } from 'jose';

/** The HS256 secret every test pod is started with. */
export const TEST_JWT_SECRET = 'herald-test-secret-0123456789abcdef0123456789';
export const TEST_PUBLISH_TOKEN = 'herald-test-publish-token-0123456789';

export interface TokenClaims {
  sub?: string;
  sid?: string;
  /** Seconds since the epoch; default now. */
  iat?: number;
  /** Seconds since the epoch; default an hour from now. */
  exp?: number;
  iss?: string;
  aud?: string;
  [claim: string]: unknown;
}

export async function mintToken(
  claims: TokenClaims,
  options: { secret?: string; alg?: string; omit?: string[] } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iat: now, exp: now + 3600, ...claims };
  for (const name of options.omit ?? []) delete payload[name];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

/** A token with `alg: none` and no signature: must never open a socket. */
export function unsignedToken(claims: TokenClaims): string {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ iat: now, exp: now + 3600, ...claims })}.`;
}
