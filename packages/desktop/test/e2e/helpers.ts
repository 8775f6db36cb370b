import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
export const DEMO_PASSWORD = 'goutong-demo';

export async function newAgentPage(browser: Browser, opts: { locale?: string } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, locale: opts.locale ?? 'en-US', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
  return { context, page };
}

export async function signIn(page: Page, serverUrl: string, email: string): Promise<void> {
  await page.goto(`${serverUrl}/app/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('status', { name: 'Connectivity' }).and(page.locator('[data-status="online"]')).waitFor({ timeout: 30_000 });
}

export function conversationList(page: Page) {
  return page.getByRole('listbox', { name: /Conversations|会话列表/ });
}

export async function openConversation(page: Page, name: string): Promise<void> {
  await conversationList(page).getByRole('option', { name }).click();
  await page.getByRole('heading', { name, level: 2 }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Records every value the data-status attribute of the message containing `text` takes. */
export async function recordStatuses(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: Record<string, string[]> = {};
    (globalThis as { __statuses?: unknown }).__statuses = seen;
    const note = (el: Element) => {
      const text = el.querySelector('.text')?.textContent ?? '';
      const s = el.getAttribute('data-status') ?? '';
      const list = (seen[text] ??= []);
      if (list[list.length - 1] !== s) list.push(s);
    };
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'attributes' && r.target instanceof Element && r.target.matches('article.msg')) note(r.target);
        for (const n of r.addedNodes) {
          if (n instanceof Element) {
            if (n.matches('article.msg')) note(n);
            n.querySelectorAll('article.msg').forEach(note);
          }
        }
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
  });
}

export async function statusesOf(page: Page, text: string): Promise<string[]> {
  return page.evaluate((t) => ((globalThis as { __statuses?: Record<string, string[]> }).__statuses ?? {})[t] ?? [], text);
}

/** Picks `option` in the Element Plus select labelled `label` (the workspace's GtSelect). */
export async function choose(scope: Page | import('playwright-core').Locator, label: string | RegExp, option: string): Promise<void> {
  const page = 'page' in scope && typeof scope.page === 'function' ? scope.page() : (scope as Page);
  const box = scope.getByRole('combobox', { name: label, exact: typeof label === 'string' }).first();
  await box.locator('xpath=ancestor::div[contains(concat(" ", @class, " "), " el-select__wrapper ")][1]').click();
  await page.locator('.el-select__popper:visible').getByRole('option', { name: option, exact: true }).click();
  await page.locator('.el-select__popper:visible').waitFor({ state: 'hidden' });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/** Runs axe-core in the page (injected from the axe-core package); the serious and critical violations. */
export async function axeSerious(page: Page): Promise<AxeViolation[]> {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  // Colours are judged at rest: a button that was just enabled is still fading from its disabled
  // colours for a tenth of a second, which axe would read as a contrast failure.
  await page.evaluate(async () => {
    if (!document.getElementById('gt-axe-still')) {
      const style = document.createElement('style');
      style.id = 'gt-axe-still';
      style.textContent = '*, *::before, *::after { transition: none !important; animation: none !important; }';
      document.head.append(style);
    }
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Sets the language and/or theme through the top bar's "Language and theme" panel. */
export async function setPrefs(page: Page, prefs: { language?: '中文' | 'English'; theme?: 'Follow system' | 'Light' | 'Dark' | '跟随系统' | '浅色' | '深色' }): Promise<void> {
  const open = page.getByTestId('prefs-open');
  if ((await open.getAttribute('aria-expanded')) !== 'true') await open.click();
  const panel = page.locator('#gt-prefs');
  if (prefs.language) await choose(panel, /^(Language|语言)$/, prefs.language);
  if (prefs.theme) await choose(panel, /^(Theme|主题)$/, prefs.theme);
  if ((await open.getAttribute('aria-expanded')) === 'true') await open.click();
}
