// The H5 build in Debian's Chromium (phone viewport, touch) against the real sync server, as a
// field worker uses it: sign in, read, reply; lose the network, reply and resolve, reload the page
// with no network (the app shell comes from the service worker, the data from IndexedDB, the
// commands are still pending), get the network back: the agent's desktop-side client sees every
// reply exactly once. Screenshots of the inbox and a conversation in zh-CN and en.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Message } from '@goutong/core';
import { ServerProcess } from '../../../sync-server/test/support/serverProcess';
import { api, connectAgent, eventually, loginToken } from '../../../sync-server/test/support/agentClient';
import { H5_INDEX } from './globalSetup';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
const DESKTOP_INDEX = fileURLToPath(new URL('../../../desktop/dist/renderer/index.html', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PASSWORD = 'goutong-demo';
/** The demo tenant's canned response `/wait`. */
const CANNED_WAIT = '请稍候，我正在为您查询，马上回复您。';
const LOGO = fileURLToPath(new URL('../../src/static/icons/logo.png', import.meta.url));
const AGENT = 'zhang.san@demo.goutong';
/** The demo conversation assigned to zhang.san. */
const CUSTOMER = 'Maria Garcia';

// Skipped only when asked (GOUTONG_E2E=0); a missing browser is a failure, never a silent skip.
const run = process.env.GOUTONG_E2E !== '0';
if (run && !fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)`);

let server: ServerProcess;
let browser: Browser;
/** Pages of the running test, photographed when it fails. */
let pages: Page[] = [];

async function phone(locale: 'zh-CN' | 'en-US'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale,
    timezoneId: 'Asia/Shanghai',
    serviceWorkers: 'allow',
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`[mobile pageerror] ${e.message}\n`));
  pages.push(page);
  return { context, page };
}

const tap = (page: Page, testId: string) => page.locator(`[data-test="${testId}"]`).first().tap();

async function signIn(page: Page, email: string): Promise<void> {
  await page.goto(`${server.url}/m/`);
  const serverInput = page.locator('[data-test="server"] input');
  await serverInput.waitFor();
  // On H5 the login form offers the page's own origin (the server that serves the app).
  await expect.poll(() => serverInput.inputValue()).toBe(server.url);
  await page.locator('[data-test="email"] input').fill(email);
  await page.locator('[data-test="password"] input').fill(PASSWORD);
  await tap(page, 'submit');
  await page.locator('[data-test="view-mine"]').waitFor({ timeout: 30_000 });
}

/** Waits until the app shell's service worker controls the page and has cached the shell. */
async function shellReady(page: Page): Promise<void> {
  await page.waitForFunction(
    async () => {
      const sw = navigator.serviceWorker;
      if (!sw?.controller) return false;
      const keys = await caches.keys();
      return keys.some((k) => k.startsWith('goutong-m-shell-'));
    },
    undefined,
    { timeout: 30_000, polling: 200 },
  );
}

function messageWith(page: Page, text: string) {
  return page.locator('[data-test="message"]').filter({ hasText: text });
}

async function reply(page: Page, text: string): Promise<void> {
  await page.locator('[data-test="composer"] textarea').fill(text);
  await tap(page, 'send');
  await messageWith(page, text).waitFor();
}

async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

describe.runIf(run)('mobile H5 against the real server (Chromium, phone viewport, touch)', () => {
  beforeAll(async () => {
    if (!fs.existsSync(H5_INDEX)) throw new Error(`${H5_INDEX} is missing: run \`pnpm --filter @goutong/mobile build:h5\``);
    if (fs.existsSync(SCREENSHOTS)) for (const f of fs.readdirSync(SCREENSHOTS)) if (f.startsWith('failed-')) fs.rmSync(path.join(SCREENSHOTS, f));
    server = new ServerProcess({ env: { GOUTONG_DEMO: '1' } });
    await server.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') {
      for (const [i, p] of pages.entries()) if (!p.isClosed()) await screenshot(p, `failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}-${i}`).catch(() => undefined);
    }
    pages = [];
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  it('reads and replies online, replies and resolves offline, survives a reload with no network, and syncs once back online', async () => {
    const desktop = await connectAgent(server.url, AGENT, PASSWORD, 'desktop');
    // The desktop workspace (/app), when it is built: a second browser context with the conversation open.
    const workspace = fs.existsSync(DESKTOP_INDEX) ? await openDesktop() : null;
    try {
      const { context, page } = await phone('zh-CN');
      await signIn(page, AGENT);
      await shellReady(page);

      // Read: my conversation, with the customer's message.
      const row = page.locator('[data-test="conversation-row"]').filter({ hasText: CUSTOMER });
      await row.waitFor();
      await screenshot(page, 'inbox-zh-CN');
      const conversationId = (await row.getAttribute('data-id'))!;
      await row.tap();
      await messageWith(page, 'charged twice').waitFor();

      // Reply online: confirmed by the server (no longer local).
      const online = `在线回复 online reply ${Date.now()}`;
      await reply(page, online);
      await expect.poll(() => messageWith(page, online).getAttribute('data-stage'), { timeout: 20_000 }).toBe('server');

      // The network goes: a reply, a canned response (cached list), a reply with a photo from the
      // gallery (kept in IndexedDB, waiting to upload), and resolve (queued behind the upload).
      await context.setOffline(true);
      await page.locator('[data-test="connectivity"][data-status="offline"]').waitFor();
      const offline = `离线回复 offline reply ${Date.now()}`;
      await reply(page, offline);

      await page.locator('[data-test="composer"] textarea').fill('/wai');
      await page.locator('[data-test="canned-item"]').filter({ hasText: '/wait' }).tap();
      await expect.poll(() => page.locator('[data-test="composer"] textarea').inputValue()).toBe(CANNED_WAIT);
      await tap(page, 'send');
      await messageWith(page, CANNED_WAIT).waitFor();

      const photo = `现场照片 photo from the site ${Date.now()}`;
      const chooser = page.waitForEvent('filechooser');
      await tap(page, 'attach-album');
      await (await chooser).setFiles(LOGO);
      await page.locator('[data-test="picked"]').waitFor();
      await page.locator('[data-test="composer"] textarea').fill(photo);
      await tap(page, 'send');
      await messageWith(page, photo).locator('[data-test="attachment"][data-state="waiting"]').waitFor();

      await tap(page, 'toggle-status');
      await page.locator('[data-test="toggle-status"]').filter({ hasText: '重新打开' }).waitFor();
      const offlineTexts = [offline, CANNED_WAIT, photo];
      for (const text of offlineTexts) expect(await messageWith(page, text).getAttribute('data-stage')).toBe('device');
      // Two commands in core's outbox, the photo reply and the status behind it in the upload queue.
      await expect.poll(() => page.locator('[data-test="connectivity"]').getAttribute('data-pending')).toBe('4');
      await screenshot(page, 'conversation-offline-zh-CN');

      // Reload with no network: the shell comes from the service worker, the rest from IndexedDB.
      await page.reload();
      for (const text of [online, ...offlineTexts]) await messageWith(page, text).waitFor({ timeout: 30_000 });
      for (const text of offlineTexts) expect(await messageWith(page, text).getAttribute('data-stage')).toBe('device');
      await messageWith(page, photo).locator('[data-test="attachment"][data-state="waiting"] img').waitFor();
      await page.locator('[data-test="toggle-status"]').filter({ hasText: '重新打开' }).waitFor();
      await expect.poll(() => page.locator('[data-test="connectivity"]').getAttribute('data-pending')).toBe('4');
      await page.locator('[data-test="connectivity"][data-status="offline"]').waitFor();

      // Back online: the photo uploads, the outbox drains on its own.
      await context.setOffline(false);
      await page.locator('[data-test="connectivity"]').waitFor({ state: 'detached', timeout: 30_000 });
      for (const text of offlineTexts) await expect.poll(() => messageWith(page, text).getAttribute('data-stage'), { timeout: 20_000 }).toBe('server');
      await messageWith(page, photo).locator('[data-test="attachment"][data-state="stored"] img').waitFor({ timeout: 20_000 });
      await screenshot(page, 'conversation-zh-CN');

      // The desktop-side client (core's GoutongClient over real HTTP and WebSocket) sees each reply once.
      const texts = [online, ...offlineTexts];
      const seen = await eventually(async () => {
        await desktop.client.pullNow();
        await desktop.client.loadMessagesFromServer(conversationId, null, 50);
        const ms: Message[] = await desktop.client.messages(conversationId, { limit: 100 });
        return texts.every((t) => ms.some((m) => m.text === t)) ? ms : null;
      }, 'the desktop client to see the replies');
      for (const t of texts) expect(seen.filter((m) => m.text === t && m.kind === 'text' && m.direction === 'out')).toHaveLength(1);
      const withPhoto = seen.find((m) => m.text === photo)!;
      expect(withPhoto.attachments).toHaveLength(1);
      expect(withPhoto.attachments[0]).toMatchObject({ name: 'logo.png', mime: 'image/png', size: fs.statSync(LOGO).size });
      expect((await desktop.client.conversation(conversationId))?.status).toBe('resolved');

      // And the REST API agrees: one message per reply, the conversation resolved.
      const rest = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
      const page1 = await rest('GET', `/api/v1/conversations/${conversationId}/messages?limit=100`);
      expect(page1.status).toBe(200);
      for (const t of texts) expect((page1.body.items as Message[]).filter((m) => m.text === t)).toHaveLength(1);
      // The photo itself is on the server, byte for byte.
      const stored = (page1.body.items as Message[]).find((m) => m.text === photo)!.attachments[0]!;
      const file = await fetch(`${server.url}/api/v1/attachments/${stored.id}`, { headers: { authorization: `Bearer ${await loginToken(server.url, AGENT)}` } });
      expect(Buffer.from(await file.arrayBuffer()).equals(fs.readFileSync(LOGO))).toBe(true);
      expect((await rest('GET', `/api/v1/conversations/${conversationId}`)).body.status).toBe('resolved');

      // The desktop workspace shows each reply once too, and the conversation resolved.
      if (workspace) {
        for (const t of texts) {
          await workspace.page.getByText(t, { exact: true }).first().waitFor({ timeout: 30_000 });
          expect(await workspace.page.getByText(t, { exact: true }).count()).toBe(1);
        }
        await screenshot(workspace.page, 'desktop-sees-mobile-replies');
      }
      await context.close();
    } finally {
      await workspace?.context.close();
      await desktop.client.stop();
    }
  }, 180_000);

  it('shows the inbox and a conversation in English, and a banner for a conversation newly assigned to me', async () => {
    const { context, page } = await phone('en-US');
    await signIn(page, AGENT);
    // The team queue (unassigned): customers writing in Chinese, in the English interface.
    await tap(page, 'view-team');
    const row = page.locator('[data-test="conversation-row"]').filter({ hasText: '赵强' });
    await row.waitFor();
    await screenshot(page, 'inbox-en');

    // A supervisor assigns 王芳's conversation to this agent while the app runs: without the
    // browser's notification permission, the app shows its own banner; tapping it opens the conversation.
    const wang = (await page.locator('[data-test="conversation-row"]').filter({ hasText: '王芳' }).getAttribute('data-id'))!;
    const me = (await api(server.url, await loginToken(server.url, AGENT))('GET', '/api/v1/me')).body.agent.id as string;
    const admin = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
    expect((await admin('PATCH', `/api/v1/conversations/${wang}`, { assigneeId: me })).status).toBe(200);
    const banner = page.locator('[data-test="notice-banner"]').filter({ hasText: 'Assigned to you: 王芳' });
    await banner.waitFor({ timeout: 20_000 });
    await screenshot(page, 'notice-en');
    await banner.tap();
    await messageWith(page, '订单').waitFor();
    await page.goBack();

    await tap(page, 'view-team');
    await row.tap();
    await messageWith(page, 'E12').waitFor();
    await page.locator('[data-test="toggle-status"]').waitFor();
    await screenshot(page, 'conversation-en');
    await context.close();
  }, 90_000);
});

/**
 * The agent's desktop workspace (packages/desktop, served at /app) in a second browser context at
 * a desktop size, signed in as the same agent with the conversation open (the selectors are the
 * ones the desktop's own e2e helpers use).
 */
async function openDesktop(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  pages.push(page);
  page.on('pageerror', (e) => process.stderr.write(`[desktop pageerror] ${e.message}\n`));
  await page.goto(`${server.url}/app/`);
  await page.getByLabel('Email').fill(AGENT);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('listbox', { name: /Conversations|会话列表/ }).getByRole('option', { name: new RegExp(CUSTOMER) }).click({ timeout: 30_000 });
  await page.getByRole('heading', { name: CUSTOMER, level: 2 }).waitFor();
  return { context, page };
}
