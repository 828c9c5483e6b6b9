/**
 * What the API answers and what Herald carries: the shapes both the server and the page use.
 * Every event goes to every user with access to the list, except the acting session
 * (`inclusive: false`), which has the API's answer already.
 */

export type Role = 'owner' | 'editor' | 'viewer';

export interface User {
  id: string;
  name: string;
}

export interface List {
  id: string;
  name: string;
  ownerId: string;
  ownerName: string;
  /** Goes up by one on every rename: a page keeps the highest it has seen. */
  version: number;
}

/** A list as one user sees it: with their role. */
export interface ListForUser extends List {
  role: Role;
}

export interface Member {
  userId: string;
  name: string;
  role: Exclude<Role, 'owner'>;
}

export interface Item {
  id: string;
  listId: string;
  text: string;
  checked: boolean;
  /** Goes up by one on every change: a late answer never undoes a newer event. */
  version: number;
  createdAt: number;
}

export interface ListDetail {
  list: ListForUser;
  items: Item[];
  members: Member[];
}

/** Herald event type → content. */
export type ListEvents = {
  LIST_CREATED: { list: List };
  LIST_RENAMED: { list: List };
  LIST_DELETED: { listId: string };
  /** A user was given access, or another role. The recipient's own role follows from `member` or `list.ownerId`. */
  LIST_SHARED: { list: List; member: Member };
  LIST_UNSHARED: { listId: string; userId: string };
  ITEM_CREATED: { listId: string; item: Item };
  ITEM_UPDATED: { listId: string; item: Item };
  ITEM_DELETED: { listId: string; itemId: string };
};

export type ListEventType = keyof ListEvents;

/** The API's error body, for every 4xx and 5xx. */
export interface ApiError {
  error: string;
  message: string;
}
