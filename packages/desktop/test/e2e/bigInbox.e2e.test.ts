// 100,000 conversations in the local store, the server unreachable: the virtual list scrolls and filters.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, OFFLINE_ORIGIN, seedLocal, serveOffline } from '../../bench/lib/chromium.mjs';
import { choose, screenshot } from './helpers';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

it('sanitises e-mail HTML in Chromium (no script, handlers, forms or styles)', async () => {
  const context = await browser.newContext();
  try {
    await serveOffline(context);
    const page = await context.newPage();
    await page.goto(`${OFFLINE_ORIGIN}/app/__harness/index.html`);
    await page.waitForFunction(() => document.getElementById('state')?.textContent === 'ready');
    const out = await page.evaluate(
      (html) => (globalThis as unknown as { goutongHarness: { sanitizeEmailHtml(s: string): string } }).goutongHarness.sanitizeEmailHtml(html),
      '<p onclick="alert(1)">Hi <b>there</b></p><script>alert(2)</script><img src=x onerror=alert(3)><a href="javascript:alert(4)">x</a><form action="https://evil"><input></form><style>*{}</style>',
    );
    expect(out).toContain('<p>Hi <b>there</b></p>');
    expect(out).not.toMatch(/script|onclick|onerror|javascript:|<form|<input|<style/);
  } finally {
    await context.close();
  }
});

it('scrolls and filters an inbox of 100,000 conversations stored on the device', async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, locale: 'en-US' });
  try {
    await serveOffline(context);
    const seeded = await seedLocal(context, { count: 100_000 });
    process.stdout.write(`[desktop e2e] seeded 100,000 conversations in ${Math.round(seeded.ms)} ms\n`);
    const page = await context.newPage();
    await page.goto(`${OFFLINE_ORIGIN}/app/`);
    const list = page.getByRole('listbox', { name: 'Conversations' });
    await page.getByRole('tab', { name: /All/ }).click();
    await choose(page, 'Status filter', 'All statuses');
    await expect.poll(() => list.getAttribute('data-rowcount'), { timeout: 60_000 }).toBe('100000');
    await list.getByRole('option').first().waitFor();
    await expect(page.getByRole('status', { name: 'Connectivity' }).getAttribute('data-status')).resolves.toMatch(/offline|connecting/);

    // Scroll far down: rows at that offset are read from the local database and rendered.
    const scroller = page.getByTestId('inbox-scroller');
    await scroller.evaluate((el) => (el.scrollTop = 68 * 20_000));
    await list.locator('[data-index="20005"]').waitFor({ timeout: 60_000 });
    await scroller.evaluate((el) => (el.scrollTop = 68 * 50_000));
    await list.locator('[data-index="50005"]').waitFor({ timeout: 60_000 });
    await screenshot(page, 'inbox-100k-en');

    // Filter: urgent only, then search text; counts and rows follow.
    await choose(page, 'Priority filter', 'Urgent');
    await expect.poll(async () => Number(await list.getAttribute('data-rowcount')), { timeout: 60_000 }).toBeLessThan(100_000);
    const urgent = Number(await list.getAttribute('data-rowcount'));
    expect(urgent).toBeGreaterThan(15_000);
    await list.getByRole('option').first().waitFor();
    await page.getByRole('textbox', { name: 'Search conversations' }).fill('退款');
    await expect.poll(async () => Number(await list.getAttribute('data-rowcount')), { timeout: 60_000 }).toBeLessThan(urgent);
    await list.getByRole('option').first().waitFor();
    const texts = await list.getByRole('option').allTextContents();
    expect(texts.length).toBeGreaterThan(0);
  } finally {
    await context.close();
  }
}, 240_000);

it('a second tab of the same account is told the workspace is open elsewhere', async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 700 }, locale: 'en-US' });
  try {
    await serveOffline(context);
    await seedLocal(context, { count: 50 });
    const first = await context.newPage();
    await first.goto(`${OFFLINE_ORIGIN}/app/`);
    await first.getByRole('listbox', { name: 'Conversations' }).getByRole('option').first().waitFor();
    const second = await context.newPage();
    await second.goto(`${OFFLINE_ORIGIN}/app/`);
    await second.getByRole('alert').filter({ hasText: 'already open in another tab' }).waitFor();
  } finally {
    await context.close();
  }
});
