import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, publish } from '../e2e/harness/client.js';
import { killAllPods, metricValue, startPod, type Pod } from '../e2e/harness/pod.js';
import { mintToken } from '../e2e/harness/tokens.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Debian's chromium; never a downloaded browser. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/** The ```html block of the README's "Browser client" section: the page under test is the documented example. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Browser client'));
  const match = /```html\n([\s\S]*?)\n```/.exec(section);
  if (readme.indexOf('## Browser client') < 0 || !match) throw new Error('README.md has no "## Browser client" html example');
  return match[1]!;
}

/** The SDK bundled for browsers, the way `npm run build:client` does it. */
function bundleSdk(outDir: string): string {
  const outfile = join(outDir, 'herald-client.js');
  const built = spawnSync(
    join(ROOT, 'node_modules/.bin/bun'),
    ['build', join(ROOT, 'src/client/index.ts'), '--target', 'browser', '--format', 'esm', '--minify', '--outfile', outfile],
    { encoding: 'utf8' },
  );
  if (built.status !== 0) throw new Error(`bun build failed: ${built.stderr}`);
  return readFileSync(outfile, 'utf8');
}

interface AppServer {
  server: Server;
  url: string;
}

/**
 * The app: serves the page, the SDK bundle and `/token` for one user, and passes `/ws` through
 * to the gateway port like a reverse proxy on the page's origin.
 */
async function startApp(page: string, bundle: string, gatewayPort: number, user: { userId: string; sessionId: string }): Promise<AppServer> {
  const server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>herald</title>\n${page}\n`);
    } else if (req.url === '/herald-client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else if (req.url === '/token') {
      mintToken({ sub: user.userId, sid: user.sessionId }).then((token) => res.writeHead(200, { 'content-type': 'text/plain' }).end(token));
    } else {
      res.writeHead(404).end();
    }
  });
  server.on('upgrade', (req, socket, head) => {
    const upstream = tcpConnect({ host: '127.0.0.1', port: gatewayPort });
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.on('error', close).on('close', close);
    socket.on('error', close).on('close', close);
    upstream.on('connect', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}/` };
}

interface Seen {
  states: { status: string; code?: number; reason?: string; userId?: string }[];
  items: unknown[];
  gaps: { reason: string }[];
  pageErrors: string[];
}

async function waitFor<T>(probe: () => T | undefined | false, what: string, seen: Seen, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the page saw ${JSON.stringify(seen)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('the SDK in headless Chromium', () => {
  let context: BrowserContext;
  let userDataDir: string;
  let buildDir: string;
  let app: AppServer | undefined;

  beforeAll(async () => {
    userDataDir = mkdtempSync(join(tmpdir(), 'herald-chromium-profile-'));
    buildDir = mkdtempSync(join(tmpdir(), 'herald-client-bundle-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  });

  afterAll(async () => {
    await context?.close();
    await new Promise((resolve) => (app ? app.server.close(resolve) : resolve(undefined)));
    await killAllPods();
    rmSync(userDataDir, { recursive: true, force: true });
    rmSync(buildDir, { recursive: true, force: true });
  });

  it('bundles the SDK without typebox: only types come from the protocol schemas', () => {
    const bundle = bundleSdk(buildDir);
    expect(bundle).toContain('herald.ping');
    expect(bundle).not.toMatch(/sinclair|typebox|TypeCompiler/i);
    expect(bundle).not.toMatch(/from\s*["'](node:|ws["'])/);
  });

  it('the README page receives events, reconnects after its pod restarts on the same port, and stops on 4003', { timeout: 90_000 }, async () => {
    const user = { userId: `browser-${Date.now().toString(36)}`, sessionId: `s-browser-${Date.now().toString(36)}` };
    const first: Pod = await startPod({ env: { HERALD_DRAIN_TIMEOUT_MS: '2000' } });
    app = await startApp(readmeExample(), bundleSdk(buildDir), first.port, user);

    const page: Page = await context.newPage();
    const seen: Seen = { states: [], items: [], gaps: [], pageErrors: [] };
    page.on('pageerror', (error) => seen.pageErrors.push(error.message));
    page.on('console', (message) => {
      const text = message.text();
      if (text.startsWith('herald ')) seen.states.push(JSON.parse(text.slice('herald '.length)));
      else if (text.startsWith('item created ')) seen.items.push(JSON.parse(text.slice('item created '.length)));
      else if (text.startsWith('gap: reload the items ')) seen.gaps.push(JSON.parse(text.slice('gap: reload the items '.length)));
      // Chromium logs its own "WebSocket connection failed" while the pod is down: expected. The SDK's reports are not.
      else if (text.startsWith('herald client:')) seen.pageErrors.push(text);
    });
    const opens = () => seen.states.filter((s) => s.status === 'open').length;
    await page.goto(app.url);

    await waitFor(() => opens() === 1, 'the first open', seen);
    expect(seen.states.find((s) => s.status === 'open')).toMatchObject({ userId: user.userId });
    expect((await publish(first.http, { type: 'ITEM_CREATED', content: { item: { id: 1 } }, targetUsers: [user.userId] })).status).toBe(202);
    await waitFor(() => seen.items.length === 1, 'the first event', seen);
    expect(seen.items).toEqual([{ item: { id: 1 } }]);

    // The pod restarts: SIGTERM drains it (herald.reconnect), then a new process takes the same port.
    expect(await first.stop()).toEqual({ code: 0, signal: null });
    expect(first.logs.find((l) => l.msg === 'drain finished')).toMatchObject({ closedWith1012: 0 });
    const second = await startPod({ env: { HERALD_PORT: String(first.port) } });
    expect(second.port).toBe(first.port);
    await waitFor(() => opens() === 2, 'the reconnect to the restarted pod', seen, 40_000);
    expect(seen.states.some((s) => s.status === 'reconnecting' && s.code === 4000)).toBe(true);
    expect((await publish(second.http, { type: 'ITEM_CREATED', content: { item: { id: 2 } }, targetUsers: [user.userId] })).status).toBe(202);
    await waitFor(() => seen.items.length === 2, 'the event after the restart', seen);
    expect(seen.items).toEqual([{ item: { id: 1 } }, { item: { id: 2 } }]);
    // A restarted single pod keeps its log in memory: the resume lands in a new epoch, and the page is told.
    expect(seen.gaps).toMatchObject([{ reason: 'new_epoch' }]);

    // Every session of the user invalidated: the page stops and does not come back.
    expect((await post(second.http, `/v1/users/${user.userId}/disconnect`)).status).toBe(202);
    const closed = await waitFor(() => seen.states.find((s) => s.status === 'closed'), 'the 4003 close', seen);
    expect(closed).toMatchObject({ status: 'closed', code: 4003, by: 'server' });
    const statesAtClose = seen.states.length;
    // Longer than the first backoff steps of a client that wrongly kept reconnecting.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(seen.states.slice(statesAtClose)).toEqual([]);
    expect(await metricValue(second, 'herald_connections')).toBe(0);
    expect(seen.pageErrors).toEqual([]);
    await page.close();
  });
});
