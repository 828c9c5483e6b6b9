import { SQL } from 'bun';
import type { Database, Queries, Row } from './database.js';

/** PostgreSQL through Bun's built-in client, optionally in its own schema (`search_path`). */
export function openPostgres(url: string, schema?: string): Database {
  const sql = new SQL(url, { max: 8, ...(schema ? { connection: { search_path: schema } } : {}) });
  const on = (client: SQL): Queries => ({
    async all<T>(text: string, params: unknown[] = []) {
      return [...(await client.unsafe(text, params))] as T[];
    },
    async get<T>(text: string, params: unknown[] = []) {
      return ((await client.unsafe(text, params)) as T[])[0];
    },
    async run(text: string, params: unknown[] = []) {
      return Number((await client.unsafe(text, params)).count ?? 0);
    },
  });
  const queries = on(sql);
  return {
    dialect: 'postgres',
    all: <T = Row>(text: string, params?: unknown[]) => queries.all<T>(text, params),
    get: <T = Row>(text: string, params?: unknown[]) => queries.get<T>(text, params),
    run: (text, params) => queries.run(text, params),
    transaction: async <T>(work: (tx: Queries) => Promise<T>) => (await sql.begin((tx) => work(on(tx)))) as T,
    close: () => sql.close(),
  };
}
