// [contacts] Customer 360 against a real server in Chromium: the Contacts screen searches the server,
// shows a profile and the timeline across channels, merges a suggested duplicate once the agent
// confirms and undoes it, in English and Chinese, light and dark (screenshots, axe); offline it shows
// the device's working set; an agent without pii.view never sees a clear phone number.
import crypto from 'node:crypto';
import { Uuidv7Generator } from '@goutong/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { axeSerious, conversationList, newAgentPage, screenshot, setPrefs, signIn } from './helpers';

let server: TestServer;
let browser: Browser;
const PHONE = '+8613900139000'; // 李雷 in the demo workspace (API inbox)
const ids = new Uuidv7Generator(Date.now, (n) => crypto.getRandomValues(new Uint8Array(n)));

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  // The same person calls the hotline: a second contact (voice channel) with the same number.
  const admin = await apiAs(server.url, 'admin@demo.goutong');
  const support = (await admin.call<{ items: Array<{ id: string; name: string }> }>('GET', '/api/v1/teams')).items.find((x) => x.name === 'Support')!.id;
  const voice = await admin.call<{ id: string }>('POST', '/api/v1/inboxes', { name: 'Hotline', channel: 'voice', provider: 'sip', config: { wsUrl: 'ws://127.0.0.1:18088', domain: 'lab.test' }, teamIds: [support] });
  const now = Date.now();
  const r = await admin.call<{ results: Array<{ outcome: string }> }>('POST', '/api/v1/commands', {
    commands: [{ id: ids.next(), deviceTime: now, type: 'log_call', inboxId: voice.id, phone: PHONE, direction: 'in', from: PHONE, to: '1000', startedAt: now - 60_000, answeredAt: now - 55_000, endedAt: now, outcome: 'answered' }],
  });
  expect(r.results[0]!.outcome).toBe('applied');
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const region = (page: Page, name: string | RegExp) => page.getByRole('region', { name });
const contactList = (page: Page) => page.getByRole('list', { name: /Contact list|联系人列表/ });

async function openContact(page: Page, search: string, name: string | RegExp): Promise<void> {
  await page.getByLabel(/Search contacts|搜索联系人/).fill(search);
  await contactList(page).getByRole('button', { name }).first().click();
}

describe('contacts screen', () => {
  it('finds a customer, shows the profile and timeline, merges the suggested duplicate and undoes it (en, light; zh-CN, dark)', async () => {
    // bypassCSP only so that axe-core can be injected (as in look.e2e).
    const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, locale: 'en-US', timezoneId: 'Asia/Shanghai', bypassCSP: true });
    const page = await context.newPage();
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('button', { name: 'Contacts', exact: true }).click();
      await page.getByTestId('contacts-source').filter({ hasText: 'All contacts on the server' }).waitFor();
      await openContact(page, '李雷', /李雷/);
      const profile = region(page, /Profile of 李雷/);
      await profile.locator('.identities').getByText(PHONE, { exact: true }).waitFor();
      const timeline = region(page, 'Timeline');
      await timeline.getByText('请问你们周末营业吗').waitFor();
      // The hotline contact shares the number: suggested, merged once the agent confirms.
      const suggestions = profile.getByRole('list', { name: 'Possible duplicates' });
      await suggestions.getByText(`Shares ${PHONE}`).waitFor();
      await screenshot(page, 'contacts-profile-en');
      await suggestions.getByRole('button', { name: 'Merge into this contact' }).click();
      const dialog = page.getByRole('dialog', { name: 'Merge contacts' });
      await dialog.getByRole('button', { name: 'Merge into this contact' }).click();
      await profile.getByRole('status').filter({ hasText: /^Merged .* into this contact$/ }).waitFor();
      await expect.poll(() => profile.locator('.identities li').count()).toBe(2);
      await profile.getByText('Phone', { exact: true }).waitFor();
      await timeline.locator('[data-kind="call"]').first().waitFor();
      await expect(suggestions.count()).resolves.toBe(0);
      await screenshot(page, 'contacts-merged-en');
      // Undo: the hotline contact and its call go back.
      const merges = profile.getByRole('list', { name: 'Merges' });
      await merges.getByRole('button', { name: 'Undo' }).click();
      await page.getByRole('dialog', { name: 'Merges' }).getByRole('button', { name: 'Undo' }).click();
      await profile.getByRole('status').filter({ hasText: 'Undone' }).waitFor();
      await expect.poll(() => profile.locator('.identities li').count()).toBe(1);
      await expect.poll(() => timeline.locator('[data-kind="call"]').count()).toBe(0);
      await merges.getByText('Undone').waitFor();
      await profile.getByRole('list', { name: 'Possible duplicates' }).waitFor(); // suggested again
      expect(await axeSerious(page)).toEqual([]);

      // Chinese, dark.
      await setPrefs(page, { language: '中文' });
      await setPrefs(page, { theme: '深色' });
      await region(page, '联系人').waitFor();
      await openContact(page, '李雷', /李雷/);
      const zh = region(page, /李雷 的资料/);
      await zh.getByText('各渠道身份').waitFor();
      await region(page, '时间线').getByText('请问你们周末营业吗').waitFor();
      await zh.getByRole('list', { name: '可能重复的联系人' }).waitFor();
      expect(await axeSerious(page)).toEqual([]);
      await screenshot(page, 'contacts-profile-zh-dark');
    } finally {
      await context.close();
    }
  });

  it('offline: the list and the timeline come from the device\'s working set', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      // The working set: the conversation's messages are cached once it was opened.
      await page.getByRole('tab', { name: /All/ }).click();
      await conversationList(page).getByRole('option', { name: '王芳' }).click();
      await page.getByRole('heading', { name: '王芳', level: 2 }).waitFor();
      await page.getByText('还没有发货').first().waitFor();
      await context.setOffline(true);
      await page.getByRole('status', { name: 'Connectivity' }).and(page.locator('[data-status="offline"]')).waitFor({ timeout: 30_000 });
      await page.getByRole('button', { name: 'Contacts', exact: true }).click();
      await page.getByTestId('contacts-source').filter({ hasText: 'Offline: contacts of the conversations on this device' }).waitFor();
      await openContact(page, '王芳', /王芳/);
      const profile = region(page, /Profile of 王芳/);
      await profile.getByText('Merging needs the server (offline)').waitFor();
      const timeline = region(page, 'Timeline');
      await timeline.getByTestId('timeline-source').waitFor();
      await timeline.getByText('我的订单 #20261124 还没有发货').waitFor();
      // A search on the device: identities match too.
      await openContact(page, '13800138000', /王芳/);
      await screenshot(page, 'contacts-offline-en');
      await context.setOffline(false);
    } finally {
      await context.close();
    }
  });

  it('an agent without pii.view sees identities masked', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'alice@demo.goutong');
      await page.getByRole('button', { name: 'Contacts', exact: true }).click();
      await openContact(page, '李雷', /李雷/);
      const profile = region(page, /Profile of 李雷/);
      await profile.locator('.identities li').first().waitFor();
      await region(page, 'Timeline').locator('.entry').first().waitFor();
      const html = await page.content();
      expect(html).not.toContain('13900139000');
      expect(await profile.locator('.identities li').first().textContent()).toContain('*');
    } finally {
      await context.close();
    }
  });
});
