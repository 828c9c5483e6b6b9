import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

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
