import type { BrowserContext, Page } from 'playwright-core';

/** A browser context playing one device, and what its page reported on the console. */
export interface Device {
  name: string;
  context: BrowserContext;
  page: Page;
  /** Events the page's Herald client handed to the app, in order. */
  events: { id: string; type: string; seq?: number }[];
  gaps: { reason: string }[];
  reloads: number;
  /** Herald tokens the page fetched, latest last. */
  tokens: string[];
  /** Connection states the pill showed. */
  pill: string[];
  problems: string[];
}

export async function openDevice(name: string, context: BrowserContext, url: string): Promise<Device> {
  const page = await context.newPage();
  const device: Device = { name, context, page, events: [], gaps: [], reloads: 0, tokens: [], pill: [], problems: [] };
  page.on('console', (message) => {
    const text = message.text();
    if (text.startsWith('shared-lists event ')) device.events.push(JSON.parse(text.slice('shared-lists event '.length)));
    else if (text.startsWith('shared-lists gap ')) device.gaps.push(JSON.parse(text.slice('shared-lists gap '.length)));
    else if (text.startsWith('shared-lists reloaded')) device.reloads++;
    else if (message.type() === 'error' && !/ERR_INTERNET_DISCONNECTED|Failed to load resource|WebSocket connection to/.test(text)) {
      device.problems.push(text);
    }
  });
  page.on('pageerror', (error) => device.problems.push(error.message));
  page.on('response', async (response) => {
    if (!response.url().endsWith('/api/herald-token') || !response.ok()) return;
    const body = (await response.json().catch(() => undefined)) as { token?: string } | undefined;
    if (body?.token) device.tokens.push(body.token);
  });
  await page.exposeFunction('__pill', (text: string) => device.pill.push(text));
  await page.addInitScript(() => {
    // Records every text the connection pill shows, for the test to read afterwards.
    const watch = () => {
      const pill = document.getElementById('connection');
      if (!pill) return;
      new MutationObserver(() => (window as unknown as { __pill(text: string): void }).__pill(pill.textContent ?? '')).observe(pill, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    };
    document.addEventListener('DOMContentLoaded', watch);
  });
  await page.goto(url);
  return device;
}

/** The items a page shows, in order: text and check. */
export function shownItems(page: Page): Promise<{ text: string; checked: boolean }[]> {
  return page.$$eval('#items li[data-item-id]', (rows) =>
    rows.map((row) => ({
      text: row.querySelector('.text')?.textContent ?? '',
      checked: (row.querySelector('input[type=checkbox]') as HTMLInputElement | null)?.checked ?? false,
    })),
  );
}

/** The items the API has for the list the page shows, in order, fetched by the page with its own session. */
export async function apiItems(page: Page, listId: string): Promise<{ text: string; checked: boolean }[]> {
  return page.evaluate(async (id) => {
    const response = await fetch(`/api/lists/${id}`);
    const detail = (await response.json()) as { items: { text: string; checked: boolean }[] };
    return detail.items.map((item) => ({ text: item.text, checked: item.checked }));
  }, listId);
}

/** Polls until `check` resolves true; fails naming what it waited for and the last value seen. */
export async function eventually<T>(what: string, probe: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (check(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
