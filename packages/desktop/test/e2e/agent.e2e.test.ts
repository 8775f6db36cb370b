// End to end against a real sync server (demo workspace) and Debian's Chromium.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { choose, conversationList, newAgentPage, openConversation, recordStatuses, screenshot, setPrefs, signIn, statusesOf } from './helpers';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const pending = (page: import('playwright-core').Page) => page.getByRole('status', { name: 'Connectivity' });

describe('agent workspace against the sync server', () => {
  it('logs in as the demo admin, sees the seeded inbox, replies: queued then sent', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await expect.poll(() => conversationList(page).getByRole('option').count()).toBeGreaterThanOrEqual(7);
      await openConversation(page, '王芳');
      await page.getByText('你好，我的订单 #20261124 还没有发货，请帮忙查一下。').first().waitFor();

      // Slow the acknowledgement and the pull a little so each state is on screen for a moment.
      await context.route('**/api/v1/commands', async (r) => {
        await new Promise((res) => setTimeout(res, 400));
        await r.continue();
      });
      await context.route('**/api/v1/sync/pull', async (r) => {
        await new Promise((res) => setTimeout(res, 600));
        await r.continue();
      });
      await recordStatuses(page);
      const text = 'Your parcel left our warehouse today.';
      await page.getByLabel('Reply message').fill(text);
      await page.getByLabel('Reply message').press('Control+Enter');
      const msg = page.locator('article.msg', { hasText: text });
      await msg.waitFor();
      await expect.poll(() => msg.getAttribute('data-status'), { timeout: 20_000 }).toMatch(/^(accepted|delivered)$/);
      await expect(msg.getByTestId('delivery-status').textContent()).resolves.toMatch(/Sent|Delivered/);
      const seen = await statusesOf(page, text);
      expect(seen[0]).toMatch(/^(queued|sending)$/);
      expect(seen).toContain('queued');
      expect(seen.indexOf('queued')).toBeLessThan(seen.findIndex((s) => s === 'accepted' || s === 'delivered'));
      await context.unrouteAll();
    } finally {
      await context.close();
    }
  });

  it('two agents: B sees A viewing and typing; A assigns to B and it shows in B’s Mine view', async () => {
    const a = await newAgentPage(browser);
    const b = await newAgentPage(browser);
    try {
      await Promise.all([signIn(a.page, server.url, 'li.wei@demo.goutong'), signIn(b.page, server.url, 'alice@demo.goutong')]);
      await a.page.getByRole('tab', { name: /All/ }).click();
      await b.page.getByRole('tab', { name: /All/ }).click();
      await openConversation(a.page, 'Tom Baker');
      await openConversation(b.page, 'Tom Baker');
      await b.page.getByTestId('presence-viewing').filter({ hasText: '李伟 Li Wei' }).waitFor({ timeout: 15_000 });
      await a.page.getByLabel('Reply message').pressSequentially('Let me check', { delay: 20 });
      await b.page.getByTestId('presence-typing').filter({ hasText: '李伟 Li Wei' }).waitFor({ timeout: 15_000 });
      // B is warned before replying to the same customer.
      await b.page.getByRole('alert').filter({ hasText: 'also replying' }).waitFor();

      await choose(a.page, 'Assignee', 'Alice Chen');
      await b.page.getByRole('tab', { name: /Mine/ }).click();
      await conversationList(b.page).getByRole('option', { name: 'Tom Baker' }).waitFor({ timeout: 20_000 });
      await expect.poll(() => pending(a.page).getAttribute('data-pending'), { timeout: 20_000 }).toBe('0');
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });

  it('offline: two replies and a resolve wait as 3 pending, then drain; B sees them once each', async () => {
    const a = await newAgentPage(browser);
    const b = await newAgentPage(browser);
    try {
      await Promise.all([signIn(a.page, server.url, 'li.wei@demo.goutong'), signIn(b.page, server.url, 'alice@demo.goutong')]);
      await a.page.getByRole('tab', { name: /All/ }).click();
      await openConversation(a.page, '李雷');
      await a.context.setOffline(true);
      await expect.poll(() => pending(a.page).getAttribute('data-status')).toBe('offline');
      for (const text of ['离线回复一：周六营业。', 'Offline reply two: 9:00–18:00.']) {
        await a.page.getByLabel('Reply message').fill(text);
        await a.page.getByLabel('Reply message').press('Control+Enter');
        await a.page.locator('article.msg', { hasText: text }).and(a.page.locator('[data-status="queued"]')).waitFor();
      }
      await a.page.getByRole('toolbar', { name: 'Conversation actions' }).getByRole('button', { name: 'Resolve' }).click();
      await expect.poll(() => pending(a.page).getAttribute('data-pending')).toBe('3');
      await expect(pending(a.page).textContent()).resolves.toContain('3 pending');
      await a.page.getByTestId('conversation-status').filter({ hasText: 'Resolved' }).waitFor();
      await screenshot(a.page, 'offline-pending-en');

      await a.context.setOffline(false);
      await expect.poll(() => pending(a.page).getAttribute('data-pending'), { timeout: 30_000 }).toBe('0');
      await expect.poll(() => pending(a.page).getAttribute('data-status'), { timeout: 30_000 }).toBe('online');

      await b.page.getByRole('tab', { name: /All/ }).click();
      await choose(b.page, 'Status filter', 'All statuses');
      await openConversation(b.page, '李雷');
      await b.page.getByTestId('conversation-status').filter({ hasText: 'Resolved' }).waitFor({ timeout: 20_000 });
      for (const text of ['离线回复一：周六营业。', 'Offline reply two: 9:00–18:00.']) {
        await b.page.locator('article.msg', { hasText: text }).first().waitFor({ timeout: 20_000 });
        expect(await b.page.locator('article.msg', { hasText: text }).count()).toBe(1);
      }
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });

  it('a rejected command shows as failed with the reason and can be discarded', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'zhang.san@demo.goutong');
      await page.getByRole('tab', { name: /Mine/ }).click();
      await openConversation(page, 'Maria Garcia');
      await choose(page, 'Assignee', 'Alice Chen');
      await expect.poll(() => pending(page).getAttribute('data-failed'), { timeout: 20_000 }).toBe('1');
      await page.getByRole('button', { name: 'Outbox' }).click();
      const entry = page.locator('li.entry[data-state="failed"]');
      await entry.waitFor();
      // The reason in the agent's words; the server's own text one click away.
      await expect(entry.getByRole('alert').textContent()).resolves.toBe('You are not allowed to do this');
      await entry.locator('details.raw summary').click();
      await expect(entry.locator('details.raw').textContent()).resolves.toMatch(/assign/i);
      await page.waitForTimeout(500);
      await screenshot(page, 'rejected-command-en');
      await entry.getByRole('button', { name: 'Discard' }).click();
      await expect.poll(() => pending(page).getAttribute('data-failed')).toBe('0');
      await page.getByText('Nothing waiting').waitFor();
    } finally {
      await context.close();
    }
  });

  it('pages history backwards and shares the reply draft live across the agent’s devices', async () => {
    const api = await apiAs(server.url, 'admin@demo.goutong');
    const inbox = await api.inboxId('Demo API');
    for (let i = 1; i <= 45; i++) {
      await api.inbound(inbox, { externalId: `history-${i}`, from: { identifier: 'history@example.com', name: 'History Tester' }, text: `history message ${i}` });
    }
    const one = await newAgentPage(browser);
    const two = await newAgentPage(browser);
    try {
      await Promise.all([signIn(one.page, server.url, 'li.wei@demo.goutong'), signIn(two.page, server.url, 'li.wei@demo.goutong')]);
      await one.page.getByRole('tab', { name: /All/ }).click();
      await openConversation(one.page, 'History Tester');
      const log = one.page.getByRole('log', { name: 'Messages' });
      await log.getByText('history message 45', { exact: true }).waitFor();
      const first = await log.locator('article.msg').count();
      expect(first).toBeLessThan(45);
      await expect(log.getByText('history message 1', { exact: true }).count()).resolves.toBe(0);
      await log.getByRole('button', { name: 'Load older messages' }).click();
      await expect.poll(() => log.locator('article.msg').count(), { timeout: 15_000 }).toBeGreaterThan(first);
      while (await log.getByRole('button', { name: 'Load older messages' }).isVisible()) {
        await log.getByRole('button', { name: 'Load older messages' }).click();
        await one.page.waitForTimeout(300);
      }
      await log.getByText('history message 1', { exact: true }).waitFor();
      await log.getByText('Beginning of the conversation').waitFor();

      // Same agent on a second device: the draft follows (Yjs), keystroke by keystroke.
      await two.page.getByRole('tab', { name: /All/ }).click();
      await openConversation(two.page, 'History Tester');
      await one.page.getByLabel('Reply message').pressSequentially('草稿 draft', { delay: 15 });
      await expect.poll(() => two.page.getByLabel('Reply message').inputValue(), { timeout: 15_000 }).toBe('草稿 draft');
      // A canned response (the tenant's, from the server) fills in the contact's and agent's names.
      // [composer] by its short code at the caret (the picker opens on `/hel`, Enter inserts).
      await two.page.getByLabel('Reply message').press('End');
      await two.page.getByLabel('Reply message').pressSequentially(' /hel');
      await two.page.getByRole('listbox', { name: 'Canned responses' }).getByRole('option', { name: /hello/ }).waitFor();
      await two.page.getByLabel('Reply message').press('Enter');
      await expect.poll(() => one.page.getByLabel('Reply message').inputValue(), { timeout: 15_000 }).toContain('您好 History Tester，我是李伟 Li Wei');
    } finally {
      await one.context.close();
      await two.context.close();
    }
  });

  it('saves screenshots of the inbox and a conversation in zh-CN and en', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      for (const [locale, label] of [['en', 'English'], ['zh-CN', '中文']] as const) {
        await setPrefs(page, { language: label });
        await page.getByRole('tab', { name: locale === 'en' ? /All/ : /全部/ }).waitFor();
        await page.keyboard.press('Escape');
        await screenshot(page, `inbox-${locale}`);
        await openConversation(page, '王芳');
        await page.getByRole('log').getByText('你好，我的订单').first().waitFor();
        await screenshot(page, `conversation-${locale}`);
      }
      // Internal note: the composer switches mode (Element Plus radio buttons) and the note is marked.
      await page.getByRole('radio', { name: '内部备注' }).check({ force: true });
      await page.getByLabel('备注内容').fill('内部：请财务确认退款 @李伟');
      await page.getByLabel('备注内容').press('Control+Enter');
      await page.getByRole('log').getByRole('article', { name: '内部备注' }).filter({ hasText: '请财务确认退款' }).waitFor();
      await page.getByRole('radio', { name: '回复' }).check({ force: true });
      await page.getByLabel('回复内容').waitFor();
      // Keyboard navigation: j/k move the selection, Enter opens.
      await page.locator('body').click({ position: { x: 700, y: 400 } });
      await page.keyboard.press('j');
      await page.keyboard.press('j');
      await page.keyboard.press('Enter');
      const selected = conversationList(page).locator('[aria-selected="true"]');
      const name = await selected.getAttribute('data-name');
      await page.getByRole('heading', { name: name!, level: 2 }).waitFor();
      // Dark theme.
      await setPrefs(page, { theme: '深色' });
      await screenshot(page, 'conversation-dark-zh-CN');
    } finally {
      await context.close();
    }
  });
});
