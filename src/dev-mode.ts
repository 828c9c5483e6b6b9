import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Config } from './config.js';

/**
 * Development mode (no key or no publish token, NODE_ENV unset or `development`): makes the missing
 * secrets up for this run and prints a ready client token and a ready curl command.
 */
export async function applyDevelopmentMode(config: Config): Promise<{ config: Config; banner: string } | undefined> {
  if (config.production || (config.key && config.publishToken)) return undefined;
  const secret = config.key ? undefined : randomBytes(32).toString('base64url');
  const publishToken = config.publishToken ?? randomBytes(24).toString('base64url');
  const next: Config = { ...config, key: config.key ?? { kind: 'secret', secret: secret! }, publishToken };

  const lines = ['', 'Herald development mode: secrets made up for this run only.'];
  const base = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
  if (secret) {
    const token = await new SignJWT({ sid: 'demo-session' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('demo-user')
      .setIssuedAt()
      .setExpirationTime('24h')
      .sign(new TextEncoder().encode(secret));
    lines.push(
      `  HERALD_JWT_SECRET=${secret}`,
      '  A client token for user demo-user, session demo-session (24 h):',
      `  ${token}`,
      `  Connect:  ${base.replace('http', 'ws')}/ws?access_token=${token}`,
    );
  }
  lines.push(
    `  HERALD_PUBLISH_TOKEN=${publishToken}`,
    '  Publish an event to demo-user:',
    `  curl -sS -X POST ${base}/v1/events -H 'Authorization: Bearer ${publishToken}' -H 'Content-Type: application/json' \\`,
    `    -d '{"type":"ITEM_CREATED","content":{"item":{"id":7}},"targetUsers":["demo-user"]}'`,
    '',
  );
  return { config: next, banner: lines.join('\n') };
}
