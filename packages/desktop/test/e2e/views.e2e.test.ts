// Honest delivery, notifications and the list selection (issue 15) against a real sync server,
// a real webhook provider on 127.0.0.1 and Debian's Chromium. Each test fails on the code before
// core's client view models.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { Uuidv7Generator } from '@goutong/core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { conversationList, newAgentPage, openConversation, screenshot, signIn } from './helpers';

let server: TestServer;
let browser: Browser;
let hook: http.Server;
/** What the customer's system answers to outbound webhooks. */
let hookAnswer: 'reject' | 'accept' = 'reject';
let hookUrl = '';
/** A port nobody listens on: the provider is unreachable. */
let deadUrl = '';
const ids = new Uuidv7Generator(Date.now, (n) => crypto.getRandomValues(new Uint8Array(n)));

beforeAll(async () => {
  hook = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (hookAnswer === 'reject') {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'recipient account is closed' }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `ext-${Date.now()}` }));
      }
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const dead = http.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/hook`;
  await new Promise((r) => dead.close(r));
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => hook?.close(r));
});

type Api = Awaited<ReturnType<typeof apiAs>>;

/** An API inbox of the Support team whose outbound messages go to `webhookUrl`. */
async function apiInbox(admin: Api, name: string, webhookUrl: string): Promise<string> {
  const { items: teams } = await admin.call<{ items: Array<{ id: string; name: string }> }>('GET', '/api/v1/teams');
  const support = teams.find((t) => t.name === 'Support')!;
  const created = await admin.call<{ id: string }>('POST', '/api/v1/inboxes', { name, channel: 'api', config: { webhookUrl }, teamIds: [support.id] });
  return created.id;
}

/** A customer writes into the inbox; resolves with the conversation id. */
async function inbound(admin: Api, inboxId: string, who: { id: string; name: string }, text: string): Promise<string> {
  const r = await admin.call<{ conversationId?: string; conversation?: { id: string } }>('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: ids.next(), from: { identifier: who.id, name: who.name }, text });
  return r.conversationId ?? r.conversation?.id ?? '';
}

async function command(api: Api, c: Record<string, unknown>): Promise<void> {
  const { results } = await api.call<{ results: Array<{ outcome: string }> }>('POST', '/api/v1/commands', { commands: [{ id: ids.next(), deviceTime: Date.now(), ...c }] });
  expect(results[0]?.outcome).toBe('applied');
}

async function reply(page: Page, text: string): Promise<void> {
  await page.getByLabel(/Reply message|回复内容/).fill(text);
  await page.getByLabel(/Reply message|回复内容/).press('Control+Enter');
}

/** Records the notifications the page shows (the browser's Notification API, permission granted). */
async function recordNotifications(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const shown: Array<{ title: string; body: string }> = [];
    (globalThis as { __notes?: unknown }).__notes = shown;
    class FakeNotification {
      static permission = 'granted';
      static requestPermission = async () => 'granted';
      onclick: (() => void) | null = null;
      constructor(title: string, opts?: { body?: string }) {
        shown.push({ title, body: opts?.body ?? '' });
      }
      close() {}
    }
    (globalThis as { Notification?: unknown }).Notification = FakeNotification;
  });
}
const notes = (page: Page) => page.evaluate(() => (globalThis as { __notes?: Array<{ title: string; body: string }> }).__notes ?? []);

describe('honest delivery', () => {
  it('a reply the provider rejected says why in Chinese, counts as failed in the top bar and on the row, and can be sent again', async () => {
    const admin = await apiAs(server.url, 'admin@demo.goutong');
    const inboxId = await apiInbox(admin, 'CRM 拒收', hookUrl);
    await inbound(admin, inboxId, { id: 'crm-zhao', name: '赵六' }, '请问发票开好了吗？');
    hookAnswer = 'reject';
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      // The agent works in Chinese.
      await page.evaluate(() => localStorage.setItem('goutong.locale', 'zh-CN'));
      await page.reload();
      await page.locator('[role="status"][data-status="online"]').waitFor({ timeout: 30_000 });
      await page.getByRole('tab', { name: /全部/ }).click();
      await openConversation(page, '赵六');
      await reply(page, '发票已经开好，请查收邮件。');
      const msg = page.locator('article.msg', { hasText: '发票已经开好' }).first();
      await expect.poll(() => msg.getAttribute('data-delivery'), { timeout: 30_000 }).toBe('failed');
      // The reason in the UI language, the provider's raw text one click away, and a way to send again.
      await expect(msg.getByTestId('delivery-status').textContent()).resolves.toBe('发送失败：服务商拒绝了此消息');
      await msg.getByTestId('delivery-detail-toggle').click();
      await expect(msg.getByTestId('delivery-detail').textContent()).resolves.toContain('webhook answered 400');
      await expect.poll(() => page.getByTestId('failed-count').textContent(), { timeout: 15_000 }).toBe('1 条失败');
      await conversationList(page).getByRole('option', { name: '赵六' }).getByTestId('row-delivery').waitFor();
      await screenshot(page, 'views-rejected-zh');

      hookAnswer = 'accept';
      await msg.getByTestId('delivery-retry').click();
      await expect.poll(() => page.getByTestId('failed-count').textContent(), { timeout: 15_000 }).toBe('0 条失败');
      const again = page.locator('article.msg', { hasText: '发票已经开好' }).nth(1);
      await expect.poll(() => again.getAttribute('data-delivery'), { timeout: 30_000 }).toMatch(/^(sent|delivered)$/);
      await expect(msg.getByTestId('delivery-retry').count()).resolves.toBe(0);
    } finally {
      await context.close();
    }
  });

  it('with the provider unreachable the reply is not just "Queued": the message and the top bar warn', async () => {
    const admin = await apiAs(server.url, 'admin@demo.goutong');
    const inboxId = await apiInbox(admin, 'CRM offline', deadUrl);
    await inbound(admin, inboxId, { id: 'crm-sun', name: 'Sun Qi' }, 'Is anyone there?');
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await openConversation(page, 'Sun Qi');
      await reply(page, 'Yes, we are here.');
      const msg = page.locator('article.msg', { hasText: 'Yes, we are here.' });
      await expect.poll(() => msg.getAttribute('data-stuck'), { timeout: 30_000 }).toBe('true');
      await expect(msg.getByTestId('delivery-status').textContent()).resolves.toBe('The provider cannot be reached: still retrying');
      await expect.poll(() => page.getByTestId('stuck-count').textContent(), { timeout: 20_000 }).toBe('1 waiting too long');
      await screenshot(page, 'views-provider-unreachable');
    } finally {
      await context.close();
    }
  });
});

describe('notifications', () => {
  it('a fresh sign-in notifies nothing for history; a new customer message in an assigned conversation notifies once', async () => {
    const admin = await apiAs(server.url, 'admin@demo.goutong');
    const zhang = await apiAs(server.url, 'zhang.san@demo.goutong');
    const { items: agents } = await admin.call<{ items: Array<{ id: string; email: string }> }>('GET', '/api/v1/agents');
    const zhangId = agents.find((a) => a.email === 'zhang.san@demo.goutong')!.id;
    const inboxId = await apiInbox(admin, 'CRM notify', hookUrl);
    hookAnswer = 'accept';
    const conversationId = await inbound(admin, inboxId, { id: 'crm-qian', name: '钱八' }, '我的包裹到哪了？');
    expect(conversationId).not.toBe('');
    // History: assigned to zhang.san, with his own last reply.
    await command(admin, { type: 'assign', conversationId, assigneeId: zhangId });
    await command(zhang, { type: 'send_reply', conversationId, text: '正在为您查询。' });
    const { context, page } = await newAgentPage(browser);
    await recordNotifications(page);
    try {
      await signIn(page, server.url, 'zhang.san@demo.goutong');
      await conversationList(page).getByRole('option', { name: '钱八' }).waitFor({ timeout: 20_000 });
      await inbound(admin, inboxId, { id: 'crm-qian', name: '钱八' }, 'Any news about my parcel?');
      await expect.poll(() => notes(page), { timeout: 20_000 }).toHaveLength(1);
      expect((await notes(page))[0]).toEqual({ title: '钱八 wrote', body: 'Any news about my parcel?' });
      await expect(page.evaluate(() => document.title)).resolves.toMatch(/^\(\d+\) /);
    } finally {
      await context.close();
    }
  });
});

describe('the list selection after resolve', () => {
  it('the highlight and the pane stay consistent, and Enter opens the highlighted conversation', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      const list = conversationList(page);
      await expect.poll(() => list.getByRole('option').count()).toBeGreaterThanOrEqual(3);
      const second = list.getByRole('option').nth(1);
      const name = (await second.getAttribute('data-name'))!;
      await second.click();
      await page.getByRole('heading', { name, level: 2 }).waitFor();
      await expect(list.locator('[aria-selected="true"]').getAttribute('data-name')).resolves.toBe(name);
      await page.getByRole('button', { name: 'Resolve', exact: true }).click();
      await expect.poll(() => list.locator(`[role="option"][data-name="${name}"]`).count(), { timeout: 15_000 }).toBe(0);
      // The resolved conversation left the list: no other row pretends to be the open one.
      await expect(list.locator('[aria-selected="true"]').count()).resolves.toBe(0);
      await page.locator('body').press('Enter');
      await expect(page.getByRole('heading', { level: 2 }).textContent()).resolves.toBe(name);
      // j highlights the row that took its place, Enter opens exactly that one.
      await page.locator('body').press('j');
      const highlighted = list.locator('[aria-selected="true"]');
      await highlighted.waitFor();
      const next = (await highlighted.getAttribute('data-name'))!;
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: next, level: 2 }).waitFor();
    } finally {
      await context.close();
    }
  });
});
