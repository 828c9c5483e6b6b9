import type { Queries } from './db/database.js';
import type { Item, List, ListForUser, Member, Role } from './events.js';

/** The app's SQL, one function per question; each runs on the database or inside a transaction. */

export interface UserRecord {
  id: string;
  name: string;
  passwordHash: string;
  tokensValidFrom: number;
}

export interface SessionRecord {
  id: string;
  userId: string;
  userName: string;
  tokensValidFrom: number;
}

const newId = () => Bun.randomUUIDv7();

// ── users ──────────────────────────────────────────────────────────────────────────────────────

export async function insertUser(q: Queries, name: string, passwordHash: string): Promise<UserRecord> {
  const id = newId();
  await q.run('INSERT INTO users (id, name, password_hash, tokens_valid_from, created_at) VALUES ($1, $2, $3, 0, $4)', [
    id,
    name,
    passwordHash,
    Date.now(),
  ]);
  return { id, name, passwordHash, tokensValidFrom: 0 };
}

export async function userByName(q: Queries, name: string): Promise<UserRecord | undefined> {
  const row = await q.get<{ id: string; name: string; password_hash: string; tokens_valid_from: unknown }>(
    'SELECT id, name, password_hash, tokens_valid_from FROM users WHERE lower(name) = lower($1)',
    [name],
  );
  return row && { id: row.id, name: row.name, passwordHash: row.password_hash, tokensValidFrom: Number(row.tokens_valid_from) };
}

export async function userById(q: Queries, id: string): Promise<UserRecord | undefined> {
  const row = await q.get<{ id: string; name: string; password_hash: string; tokens_valid_from: unknown }>(
    'SELECT id, name, password_hash, tokens_valid_from FROM users WHERE id = $1',
    [id],
  );
  return row && { id: row.id, name: row.name, passwordHash: row.password_hash, tokensValidFrom: Number(row.tokens_valid_from) };
}

export async function setPassword(q: Queries, userId: string, passwordHash: string): Promise<void> {
  await q.run('UPDATE users SET password_hash = $1 WHERE id = $2', [passwordHash, userId]);
}

export async function setTokensValidFrom(q: Queries, userId: string, instantMs: number): Promise<void> {
  await q.run('UPDATE users SET tokens_valid_from = $1 WHERE id = $2', [instantMs, userId]);
}

// ── sessions ───────────────────────────────────────────────────────────────────────────────────

export async function insertSession(q: Queries, userId: string, tokenHash: string, ttlMs: number): Promise<string> {
  const id = newId();
  const now = Date.now();
  await q.run('INSERT INTO sessions (id, token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
    id,
    tokenHash,
    userId,
    now,
    now + ttlMs,
  ]);
  return id;
}

export async function sessionByTokenHash(q: Queries, tokenHash: string): Promise<SessionRecord | undefined> {
  const row = await q.get<{ id: string; user_id: string; name: string; tokens_valid_from: unknown }>(
    `SELECT s.id, s.user_id, u.name, u.tokens_valid_from FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = $1 AND s.expires_at > $2`,
    [tokenHash, Date.now()],
  );
  return row && { id: row.id, userId: row.user_id, userName: row.name, tokensValidFrom: Number(row.tokens_valid_from) };
}

export async function deleteSession(q: Queries, sessionId: string): Promise<void> {
  await q.run('DELETE FROM sessions WHERE id = $1', [sessionId]);
}

/** Ends every session of the user; resolves with how many there were. */
export async function deleteSessionsOf(q: Queries, userId: string): Promise<number> {
  return q.run('DELETE FROM sessions WHERE user_id = $1', [userId]);
}

// ── lists ──────────────────────────────────────────────────────────────────────────────────────

interface ListRow {
  id: string;
  name: string;
  owner_id: string;
  owner_name: string;
  version: unknown;
  role?: string;
}

const LIST_COLUMNS = 'l.id, l.name, l.owner_id, o.name AS owner_name, l.version';

function toList(row: ListRow): List {
  return { id: row.id, name: row.name, ownerId: row.owner_id, ownerName: row.owner_name, version: Number(row.version) };
}

/** Every list the user owns or was shared, oldest first. */
export async function listsOf(q: Queries, userId: string): Promise<ListForUser[]> {
  const rows = await q.all<ListRow>(
    `SELECT ${LIST_COLUMNS}, CASE WHEN l.owner_id = $1 THEN 'owner' ELSE m.role END AS role
     FROM lists l JOIN users o ON o.id = l.owner_id
     LEFT JOIN list_members m ON m.list_id = l.id AND m.user_id = $1
     WHERE l.owner_id = $1 OR m.user_id IS NOT NULL
     ORDER BY l.created_at, l.id`,
    [userId],
  );
  return rows.map((row) => ({ ...toList(row), role: row.role as Role }));
}

/** The list and the user's role on it; undefined when it does not exist or the user has no access. */
export async function listFor(q: Queries, listId: string, userId: string): Promise<ListForUser | undefined> {
  const row = await q.get<ListRow>(
    `SELECT ${LIST_COLUMNS}, CASE WHEN l.owner_id = $2 THEN 'owner' ELSE m.role END AS role
     FROM lists l JOIN users o ON o.id = l.owner_id
     LEFT JOIN list_members m ON m.list_id = l.id AND m.user_id = $2
     WHERE l.id = $1 AND (l.owner_id = $2 OR m.user_id IS NOT NULL)`,
    [listId, userId],
  );
  return row && { ...toList(row), role: row.role as Role };
}

export async function insertList(q: Queries, owner: { id: string; name: string }, name: string): Promise<List> {
  const id = newId();
  await q.run('INSERT INTO lists (id, owner_id, name, version, created_at) VALUES ($1, $2, $3, 1, $4)', [id, owner.id, name, Date.now()]);
  return { id, name, ownerId: owner.id, ownerName: owner.name, version: 1 };
}

export async function renameList(q: Queries, list: List, name: string): Promise<List> {
  const row = await q.get<{ version: unknown }>('UPDATE lists SET name = $1, version = version + 1 WHERE id = $2 RETURNING version', [
    name,
    list.id,
  ]);
  return { ...list, name, version: Number(row?.version) };
}

export async function deleteList(q: Queries, listId: string): Promise<void> {
  await q.run('DELETE FROM lists WHERE id = $1', [listId]);
}

/** The owner and every member: who gets the list's events. */
export async function audienceOf(q: Queries, listId: string): Promise<string[]> {
  const rows = await q.all<{ user_id: string }>(
    'SELECT owner_id AS user_id FROM lists WHERE id = $1 UNION SELECT user_id FROM list_members WHERE list_id = $1',
    [listId],
  );
  return rows.map((row) => row.user_id);
}

export async function membersOf(q: Queries, listId: string): Promise<Member[]> {
  const rows = await q.all<{ user_id: string; name: string; role: string }>(
    `SELECT m.user_id, u.name, m.role FROM list_members m JOIN users u ON u.id = m.user_id
     WHERE m.list_id = $1 ORDER BY lower(u.name)`,
    [listId],
  );
  return rows.map((row) => ({ userId: row.user_id, name: row.name, role: row.role as Member['role'] }));
}

/** Gives the user access with this role, or changes their role. */
export async function upsertMember(q: Queries, listId: string, userId: string, role: Member['role']): Promise<void> {
  await q.run(
    `INSERT INTO list_members (list_id, user_id, role) VALUES ($1, $2, $3)
     ON CONFLICT (list_id, user_id) DO UPDATE SET role = excluded.role`,
    [listId, userId, role],
  );
}

export async function deleteMember(q: Queries, listId: string, userId: string): Promise<number> {
  return q.run('DELETE FROM list_members WHERE list_id = $1 AND user_id = $2', [listId, userId]);
}

// ── items ──────────────────────────────────────────────────────────────────────────────────────

interface ItemRow {
  id: string;
  list_id: string;
  text: string;
  checked: unknown;
  version: unknown;
  created_at: unknown;
}

const ITEM_COLUMNS = 'id, list_id, text, checked, version, created_at';

function toItem(row: ItemRow): Item {
  return {
    id: row.id,
    listId: row.list_id,
    text: row.text,
    checked: Number(row.checked) === 1,
    version: Number(row.version),
    createdAt: Number(row.created_at),
  };
}

export async function itemsOf(q: Queries, listId: string): Promise<Item[]> {
  const rows = await q.all<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE list_id = $1 ORDER BY created_at, id`, [listId]);
  return rows.map(toItem);
}

export async function insertItem(q: Queries, listId: string, text: string): Promise<Item> {
  const item: Item = { id: newId(), listId, text, checked: false, version: 1, createdAt: Date.now() };
  await q.run('INSERT INTO items (id, list_id, text, checked, version, created_at) VALUES ($1, $2, $3, 0, 1, $4)', [
    item.id,
    listId,
    text,
    item.createdAt,
  ]);
  return item;
}

/** Changes the text and/or the check of an item of this list; undefined when there is no such item. */
export async function updateItem(
  q: Queries,
  listId: string,
  itemId: string,
  change: { text?: string; checked?: boolean },
): Promise<Item | undefined> {
  const row = await q.get<ItemRow>(
    `UPDATE items SET text = COALESCE($1, text), checked = COALESCE($2, checked), version = version + 1
     WHERE id = $3 AND list_id = $4 RETURNING ${ITEM_COLUMNS}`,
    [change.text ?? null, change.checked === undefined ? null : change.checked ? 1 : 0, itemId, listId],
  );
  return row && toItem(row);
}

export async function deleteItem(q: Queries, listId: string, itemId: string): Promise<number> {
  return q.run('DELETE FROM items WHERE id = $1 AND list_id = $2', [itemId, listId]);
}
