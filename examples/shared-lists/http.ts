import type { ApiError } from './events.js';

/** A failure the API answers with its status and a JSON error body. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toResponse(): Response {
    const body: ApiError = { error: this.code, message: this.message };
    return Response.json(body, { status: this.status, headers: this.headers });
  }
}

export const badInput = (message: string) => new HttpError(400, 'invalid_input', message);

const MAX_BODY_BYTES = 16 * 1024;

/** The request's JSON object body: 415 when it is not JSON, 413 past 16 KiB, 400 when it does not parse or is not an object. */
export async function jsonBody(request: Request): Promise<Record<string, unknown>> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json');
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'body_too_large', `the body is over ${MAX_BODY_BYTES} bytes`);
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) throw new HttpError(413, 'body_too_large', `the body is over ${MAX_BODY_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badInput('the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badInput('the body must be a JSON object');
  return value as Record<string, unknown>;
}

/** A trimmed string field of 1–`max` characters, without control characters. */
export function textField(body: Record<string, unknown>, name: string, max: number): string {
  const value = body[name];
  if (typeof value !== 'string') throw badInput(`${name} must be a string`);
  const trimmed = value.trim();
  if (trimmed.length === 0) throw badInput(`${name} must not be empty`);
  if (trimmed.length > max) throw badInput(`${name} must be at most ${max} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw badInput(`${name} must not contain control characters`);
  return trimmed;
}

export function optionalTextField(body: Record<string, unknown>, name: string, max: number): string | undefined {
  return body[name] === undefined ? undefined : textField(body, name, max);
}

export function optionalBooleanField(body: Record<string, unknown>, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw badInput(`${name} must be true or false`);
  return value;
}

/** Matches `/api/lists/:listId` style patterns; the params come back decoded. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(':')) {
      if (g === '') return undefined;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return undefined;
      }
    } else if (w !== g) {
      return undefined;
    }
  }
  return params;
}
