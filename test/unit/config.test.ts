import { describe, expect, it } from 'vitest';
import { isProduction, loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { closestName, levenshtein } from '../../src/unknown-variables.js';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      bus: 'local',
      natsServers: ['nats://127.0.0.1:4222'],
      natsSubject: 'herald.events',
      amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
      amqpExchange: 'herald.events',
      allowedOrigins: '*',
      maxSocketsPerUser: 32,
      drainTimeoutMs: 10_000,
      recoveryWindowS: 300,
      recoveryMaxBytes: 268_435_456,
      natsStream: 'HERALD_EVENTS',
      maxClientFramesPerS: 20,
      jwtClockSkewS: 30,
      jwtMaxLifetimeS: 2_592_000,
      logLevel: 'info',
      key: undefined,
    });
  });

  it('reads lists and keys', () => {
    const config = loadConfig({
      HERALD_NATS_URL: 'nats://a:4222,nats://b:4222',
      HERALD_ALLOWED_ORIGINS: 'https://a.example, https://b.example',
      HERALD_JWT_SECRET: 's'.repeat(32),
    });
    expect(config.natsServers).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(config.allowedOrigins).toEqual(new Set(['https://a.example', 'https://b.example']));
    expect(config.key).toEqual({ kind: 'secret', secret: 's'.repeat(32) });
  });

  it('names each bad variable once, and hides secrets', () => {
    const lines = problems({ HERALD_PORT: '70000', HERALD_JWT_SECRET: 'short', HERALD_NATS_URL: 'http://x' });
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.startsWith('HERALD_PORT:'))).toMatch(/70000/);
    expect(lines.find((l) => l.startsWith('HERALD_JWT_SECRET:'))).not.toMatch(/short/);
    expect(lines.some((l) => l.startsWith('HERALD_NATS_URL:'))).toBe(true);
  });

  it('reads HERALD_MAX_CLIENT_FRAMES_PER_S as a whole number of at least 1', () => {
    expect(loadConfig({ HERALD_MAX_CLIENT_FRAMES_PER_S: '50' }).maxClientFramesPerS).toBe(50);
    for (const value of ['0', 'fast', '2.5', '-1']) {
      const lines = problems({ HERALD_MAX_CLIENT_FRAMES_PER_S: value });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^HERALD_MAX_CLIENT_FRAMES_PER_S: /);
    }
  });

  it('takes an IP address or a host name for HERALD_HOST', () => {
    for (const host of ['0.0.0.0', '127.0.0.1', '::', '::1', 'localhost', 'pod-1.herald.svc.cluster.local']) {
      expect(loadConfig({ HERALD_HOST: host }).host).toBe(host);
    }
    for (const host of ['bad host', '999.1.1.1', '1.2.3', '-leading.example', 'a'.repeat(64)]) {
      const lines = problems({ HERALD_HOST: host });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^HERALD_HOST: .* is not an IP address or a host name$/);
    }
  });

  it('refuses two keys at once', () => {
    expect(problems({ HERALD_JWT_SECRET: 's'.repeat(32), HERALD_JWKS_URL: 'https://idp.example/jwks' })).toEqual([
      'HERALD_JWT_SECRET, HERALD_JWKS_URL: set exactly one of them',
    ]);
  });

  it('names a public key or a URL that passes the syntax check but cannot be used', () => {
    const lines = problems({
      HERALD_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----',
      HERALD_AMQP_URL: 'amqp://guest:guest@host:notaport',
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^HERALD_JWT_PUBLIC_KEY: not a usable public key/);
    expect(lines[1]).toMatch(/^HERALD_AMQP_URL: .* is not a valid URL/);
  });

  it('reads the recovery variables and refuses unusable ones, naming each', () => {
    expect(loadConfig({ HERALD_RECOVERY_WINDOW_S: '0' }).recoveryWindowS).toBe(0);
    expect(loadConfig({ HERALD_NATS_STREAM: 'EVENTS_EU' }).natsStream).toBe('EVENTS_EU');
    const lines = problems({
      HERALD_RECOVERY_WINDOW_S: 'ten',
      HERALD_RECOVERY_MAX_BYTES: '1000',
      HERALD_NATS_STREAM: 'has.dots',
    });
    expect(lines.map((l) => l.split(':')[0]).sort()).toEqual([
      'HERALD_NATS_STREAM',
      'HERALD_RECOVERY_MAX_BYTES',
      'HERALD_RECOVERY_WINDOW_S',
    ]);
  });

  it('reports a misspelled HERALD_ variable: a problem in production, a warning naming the closest known one otherwise', () => {
    const secrets = { HERALD_JWT_SECRET: 's'.repeat(32), HERALD_PUBLISH_TOKEN: 'p'.repeat(16) };
    expect(problems({ ...secrets, NODE_ENV: 'production', HERALD_BUSS: 'nats' })).toEqual([
      'HERALD_BUSS: not a Herald variable (did you mean HERALD_BUS?)',
    ]);
    const config = loadConfig({ ...secrets, HERALD_BUSS: 'nats', HERALD_NATS_ULR: 'nats://x:4222', PATH: '/bin' });
    expect(config.bus).toBe('local');
    expect(config.warnings).toEqual([
      'HERALD_BUSS: not a Herald variable (did you mean HERALD_BUS?)',
      'HERALD_NATS_ULR: not a Herald variable (did you mean HERALD_NATS_URL?)',
    ]);
    expect(loadConfig(secrets).warnings).toEqual([]);
  });

  it('is in development mode only with NODE_ENV unset or development; any other value is production', () => {
    for (const value of [undefined, '', 'development']) expect(isProduction(value), String(value)).toBe(false);
    for (const value of ['production', 'prod', 'staging', 'test', 'Development']) expect(isProduction(value), value).toBe(true);
    const lines = problems({ NODE_ENV: 'prod' });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^HERALD_JWT_SECRET: required in production.*\(NODE_ENV=prod:/);
    expect(lines[1]).toMatch(/^HERALD_PUBLISH_TOKEN: required in production/);
  });

  it('measures edit distance (Levenshtein) to pick the closest name', () => {
    expect(levenshtein('HERALD_BUSS', 'HERALD_BUS')).toBe(1);
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(closestName('HERALD_JWT_SECERT', ['HERALD_JWT_ISSUER', 'HERALD_JWT_SECRET', 'HERALD_PORT'])).toBe('HERALD_JWT_SECRET');
  });

  it('reads the token skew and lifetime limits and refuses unusable ones, naming each', () => {
    expect(loadConfig({ HERALD_JWT_CLOCK_SKEW_S: '0', HERALD_JWT_MAX_LIFETIME_S: '3600' })).toMatchObject({
      jwtClockSkewS: 0,
      jwtMaxLifetimeS: 3600,
    });
    expect(problems({ HERALD_JWT_CLOCK_SKEW_S: '-1', HERALD_JWT_MAX_LIFETIME_S: 'forever' }).map((l) => l.split(':')[0]).sort()).toEqual([
      'HERALD_JWT_CLOCK_SKEW_S',
      'HERALD_JWT_MAX_LIFETIME_S',
    ]);
    // Bounded, so that a revocation's keep always fits a store's TTL.
    const lines = problems({ HERALD_JWT_CLOCK_SKEW_S: '3601', HERALD_JWT_MAX_LIFETIME_S: String(100 * 365 * 86_400) });
    expect(lines).toEqual([
      'HERALD_JWT_CLOCK_SKEW_S: must be at most 3600 seconds',
      'HERALD_JWT_MAX_LIFETIME_S: must be 60–31622400 seconds (a year)',
    ]);
    expect(problems({ HERALD_JWT_MAX_LIFETIME_S: '59' })).toHaveLength(1);
  });
});
