import { Database as Sqlite, type SQLQueryBindings } from 'bun:sqlite';
import type { Database, Queries, Row } from './database.js';

/**
 * SQLite in one file. bun:sqlite is synchronous, so a transaction that awaits between its
 * statements must not let another request's statements in: every operation takes the one lock,
 * and a transaction holds it from BEGIN to COMMIT. Two processes on one file (the cluster demo)
 * wait for each other through `busy_timeout`.
 */
export function openSqlite(file: string): Database {
  const db = new Sqlite(file, { create: true, strict: true });
  // First: a second process opening the file at the same moment waits instead of failing.
  db.run('PRAGMA busy_timeout = 5000');
  db.run('PRAGMA journal_mode = WAL');
  db.run('PRAGMA synchronous = NORMAL');
  db.run('PRAGMA foreign_keys = ON');

  const queries: Queries = {
    async all<T>(sql: string, params: unknown[] = []) {
      return db.query(positional(sql)).all(...(params as SQLQueryBindings[])) as T[];
    },
    async get<T>(sql: string, params: unknown[] = []) {
      return (db.query(positional(sql)).get(...(params as SQLQueryBindings[])) ?? undefined) as T | undefined;
    },
    async run(sql: string, params: unknown[] = []) {
      return db.query(positional(sql)).run(...(params as SQLQueryBindings[])).changes;
    },
  };

  let lock: Promise<unknown> = Promise.resolve();
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = lock.then(work);
    lock = result.catch(() => undefined);
    return result;
  }

  return {
    dialect: 'sqlite',
    all: <T = Row>(sql: string, params?: unknown[]) => exclusive(() => queries.all<T>(sql, params)),
    get: <T = Row>(sql: string, params?: unknown[]) => exclusive(() => queries.get<T>(sql, params)),
    run: (sql, params) => exclusive(() => queries.run(sql, params)),
    transaction: (work) =>
      exclusive(async () => {
        // IMMEDIATE takes the write lock now, so two processes never deadlock upgrading a read lock.
        db.run('BEGIN IMMEDIATE');
        try {
          const result = await work(queries);
          db.run('COMMIT');
          return result;
        } catch (error) {
          db.run('ROLLBACK');
          throw error;
        }
      }),
    close: async () => {
      await lock;
      db.close();
    },
  };
}

/** `$1` → `?1`: SQLite reads `$1` as a parameter named "$1", `?1` as the first one. */
function positional(sql: string): string {
  return sql.replace(/\$(\d+)/g, '?$1');
}
