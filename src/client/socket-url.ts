import { UsageError } from './errors.js';

/**
 * The socket URL with the token in `access_token` (browsers cannot set an Authorization header
 * on a WebSocket) and, on a resume, the log position in `since` (`<epoch>:<seq>`). A relative
 * URL ("/ws") resolves against `base` (the page's location), and http(s) becomes ws(s).
 */
export function socketUrl(url: string, token: string, base?: string, since?: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url, base);
  } catch (error) {
    throw new UsageError(`not a WebSocket URL: ${url}`, { cause: error });
  }
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  else if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new UsageError(`not a WebSocket URL: ${url}`);
  parsed.searchParams.set('access_token', token);
  if (since !== undefined) parsed.searchParams.set('since', since);
  return parsed.toString();
}
