import { describe, expect, it } from 'vitest';
import { requestTarget } from '../../src/engine/request-target.js';

describe('requestTarget', () => {
  it('gives the path and query new URL gives, whether read by hand or by URL', () => {
    const urls = [
      'http://127.0.0.1:3000/v1/events',
      'http://127.0.0.1:3000/ws?token=a.b.c&since=local-x%3A1',
      'http://h/ws?',
      'http://h',
      'http://[::1]:8080/readyz?verbose',
      'http://h/a/../v1/events',
      'http://h/./ws?x=1',
      'http://h/v1/users/a%20b/disconnect',
      'http://h/v1/sessions/s.1/disconnect',
      'http://h/ws?x=1#fragment',
      "http://h/ws?name=it's",
      'http://h/ws?a="b"&c=<d>',
      'http://h/ws?token=eyJhbGciOiJIUzI1NiJ9.e30.sig_-&since=local-AbC%3A12&x=(1)*!$@,;',
    ];
    for (const url of urls) {
      const { pathname, search } = new URL(url);
      expect(requestTarget(url), url).toEqual({ pathname, search });
    }
  });
});
