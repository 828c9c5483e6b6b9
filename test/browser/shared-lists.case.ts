import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusedUpgrade } from '../e2e/harness/client.js';
import { startNatsServer, stopAllNatsServers, type NatsServer } from '../e2e/harness/nats-server.js';
import { killAllPods, metricValue, type Pod } from '../e2e/harness/pod.js';
import { TcpProxy } from '../e2e/harness/tcp-proxy.js';
import { runSql, startDemoPod, TEST_DATABASE_URL, type Storage } from '../e2e/harness/shared-lists-pod.js';
import { apiItems, eventually, openDevice, shownItems, type Device } from './harness/shared-lists.js';
import { saveScreenshot } from './harness/png.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Debian's chromium; never a downloaded browser. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const ALICE = { name: 'alice', password: 'alice-first-password', newPassword: 'alice-second-password' };
const BOB = { name: 'bob', password: 'bob-password-1' };
const LIST = 'Groceries';

/**
 * The demo of docs/demo.md, for real: two pods on NATS (a nats-server of its own), one database,
 * three Chromium contexts — alice's phone, alice's laptop, bob — and the six steps of the issue.
 * Each step saves a screenshot of the three screens side by side.
 */
export function runSharedListsSuite(storage: Storage): void {
  describe(`the shared-lists demo on ${storage === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, two pods on NATS, in Chromium`, { timeout: 60_000 }, () => {
    // The SQLite run draws docs/demo/; the PostgreSQL run, the same steps, saves the CPU.
    const screenshots = storage === 'sqlite' ? join(ROOT, 'docs/demo') : undefined;
    const schema = `shared_lists_${process.pid}_${Date.now().toString(36)}`;
    let dataDir: string;
    let nats: NatsServer;
    let podEnv: Record<string, string>;
    let podA: Pod;
    let podB: Pod;
    /** Started ahead, while a step waits on the browser: the replacement of A, and a pod on a new log. */
    let podC: Promise<Pod>;
    let podE: Promise<Pod>;
    /** The load balancers in front of the pods: the phone's goes to A (later C), the laptop's to B. */
    let phoneLb: TcpProxy;
    let laptopLb: TcpProxy;
    let browser: Browser;
    let phone: Device;
    let laptop: Device;
    let bob: Device;
    let composer: Page | undefined;
    let listId: string;
    /** Where each device's requests go, for the screenshots' captions. */
    const via = { phone: 'pod A', laptop: 'pod B' };

    async function snapshot(file: string, title: string): Promise<void> {
      if (!screenshots || !composer) return;
      const shots = await Promise.all(
        [phone, laptop, bob].map(async ({ page }) => {
          // No focus ring or caret: they are drawn a little differently each time.
          await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
          return page.screenshot({ animations: 'disabled', caret: 'hide' });
        }),
      );
      // At their own size: a scaled image is not drawn the same way twice, and the file would change on every run.
      const img = (png: Buffer) => `<img src="data:image/png;base64,${png.toString('base64')}">`;
      await composer.setContent(`<!doctype html><meta charset="utf-8">
        <style>
          body { margin: 0; padding: 16px; font: 14px system-ui, sans-serif; background: #dfe3ea; color: #1d2330; }
          h1 { font-size: 16px; margin: 0 0 12px; }
          .row { display: flex; gap: 16px; align-items: flex-start; }
          figure { margin: 0; } figcaption { margin-bottom: 6px; font-weight: 600; }
          img { display: block; border: 1px solid #b9c0cc; border-radius: 6px; background: #fff; }
        </style>
        <h1>${title}</h1>
        <div class="row">
          <figure><figcaption>alice — phone (${via.phone})</figcaption>${img(shots[0]!)}</figure>
          <figure><figcaption>alice — laptop (${via.laptop})</figcaption>${img(shots[1]!)}</figure>
          <figure><figcaption>bob (pod B)</figcaption>${img(shots[2]!)}</figure>
        </div>`);
      saveScreenshot(join(screenshots, file), await composer.screenshot({ fullPage: true }));
    }

    async function signIn(device: Device, user: { name: string; password: string }, action: 'Sign in' | 'Create account'): Promise<void> {
      const { page } = device;
      await page.locator('#auth-form input[name=name]').fill(user.name);
      await page.locator('#auth-form input[name=password]').fill(user.password);
      await page.getByRole('button', { name: action, exact: true }).click();
      await page.locator('#workspace').waitFor();
      await page.locator('#connection').filter({ hasText: /^connected$/ }).waitFor();
    }

    async function openList(device: Device): Promise<void> {
      await device.page.locator('#lists a', { hasText: LIST }).click();
      await device.page.locator('#list-title').filter({ hasText: LIST }).waitFor();
    }

    const item = (device: Device, text: string) => device.page.getByRole('checkbox', { name: text, exact: true });

    async function addItem(device: Device, text: string): Promise<void> {
      const input = device.page.locator('#new-item input[name=text]');
      await input.fill(text);
      await input.press('Enter');
      await item(device, text).waitFor();
    }

    async function share(device: Device, name: string, role: 'editor' | 'viewer'): Promise<void> {
      const { page } = device;
      await page.locator('#share-form input[name=name]').fill(name);
      await page.locator('#share-form select[name=role]').selectOption(role);
      await page.getByRole('button', { name: 'Share', exact: true }).click();
      await page.locator('#members li', { hasText: name }).filter({ hasText: role }).waitFor();
    }

    /** Every text once, in the page's DOM and in the events its client handed over. */
    function expectNoneTwice(device: Device, texts: string[]): Promise<void> {
      const ids = device.events.map((e) => e.id);
      expect(new Set(ids).size, `${device.name} got an event twice`).toBe(ids.length);
      return Promise.all(texts.map(async (text) => expect(await item(device, text).count(), `${device.name}: "${text}"`).toBe(1))).then(() => {});
    }

    beforeAll(async () => {
      if (screenshots) mkdirSync(screenshots, { recursive: true });
      dataDir = mkdtempSync(join(tmpdir(), 'shared-lists-'));
      if (storage === 'postgres') runSql(TEST_DATABASE_URL, `CREATE SCHEMA ${schema}`);
      // The browser starts while the pods do.
      const launched = chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      launched.catch(() => {}); // awaited below
      nats = await startNatsServer();
      podEnv = {
        DATA_DIR: dataDir,
        HERALD_BUS: 'nats',
        HERALD_NATS_URL: nats.url,
        HERALD_DRAIN_TIMEOUT_MS: '3000',
        ...(storage === 'postgres' ? { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema } : {}),
      };
      // Both at once: the first start races on the migrations and on making the signing key.
      [podA, podB] = await Promise.all([startDemoPod(podEnv), startDemoPod(podEnv)]);
      [phoneLb, laptopLb] = await Promise.all([TcpProxy.start(podA.port), TcpProxy.start(podB.port)]);
      browser = await launched;
      const [phoneContext, laptopContext, bobContext] = await Promise.all([
        browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true }),
        browser.newContext({ viewport: { width: 760, height: 600 } }),
        browser.newContext({ viewport: { width: 760, height: 600 } }),
      ]);
      // Where the three screens are put side by side for each step's screenshot.
      if (screenshots) composer = await (await browser.newContext({ viewport: { width: 1960, height: 800 } })).newPage();
      [phone, laptop, bob] = await Promise.all([
        openDevice('phone', phoneContext!, `http://127.0.0.1:${phoneLb.port}/`),
        openDevice('laptop', laptopContext!, `http://127.0.0.1:${laptopLb.port}/`),
        openDevice('bob', bobContext!, `http://127.0.0.1:${podB.port}/`),
      ]);

      // Accounts: alice signs up on her phone and signs in on her laptop; bob signs up.
      await signIn(phone, ALICE, 'Create account');
      await Promise.all([signIn(laptop, ALICE, 'Sign in'), signIn(bob, BOB, 'Create account')]);
      const newList = phone.page.locator('#new-list input[name=name]');
      await newList.fill(LIST);
      await newList.press('Enter');
      await phone.page.locator('#list-title').filter({ hasText: LIST }).waitFor();
      listId = (await phone.page.locator('#lists a', { hasText: LIST }).getAttribute('data-list-id'))!;
      // The laptop learns of the new list from Herald (LIST_CREATED), without a reload.
      await openList(laptop);
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await Promise.all([phoneLb?.close(), laptopLb?.close()]);
      await killAllPods();
      await stopAllNatsServers();
      if (storage === 'postgres') runSql(TEST_DATABASE_URL, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('1. alice adds an item on her phone; her laptop shows it within 1 s; the phone shows it once', async () => {
      const input = phone.page.locator('#new-item input[name=text]');
      await input.fill('Milk');
      const started = Date.now();
      await input.press('Enter');
      await item(laptop, 'Milk').waitFor({ timeout: 1_000 });
      const elapsedMs = Date.now() - started;
      await item(phone, 'Milk').waitFor();
      expect(elapsedMs).toBeLessThan(1_000);
      // The phone has the API's answer; Herald left its own session out (inclusive: false).
      await addItem(laptop, 'Bread');
      await item(phone, 'Bread').waitFor({ timeout: 1_000 });
      await expectNoneTwice(phone, ['Milk', 'Bread']);
      await expectNoneTwice(laptop, ['Milk', 'Bread']);
      expect(phone.events.filter((e) => e.type === 'ITEM_CREATED')).toHaveLength(1); // Bread, from the laptop
      expect(laptop.events.filter((e) => e.type === 'ITEM_CREATED')).toHaveLength(1); // Milk, from the phone
      console.info(`[${storage}] step 1: the laptop showed the phone's item ${elapsedMs} ms after the phone's click`);
      await snapshot('1-phone-adds-laptop-shows.png', "1 · alice adds “Milk” on her phone: her laptop (on another pod) shows it within a second");
    });

    it('2. alice shares the list with bob as editor; it appears on his page; bob checks an item; both of alice\'s devices show it', async () => {
      await share(laptop, BOB.name, 'editor');
      await bob.page.locator('#lists a', { hasText: LIST }).waitFor({ timeout: 2_000 });
      await expect(bob.page.locator('#lists li', { hasText: LIST }).textContent()).resolves.toContain('editor · alice');
      await openList(bob);
      await item(bob, 'Milk').check();
      for (const device of [phone, laptop]) await expect.poll(() => item(device, 'Milk').isChecked(), { timeout: 2_000 }).toBe(true);
      // alice's other device follows the sharing too.
      await phone.page.locator('#members li', { hasText: BOB.name }).waitFor({ timeout: 2_000 });
      await snapshot('2-shared-with-bob.png', '2 · alice shares “Groceries” with bob as editor; bob checks “Milk”: both of alice’s devices show it');
    });

    it('3. bob, made a viewer, cannot edit: the API answers 403 and the page says why', async () => {
      await share(laptop, BOB.name, 'viewer');
      await expect.poll(() => bob.page.locator('#list-role').textContent(), { timeout: 2_000 }).toBe('viewer · shared by alice');
      await expect(bob.page.locator('#list-note').textContent()).resolves.toContain('only its owner and editors can change it');
      const answer = bob.page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/items/'));
      await item(bob, 'Milk').click();
      expect((await answer).status()).toBe(403);
      await expect
        .poll(() => bob.page.locator('#error').textContent())
        .toBe('You are a viewer of "Groceries": only its owner and editors can change it.');
      // The page does not pretend: the item stays checked, here and on alice's devices.
      expect(await item(bob, 'Milk').isChecked()).toBe(true);
      const added = bob.page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/items'));
      await bob.page.locator('#new-item input[name=text]').fill('Chocolate');
      await bob.page.locator('#new-item input[name=text]').press('Enter');
      expect((await added).status()).toBe(403);
      expect(await item(laptop, 'Chocolate').count()).toBe(0);
      await snapshot('3-bob-viewer-403.png', '3 · bob, now a viewer, tries to uncheck “Milk”: the API answers 403 and his page says why');
    });

    it('4. alice resets her password on her laptop: phone and laptop are signed out everywhere; the old token\'s upgrade gets 401', async () => {
      podC = startDemoPod(podEnv);
      podC.catch(() => {}); // awaited, and reported, in step 5
      const oldToken = phone.tokens.at(-1)!;
      expect(oldToken).toBeDefined();
      await laptop.page.getByRole('button', { name: 'Reset password' }).click();
      await laptop.page.locator('#password-form input[name=currentPassword]').fill(ALICE.password);
      await laptop.page.locator('#password-form input[name=newPassword]').fill(ALICE.newPassword);
      await laptop.page.locator('#password-form').getByRole('button', { name: 'Reset password' }).click();
      for (const device of [phone, laptop]) {
        await device.page.locator('#sign-in').waitFor({ timeout: 3_000 });
        await expect.poll(() => device.page.locator('#sign-in-notice').textContent()).toMatch(/signed out everywhere/i);
        expect(await device.page.locator('#connection').textContent()).toBe('signed out everywhere');
      }
      // The phone heard it from Herald (4003), not from an answer of its own.
      expect(await phone.page.locator('#sign-in-notice').textContent()).toBe('Signed out everywhere: the password of this account was reset.');
      // Replaying the old token's upgrade, on either pod: 401. The old cookie: 401 as well.
      for (const pod of [podA, podB]) {
        const refused = await refusedUpgrade(`ws://127.0.0.1:${pod.port}/ws`, oldToken);
        expect(refused.status).toBe(401);
      }
      expect(await phone.page.evaluate(() => fetch('/api/me').then((r) => r.status))).toBe(401);
      // bob is not alice: his socket stays open.
      expect(await bob.page.locator('#connection').textContent()).toBe('connected');
      await snapshot('4-password-reset.png', '4 · alice resets her password on her laptop: both of her devices are signed out everywhere; bob stays connected');

      // alice signs in again on both devices with the new password.
      await Promise.all([signIn(phone, { name: ALICE.name, password: ALICE.newPassword }, 'Sign in'), signIn(laptop, { name: ALICE.name, password: ALICE.newPassword }, 'Sign in')]);
      await Promise.all([openList(phone), openList(laptop)]);
    });

    it('5. while bob keeps editing, the pod of alice\'s phone drains (SIGTERM) and is replaced: the phone shows each of bob\'s changes once', async () => {
      await share(laptop, BOB.name, 'editor');
      await expect.poll(() => bob.page.locator('#list-role').textContent(), { timeout: 2_000 }).toBe('editor · shared by alice');
      await phone.page.locator('#members li', { hasText: BOB.name }).filter({ hasText: 'editor' }).waitFor({ timeout: 2_000 });
      const eventsBefore = phone.events.length;
      const gapsBefore = phone.gaps.length;
      // The replacement is up; the load balancer sends new connections to it from now on, as when A stops being ready.
      const replacement = await podC;
      phoneLb.target = replacement.port;
      via.phone = 'pod A, then C';

      const texts = Array.from({ length: 8 }, (_, i) => `Bob's item ${i + 1}`);
      const editing = (async () => {
        for (const [i, text] of texts.entries()) {
          await addItem(bob, text);
          if (i % 2 === 1) await item(bob, texts[i - 1]!).check();
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 400));
      const drained = podA.stop();
      await editing;
      expect(await drained).toEqual({ code: 0, signal: null });
      expect(podA.logs.find((l) => l.msg === 'drain finished')).toMatchObject({ closedWith1012: 0 });

      await eventually('the phone to show every change of bob', () => shownItems(phone.page), (shown) =>
        texts.every((text, i) => shown.some((s) => s.text === text && s.checked === (i % 2 === 0))),
        15_000,
      );
      expect(await shownItems(phone.page)).toEqual(await apiItems(phone.page, listId));
      await expectNoneTwice(phone, texts);
      // It left A when asked, resumed on C with what it missed, and needed no reload.
      expect(phone.pill).toContain('reconnecting…');
      expect(phone.gaps.slice(gapsBefore)).toEqual([]);
      expect(phone.events.length - eventsBefore).toBe(texts.length + texts.length / 2);
      expect(await metricValue(replacement, 'herald_connections')).toBe(1);
      await snapshot('5-rolling-restart.png', '5 · while bob edits, the phone’s pod A drains and C replaces it: the phone resumes on C with every change, none twice');
    });

    it('6. alice\'s laptop goes offline for 5 s while bob edits, then comes back: it shows what the API has', async () => {
      const gapsBefore = laptop.gaps.length;
      const reloadsBefore = laptop.reloads;
      const eventsBefore = laptop.events.length;
      // For step 7: a pod of a cluster whose log is another one (the stream was recreated: a new epoch).
      podE = startDemoPod({ ...podEnv, HERALD_NATS_STREAM: 'SHARED_LISTS_NEW', HERALD_NATS_SUBJECT: 'shared-lists.new' });
      podE.catch(() => {}); // awaited, and reported, in step 7
      await laptop.context.setOffline(true);
      const offlineAt = Date.now();
      await addItem(bob, 'Eggs');
      await addItem(bob, 'Butter');
      await item(bob, 'Bread').check();
      await bob.page.locator('#items li', { hasText: 'Milk' }).getByRole('button', { name: 'Delete' }).click();
      await item(bob, 'Milk').waitFor({ state: 'detached' });
      await bob.page.locator('#items li', { hasText: 'Butter' }).getByRole('button', { name: 'Edit' }).click();
      const rename = bob.page.locator('#items input[name=text]');
      await rename.fill('Salted butter');
      await rename.press('Enter');
      await item(bob, 'Salted butter').waitFor();
      await expect.poll(() => laptop.page.locator('#connection').textContent()).toBe('offline, reconnecting…');
      await snapshot('6a-laptop-offline.png', '6 · alice’s laptop is offline while bob edits');
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 5_000 - (Date.now() - offlineAt))));
      await laptop.context.setOffline(false);

      const expected = await apiItems(bob.page, listId);
      await eventually('the laptop to show what the API has', () => shownItems(laptop.page), (shown) => JSON.stringify(shown) === JSON.stringify(expected), 20_000);
      await expect.poll(() => laptop.page.locator('#connection').textContent()).toBe('connected');
      expect(await apiItems(laptop.page, listId)).toEqual(expected);
      const gaps = laptop.gaps.slice(gapsBefore);
      if (gaps.length === 0) {
        // Every change arrived as an event (the same socket, or a resume), each once.
        expect(laptop.events.length - eventsBefore).toBe(5);
        await expectNoneTwice(laptop, ['Eggs', 'Salted butter', 'Bread']);
      } else {
        expect(laptop.reloads).toBeGreaterThan(reloadsBefore);
      }
      console.info(
        `[${storage}] step 6: back online, the laptop got ${laptop.events.length - eventsBefore} events and ${gaps.length} gaps (${laptop.reloads - reloadsBefore} reloads)`,
      );
      await snapshot('6b-laptop-back-online.png', '6 · back online, the laptop shows every change of bob, the same as the API');
    });

    it('7. when the events it missed cannot be had (another event log: a new NATS stream), the laptop is told of the gap and reloads the list from the API', async () => {
      const reloadsBefore = laptop.reloads;
      const newLog = await podE;
      laptopLb.freeze('open');
      await addItem(bob, 'Apples');
      laptopLb.target = newLog.port;
      via.laptop = 'pod E, on the new log';
      laptopLb.reset();
      await eventually('the gap', async () => laptop.gaps.length, (n) => n > 0, 15_000);
      expect(laptop.gaps.at(-1)).toMatchObject({ reason: 'new_epoch' });
      const expected = await apiItems(bob.page, listId);
      await eventually('the laptop to reload what the API has', () => shownItems(laptop.page), (shown) => JSON.stringify(shown) === JSON.stringify(expected), 10_000);
      expect(laptop.reloads).toBeGreaterThan(reloadsBefore);
      await expect.poll(() => laptop.page.locator('#connection').textContent()).toBe('connected');
      await snapshot('7-gap-reload.png', '7 · the laptop comes back to a cluster with another event log: told of the gap, it reloads the list from the API');
      for (const device of [phone, laptop, bob]) expect(device.problems, device.name).toEqual([]);
    });
  });
}
