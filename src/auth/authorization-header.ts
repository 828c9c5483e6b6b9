/** What an `Authorization` header holds, for the Bearer scheme (RFC 6750) of the upgrade and of `/v1/*`. */
export type Credentials =
  | { kind: 'bearer'; token: string }
  /** A header with another scheme (`Basic …`), or nothing after the scheme. */
  | { kind: 'other'; scheme: string }
  | { kind: 'none' };

/** Reads an `Authorization` header; the scheme is case-insensitive (RFC 7235 §2.1). */
export function readAuthorization(header: string | undefined): Credentials {
  if (header === undefined) return { kind: 'none' };
  const trimmed = header.trim();
  if (trimmed === '') return { kind: 'none' };
  const space = trimmed.search(/\s/);
  const scheme = space === -1 ? trimmed : trimmed.slice(0, space);
  const token = space === -1 ? '' : trimmed.slice(space + 1).trim();
  if (scheme.toLowerCase() === 'bearer' && token !== '') return { kind: 'bearer', token };
  return { kind: 'other', scheme };
}

/** The Bearer token of an `Authorization` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const credentials = readAuthorization(header);
  return credentials.kind === 'bearer' ? credentials.token : undefined;
}
