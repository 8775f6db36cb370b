// Look and feel (issue 15): the layout defects at 1280 px, SVG icons instead of emoji, the dark theme
// (chosen, or following the system), and axe-core scans of the main screens in both languages and
// both themes. Screenshots go to test-results/screenshots/look-*.png.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { startTestServer, type TestServer } from './server';
import { axeSerious, conversationList, openConversation, screenshot, setPrefs } from './helpers';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** A page at `width` × 800; bypassCSP only so that axe-core can be injected. */
async function pageAt(width: number, opts: { locale?: string; colorScheme?: 'light' | 'dark'; prefs?: Record<string, string> } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width, height: 800 }, locale: opts.locale ?? 'en-US', timezoneId: 'Asia/Shanghai', colorScheme: opts.colorScheme ?? 'light', bypassCSP: true });
  if (opts.prefs) await context.addInitScript((p: Record<string, string>) => Object.entries(p).forEach(([k, v]) => localStorage.setItem(k, v)), opts.prefs);
  const page = await context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
  return { context, page };
}

/** Signs in as the demo admin with the login form in the page's language. */
async function signInAs(page: Page, locale: 'en' | 'zh-CN', email = 'admin@demo.goutong'): Promise<void> {
  const zh = locale === 'zh-CN';
  if (!page.url().includes('/app/')) await page.goto(`${server.url}/app/`);
  await page.getByLabel(zh ? '邮箱' : 'Email').fill(email);
  await page.getByLabel(zh ? '密码' : 'Password', { exact: true }).fill('goutong-demo');
  await page.getByRole('button', { name: zh ? '登录' : 'Sign in' }).click();
  await page.getByRole('tab', { name: zh ? /全部/ : /All/ }).click();
  await expect.poll(() => conversationList(page).getByRole('option').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(5);
}

type Box = { x: number; y: number; width: number; height: number };
async function boxes(page: Page, selector: string): Promise<Box[]> {
  return page.locator(selector).evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0).map((r) => ({ x: r.x, y: r.y, width: r.width, height: r.height })));
}
/** Every box on one row: the same vertical centre (±3 px). */
function oneRow(list: Box[]): boolean {
  const centres = list.map((b) => b.y + b.height / 2);
  return Math.max(...centres) - Math.min(...centres) <= 3;
}

/** Text of the workspace's chrome (buttons, tabs, toolbars, headers, meta lines): not what customers wrote. */
async function chromeText(page: Page): Promise<string> {
  return page.evaluate(() =>
    [...document.querySelectorAll('button, [role="tab"], [role="toolbar"], header, .meta, .el-select__selected-item, label, [role="status"]')].map((e) => (e as HTMLElement).innerText).join('\n'),
  );
}

const luminance = (rgb: string) => {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? ['0', '0', '0']).slice(0, 3).map((x) => Number(x) / 255);
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
};

describe('layout at 1280 px', () => {
  for (const locale of ['en', 'zh-CN'] as const) {
    it(`the conversation toolbar and the Reply/Note toggle fit one row; the status filter is not cut (${locale})`, async () => {
      const { context, page } = await pageAt(1280, { prefs: { 'goutong.locale': locale } });
      try {
        await signInAs(page, locale);
        await openConversation(page, '王芳');
        // Nothing in the top bar is cut off or pushed out of the window.
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
        const top = await boxes(page, 'header.top > *');
        expect(Math.max(...top.map((b) => b.x + b.width))).toBeLessThanOrEqual(1280);
        await page.getByRole('combobox', { name: locale === 'en' ? 'Priority' : '优先级', exact: true }).waitFor();

        const tools = await boxes(page, '[data-testid="conversation-toolbar"] > *');
        expect(tools.length).toBeGreaterThanOrEqual(6);
        expect(oneRow(tools)).toBe(true);
        // Each button's label on one line (a wrapped label makes the button taller than the row).
        const buttonHeights = (await boxes(page, '[data-testid="conversation-toolbar"] > .el-button')).map((b) => b.height);
        expect(Math.max(...buttonHeights)).toBeLessThanOrEqual(32);

        const toggle = await boxes(page, '.composer .el-radio-button');
        expect(toggle).toHaveLength(2);
        expect(oneRow(toggle)).toBe(true);
        expect(Math.max(...toggle.map((b) => b.height))).toBeLessThanOrEqual(32);

        // The status filter shows its whole label.
        const status = page.getByRole('combobox', { name: locale === 'en' ? 'Status filter' : '状态筛选' }).locator('xpath=ancestor::div[contains(@class,"el-select__wrapper")][1]');
        const label = status.locator('.el-select__placeholder:not(.is-transparent)').first();
        await expect(label.innerText()).resolves.toBe(locale === 'en' ? 'Open and pending' : '进行中和待处理');
        const cut = await label.evaluate((e) => {
          const inner = (e.querySelector('span') ?? e) as HTMLElement;
          return inner.scrollWidth > inner.clientWidth + 1 || e.scrollWidth > e.clientWidth + 1;
        });
        expect(cut).toBe(false);
        await screenshot(page, `look-toolbar-1280-${locale}`);
      } finally {
        await context.close();
      }
    });
  }

  it('shows no emoji glyphs in the workspace chrome; icons are SVG', async () => {
    const { context, page } = await pageAt(1280);
    try {
      await signInAs(page, 'en');
      await openConversation(page, 'Tom Baker');
      const text = await chromeText(page);
      expect(text.match(/\p{Extended_Pictographic}/gu) ?? []).toEqual([]);
      // The toolbar's icons are SVG (Element Plus icons).
      expect(await page.locator('[data-testid="conversation-toolbar"] svg').count()).toBeGreaterThanOrEqual(2);
    } finally {
      await context.close();
    }
  });

  it('snooze offers a date-time picker, says until when, and the header then says it', async () => {
    const { context, page } = await pageAt(1280);
    try {
      await signInAs(page, 'en');
      await openConversation(page, 'Tom Baker');
      await page.getByTestId('snooze-open').click();
      const panel = page.getByTestId('snooze-panel');
      await panel.locator('input').first().waitFor();
      await panel.getByRole('button', { name: 'Tomorrow 09:00' }).click();
      await expect(panel.getByTestId('snooze-until').innerText()).resolves.toMatch(/^Snoozed until Tomorrow 09:00( AM)?$/);
      // Pick a date and time by typing it into the picker.
      const input = panel.locator('input').first();
      const inAWeek = new Date(Date.now() + 8 * 86_400_000);
      const day = `${inAWeek.getFullYear()}-${String(inAWeek.getMonth() + 1).padStart(2, '0')}-${String(inAWeek.getDate()).padStart(2, '0')}`;
      await input.fill(`${day} 14:30`);
      await input.press('Enter');
      await expect.poll(() => panel.getByTestId('snooze-until').innerText()).toMatch(/^Snoozed until .+(14:30|02:30 PM)$/);
      await screenshot(page, 'look-snooze-en');
      await panel.getByTestId('snooze-confirm').click();
      await expect.poll(() => page.getByTestId('conversation-status').getAttribute('data-status')).toBe('snoozed');
      await expect.poll(() => page.getByTestId('snoozed-until').innerText()).toMatch(/^Snoozed until .+(14:30|02:30 PM)$/);
    } finally {
      await context.close();
    }
  });
});

describe('themes', () => {
  it('follows the system theme while running, and the switch overrides it', async () => {
    const { context, page } = await pageAt(1280, { colorScheme: 'light' });
    try {
      await signInAs(page, 'en');
      const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const paneBg = () => page.locator('section.pane').first().evaluate((e) => getComputedStyle(e).backgroundColor);
      expect(luminance(await bg())).toBeGreaterThan(0.8);
      await page.emulateMedia({ colorScheme: 'dark' });
      await expect.poll(() => page.evaluate(() => document.documentElement.classList.contains('dark'))).toBe(true);
      expect(luminance(await bg())).toBeLessThan(0.15);
      expect(luminance(await paneBg())).toBeLessThan(0.15);
      await screenshot(page, 'look-inbox-system-dark-en');
      // The agent's choice wins over the system and is kept.
      await setPrefs(page, { theme: 'Light' });
      await expect.poll(() => page.evaluate(() => document.documentElement.classList.contains('dark'))).toBe(false);
      expect(luminance(await bg())).toBeGreaterThan(0.8);
      expect(await page.evaluate(() => localStorage.getItem('goutong.theme'))).toBe('light');
      await setPrefs(page, { theme: 'Follow system' });
      await expect.poll(() => page.evaluate(() => document.documentElement.classList.contains('dark'))).toBe(true);
    } finally {
      await context.close();
    }
  });
});

describe('accessibility', () => {
  it('the inbox is a listbox whose selected row is marked, with unread and details as accessible text', async () => {
    const { context, page } = await pageAt(1280);
    try {
      await signInAs(page, 'en');
      const list = conversationList(page);
      await openConversation(page, '王芳');
      const row = list.getByRole('option', { name: '王芳' });
      await expect(row.getAttribute('aria-selected')).resolves.toBe('true');
      await expect(row.getAttribute('aria-current')).resolves.toBe('true');
      // The description tells what the row shows (status, channel, assignee, last activity).
      const desc = await row.evaluate((e) => document.getElementById(e.getAttribute('aria-describedby') ?? '')?.textContent ?? '');
      expect(desc).toMatch(/Open|Pending/);
      expect(desc).toMatch(/Last activity/);
      // Keyboard: j moves the selection, Enter opens the selected row.
      await page.locator('body').click({ position: { x: 700, y: 500 } });
      await page.keyboard.press('j');
      await page.keyboard.press('Enter');
      const selected = list.locator('[aria-selected="true"]');
      await expect.poll(async () => selected.getAttribute('aria-current')).toBe('true');
      // Unread markers are images named in the UI language.
      const markers = page.getByTestId('unread-marker');
      if ((await markers.count()) > 0) await expect(markers.first().getAttribute('role')).resolves.toBe('img');
    } finally {
      await context.close();
    }
  });

  for (const locale of ['en', 'zh-CN'] as const) {
    for (const theme of ['light', 'dark'] as const) {
      it(`axe: no serious or critical violation on login, inbox, conversation, settings and reports (${locale}, ${theme})`, async () => {
        const { context, page } = await pageAt(1280, { prefs: { 'goutong.locale': locale, 'goutong.theme': theme }, locale: locale === 'en' ? 'en-US' : 'zh-CN' });
        const found: Record<string, unknown> = {};
        const scan = async (screen: string) => {
          const v = await axeSerious(page);
          if (v.length) found[screen] = v;
          await screenshot(page, `look-${screen}-${locale}-${theme}`);
        };
        try {
          await page.goto(`${server.url}/app/`);
          await page.locator('form').first().waitFor();
          await scan('login');
          const zh = locale === 'zh-CN';
          await signInAs(page, locale);
          await scan('inbox');
          await openConversation(page, '王芳');
          await page.getByRole('log').getByText('你好，我的订单').first().waitFor();
          await scan('conversation');
          await page.getByRole('button', { name: zh ? '设置' : 'Settings', exact: true }).click();
          await page.getByRole('button', { name: zh ? /返回/ : /Back/ }).first().waitFor();
          await scan('settings');
          await page.getByRole('button', { name: zh ? '报表' : 'Reports', exact: true }).click();
          await page.locator('[data-testid="trend-chart"]').first().waitFor({ timeout: 20_000 });
          await scan('reports');
          expect(found).toEqual({});
        } finally {
          await context.close();
        }
      });
    }
  }
});
