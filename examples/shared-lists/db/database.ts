/**
 * The app's one connection to its storage: SQLite (bun:sqlite, a file) or PostgreSQL (Bun's SQL
 * client). Queries are written once, with `$1`, `$2`… placeholders, and run on either.
 */

export type Row = Record<string, unknown>;

/** What a query can do, inside a transaction or not. */
export interface Queries {
  all<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  get<T = Row>(sql: string, params?: unknown[]): Promise<T | undefined>;
  /** Resolves with the number of rows changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
}

export interface Database extends Queries {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it throws.
   * Writes of one process's transactions never interleave; across processes the database
   * serializes them (SQLite takes its write lock at BEGIN, PostgreSQL locks rows as usual).
   */
  transaction<T>(work: (tx: Queries) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A database error that means a UNIQUE or PRIMARY KEY constraint refused the row. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; errno?: string | number; message?: string };
  return e?.code === '23505' || e?.errno === '23505' || /UNIQUE constraint failed/.test(e?.message ?? '') || e?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}
