// The H5 build in Debian's Chromium (phone viewport, touch) against the real sync server, as a
// field worker uses it: sign in, read, reply; lose the network, reply and resolve, reload the page
// with no network (the app shell comes from the service worker, the data from IndexedDB, the
// commands are still pending), get the network back: the agent's desktop-side client sees every
// reply exactly once. Screenshots of the inbox and a conversation in zh-CN and en.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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

async function phone(locale: 'zh-CN' | 'en-US', colorScheme: 'light' | 'dark' = 'light'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    colorScheme,
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
      // Unique texts without long digit runs: the server masks those as phone numbers for agents without pii.view.
      const online = `在线回复 online reply ${Date.now().toString(36)}`;
      await reply(page, online);
      await expect.poll(() => messageWith(page, online).getAttribute('data-stage'), { timeout: 20_000 }).toBe('server');

      // The network goes: a reply, a canned response (cached list), a reply with a photo from the
      // gallery (kept in IndexedDB, waiting to upload), and resolve (queued behind the upload).
      await context.setOffline(true);
      await page.locator('[data-test="connectivity"][data-status="offline"]').waitFor();
      const offline = `离线回复 offline reply ${Date.now().toString(36)}`;
      await reply(page, offline);

      await page.locator('[data-test="composer"] textarea').fill('/wai');
      await page.locator('[data-test="canned-item"]').filter({ hasText: '/wait' }).tap();
      await expect.poll(() => page.locator('[data-test="composer"] textarea').inputValue()).toBe(CANNED_WAIT);
      await tap(page, 'send');
      await messageWith(page, CANNED_WAIT).waitFor();

      const photo = `现场照片 photo from the site ${Date.now().toString(36)}`;
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

/** What the customer's system answers to the outbound webhooks of the test inbox. */
let hookAnswer: 'reject' | 'accept' = 'reject';

/** A customer writes into a new API inbox of the Support team (outbound replies go to `hook`) and the admin assigns it to the agent. */
async function assignedConversation(hookUrl: string, inboxName: string, who: { id: string; name: string }, text: string): Promise<{ id: string; inboxId: string }> {
  const admin = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
  const teams = (await admin('GET', '/api/v1/teams')).body.items as Array<{ id: string; name: string }>;
  const support = teams.find((x) => x.name === 'Support')!;
  const inbox = await admin('POST', '/api/v1/inboxes', { name: inboxName, channel: 'api', config: { webhookUrl: hookUrl }, teamIds: [support.id] });
  expect(inbox.status).toBe(201);
  const inbound = await admin('POST', `/api/v1/inboxes/${inbox.body.id as string}/inbound`, { externalId: `${who.id}-${Date.now()}`, from: { identifier: who.id, name: who.name }, text });
  const id = (inbound.body.conversationId ?? inbound.body.conversation?.id) as string;
  const me = (await api(server.url, await loginToken(server.url, AGENT))('GET', '/api/v1/me')).body.agent.id as string;
  expect((await admin('PATCH', `/api/v1/conversations/${id}`, { assigneeId: me })).status).toBe(200);
  return { id, inboxId: inbox.body.id as string };
}

describe.runIf(run)('issue 15 on the phone: honest delivery and read state across devices', () => {
  let hook: http.Server;
  let hookUrl = '';
  beforeAll(async () => {
    hook = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (hookAnswer === 'reject') res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'recipient account is closed' }));
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `ext-${Date.now()}` }));
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    // A server and browser of its own (the block above stopped its own).
    if (!fs.existsSync(H5_INDEX)) throw new Error(`${H5_INDEX} is missing: run \`pnpm --filter @goutong/mobile build:h5\``);
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
    await new Promise((r) => hook?.close(r));
  });

  it('a reply the provider rejected: the bubble says why in Chinese; the outbox names it in words (no command names) and sends it again', async () => {
    hookAnswer = 'reject';
    await assignedConversation(hookUrl, 'CRM 拒收 (mobile)', { id: 'm-crm-zhao', name: '赵六' }, '请问发票开好了吗？');
    const { context, page } = await phone('zh-CN');
    await signIn(page, AGENT);
    await page.locator('[data-test="conversation-row"]').filter({ hasText: '赵六' }).tap({ timeout: 30_000 });
    await reply(page, '发票已经开好，请查收邮件。');
    const bubble = messageWith(page, '发票已经开好').first();
    await expect.poll(() => bubble.getAttribute('data-state'), { timeout: 30_000 }).toBe('failed');
    await expect(bubble.locator('[data-test="delivery"]').textContent()).resolves.toContain('发送失败：服务商拒绝了此消息');
    // The provider's own text is one tap away.
    await bubble.locator('[data-test="delivery-detail"]').tap();
    await expect(bubble.locator('[data-test="delivery-detail"]').textContent()).resolves.toContain('400');
    await screenshot(page, 'issue15-delivery-failed-zh');

    await page.goBack();
    await tap(page, 'open-outbox');
    const problem = page.locator('[data-test="problem-entry"]').filter({ hasText: '赵六' });
    await problem.waitFor({ timeout: 20_000 });
    const text = (await problem.textContent()) ?? '';
    expect(text).toContain('回复 赵六');
    expect(text).not.toMatch(/send_reply|provider_rejected/);
    await expect(problem.locator('[data-test="problem-reason"]').textContent()).resolves.toBe('服务商拒绝了此消息');
    await screenshot(page, 'issue15-outbox-zh');

    hookAnswer = 'accept';
    await problem.locator('[data-test="resend"]').tap();
    await page.locator('[data-test="problem-entry"]').filter({ hasText: '赵六' }).waitFor({ state: 'detached', timeout: 30_000 });
    await page.goBack();
    await page.locator('[data-test="conversation-row"]').filter({ hasText: '赵六' }).tap();
    const again = messageWith(page, '发票已经开好').nth(1);
    await expect.poll(() => again.getAttribute('data-state'), { timeout: 30_000 }).toMatch(/^(sent|delivered)$/);
    await expect(again.locator('[data-test="delivery"]').textContent()).resolves.toMatch(/已发送|已送达/);
    await context.close();
  }, 120_000);

  it('mobile parity: a supervisor labels, assigns to another agent and snoozes until a chosen time, and the server has each', async () => {
    const admin = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
    const agents = (await admin('GET', '/api/v1/agents')).body.items as Array<{ id: string; email: string }>;
    const liWei = agents.find((a) => a.email === 'li.wei@demo.goutong')!.id;
    const zhangSan = agents.find((a) => a.email === AGENT)!.id;
    const teams = (await admin('GET', '/api/v1/teams')).body.items as Array<{ id: string; name: string }>;
    const inbox = await admin('POST', '/api/v1/inboxes', { name: 'CRM parity', channel: 'api', config: { webhookUrl: hookUrl }, teamIds: [teams.find((x) => x.name === 'Support')!.id] });
    const inbound = await admin('POST', `/api/v1/inboxes/${inbox.body.id as string}/inbound`, { externalId: `m-parity-${Date.now()}`, from: { identifier: 'm-parity', name: '钱七' }, text: '下周再联系我吧' });
    const id = (inbound.body.conversationId ?? inbound.body.conversation?.id) as string;
    expect((await admin('PATCH', `/api/v1/conversations/${id}`, { assigneeId: liWei })).status).toBe(200);
    const onServer = async () => (await admin('GET', `/api/v1/conversations/${id}`)).body as { labels: string[]; assigneeId: string | null; status: string; snoozedUntil: number | null };

    const { context, page } = await phone('zh-CN');
    await signIn(page, 'li.wei@demo.goutong');
    await page.locator('[data-test="conversation-row"]').filter({ hasText: '钱七' }).tap({ timeout: 30_000 });
    await page.locator('[data-test="toggle-status"]').waitFor();
    /**
     * The open uni-app picker: turns the column's wheel to the item that starts with `item` (to the top,
     * then one notch per item, as a mouse wheel does), waits for the wheel to settle, confirms.
     */
    const pick = async (column: number, item: string) => {
      const open = page.locator('.uni-picker-custom.uni-picker-toggle');
      await open.waitFor();
      const col = open.locator('uni-picker-view-column').nth(column);
      const index = await col.locator('.uni-picker-item').evaluateAll((els, text) => els.findIndex((e) => (e.textContent ?? '').trim().startsWith(text)), item);
      expect(index).toBeGreaterThanOrEqual(0);
      await col.locator('.uni-picker-view-group').evaluate((group, n) => {
        const turn = (deltaY: number) => group.dispatchEvent(new WheelEvent('wheel', { deltaY, bubbles: true, cancelable: true }));
        for (let k = 0; k < 100; k += 1) turn(-100);
        for (let k = 0; k < n; k += 1) turn(100);
      }, index);
      await page.waitForTimeout(1500);
      await open.locator('.uni-picker-action-confirm').click();
      await open.waitFor({ state: 'hidden' });
    };

    // A label, typed and confirmed.
    const labelInput = page.locator('[data-test="add-label"] input');
    await labelInput.fill('回访');
    await labelInput.press('Enter');
    await page.locator('[data-test="label"]').filter({ hasText: '回访' }).waitFor();
    await expect.poll(async () => (await onServer()).labels, { timeout: 30_000 }).toContain('回访');

    // Assigned to another agent from the picker.
    await tap(page, 'assign-others');
    await pick(0, '张三 Zhang San');
    await expect.poll(() => page.locator('[data-test="assign-others"]').textContent()).toContain('张三');
    await expect.poll(async () => (await onServer()).assigneeId, { timeout: 30_000 }).toBe(zhangSan);

    // Snoozed until tomorrow 10:00 (the phone's zone): the time chosen in the picker, shown in the head.
    await tap(page, 'snooze-open');
    await tap(page, 'snooze-time');
    await pick(0, '10');
    await expect(page.locator('[data-test="snooze-time"]').textContent()).resolves.toContain('10:00');
    const until = await page.evaluate(() => {
      const d = new Date(Date.now() + 86_400_000);
      d.setHours(10, 0, 0, 0);
      return d.getTime();
    });
    await tap(page, 'snooze-confirm');
    await page.locator('[data-test="snoozed-until"]').waitFor({ timeout: 30_000 });
    await expect.poll(async () => { const c = await onServer(); return [c.status, c.snoozedUntil]; }, { timeout: 30_000 }).toEqual(['snoozed', until]);
    await screenshot(page, 'issue15-mobile-parity-zh');
    await context.close();
  }, 120_000);

  it('read state is a fact of the agent: opened on the desktop, read on the phone (English, dark)', async () => {
    hookAnswer = 'accept';
    const { inboxId } = await assignedConversation(hookUrl, 'CRM read marks', { id: 'm-crm-read', name: 'Read Marks Ltd' }, 'Could you check my order?');
    const { context, page } = await phone('en-US', 'dark');
    await signIn(page, AGENT);
    const row = page.locator('[data-test="conversation-row"]').filter({ hasText: 'Read Marks Ltd' });
    await row.locator('[data-test="unread"]').waitFor({ timeout: 30_000 });
    await screenshot(page, 'issue15-unread-before-en-dark');

    // The same agent opens it on the desktop (1280 px, light).
    const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'Asia/Shanghai' });
    const d = await desktop.newPage();
    pages.push(d);
    await d.goto(`${server.url}/app/`);
    await d.getByLabel('Email').fill(AGENT);
    await d.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await d.getByRole('button', { name: 'Sign in' }).click();
    await d.getByRole('listbox', { name: /Conversations|会话列表/ }).getByRole('option', { name: /Read Marks Ltd/ }).click({ timeout: 30_000 });
    await d.getByRole('heading', { name: 'Read Marks Ltd', level: 2 }).waitFor();

    // The phone, without a reload, shows it read.
    await row.locator('[data-test="unread"]').waitFor({ state: 'detached', timeout: 30_000 });
    await screenshot(page, 'issue15-read-after-en-dark');

    // A new customer message makes it unread again on the phone. The desktop is closed first: with the
    // conversation open on a screen, the agent reads the new message there, and that is a read too.
    await desktop.close();
    const admin = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
    await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `m-crm-read-2-${Date.now()}`, from: { identifier: 'm-crm-read', name: 'Read Marks Ltd' }, text: 'Any news?' });
    await row.locator('[data-test="unread"]').waitFor({ timeout: 30_000 });
    await context.close();
  }, 120_000);
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
