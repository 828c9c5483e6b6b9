import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The page's three files, built once at start: the app's script bundled with Herald's client SDK by Bun's bundler. */
export interface PageFiles {
  html: string;
  css: string;
  js: string;
}

export async function buildPage(exampleDir: string): Promise<PageFiles> {
  const built = await Bun.build({
    entrypoints: [join(exampleDir, 'page/app.ts')],
    target: 'browser',
    format: 'esm',
    minify: true,
  });
  if (!built.success || !built.outputs[0]) {
    throw new Error(`the page did not build:\n${built.logs.map((entry) => String(entry)).join('\n')}`);
  }
  return {
    html: readFileSync(join(exampleDir, 'page/index.html'), 'utf8'),
    css: readFileSync(join(exampleDir, 'page/style.css'), 'utf8'),
    js: await built.outputs[0].text(),
  };
}

const FILES: Record<string, { key: keyof PageFiles; type: string }> = {
  '/': { key: 'html', type: 'text/html; charset=utf-8' },
  '/app.js': { key: 'js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { key: 'css', type: 'text/css; charset=utf-8' },
};

export function servePage(page: PageFiles, request: Request): Response {
  const { pathname } = new URL(request.url);
  if (pathname === '/favicon.ico') return new Response(null, { status: 204 });
  const file = FILES[pathname];
  if (!file || (request.method !== 'GET' && request.method !== 'HEAD')) {
    return Response.json({ error: 'not_found', message: 'no such page' }, { status: 404 });
  }
  return new Response(page[file.key], {
    headers: {
      'content-type': file.type,
      'cache-control': 'no-cache',
      'content-security-policy': "default-src 'self'; connect-src 'self'; style-src 'self'; script-src 'self'",
      'x-content-type-options': 'nosniff',
    },
  });
}
