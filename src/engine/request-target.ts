/** Plain paths (letters, digits, `/ _ - :`; no dot segment, no escape) need no normalising. */
const PLAIN_PATH = /^[A-Za-z0-9/_:-]*$/;
/** Query characters `URL` leaves as they are (it escapes quotes, spaces, `<`, `>` and the like). */
const PLAIN_QUERY = /^[\w.~:%&=+/,;!$*()@?-]*$/;

/**
 * The path and query of a request's absolute URL (Bun's `req.url`), as `new URL` gives them;
 * parsing a URL per request cost the 1-target publish path a few per cent, so plain paths are
 * read by hand and anything else goes to `URL`.
 */
export function requestTarget(absolute: string): { pathname: string; search: string } {
  const start = absolute.indexOf('/', absolute.indexOf('//') + 2);
  if (start !== -1 && absolute.indexOf('#', start) === -1) {
    const query = absolute.indexOf('?', start);
    const pathname = query === -1 ? absolute.slice(start) : absolute.slice(start, query);
    const search = query === -1 || query === absolute.length - 1 ? '' : absolute.slice(query);
    if (PLAIN_PATH.test(pathname) && PLAIN_QUERY.test(search)) return { pathname, search };
  }
  const url = new URL(absolute);
  return { pathname: url.pathname, search: url.search };
}
