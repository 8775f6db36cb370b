// Look and feel of the H5 app (issue 15) in Debian's Chromium at a phone size against the real
// server: dark mode (following the system), rows with waiting time, assignee, labels and relative
// times, SVG icons instead of emoji, and axe-core scans of login, inbox, conversation and settings in
// zh-CN and en, light and dark. Screenshots: test-results/screenshots/look-*.png.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ServerProcess } from '../../../sync-server/test/support/serverProcess';
import { H5_INDEX } from './globalSetup';

const require = createRequire(import.meta.url);
const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const AGENT = 'zhang.san@demo.goutong';
const run = process.env.GOUTONG_E2E !== '0';
if (run && !fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)`);

let server: ServerProcess;
let browser: Browser;

/** A phone page; bypassCSP only so that axe-core can be injected. */
async function phone(locale: 'zh-CN' | 'en-US', colorScheme: 'light' | 'dark'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale, colorScheme, timezoneId: 'Asia/Shanghai', bypassCSP: true, serviceWorkers: 'block' });
  const page = await context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`[mobile pageerror] ${e.message}\n`));
  return { context, page };
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${server.url}/m/`);
  await page.locator('[data-test="email"] input').waitFor();
  await page.locator('[data-test="email"] input').fill(AGENT);
  await page.locator('[data-test="password"] input').fill('goutong-demo');
  await page.locator('[data-test="submit"]').first().tap();
  await page.locator('[data-test="view-mine"]').waitFor({ timeout: 30_000 });
}

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `look-${name}.png`) });
}

async function axeSerious(page: Page): Promise<unknown[]> {
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; nodes: Array<{ target: unknown; failureSummary?: string }> }> }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 4).map((n) => ({ target: n.target, summary: n.failureSummary })) }));
  });
}

const luminance = (rgb: string) => {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? ['0', '0', '0']).slice(0, 3).map((x) => Number(x) / 255);
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
};

describe.runIf(run)('mobile look and feel (H5, phone viewport)', () => {
  beforeAll(async () => {
    if (!fs.existsSync(H5_INDEX)) throw new Error(`${H5_INDEX} is missing: run \`pnpm --filter @goutong/mobile build:h5\``);
    server = new ServerProcess({ env: { GOUTONG_DEMO: '1' } });
    await server.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  it('follows the system dark theme; rows show waiting time, assignee, labels and relative times; icons are SVG, not emoji', async () => {
    const { context, page } = await phone('en-US', 'dark');
    try {
      await signIn(page);
      await expect.poll(() => page.evaluate(() => document.documentElement.classList.contains('gt-dark'))).toBe(true);
      const bg = await page.evaluate(() => getComputedStyle(document.querySelector('uni-page-body') ?? document.body).backgroundColor);
      expect(luminance(bg)).toBeLessThan(0.15);
      const row = page.locator('[data-test="conversation-row"]').filter({ hasText: 'Maria Garcia' });
      await row.waitFor();
      await expect(row.locator('[data-test="row-time"]').innerText()).resolves.toMatch(/^(just now|\d+ min ago|\d{2}:\d{2})$/);
      await expect(row.locator('[data-test="row-waiting"]').innerText()).resolves.toMatch(/^waiting \d+ (min|h|d)$/);
      await expect.poll(() => row.locator('[data-test="row-assignee"]').innerText()).toBe('张三 Zhang San');
      await expect(row.locator('[data-test="row-label"]').first().innerText()).resolves.toBe('#billing');
      // The unassigned queue uses the desktop's word.
      await expect(page.locator('[data-test="view-team"]').innerText()).resolves.toMatch(/^Unassigned/);
      // No emoji glyphs anywhere in the chrome; the outbox and settings buttons are named SVG icons.
      const text = await page.evaluate(() => document.body.innerText);
      expect(text.match(/\p{Extended_Pictographic}/gu) ?? []).toEqual([]);
      await expect(page.locator('[data-test="open-settings"]').getAttribute('aria-label')).resolves.toBe('Settings');
      const mask = await page.locator('[data-test="open-settings"] .gt-icon').evaluate((e) => getComputedStyle(e).maskImage || getComputedStyle(e).webkitMaskImage);
      expect(mask).toMatch(/^url\("data:image\/svg\+xml/);
      await shot(page, 'inbox-system-dark-en');
    } finally {
      await context.close();
    }
  }, 90_000);

  for (const locale of ['en-US', 'zh-CN'] as const) {
    for (const theme of ['light', 'dark'] as const) {
      it(`axe: no serious or critical violation on login, inbox, conversation and settings (${locale}, ${theme})`, async () => {
        const { context, page } = await phone(locale, theme);
        const found: Record<string, unknown> = {};
        const scan = async (screen: string) => {
          const v = await axeSerious(page);
          if (v.length) found[screen] = v;
          await shot(page, `${screen}-${locale}-${theme}`);
        };
        try {
          await page.goto(`${server.url}/m/`);
          await page.locator('[data-test="email"] input').waitFor();
          await scan('login');
          await signIn(page);
          await page.locator('[data-test="conversation-row"]').first().waitFor();
          await scan('inbox');
          await page.locator('[data-test="conversation-row"]').filter({ hasText: 'Maria Garcia' }).tap();
          await page.locator('[data-test="message"]').first().waitFor();
          await scan('conversation');
          await page.goBack();
          await page.locator('[data-test="open-settings"]').tap();
          await page.locator('[data-test="theme"]').waitFor();
          await scan('settings');
          expect(found).toEqual({});
        } finally {
          await context.close();
        }
      }, 120_000);
    }
  }
});
