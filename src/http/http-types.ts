/** A runtime-neutral HTTP request, built by each engine from its native request. */
export interface HttpRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  header(name: string): string | undefined;
  /** The body, at most ListenOptions.maxBodyBytes; rejects with PayloadTooLargeError past it. */
  body(): Promise<Uint8Array>;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export function json(status: number, value: unknown, headers?: Record<string, string>): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

export function jsonError(status: number, error: string, message: string): HttpResponse {
  return json(status, { error, message });
}
