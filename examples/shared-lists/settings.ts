import { isAbsolute, join, resolve } from 'node:path';

/** The demo's own environment, beside Herald's HERALD_* variables. */
export interface Settings {
  host: string;
  port: number;
  /** Where the signing key (and the SQLite file) live. */
  dataDir: string;
  storage: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; schema: string | undefined };
}

export const SETTINGS_HELP = `shared-lists: environment
  HOST             listen address (default 127.0.0.1)
  PORT             listen port (default 3000; 0 picks a free one)
  DATA_DIR         the signing key and the SQLite file (default examples/shared-lists/.data)
  SQLITE_FILE      the SQLite database (default DATA_DIR/shared-lists.sqlite)
  DATABASE_URL     postgres://… : use PostgreSQL instead of SQLite
  DATABASE_SCHEMA  the PostgreSQL schema to use, created if missing (default: the server's search_path)
  HERALD_*         the gateway's variables (HERALD_BUS, HERALD_NATS_URL, …); the app sets HERALD_JWT_PUBLIC_KEY`;

export function readSettings(env: Record<string, string | undefined>, exampleDir: string): Settings {
  const problems: string[] = [];
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`PORT: ${JSON.stringify(env.PORT)} is not a port number`);
  const dataDir = resolve(env.DATA_DIR ?? join(exampleDir, '.data'));
  const url = env.DATABASE_URL;
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) problems.push('DATABASE_URL: must be a postgres:// URL');
  const schema = env.DATABASE_SCHEMA;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) problems.push('DATABASE_SCHEMA: lower-case letters, digits and "_"');
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const sqliteFile = env.SQLITE_FILE ?? join(dataDir, 'shared-lists.sqlite');
  return {
    host: env.HOST ?? '127.0.0.1',
    port,
    dataDir,
    storage: url
      ? { kind: 'postgres', url, schema }
      : { kind: 'sqlite', file: isAbsolute(sqliteFile) ? sqliteFile : resolve(sqliteFile) },
  };
}
