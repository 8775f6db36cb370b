// Look and feel (issue 15): every main screen, as the admin, at 1280 × 800, in English and in
// Chinese: no native <select> anywhere (the workspace's selects are Element Plus, GtSelect), and
// the top bar is one row (the account menu keeps it compact). Screenshots: screens-*.png.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { startTestServer, type TestServer } from './server';
import { choose, conversationList, screenshot, setPrefs } from './helpers';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

type Locale = 'en' | 'zh-CN';
const T = {
  en: { all: /All/, contacts: 'Contacts', reports: 'Reports', settings: 'Settings', phone: 'Phone', newish: /^(New|Add)\b/ },
  'zh-CN': { all: /全部/, contacts: '联系人', reports: '报表', settings: '设置', phone: '电话', newish: /^(新建|新增|添加)/ },
} as const;

/** The top bar's visible children all sit on one row, and the bar is no taller than one row. */
async function topBar(page: Page): Promise<{ height: number; tallest: number; spread: number }> {
  return page.locator('header.top').evaluate((bar) => {
    const boxes = [...bar.children].map((c) => c.getBoundingClientRect()).filter((r) => r.width > 0 && r.height > 0);
    const centres = boxes.map((r) => r.y + r.height / 2);
    return { height: bar.getBoundingClientRect().height, tallest: Math.max(...boxes.map((r) => r.height)), spread: Math.max(...centres) - Math.min(...centres) };
  });
}

async function expectOneRow(page: Page, where: string): Promise<void> {
  const bar = await topBar(page);
  expect(bar.spread, `top bar children on one row (${where})`).toBeLessThanOrEqual(3);
  expect(bar.height, `top bar one row high (${where})`).toBeLessThanOrEqual(bar.tallest + 16);
}

async function expectNoNativeSelect(page: Page, where: string): Promise<void> {
  await page.waitForTimeout(300); // lazy panels and the select chunk
  expect(await page.locator('select').count(), `native <select> on ${where}`).toBe(0);
}

async function check(page: Page, where: string): Promise<void> {
  await expectNoNativeSelect(page, where);
  await expectOneRow(page, where);
}

/** Visits every main screen and checks each; returns the screens visited. */
async function visitAll(page: Page, locale: Locale): Promise<string[]> {
  const L = T[locale];
  const seen: string[] = [];
  const at = async (where: string) => {
    seen.push(where);
    process.stderr.write(`[screens] ${locale}: ${where}\n`);
    await check(page, `${where} (${locale})`);
  };
  // Inbox and a conversation.
  await page.getByRole('tab', { name: L.all }).click();
  await expect.poll(() => conversationList(page).getByRole('option').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
  await at('inbox');
  await conversationList(page).getByRole('option').first().click();
  await page.getByRole('heading', { level: 2 }).first().waitFor();
  await at('conversation');
  if (locale === 'en') {
    // The merge/link dialog (Element Plus dialog, loaded on demand) with its select of conversations.
    await page.getByRole('button', { name: 'Merge or link' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('radio', { name: /Link a related conversation/ }).check();
    await dialog.getByRole('combobox', { name: 'Conversation', exact: true }).or(dialog.getByText('No other conversation')).first().waitFor();
    await check(page, 'merge or link dialog (en)');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  }
  await screenshot(page, `screens-inbox-${locale}`);
  // Bulk bar: a second row Ctrl+clicked.
  await conversationList(page).getByRole('option').nth(1).click({ modifiers: ['Control'] });
  await at('bulk bar');
  if (locale === 'en') {
    // The bulk bar's action menus are Element Plus selects too: one sets the priority.
    await choose(page, 'Priority…', 'Low');
    await page.getByText(/\d+ conversations? updated/).waitFor();
  }
  await page.keyboard.press('Escape');
  // The softphone panel (when a line is configured).
  const phone = page.locator('header.top').getByRole('button', { name: L.phone, exact: true });
  if (await phone.count()) {
    await phone.click();
    await at('phone panel');
    await phone.click();
  }
  // Contacts, and a contact's profile.
  await page.getByRole('button', { name: L.contacts, exact: true }).click();
  await page.locator('section.contacts').waitFor();
  await at('contacts');
  const firstContact = page.locator('section.contacts button.row').first();
  if (await firstContact.count()) {
    await firstContact.click();
    await at('contact profile');
  }
  await page.getByRole('button', { name: L.contacts, exact: true }).click();
  // Reports, every tab.
  await page.getByRole('button', { name: L.reports, exact: true }).click();
  const reports = page.locator('section.reports');
  await reports.waitFor();
  const reportTabs = reports.getByRole('tab');
  await expect.poll(() => reportTabs.count()).toBeGreaterThanOrEqual(5);
  for (let i = 0; i < (await reportTabs.count()); i++) {
    const tab = reportTabs.nth(i);
    const name = (await tab.innerText()).trim();
    await tab.click();
    await at(`reports: ${name}`);
  }
  await page.getByRole('button', { name: L.reports, exact: true }).click();
  // Settings, every section; sub-tabs (automation) and each section's first "New …" form.
  await page.getByRole('button', { name: L.settings, exact: true }).click();
  const settings = page.locator('section.admin');
  await settings.waitFor();
  const sections = settings.locator('nav [role="tab"]');
  await expect.poll(() => sections.count()).toBeGreaterThanOrEqual(10);
  for (let i = 0; i < (await sections.count()); i++) {
    const tab = sections.nth(i);
    const name = (await tab.innerText()).trim();
    await tab.click();
    const panel = settings.locator('[role="tabpanel"]');
    await at(`settings: ${name}`);
    const subTabs = panel.getByRole('tab');
    for (let j = 0; j < (await subTabs.count()); j++) {
      const sub = subTabs.nth(j);
      const subName = (await sub.innerText()).trim();
      await sub.click();
      await at(`settings: ${name} / ${subName}`);
      const create = panel.getByRole('button', { name: L.newish }).first();
      if ((await create.count()) && (await create.isEnabled())) {
        await create.click();
        await at(`settings: ${name} / ${subName} / ${(await create.innerText().catch(() => 'new')).trim()}`);
        await page.keyboard.press('Escape');
      }
    }
    const create = panel.getByRole('button', { name: L.newish }).first();
    if ((await create.count()) && (await create.isVisible()) && (await create.isEnabled())) {
      const label = (await create.innerText()).trim();
      await create.click();
      await at(`settings: ${name} / ${label}`);
      await page.keyboard.press('Escape');
    }
  }
  await screenshot(page, `screens-settings-${locale}`);
  await page.getByRole('button', { name: L.settings, exact: true }).click();
  return seen;
}

describe('every main screen at 1280 px (issue 15)', () => {
  it('has no native <select> and a one-row top bar, in English and in Chinese', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    page.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
    try {
      await page.goto(`${server.url}/app/`);
      await page.getByLabel('Email').fill('admin@demo.goutong');
      await page.getByLabel('Password', { exact: true }).fill('goutong-demo');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('status', { name: 'Connectivity' }).and(page.locator('[data-status="online"]')).waitFor({ timeout: 30_000 });
      await check(page, 'inbox at sign-in (en)');
      await screenshot(page, 'screens-topbar-en');
      // The account menu holds who is signed in and signing out.
      const account = page.getByRole('button', { name: 'Account: Admin 管理员' });
      await account.click();
      await page.getByTestId('account-email').filter({ hasText: 'admin@demo.goutong' }).waitFor();
      await page.getByRole('menuitem', { name: 'Sign out' }).waitFor();
      await screenshot(page, 'screens-account-menu-en');
      await account.click();
      await page.getByRole('menuitem', { name: 'Sign out' }).waitFor({ state: 'hidden' });
      const en = await visitAll(page, 'en');
      expect(en.length).toBeGreaterThanOrEqual(25);

      await setPrefs(page, { language: '中文' });
      await check(page, 'inbox (zh-CN)');
      await screenshot(page, 'screens-topbar-zh');
      const zh = await visitAll(page, 'zh-CN');
      expect(zh.length).toBe(en.length);
    } finally {
      await context.close();
    }
  }, 300_000);
});
