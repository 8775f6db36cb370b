// Issue 15, the composer defects, end to end against a real sync server (demo workspace) and
// Debian's Chromium: `/hel` opens the canned-response picker AT THE CARET and inserts there;
// `@` in a note autocompletes agents and the note keeps the mention; the SMS counter shows UCS-2
// segments for Chinese text; bulk resolve of three selected rows; a saved view survives a reload.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { choose, conversationList, newAgentPage, openConversation, screenshot, signIn } from './helpers';

/** The priority filter's shown choice (an Element Plus select: its selected item's text). */
const priorityShown = (page: import('playwright-core').Page) =>
  page.getByRole('combobox', { name: 'Priority filter', exact: true }).first().locator('xpath=ancestor::div[contains(concat(" ", @class, " "), " el-select__wrapper ")][1]').innerText();

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const box = async (page: Page, selector: string) => (await page.locator(selector).first().boundingBox())!;

describe('composer: short codes, mentions, SMS counter, bulk actions, saved views', () => {
  it('"/hel" in the middle of the text opens the picker at the caret; Enter inserts there, variables filled', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await openConversation(page, '王芳');
      const input = page.getByLabel('Reply message');
      await input.fill('Good morning, dear customer. — thanks');
      // Caret right after "customer. " (the 29th character), not at the end.
      await input.evaluate((el: HTMLTextAreaElement) => el.setSelectionRange(29, 29));
      await input.pressSequentially('/hel');
      const picker = page.getByRole('listbox', { name: 'Canned responses' });
      await picker.waitFor();
      await expect(picker.getByRole('option').first().textContent()).resolves.toContain('/hello');
      // At the caret: right of the textarea's left edge by the width of "Good morning, dear customer. ", just under the first line.
      const ta = await box(page, 'textarea[aria-label="Reply message"]');
      const pk = (await picker.boundingBox())!;
      expect(pk.x - ta.x).toBeGreaterThan(120);
      expect(pk.y).toBeGreaterThan(ta.y);
      expect(pk.y - ta.y).toBeLessThan(60);
      await expect(input.getAttribute('aria-expanded')).resolves.toBe('true');
      await screenshot(page, 'composer-canned-picker-at-caret');
      // Keyboard: ↓ moves the choice, ↑ back, Enter inserts in place of "/hel".
      await input.press('ArrowDown');
      await input.press('ArrowUp');
      await input.press('Enter');
      await expect(picker.isVisible()).resolves.toBe(false);
      const inserted = '您好 王芳，我是Admin 管理员，很高兴为您服务。';
      await expect(input.inputValue()).resolves.toBe(`Good morning, dear customer. ${inserted}— thanks`);
      await expect(input.evaluate((el: HTMLTextAreaElement) => el.selectionStart)).resolves.toBe(29 + inserted.length);
      // Esc closes the picker and the text stays as typed; a URL never opens it.
      await input.fill('');
      await input.pressSequentially('/th');
      await picker.waitFor();
      await input.press('Escape');
      await expect(picker.isVisible()).resolves.toBe(false);
      await expect(input.inputValue()).resolves.toBe('/th');
      await input.fill('');
      await input.pressSequentially('see https://x.io/a');
      await expect(picker.isVisible()).resolves.toBe(false);
      await input.fill('');
    } finally {
      await context.close();
    }
  });

  it('"@" in a note autocompletes agents; the note is stored with the mention', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await openConversation(page, '王芳');
      await page.getByRole('radio', { name: 'Internal note' }).check({ force: true });
      const input = page.getByLabel('Note text');
      await input.click();
      await input.pressSequentially('@li');
      const picker = page.getByRole('listbox', { name: 'Mention an agent' });
      await picker.waitFor();
      await expect(picker.getByRole('option').allTextContents()).resolves.toEqual(expect.arrayContaining([expect.stringContaining('Li Wei')]));
      await screenshot(page, 'composer-mention-picker');
      await input.press('Enter');
      await expect(input.inputValue()).resolves.toBe('@李伟 Li Wei ');
      await input.pressSequentially('please call the customer back');
      await page.getByText('Mentions: 李伟 Li Wei').waitFor();
      await input.press('Control+Enter');
      await page.locator('article.msg', { hasText: 'please call the customer back' }).waitFor();
      // On the server: the note carries the mention (core mentionsOf reads meta.mentions).
      const api = await apiAs(server.url, 'admin@demo.goutong');
      const { items: agents } = await api.call<{ items: Array<{ id: string; email: string }> }>('GET', '/api/v1/agents');
      const li = agents.find((a) => a.email === 'li.wei@demo.goutong')!;
      const { items: convs } = await api.call<{ items: Array<{ id: string; contactName: string }> }>('GET', '/api/v1/conversations?limit=100');
      const conv = convs.find((c) => c.contactName === '王芳')!;
      await expect.poll(async () => {
        const { items } = await api.call<{ items: Array<{ kind: string; text: string; meta: Record<string, unknown> }> }>('GET', `/api/v1/conversations/${conv.id}/messages`);
        return items.find((m) => m.kind === 'note' && m.text.includes('please call the customer back'))?.meta['mentions'] ?? null;
      }, { timeout: 20_000 }).toEqual([li.id]);
    } finally {
      await context.close();
    }
  });

  it('the SMS counter shows UCS-2 segments for Chinese text (70 per SMS, 67 when split)', async () => {
    const api = await apiAs(server.url, 'admin@demo.goutong');
    const { items: teams } = await api.call<{ items: Array<{ id: string; name: string }> }>('GET', '/api/v1/teams').catch(() => ({ items: [] as Array<{ id: string; name: string }> }));
    const token = crypto.randomBytes(16).toString('hex');
    const inbox = await api.call<{ id: string }>('POST', '/api/v1/inboxes', {
      name: 'SMS 短信', channel: 'sms', provider: 'kannel', teamIds: teams.map((t) => t.id),
      config: { sendsmsUrl: 'http://127.0.0.1:9/cgi-bin/sendsms', username: 'goutong', webhookBaseUrl: server.url }, secrets: { password: 'x', webhookToken: token },
    });
    const r = await fetch(`${server.url}/webhooks/kannel/${inbox.id}/inbound?token=${token}&from=%2B8613800000777&text=${encodeURIComponent('你好，请问快递到哪了？')}&id=sms-e2e-1`);
    expect(r.status).toBe(200);
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await conversationList(page).getByRole('option', { name: /8613800000777/ }).click();
      const input = page.getByLabel('Reply message');
      const counter = page.getByLabel('SMS length');
      await input.fill('Hello, your parcel is on its way.');
      await expect.poll(() => counter.getAttribute('data-encoding')).toBe('GSM-7');
      await expect(counter.textContent()).resolves.toContain('33 characters · 1 SMS');
      await input.fill('您好，您的快递已经发出，预计明天送达。'.repeat(4));
      await expect.poll(() => counter.getAttribute('data-encoding')).toBe('UCS-2');
      await expect(counter.getAttribute('data-segments')).resolves.toBe('2');
      await expect(counter.textContent()).resolves.toContain('76 characters · 2 SMS');
      await expect(counter.textContent()).resolves.toContain('58 left');
      await screenshot(page, 'composer-sms-counter-chinese');
      // Not on other channels.
      await openConversation(page, '王芳');
      await expect(page.getByLabel('SMS length').count()).resolves.toBe(0);
    } finally {
      await context.close();
    }
  });

  it('bulk: select three rows (click, Shift+click) and resolve them in one action', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      const rows = conversationList(page).getByRole('option');
      await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(5);
      const names = await Promise.all([0, 1, 2].map((i) => rows.nth(i).getAttribute('data-id')));
      await rows.nth(0).locator('.row-check').click();
      await rows.nth(2).locator('.row-check').click({ modifiers: ['Shift'] });
      const toolbar = page.getByRole('toolbar', { name: 'Actions on the selected conversations' });
      await toolbar.waitFor();
      await expect(toolbar.textContent()).resolves.toContain('3 selected');
      for (const i of [0, 1, 2]) await expect(rows.nth(i).getAttribute('aria-checked')).resolves.toBe('true');
      await screenshot(page, 'inbox-bulk-selected');
      await toolbar.getByRole('button', { name: 'Resolve' }).click();
      await page.getByText('3 conversations updated').waitFor();
      const api = await apiAs(server.url, 'admin@demo.goutong');
      await expect.poll(async () => {
        const got = await Promise.all(names.map((id) => api.call<{ status: string }>('GET', `/api/v1/conversations/${id}`)));
        return got.map((c) => c.status);
      }, { timeout: 20_000 }).toEqual(['resolved', 'resolved', 'resolved']);
      // The active filter (open and pending) no longer lists them.
      for (const id of names) await expect.poll(() => conversationList(page).locator(`[data-id="${id}"]`).count()).toBe(0);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('a saved view is stored on the server: after a reload it is listed and applying it restores the filters', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'li.wei@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await choose(page, 'Priority filter', 'Urgent');
      await page.getByRole('button', { name: /Save view/ }).click();
      await page.getByLabel('View name').fill('Urgent all');
      await page.getByLabel('View name').press('Enter');
      const saved = page.getByRole('navigation', { name: 'Saved views' }).getByRole('button', { name: 'Apply view Urgent all' });
      await saved.waitFor();
      await expect(saved.getAttribute('aria-current')).resolves.toBe('true');
      await page.reload();
      await page.getByRole('status', { name: 'Connectivity' }).and(page.locator('[data-status="online"]')).waitFor({ timeout: 30_000 });
      await saved.waitFor();
      // Back to other filters, then the view brings its own back.
      await page.getByRole('tab', { name: /Mine/ }).click();
      await choose(page, 'Priority filter', 'All priorities');
      await expect(saved.getAttribute('aria-current')).resolves.toBeNull();
      await saved.click();
      await expect.poll(() => priorityShown(page)).toContain('Urgent');
      await expect(page.getByRole('tab', { name: /All/ }).getAttribute('aria-selected')).resolves.toBe('true');
      await expect(saved.getAttribute('aria-current')).resolves.toBe('true');
      await screenshot(page, 'inbox-saved-view');
      // Another agent does not see it.
      const other = await apiAs(server.url, 'alice@demo.goutong');
      await expect(other.call<{ items: unknown[] }>('GET', '/api/v1/saved-views')).resolves.toEqual({ items: [] });
    } finally {
      await context.close();
    }
  });
});
