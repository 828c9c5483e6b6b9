import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** How long a Herald token lasts; the client SDK asks for a new one before it runs out. */
export const TOKEN_LIFETIME_S = 10 * 60;
const KEY_FILE = 'herald-signing-key.jwk.json';

export interface TokenSigner {
  /** The PEM Herald verifies with: HERALD_JWT_PUBLIC_KEY. */
  publicKeyPem: string;
  /**
   * A token for one session of one user. `notBeforeMs`: the instant of the user's last password
   * reset; the token's `iat` is never earlier, so Herald (which refuses tokens issued before a
   * reset, to the second) takes a token minted in the same second as the reset.
   */
  sign(claims: { userId: string; sessionId: string; notBeforeMs: number }): Promise<string>;
}

/**
 * The app's own ES256 key pair: made at first start and kept in the data dir (mode 0600), read
 * at every later start. Pods that share the data dir (the cluster demo) share the key: the first
 * to write it wins, the others read it.
 */
export async function loadSigner(dataDir: string): Promise<TokenSigner> {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, KEY_FILE);
  const jwk = readKey(file) ?? (await createKey(file));
  const privateKey = await importJWK(jwk, 'ES256');
  const { d: _private, ...publicJwk } = jwk;
  const publicKeyPem = await exportSPKI((await importJWK(publicJwk, 'ES256', { extractable: true })) as CryptoKey);
  return {
    publicKeyPem,
    async sign({ userId, sessionId, notBeforeMs }) {
      const iat = Math.max(Math.floor(Date.now() / 1000), Math.ceil(notBeforeMs / 1000));
      return new SignJWT({ sid: sessionId })
        .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
        .setSubject(userId)
        .setIssuedAt(iat)
        .setExpirationTime(iat + TOKEN_LIFETIME_S)
        .sign(privateKey);
    },
  };
}

function readKey(file: string): JWK | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as JWK;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the signing key ${file}: ${(error as Error).message}`);
  }
}

async function createKey(file: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'ES256', kid: Bun.randomUUIDv7() };
  // Written whole under another name, then linked: a pod starting beside this one reads a whole key or none.
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(jwk), { mode: 0o600 });
  try {
    linkSync(temp, file);
    return jwk;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readKey(file)!;
  } finally {
    rmSync(temp, { force: true });
  }
}
