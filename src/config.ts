import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { isIP } from 'node:net';
import {
  DEFAULT_CLOCK_SKEW_S,
  DEFAULT_MAX_TOKEN_LIFETIME_S,
  MAX_JWT_CLOCK_SKEW_S,
  MAX_JWT_MAX_LIFETIME_S,
} from './auth/revocations.js';
import { createVerificationKey, type KeySource } from './auth/verification-key.js';
import { ConfigError } from './errors.js';
import { findUnknownVariables } from './unknown-variables.js';

const Integer = (description: string) => Type.String({ pattern: '^[0-9]+$', description });
const Url = (schemes: string, description: string) =>
  Type.String({ pattern: `^(${schemes})://[^\\s]+$`, description });

/** The environment as the gateway reads it: every HERALD_* variable is a string or absent. */
export const Env = Type.Object({
  HERALD_HOST: Type.Optional(Type.String({ minLength: 1, description: 'a listen address' })),
  HERALD_PORT: Type.Optional(Integer('a port number (0 picks a free port)')),
  HERALD_BUS: Type.Optional(Type.Union([Type.Literal('local'), Type.Literal('nats'), Type.Literal('amqp')])),
  HERALD_NATS_URL: Type.Optional(Type.String({ pattern: '^(nats|tls|ws|wss)://[^\\s,]+(,(nats|tls|ws|wss)://[^\\s,]+)*$' })),
  HERALD_NATS_SUBJECT: Type.Optional(Type.String({ pattern: '^[^\\s*>]+$', description: 'a NATS subject without wildcards' })),
  HERALD_AMQP_URL: Type.Optional(Url('amqps?', 'an amqp:// URL')),
  HERALD_AMQP_EXCHANGE: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  HERALD_JWT_SECRET: Type.Optional(Type.String({ minLength: 32, description: 'at least 32 bytes' })),
  HERALD_JWT_PUBLIC_KEY: Type.Optional(Type.String({ pattern: '-----BEGIN PUBLIC KEY-----', description: 'a PEM public key' })),
  HERALD_JWKS_URL: Type.Optional(Url('https?', 'an http(s) URL')),
  HERALD_JWT_ISSUER: Type.Optional(Type.String({ minLength: 1 })),
  HERALD_JWT_AUDIENCE: Type.Optional(Type.String({ minLength: 1 })),
  HERALD_JWT_CLOCK_SKEW_S: Type.Optional(Integer('seconds')),
  HERALD_JWT_MAX_LIFETIME_S: Type.Optional(Integer('seconds')),
  HERALD_PUBLISH_TOKEN: Type.Optional(Type.String({ minLength: 16, description: 'at least 16 characters' })),
  HERALD_ALLOWED_ORIGINS: Type.Optional(Type.String({ minLength: 1 })),
  HERALD_MAX_SOCKETS_PER_USER: Type.Optional(Integer('a whole number')),
  HERALD_MAX_BACKPRESSURE: Type.Optional(Integer('a byte count')),
  HERALD_IDLE_TIMEOUT_S: Type.Optional(Integer('seconds')),
  HERALD_DRAIN_TIMEOUT_MS: Type.Optional(Integer('milliseconds')),
  HERALD_RECOVERY_WINDOW_S: Type.Optional(Integer('seconds (0 turns recovery off)')),
  HERALD_RECOVERY_MAX_BYTES: Type.Optional(Integer('a byte count')),
  HERALD_NATS_STREAM: Type.Optional(
    Type.String({ pattern: '^[^\\s.*>/\\\\]{1,32}$', description: 'a JetStream stream name (1–32 characters, no spaces, ".", "*", ">" or slashes)' }),
  ),
  HERALD_MAX_CLIENT_FRAMES_PER_S: Type.Optional(Integer('a whole number of frames a second')),
  HERALD_LOG_LEVEL: Type.Optional(
    Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))),
  ),
});
export type Env = Static<typeof Env>;
const envValidator = TypeCompiler.Compile(Env);

export type BusKind = 'local' | 'nats' | 'amqp';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  host: string;
  port: number;
  bus: BusKind;
  natsServers: string[];
  natsSubject: string;
  amqpUrl: string;
  amqpExchange: string;
  /** Absent only in development mode, which makes one up (see dev-mode.ts). */
  key: KeySource | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  /** How far in the future a token's `iat` may be (HERALD_JWT_CLOCK_SKEW_S). */
  jwtClockSkewS: number;
  /** The longest token lifetime (`exp` − `iat`) accepted; also how long revocations are kept. */
  jwtMaxLifetimeS: number;
  publishToken: string | undefined;
  /** `*` or the exact origins allowed to open a socket from a browser. */
  allowedOrigins: '*' | ReadonlySet<string>;
  maxSocketsPerUser: number;
  maxBackpressure: number;
  idleTimeoutS: number;
  drainTimeoutMs: number;
  /** How long the event log keeps events for resumes (§6); 0 turns recovery off. */
  recoveryWindowS: number;
  /** Memory this pod may use for recent events; past it the oldest go first. */
  recoveryMaxBytes: number;
  /** The JetStream stream that holds the event log on the NATS bus. */
  natsStream: string;
  /** Client → server frames a socket may send each second (a burst of twice that allowed). */
  maxClientFramesPerS: number;
  logLevel: LogLevel;
  /** NODE_ENV is set to anything but `development`: missing secrets and unknown variables stop the start. */
  production: boolean;
  /** What a development start should print but not stop for (an unknown HERALD_* variable). */
  warnings: string[];
}

/** Broker defaults, shared by the gateway and the publisher clients. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_NATS_SUBJECT = 'herald.events';
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const DEFAULT_AMQP_EXCHANGE = 'herald.events';
export const DEFAULT_NATS_STREAM = 'HERALD_EVENTS';
export const DEFAULT_RECOVERY_WINDOW_S = 300;
export const DEFAULT_RECOVERY_MAX_BYTES = 256 * 1024 * 1024;

/** Defaults chosen from bench/ runs; docs/tuning.md says why. */
export const DEFAULT_MAX_BACKPRESSURE = 256 * 1024;
export const DEFAULT_IDLE_TIMEOUT_S = 60;
/** Contract §4: a client pings every heartbeatMs and refreshes its token now and then; 20 a second is far above that. */
export const DEFAULT_MAX_CLIENT_FRAMES_PER_S = 20;

/** Reads the HERALD_* environment. Throws ConfigError with one line per bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, string> = {};
  for (const name of Object.keys(Env.properties)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const problems: string[] = [];
  const reported = new Set<string>();
  for (const error of envValidator.Errors(raw)) {
    const name = error.path.split('/')[1] ?? '';
    if (reported.has(name)) continue;
    reported.add(name);
    problems.push(`${name}: ${describe(name, error.schema, raw[name])}`);
  }
  const e = raw as Env;
  const production = isProduction(env.NODE_ENV);
  const warnings: string[] = [];
  for (const { name, closest } of findUnknownVariables(env, Object.keys(Env.properties))) {
    (production ? problems : warnings).push(`${name}: not a Herald variable (did you mean ${closest}?)`);
  }

  // Range checks only for variables whose syntax passed: one line per bad variable.
  const check = (name: string, bad: boolean, problem: string) => {
    if (bad && !reported.has(name)) problems.push(`${name}: ${problem}`);
  };
  check(
    'HERALD_HOST',
    e.HERALD_HOST !== undefined && !isListenHost(e.HERALD_HOST),
    `${JSON.stringify(e.HERALD_HOST)} is not an IP address or a host name`,
  );
  const port = int(e.HERALD_PORT, 8080);
  check('HERALD_PORT', port > 65535, `${port} is not a port number (0–65535)`);
  const maxSocketsPerUser = int(e.HERALD_MAX_SOCKETS_PER_USER, 32);
  check('HERALD_MAX_SOCKETS_PER_USER', maxSocketsPerUser < 1, 'must be at least 1');
  const maxBackpressure = int(e.HERALD_MAX_BACKPRESSURE, DEFAULT_MAX_BACKPRESSURE);
  check('HERALD_MAX_BACKPRESSURE', maxBackpressure < 1024, 'must be at least 1024 bytes');
  const idleTimeoutS = int(e.HERALD_IDLE_TIMEOUT_S, DEFAULT_IDLE_TIMEOUT_S);
  check(
    'HERALD_IDLE_TIMEOUT_S',
    idleTimeoutS !== 0 && (idleTimeoutS < 8 || idleTimeoutS > 960),
    'must be 0 (off) or 8–960 seconds (uWebSockets resolution is 4 s)',
  );
  const drainTimeoutMs = int(e.HERALD_DRAIN_TIMEOUT_MS, 10_000);
  const recoveryWindowS = int(e.HERALD_RECOVERY_WINDOW_S, DEFAULT_RECOVERY_WINDOW_S);
  check('HERALD_RECOVERY_WINDOW_S', recoveryWindowS > 7 * 24 * 3600, 'must be at most 604800 seconds (a week)');
  const jwtClockSkewS = int(e.HERALD_JWT_CLOCK_SKEW_S, DEFAULT_CLOCK_SKEW_S);
  check('HERALD_JWT_CLOCK_SKEW_S', jwtClockSkewS > MAX_JWT_CLOCK_SKEW_S, `must be at most ${MAX_JWT_CLOCK_SKEW_S} seconds`);
  const jwtMaxLifetimeS = int(e.HERALD_JWT_MAX_LIFETIME_S, DEFAULT_MAX_TOKEN_LIFETIME_S);
  check(
    'HERALD_JWT_MAX_LIFETIME_S',
    jwtMaxLifetimeS < 60 || jwtMaxLifetimeS > MAX_JWT_MAX_LIFETIME_S,
    `must be 60–${MAX_JWT_MAX_LIFETIME_S} seconds (a year)`,
  );
  const recoveryMaxBytes = int(e.HERALD_RECOVERY_MAX_BYTES, DEFAULT_RECOVERY_MAX_BYTES);
  check('HERALD_RECOVERY_MAX_BYTES', recoveryMaxBytes < 1024 * 1024, 'must be at least 1048576 bytes (1 MiB)');
  const maxClientFramesPerS = int(e.HERALD_MAX_CLIENT_FRAMES_PER_S, DEFAULT_MAX_CLIENT_FRAMES_PER_S);
  check('HERALD_MAX_CLIENT_FRAMES_PER_S', maxClientFramesPerS < 1, 'must be at least 1');

  const keys = (['HERALD_JWT_SECRET', 'HERALD_JWT_PUBLIC_KEY', 'HERALD_JWKS_URL'] as const).filter((k) => e[k]);
  if (keys.length > 1) problems.push(`${keys.join(', ')}: set exactly one of them`);
  const why = `NODE_ENV=${env.NODE_ENV}: only unset or "development" means development mode`;
  if (production && keys.length === 0)
    problems.push(`HERALD_JWT_SECRET: required in production, or HERALD_JWT_PUBLIC_KEY or HERALD_JWKS_URL (${why})`);
  if (production && !e.HERALD_PUBLISH_TOKEN) problems.push(`HERALD_PUBLISH_TOKEN: required in production (${why})`);

  // Values whose syntax passed but that cannot be used: parse them now, not at first use.
  if (e.HERALD_JWT_PUBLIC_KEY && !reported.has('HERALD_JWT_PUBLIC_KEY')) {
    try {
      createVerificationKey({ kind: 'public-key', pem: pemOf(e.HERALD_JWT_PUBLIC_KEY) });
    } catch (error) {
      problems.push(`HERALD_JWT_PUBLIC_KEY: not a usable public key (${(error as Error).message})`);
    }
  }
  for (const name of ['HERALD_AMQP_URL', 'HERALD_JWKS_URL', 'HERALD_NATS_URL'] as const) {
    const value = e[name];
    if (value === undefined || reported.has(name)) continue;
    const bad = value.split(',').find((url) => !URL.canParse(url));
    if (bad !== undefined) problems.push(`${name}: ${JSON.stringify(bad)} is not a valid URL`);
  }

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    host: e.HERALD_HOST ?? '0.0.0.0',
    port,
    bus: e.HERALD_BUS ?? 'local',
    natsServers: (e.HERALD_NATS_URL ?? DEFAULT_NATS_URL).split(','),
    natsSubject: e.HERALD_NATS_SUBJECT ?? DEFAULT_NATS_SUBJECT,
    amqpUrl: e.HERALD_AMQP_URL ?? DEFAULT_AMQP_URL,
    amqpExchange: e.HERALD_AMQP_EXCHANGE ?? DEFAULT_AMQP_EXCHANGE,
    key: e.HERALD_JWT_SECRET
      ? { kind: 'secret', secret: e.HERALD_JWT_SECRET }
      : e.HERALD_JWT_PUBLIC_KEY
        ? { kind: 'public-key', pem: pemOf(e.HERALD_JWT_PUBLIC_KEY) }
        : e.HERALD_JWKS_URL
          ? { kind: 'jwks', url: e.HERALD_JWKS_URL }
          : undefined,
    issuer: e.HERALD_JWT_ISSUER,
    audience: e.HERALD_JWT_AUDIENCE,
    jwtClockSkewS,
    jwtMaxLifetimeS,
    publishToken: e.HERALD_PUBLISH_TOKEN,
    allowedOrigins: parseOrigins(e.HERALD_ALLOWED_ORIGINS ?? '*'),
    maxSocketsPerUser,
    maxBackpressure,
    idleTimeoutS,
    drainTimeoutMs,
    recoveryWindowS,
    recoveryMaxBytes,
    natsStream: e.HERALD_NATS_STREAM ?? DEFAULT_NATS_STREAM,
    maxClientFramesPerS,
    logLevel: (e.HERALD_LOG_LEVEL ?? 'info') as LogLevel,
    production,
    warnings,
  };
}

/**
 * Development mode only when NODE_ENV is unset (or empty) or exactly `development`: any other
 * value — `production`, `prod`, `staging` — is production, so a typo never makes up secrets.
 */
export function isProduction(nodeEnv: string | undefined): boolean {
  return nodeEnv !== undefined && nodeEnv !== '' && nodeEnv !== 'development';
}

/** A PEM given on one line with literal `\n`s (as env files often hold it) works too. */
function pemOf(value: string): string {
  return value.replace(/\\n/g, '\n');
}

/** An IPv4 or IPv6 address, or a host name (RFC 1123 labels; all digits and dots must be IPv4). */
function isListenHost(value: string): boolean {
  if (isIP(value) !== 0) return true;
  if (/^[0-9.]+$/.test(value) || value.length > 253) return false;
  return /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$/.test(value);
}

function int(value: string | undefined, fallback: number): number {
  return value === undefined ? fallback : Number.parseInt(value, 10);
}

function parseOrigins(value: string): '*' | ReadonlySet<string> {
  const origins = value.split(',').map((o) => o.trim()).filter(Boolean);
  return origins.includes('*') ? '*' : new Set(origins);
}

function describe(name: string, schema: { description?: string; anyOf?: { const?: unknown }[] }, value: unknown): string {
  const shown = name.includes('SECRET') || name.includes('TOKEN') ? '(hidden)' : JSON.stringify(value);
  if (schema.anyOf) return `${shown} is not one of ${schema.anyOf.map((s) => s.const).join(', ')}`;
  return `${shown} is not ${schema.description ?? 'valid'}`;
}
