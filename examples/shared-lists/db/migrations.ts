import type { Database } from './database.js';

/**
 * The schema, as migrations in order: the same SQL on SQLite and PostgreSQL (TEXT ids,
 * BIGINT epoch milliseconds, INTEGER flags), so one list of statements serves both.
 * Append a migration; never edit one that has shipped.
 */
export const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE users (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      password_hash TEXT NOT NULL,
      -- Tokens for Herald issued before this instant (ms) were revoked by a password reset.
      tokens_valid_from BIGINT NOT NULL DEFAULT 0,
      created_at BIGINT NOT NULL
    )`,
    `CREATE UNIQUE INDEX users_name ON users (lower(name))`,
    `CREATE TABLE sessions (
      id TEXT PRIMARY KEY,
      token_hash TEXT NOT NULL UNIQUE,
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      created_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL
    )`,
    `CREATE INDEX sessions_user ON sessions (user_id)`,
    `CREATE TABLE lists (
      id TEXT PRIMARY KEY,
      owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      version INTEGER NOT NULL,
      created_at BIGINT NOT NULL
    )`,
    `CREATE INDEX lists_owner ON lists (owner_id)`,
    `CREATE TABLE list_members (
      list_id TEXT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      role TEXT NOT NULL CHECK (role IN ('editor', 'viewer')),
      PRIMARY KEY (list_id, user_id)
    )`,
    `CREATE INDEX list_members_user ON list_members (user_id)`,
    `CREATE TABLE items (
      id TEXT PRIMARY KEY,
      list_id TEXT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
      text TEXT NOT NULL,
      checked INTEGER NOT NULL DEFAULT 0,
      version INTEGER NOT NULL,
      created_at BIGINT NOT NULL
    )`,
    `CREATE INDEX items_list ON items (list_id, created_at)`,
  ],
];

/** PostgreSQL: the key of the advisory lock two pods starting at once take in turn. */
const MIGRATION_LOCK = 0x5e4a1157;

/** Brings the schema up to date in one transaction; pods that start together take turns. */
export async function migrate(db: Database): Promise<{ from: number; to: number }> {
  return db.transaction(async (tx) => {
    // SQLite's BEGIN IMMEDIATE already holds the file's write lock.
    if (db.dialect === 'postgres') await tx.run(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const row = await tx.get<{ version: number | string | null }>('SELECT max(version) AS version FROM schema_migrations');
    const from = Number(row?.version ?? 0);
    for (let version = from + 1; version <= MIGRATIONS.length; version++) {
      for (const statement of MIGRATIONS[version - 1]!) await tx.run(statement);
      await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [version, Date.now()]);
    }
    return { from, to: MIGRATIONS.length };
  });
}
