// [fields] Custom contact fields, segments and targeted offers in the desktop app (Chromium, the
// real server): the admin screen lists and creates them; the contact panel edits a custom field
// while offline (an update_contact intent in the outbox), the customer's segment shows as a tag
// and the composer offers the segment's offer, all evaluated on the device; once online the edit
// reaches the server and the reply that used the offer counts in the offers report. zh-CN and en.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { axeSerious, choose, newAgentPage, openConversation, screenshot, setPrefs, signIn } from './helpers';

let server: TestServer;
let browser: Browser;
let admin: Awaited<ReturnType<typeof apiAs>>;
let offerId: string;

const EN_TEXT = 'Dear VIP, enjoy 10% off everything this month.';
const ZH_TEXT = '尊敬的贵宾，本月全场九折。';

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  admin = await apiAs(server.url, 'admin@demo.goutong');
  await admin.call('POST', '/api/v1/contact-fields', { key: 'vip', type: 'boolean', label: { zh: '贵宾', en: 'VIP' }, order: 1 });
  await admin.call('POST', '/api/v1/contact-fields', { key: 'city', type: 'text', label: { zh: '城市', en: 'City' }, order: 2 });
  await admin.call('POST', '/api/v1/contact-fields', { key: 'spend', type: 'number', label: { zh: '年消费', en: 'Annual spend' }, order: 3 });
  const seg = await admin.call<{ id: string }>('POST', '/api/v1/segments', {
    name: 'Shanghai VIP 上海贵宾', rule: { match: 'all', conditions: [{ kind: 'attribute', key: 'vip', op: 'eq', value: 'true' }, { kind: 'attribute', key: 'city', op: 'eq', value: '上海' }] },
  });
  offerId = (await admin.call<{ id: string }>('POST', '/api/v1/offers', { title: 'VIP 九折 10% off', textZh: ZH_TEXT, textEn: EN_TEXT, segmentId: seg.id, validTo: Date.now() + 7 * 86_400_000 })).id;
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** An agent page with bypassCSP, only so that axe-core can be injected (as look.e2e does). */
async function axePage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, locale: 'en-US', timezoneId: 'Asia/Shanghai', bypassCSP: true });
  const page = await context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
  return { context, page };
}

async function contactOf(name: string): Promise<{ id: string; attributes: Record<string, string> }> {
  const { items } = await admin.call<{ items: Array<{ id: string; name: string; attributes: Record<string, string> }> }>('GET', `/api/v1/contacts?q=${encodeURIComponent(name)}`);
  return items.find((c) => c.name === name)!;
}

describe('custom fields, segments and offers in the desktop app', () => {
  it('admin screen: lists fields, segments and offers and creates a field (en)', async () => {
    const { context, page } = await axePage();
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('button', { name: 'Settings' }).click();
      const area = page.getByRole('region', { name: 'Settings' });
      await area.getByRole('tab', { name: 'Fields, segments & offers' }).click();
      const fields = area.getByRole('table', { name: 'Custom contact fields' });
      await fields.getByRole('rowheader', { name: '城市 / City' }).waitFor();
      await area.getByRole('table', { name: 'Segments' }).getByText('VIP = true AND City = 上海').waitFor();
      await area.getByRole('table', { name: 'Targeted offers' }).getByRole('rowheader', { name: /VIP 九折 10% off/ }).waitFor();
      // Create a select field through the form.
      await area.getByRole('button', { name: 'New field' }).click();
      const form = area.getByRole('form', { name: 'New field' });
      await form.getByLabel('Key').fill('tier');
      await choose(form, 'Type', 'Select');
      await form.getByLabel('Label (Chinese)').fill('等级');
      await form.getByLabel('Label (English)').fill('Tier');
      await form.getByLabel('Options (one per line)').fill('gold\nsilver');
      await form.getByRole('button', { name: 'Save' }).click();
      await fields.getByRole('rowheader', { name: '等级 / Tier' }).waitFor();
      await expect(fields.locator('tr[data-key="tier"]').textContent()).resolves.toContain('gold, silver');
      const created = await admin.call<{ items: Array<{ key: string; type: string; options: string[] }> }>('GET', '/api/v1/contact-fields');
      expect(created.items.find((f) => f.key === 'tier')).toMatchObject({ type: 'select', options: ['gold', 'silver'] });
      // The segment's contacts (none yet).
      await area.getByRole('button', { name: 'Show contacts of Shanghai VIP 上海贵宾' }).click();
      await area.getByRole('status').filter({ hasText: 'No contact matches.' }).waitFor();
      await screenshot(page, 'fields-admin-en');
      expect(await axeSerious(page)).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('contact panel: edits a custom field offline; the segment tag and the offer show on the device; online the edit lands and the offer use counts (en)', async () => {
    const { context, page } = await axePage();
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await openConversation(page, '王芳');
      const panel = page.getByRole('region', { name: 'Customer fields' });
      await panel.locator('dd[data-field="city"]').filter({ hasText: 'Not set' }).waitFor();
      await expect(page.getByRole('group', { name: 'Offers for this customer' }).count()).resolves.toBe(0);

      await context.setOffline(true);
      await page.getByRole('status', { name: 'Connectivity' }).and(page.locator('[data-status="offline"]')).waitFor({ timeout: 30_000 });
      await panel.getByRole('button', { name: 'Edit fields' }).click();
      const form = panel.getByRole('form', { name: 'Edit fields' });
      await form.getByLabel('Annual spend').fill('lots');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.getByRole('alert').filter({ hasText: 'not a number' }).waitFor(); // core's rule, on the device
      await form.getByLabel('Annual spend').fill('12000');
      await choose(form, 'VIP', 'Yes');
      await form.getByLabel('City').fill('上海');
      await form.getByRole('button', { name: 'Save' }).click();
      await panel.locator('dd[data-field="city"]').filter({ hasText: '上海' }).waitFor();
      await panel.locator('dd[data-field="vip"]').filter({ hasText: 'Yes' }).waitFor();
      await panel.getByRole('status').filter({ hasText: 'Saved on this device' }).waitFor();
      // Segment membership and the offer, evaluated offline with core's rules.
      await panel.getByRole('list', { name: 'Segments' }).getByText('Shanghai VIP 上海贵宾').waitFor();
      const offers = page.getByRole('group', { name: 'Offers for this customer' });
      await offers.getByRole('button', { name: /^Insert offer: VIP 九折 10% off/ }).click();
      const input = page.getByLabel('Reply message');
      await expect(input.inputValue()).resolves.toBe(EN_TEXT);
      await screenshot(page, 'fields-panel-offline-offer-en');
      expect(await axeSerious(page)).toEqual([]);
      // The server has not seen the edit yet.
      expect((await contactOf('王芳')).attributes['city']).toBeUndefined();

      await context.setOffline(false);
      await page.getByRole('status', { name: 'Connectivity' }).and(page.locator('[data-status="online"]')).waitFor({ timeout: 30_000 });
      await expect.poll(async () => (await contactOf('王芳')).attributes, { timeout: 30_000 }).toMatchObject({ vip: 'true', city: '上海', spend: '12000' });
      await page.getByRole('button', { name: 'Send' }).click();
      const range = `from=${Date.now() - 3_600_000}&to=${Date.now() + 3_600_000}`;
      await expect
        .poll(async () => (await admin.call<{ items: Array<{ offerId: string; uses: number }> }>('GET', `/api/v1/reports/offers?${range}`)).items, { timeout: 30_000 })
        .toEqual([expect.objectContaining({ offerId, uses: 1 })]);
    } finally {
      await context.close();
    }
  });

  it('zh-CN: the panel, the segment tag and the offer in Chinese; the admin screen shows the use', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await setPrefs(page, { language: '中文' });
      await page.getByRole('tab', { name: /全部/ }).click();
      await openConversation(page, '王芳');
      const panel = page.getByRole('region', { name: '客户字段' });
      await panel.locator('dd[data-field="vip"]').filter({ hasText: '是' }).waitFor();
      await panel.getByRole('term').filter({ hasText: '年消费' }).waitFor();
      await panel.getByRole('list', { name: '客户分群' }).getByText('Shanghai VIP 上海贵宾').waitFor();
      await page.getByRole('group', { name: '适合该客户的优惠' }).getByRole('button', { name: /^插入优惠：\s*VIP 九折 10% off/ }).click();
      await expect(page.getByLabel('回复内容').inputValue()).resolves.toBe(ZH_TEXT);
      await screenshot(page, 'fields-panel-offer-zh');
      await page.getByRole('button', { name: '设置' }).click();
      const area = page.getByRole('region', { name: '设置' });
      await area.getByRole('tab', { name: '字段、分群与优惠' }).click();
      await area.getByRole('table', { name: '定向优惠' }).locator(`td[data-uses="${offerId}"]`).filter({ hasText: '1' }).waitFor();
      await area.getByRole('button', { name: '查看 Shanghai VIP 上海贵宾 的联系人' }).click();
      await area.getByRole('status').filter({ hasText: '王芳' }).waitFor();
      await screenshot(page, 'fields-admin-zh');
    } finally {
      await context.close();
    }
  });
  it('contacts screen: shows a customer\'s custom fields and segments and edits them (en)', async () => {
    await admin.call('POST', '/api/v1/segments', { name: 'Beijing 北京客户', rule: { match: 'all', conditions: [{ kind: 'attribute', key: 'city', op: 'eq', value: '北京' }] } });
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('button', { name: 'Contacts', exact: true }).click();
      await page.getByLabel('Search contacts').fill('李雷');
      await page.getByRole('list', { name: 'Contact list' }).getByRole('button', { name: /李雷/ }).first().click();
      const profile = page.getByRole('region', { name: /Profile of 李雷/ });
      const panel = profile.getByRole('region', { name: 'Customer fields' });
      await panel.locator('dd[data-field="city"]').filter({ hasText: 'Not set' }).waitFor();
      await expect(panel.getByRole('list', { name: 'Segments' }).count()).resolves.toBe(0);
      await panel.getByRole('button', { name: 'Edit fields' }).click();
      const form = panel.getByRole('form', { name: 'Edit fields' });
      await form.getByLabel('Annual spend').fill('lots');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.getByRole('alert').filter({ hasText: 'not a number' }).waitFor(); // core's rule, on the device
      await form.getByLabel('Annual spend').fill('800');
      await form.getByLabel('City').fill('北京');
      await form.getByRole('button', { name: 'Save' }).click();
      await panel.locator('dd[data-field="city"]').filter({ hasText: '北京' }).waitFor();
      await panel.getByRole('list', { name: 'Segments' }).getByText('Beijing 北京客户').waitFor();
      // Custom fields show once, typed, not again among the plain attributes.
      await expect(profile.locator('dl.attributes dt').filter({ hasText: /^city$/ }).count()).resolves.toBe(0);
      await expect.poll(async () => (await contactOf('李雷')).attributes, { timeout: 30_000 }).toMatchObject({ city: '北京', spend: '800' });
      await screenshot(page, 'fields-contacts-screen-en');
    } finally {
      await context.close();
    }
  });
});
