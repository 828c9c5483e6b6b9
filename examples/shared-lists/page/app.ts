/**
 * The shared-lists page: plain DOM, the app's REST API for reads and writes, and Herald's client
 * SDK for what other users and devices change. Bundled by Bun at server start (page-bundle.ts).
 */
import { HeraldClient, type ConnectionState, type Gap, type HeraldEvent } from 'herald/client';
import type { ApiError, Item, List, ListDetail, ListEvents, ListForUser, Member, User } from '../events.js';

// ── the API ──────────────────────────────────────────────────────────────────────────────────────

class ApiFailure extends Error {
  override readonly name = 'ApiFailure';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiFailure(0, 'offline', 'The server cannot be reached: check the connection and try again.');
  }
  const payload = (await response.json().catch(() => ({}))) as T & Partial<ApiError>;
  if (!response.ok) {
    throw new ApiFailure(response.status, payload.error ?? 'error', payload.message ?? `the server answered ${response.status}`);
  }
  return payload;
}

// ── state ────────────────────────────────────────────────────────────────────────────────────────

interface OpenList {
  list: ListForUser;
  items: Map<string, Item>;
  members: Member[];
}

const state = {
  me: undefined as User | undefined,
  lists: new Map<string, ListForUser>(),
  selectedId: undefined as string | undefined,
  open: undefined as OpenList | undefined,
  /** Items deleted while the page was open: a late answer or a replay never brings one back. */
  deletedItems: new Set<string>(),
};

let herald: HeraldClient<ListEvents> | undefined;
/** While the page reloads from the API, events wait here and are applied after the reload. */
let buffered: HeraldEvent[] | undefined;
let reloading: Promise<void> = Promise.resolve();

// ── the DOM ──────────────────────────────────────────────────────────────────────────────────────

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) if (value !== undefined) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function show(id: string, visible: boolean): void {
  $(id).hidden = !visible;
}

/** Shows what went wrong until the next action succeeds or the user clicks it away. */
function showError(message: string): void {
  const box = $('error');
  box.textContent = message;
  box.hidden = message === '';
}

function clearError(): void {
  $('error').hidden = true;
}

/** Runs a user action: its API failure is shown, a 401 signs the page out. */
async function act(work: () => Promise<void>): Promise<void> {
  try {
    await work();
    clearError();
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 401 && error.code === 'signed_out') {
      signedOut('Your session has ended. Sign in again.');
      return;
    }
    showError(error instanceof Error ? error.message : String(error));
  }
}

// ── the connection ───────────────────────────────────────────────────────────────────────────────

function showConnection(text: string, kind: 'ok' | 'wait' | 'off'): void {
  const pill = $('connection');
  pill.textContent = text;
  pill.dataset.state = kind;
}

function onState(connection: ConnectionState): void {
  switch (connection.status) {
    case 'open':
      showConnection('connected', 'ok');
      break;
    case 'connecting':
      showConnection(connection.attempt === 0 && !herald?.position ? 'connecting…' : 'reconnecting…', 'wait');
      break;
    case 'reconnecting':
      showConnection(navigator.onLine ? 'reconnecting…' : 'offline, reconnecting…', 'wait');
      break;
    case 'closed':
      if (connection.by === 'client') break;
      if (connection.code === 4003) signedOut('Signed out everywhere: the password of this account was reset.', 'signed out everywhere');
      else if (connection.code === 1000) signedOut('You were signed out.');
      else if (connection.code === 4009) replacedByAnotherTab();
      else showConnection(`disconnected (${connection.code})`, 'off');
      break;
    default:
      break;
  }
}

function connectHerald(): void {
  const client = new HeraldClient<ListEvents>({
    url: '/ws',
    token: async () => {
      try {
        return (await api<{ token: string }>('GET', '/api/herald-token')).token;
      } catch (error) {
        if (error instanceof ApiFailure && error.status === 401) queueMicrotask(() => signedOut('Your session has ended. Sign in again.'));
        throw error;
      }
    },
    // A demo wants a quick comeback after a blip: at most 5 s between tries.
    backoff: { maxMs: 5000 },
  });
  client.onState(onState);
  client.onAny((event) => {
    console.info('shared-lists event', JSON.stringify({ id: event.id, type: event.type, seq: event.seq }));
    if (buffered) buffered.push(event);
    else applyEvent(event);
  });
  client.onGap((gap: Gap) => {
    console.info('shared-lists gap', JSON.stringify(gap));
    void reloadAll();
  });
  client.onError((error) => console.warn('herald client:', error.message));
  herald = client;
  client.connect();
}

/** One socket per login session: another tab of this browser took it over (4009). */
function replacedByAnotherTab(): void {
  showConnection('open in another tab', 'off');
  const note = $('list-note');
  note.replaceChildren(
    'This account is live in another tab of this browser. ',
    Object.assign(el('button', { type: 'button', class: 'link' }, 'Use it here'), { onclick: () => herald?.connect() }),
  );
  note.hidden = false;
}

// ── events ───────────────────────────────────────────────────────────────────────────────────────

function applyEvent(event: HeraldEvent): void {
  const me = state.me;
  if (!me) return;
  const open = state.open;
  switch (event.type) {
    case 'LIST_CREATED': {
      const { list } = event.content as ListEvents['LIST_CREATED'];
      if (!state.lists.has(list.id)) state.lists.set(list.id, { ...list, role: 'owner' });
      break;
    }
    case 'LIST_RENAMED': {
      const { list } = event.content as ListEvents['LIST_RENAMED'];
      renamed(list);
      break;
    }
    case 'LIST_DELETED': {
      const { listId } = event.content as ListEvents['LIST_DELETED'];
      lostList(listId, 'This list was deleted.');
      break;
    }
    case 'LIST_SHARED': {
      const { list, member } = event.content as ListEvents['LIST_SHARED'];
      if (member.userId === me.id) {
        const role = member.role;
        state.lists.set(list.id, { ...newer(state.lists.get(list.id), list), role });
        if (open?.list.id === list.id) open.list = { ...open.list, role };
      }
      if (open?.list.id === list.id) {
        open.members = [...open.members.filter((m) => m.userId !== member.userId), member].sort((a, b) => a.name.localeCompare(b.name));
      }
      break;
    }
    case 'LIST_UNSHARED': {
      const { listId, userId } = event.content as ListEvents['LIST_UNSHARED'];
      if (userId === me.id) lostList(listId, 'This list is no longer shared with you.');
      else if (open?.list.id === listId) open.members = open.members.filter((m) => m.userId !== userId);
      break;
    }
    case 'ITEM_CREATED':
    case 'ITEM_UPDATED': {
      const { item } = event.content as ListEvents['ITEM_CREATED'];
      if (open?.list.id === item.listId) upsertItem(open, item);
      break;
    }
    case 'ITEM_DELETED': {
      const { listId, itemId } = event.content as ListEvents['ITEM_DELETED'];
      state.deletedItems.add(itemId);
      if (open?.list.id === listId) open.items.delete(itemId);
      break;
    }
    default:
      return;
  }
  render();
}

/** The newer of two versions of a list (renames count up). */
function newer(known: List | undefined, incoming: List): List {
  return known && known.version >= incoming.version ? known : incoming;
}

function renamed(list: List): void {
  const known = state.lists.get(list.id);
  if (known) state.lists.set(list.id, { ...newer(known, list), role: known.role });
  if (state.open?.list.id === list.id) state.open.list = { ...newer(state.open.list, list), role: state.open.list.role };
}

function lostList(listId: string, why: string): void {
  state.lists.delete(listId);
  if (state.open?.list.id === listId) {
    state.open = undefined;
    state.selectedId = undefined;
    showError(why);
  }
}

function upsertItem(open: OpenList, item: Item): void {
  if (state.deletedItems.has(item.id)) return;
  const known = open.items.get(item.id);
  if (!known || item.version > known.version) open.items.set(item.id, item);
}

// ── loading ──────────────────────────────────────────────────────────────────────────────────────

async function loadList(listId: string): Promise<void> {
  const detail = await api<ListDetail>('GET', `/api/lists/${encodeURIComponent(listId)}`);
  if (state.selectedId !== listId) return;
  state.open = { list: detail.list, members: detail.members, items: new Map(detail.items.map((item) => [item.id, item])) };
  state.lists.set(detail.list.id, detail.list);
}

/**
 * Reloads everything from the API: at sign-in, and when Herald says events were missed (a gap).
 * Events that arrive meanwhile are applied afterwards, so none is lost to the reload.
 */
function reloadAll(): Promise<void> {
  reloading = reloading.then(async () => {
    buffered ??= [];
    try {
      const { lists } = await api<{ lists: ListForUser[] }>('GET', '/api/lists');
      state.lists = new Map(lists.map((list) => [list.id, list]));
      const wanted = state.selectedId ?? location.hash.slice(1);
      state.selectedId = state.lists.has(wanted) ? wanted : lists[0]?.id;
      state.open = undefined;
      if (state.selectedId) await loadList(state.selectedId);
      console.info('shared-lists reloaded', JSON.stringify({ lists: lists.length, items: (state.open as OpenList | undefined)?.items.size ?? 0 }));
    } catch (error) {
      if (error instanceof ApiFailure && error.status === 401) signedOut('Your session has ended. Sign in again.');
      else showError(error instanceof Error ? error.message : String(error));
    } finally {
      const events = buffered ?? [];
      buffered = undefined;
      for (const event of events) applyEvent(event);
      render();
    }
  });
  return reloading;
}

async function select(listId: string): Promise<void> {
  if (state.selectedId === listId && state.open) return;
  state.selectedId = listId;
  if (location.hash.slice(1) !== listId) history.replaceState(null, '', `#${listId}`);
  await act(() => loadList(listId));
  render();
}

// ── rendering ────────────────────────────────────────────────────────────────────────────────────

function render(): void {
  renderLists();
  renderOpenList();
}

function renderLists(): void {
  const ul = $('lists');
  ul.replaceChildren(
    ...[...state.lists.values()].map((list) => {
      const link = el('a', { href: `#${list.id}`, 'data-list-id': list.id }, list.name);
      if (list.id === state.selectedId) link.setAttribute('aria-current', 'true');
      link.onclick = (event) => {
        event.preventDefault();
        void select(list.id);
      };
      const extra = list.role === 'owner' ? [] : [el('span', { class: 'badge' }, `${list.role} · ${list.ownerName}`)];
      return el('li', {}, link, ...extra);
    }),
  );
}

function renderOpenList(): void {
  const open = state.open;
  show('empty-pane', !open);
  show('list-view', Boolean(open));
  if (!open) return;
  const { list } = open;
  const owner = list.role === 'owner';
  $('list-title').textContent = list.name;
  $('list-role').textContent = owner ? 'owner' : `${list.role} · shared by ${list.ownerName}`;
  show('rename-list', list.role !== 'viewer');
  show('delete-list', owner);
  const note = $('list-note');
  if (list.role === 'viewer') {
    note.textContent = `You are a viewer of this list: only its owner and editors can change it.`;
    note.hidden = false;
  } else if (!note.querySelector('button')) {
    note.hidden = true;
  }
  renderItems(open);
  renderMembers(open);
}

/** Items are keyed by id: a row is updated in place, so a row being edited keeps its input. */
function renderItems(open: OpenList): void {
  const ul = $('items');
  const rows = new Map<string, HTMLLIElement>();
  for (const li of Array.from(ul.querySelectorAll<HTMLLIElement>('li[data-item-id]'))) rows.set(li.dataset.itemId!, li);
  const items = [...open.items.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  let previous: HTMLLIElement | undefined;
  for (const item of items) {
    const li = rows.get(item.id) ?? itemRow(item);
    rows.delete(item.id);
    updateItemRow(li, item);
    const expected = previous ? previous.nextElementSibling : ul.firstElementChild;
    if (expected !== li) {
      if (previous) previous.after(li);
      else ul.prepend(li);
    }
    previous = li;
  }
  for (const stale of rows.values()) stale.remove();
}

function itemRow(item: Item): HTMLLIElement {
  const checkbox = el('input', { type: 'checkbox' });
  const text = el('span', { class: 'text' });
  const edit = el('button', { type: 'button', class: 'link' }, 'Edit');
  const remove = el('button', { type: 'button', class: 'link danger' }, 'Delete');
  const li = el('li', { 'data-item-id': item.id, class: 'item' }, el('label', { class: 'check' }, checkbox, text), edit, remove);
  checkbox.onchange = () =>
    act(async () => {
      const listId = li.dataset.listId!;
      const wanted = checkbox.checked;
      try {
        const { item: saved } = await api<{ item: Item }>('PATCH', `/api/lists/${listId}/items/${li.dataset.itemId}`, { checked: wanted });
        if (state.open?.list.id === listId) upsertItem(state.open, saved);
      } finally {
        render();
      }
    });
  remove.onclick = () =>
    act(async () => {
      const listId = li.dataset.listId!;
      const itemId = li.dataset.itemId!;
      await api('DELETE', `/api/lists/${listId}/items/${itemId}`);
      state.deletedItems.add(itemId);
      state.open?.items.delete(itemId);
      render();
    });
  edit.onclick = () => editItem(li);
  return li;
}

function updateItemRow(li: HTMLLIElement, item: Item): void {
  li.dataset.listId = item.listId;
  li.dataset.version = String(item.version);
  li.classList.toggle('done', item.checked);
  const checkbox = li.querySelector<HTMLInputElement>('input[type=checkbox]')!;
  checkbox.checked = item.checked;
  const text = li.querySelector<HTMLElement>('.text')!;
  if (text.textContent !== item.text) text.textContent = item.text;
}

function editItem(li: HTMLLIElement): void {
  if (li.querySelector('form')) return;
  const label = li.querySelector<HTMLElement>('label')!;
  const current = li.querySelector('.text')!.textContent ?? '';
  const input = el('input', { name: 'text', 'aria-label': `Rename ${current}`, maxlength: '500', required: '' });
  input.value = current;
  const form = el('form', { class: 'inline' }, input, el('button', { type: 'submit' }, 'Save'));
  const done = () => {
    form.remove();
    label.hidden = false;
  };
  input.onkeydown = (event) => {
    if (event.key === 'Escape') done();
  };
  form.onsubmit = (event) => {
    event.preventDefault();
    void act(async () => {
      const listId = li.dataset.listId!;
      const { item } = await api<{ item: Item }>('PATCH', `/api/lists/${listId}/items/${li.dataset.itemId}`, { text: input.value });
      done();
      if (state.open?.list.id === listId) upsertItem(state.open, item);
      render();
    });
  };
  label.hidden = true;
  label.after(form);
  input.focus();
}

function renderMembers(open: OpenList): void {
  const owner = open.list.role === 'owner';
  const me = state.me!;
  show('share-form', owner);
  const rows = open.members.map((member) => {
    const li = el('li', { 'data-user-id': member.userId }, el('span', {}, member.name), el('span', { class: 'badge' }, member.role));
    if (owner || member.userId === me.id) {
      const button = el('button', { type: 'button', class: 'link danger' }, member.userId === me.id ? 'Leave' : 'Remove');
      button.setAttribute('aria-label', member.userId === me.id ? 'Leave this list' : `Stop sharing with ${member.name}`);
      button.onclick = () =>
        act(async () => {
          const listId = open.list.id;
          await api('DELETE', `/api/lists/${listId}/members/${member.userId}`);
          if (member.userId === me.id) lostList(listId, 'You left the list.');
          else if (state.open?.list.id === listId) state.open.members = state.open.members.filter((m) => m.userId !== member.userId);
          render();
        });
      li.append(button);
    }
    return li;
  });
  $('members').replaceChildren(...(rows.length > 0 ? rows : [el('li', { class: 'muted' }, owner ? 'Nobody yet.' : '—')]));
}

// ── signing in and out ───────────────────────────────────────────────────────────────────────────

function signedIn(user: User): void {
  state.me = user;
  $('me').textContent = user.name;
  show('sign-in', false);
  show('workspace', true);
  show('open-password', true);
  show('sign-out', true);
  show('sign-in-notice', false);
  connectHerald();
  void reloadAll();
}

/** Back to the sign-in screen, saying why; the socket is closed and the state dropped. */
function signedOut(notice: string, connection = 'signed out'): void {
  const client = herald;
  herald = undefined;
  void client?.close();
  state.me = undefined;
  state.lists.clear();
  state.open = undefined;
  state.selectedId = undefined;
  state.deletedItems.clear();
  buffered = undefined;
  showConnection(connection, 'off');
  $('me').textContent = '';
  show('workspace', false);
  show('open-password', false);
  show('sign-out', false);
  show('sign-in', true);
  const box = $('sign-in-notice');
  box.textContent = notice;
  box.hidden = notice === '';
  const dialog = $<HTMLDialogElement>('password-dialog');
  if (dialog.open) dialog.close();
}

function wire(): void {
  $('error').onclick = clearError;
  const auth = $<HTMLFormElement>('auth-form');
  auth.onsubmit = (event) => {
    event.preventDefault();
    const action = (event.submitter as HTMLButtonElement | null)?.value === 'signup' ? 'signup' : 'login';
    const data = new FormData(auth);
    void act(async () => {
      const { user } = await api<{ user: User }>('POST', `/api/${action}`, { name: data.get('name'), password: data.get('password') });
      auth.reset();
      signedIn(user);
    });
  };

  $('sign-out').onclick = () =>
    act(async () => {
      await herald?.close();
      await api('POST', '/api/logout');
      signedOut('You signed out.');
    });

  const dialog = $<HTMLDialogElement>('password-dialog');
  const passwordForm = $<HTMLFormElement>('password-form');
  $('open-password').onclick = () => dialog.showModal();
  $('password-cancel').onclick = () => dialog.close();
  passwordForm.onsubmit = (event) => {
    event.preventDefault();
    const data = new FormData(passwordForm);
    void act(async () => {
      await api('POST', '/api/password', { currentPassword: data.get('currentPassword'), newPassword: data.get('newPassword') });
      passwordForm.reset();
      signedOut('Password reset: signed out everywhere. Sign in with the new password.', 'signed out everywhere');
    });
  };

  const newList = $<HTMLFormElement>('new-list');
  newList.onsubmit = (event) => {
    event.preventDefault();
    const name = new FormData(newList).get('name');
    void act(async () => {
      const { list } = await api<{ list: ListForUser }>('POST', '/api/lists', { name });
      newList.reset();
      state.lists.set(list.id, list);
      state.open = undefined;
      await select(list.id);
    });
  };

  const newItem = $<HTMLFormElement>('new-item');
  newItem.onsubmit = (event) => {
    event.preventDefault();
    const open = state.open;
    if (!open) return;
    const text = new FormData(newItem).get('text');
    void act(async () => {
      const { item } = await api<{ item: Item }>('POST', `/api/lists/${open.list.id}/items`, { text });
      newItem.reset();
      if (state.open?.list.id === item.listId) upsertItem(state.open, item);
      render();
    });
  };

  const renameForm = $<HTMLFormElement>('rename-form');
  const stopRenaming = () => {
    renameForm.hidden = true;
    show('list-title', true);
  };
  $('rename-list').onclick = () => {
    const open = state.open;
    if (!open) return;
    renameForm.querySelector('input')!.value = open.list.name;
    renameForm.hidden = false;
    show('list-title', false);
    renameForm.querySelector('input')!.focus();
  };
  $('rename-cancel').onclick = stopRenaming;
  renameForm.onsubmit = (event) => {
    event.preventDefault();
    const open = state.open;
    if (!open) return;
    const name = new FormData(renameForm).get('name');
    void act(async () => {
      const { list } = await api<{ list: ListForUser }>('PATCH', `/api/lists/${open.list.id}`, { name });
      stopRenaming();
      renamed(list);
      render();
    });
  };

  $('delete-list').onclick = () => {
    const open = state.open;
    if (!open) return;
    void act(async () => {
      await api('DELETE', `/api/lists/${open.list.id}`);
      lostList(open.list.id, '');
      clearError();
      render();
    });
  };

  const share = $<HTMLFormElement>('share-form');
  share.onsubmit = (event) => {
    event.preventDefault();
    const open = state.open;
    if (!open) return;
    const data = new FormData(share);
    void act(async () => {
      const { member } = await api<{ member: Member }>('POST', `/api/lists/${open.list.id}/members`, {
        name: data.get('name'),
        role: data.get('role'),
      });
      share.reset();
      if (state.open?.list.id === open.list.id) {
        state.open.members = [...state.open.members.filter((m) => m.userId !== member.userId), member].sort((a, b) =>
          a.name.localeCompare(b.name),
        );
      }
      render();
    });
  };

  window.addEventListener('hashchange', () => {
    const id = location.hash.slice(1);
    if (id && state.lists.has(id)) void select(id);
  });
  window.addEventListener('offline', () => showConnection('offline, reconnecting…', 'wait'));
  window.addEventListener('online', () => herald && onState(herald.state));
}

async function start(): Promise<void> {
  wire();
  try {
    const { user } = await api<{ user: User }>('GET', '/api/me');
    signedIn(user);
  } catch {
    signedOut('');
  }
}

void start();
