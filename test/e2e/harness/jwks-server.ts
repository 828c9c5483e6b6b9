import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { TokenClaims } from './tokens.js';

/**
 * A JWKS endpoint whose answers the test releases by hand: a pod verifying its first token
 * waits on the key fetch, so a test can act while an upgrade is being verified.
 */
export class HeldJwksServer {
  /** Resolves when the next key request has arrived (and is being held). */
  requested: Promise<void>;
  private held: (() => void)[] = [];
  private onRequest!: () => void;

  private constructor(
    private readonly server: Server,
    private readonly privateKey: CryptoKey,
    readonly url: string,
  ) {
    this.requested = this.nextRequest();
  }

  static async start(): Promise<HeldJwksServer> {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const body = JSON.stringify({ keys: [jwk] });
    let jwks: HeldJwksServer | undefined;
    const server = createServer((_req, res) => {
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      jwks!.held.push(answer);
      jwks!.onRequest();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    jwks = new HeldJwksServer(server, privateKey, `http://127.0.0.1:${port}/jwks.json`);
    return jwks;
  }

  /** Answers every held key request. */
  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }

  sign(claims: TokenClaims): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iat: now, exp: now + 3600, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .sign(this.privateKey);
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private nextRequest(): Promise<void> {
    return new Promise((resolve) => {
      this.onRequest = () => {
        resolve();
        this.requested = this.nextRequest();
      };
    });
  }
}
