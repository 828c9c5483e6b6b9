import { SignJWT } from 'jose';

export const nowS = () => Math.floor(Date.now() / 1000);

/** An HS256 token for unit tests: issued 10 s ago, valid an hour, with `claims` on top. */
export function mintUnitToken(claims: Record<string, unknown>, secret: string): Promise<string> {
  const now = nowS();
  return new SignJWT({ iat: now - 10, exp: now + 3600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(secret));
}
