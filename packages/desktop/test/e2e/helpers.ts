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
