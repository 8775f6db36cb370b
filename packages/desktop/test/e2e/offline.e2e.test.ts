// Issue 15: the desktop renderer served as a web app (/app on the sync server) reloads with no
// network: its service worker precached the build (hashed assets from the vite manifest) and serves
// index.html when the network fails; the inbox shows from the device's own database. The worker
// never answers API calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { startTestServer, type TestServer } from './server';
import { conversationList, newAgentPage, screenshot, signIn } from './helpers';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the web app offline', () => {
  it('loads, goes offline, reloads: the shell comes from the service worker, the inbox from local data', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await expect.poll(() => conversationList(page).getByRole('option').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(7);
      const online = await conversationList(page).getByRole('option').count();
      // The worker installed (precache done) and controls the page.
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
      await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller?.scriptURL ?? null), { timeout: 20_000 }).toMatch(/\/app\/sw\.js$/);
      const cached = await page.evaluate(async () => {
        const names = await caches.keys();
        const urls: string[] = [];
        for (const n of names) for (const r of await (await caches.open(n)).keys()) urls.push(new URL(r.url).pathname);
        return urls;
      });
      expect(cached).toContain('/app/index.html');
      expect(cached.some((u) => /^\/app\/assets\/index-[\w-]+\.js$/.test(u))).toBe(true);
      expect(cached.filter((u) => u.startsWith('/api/'))).toEqual([]); // never the API

      await context.setOffline(true);
      await page.reload();
      // The app is back from the cache: offline, with the inbox from IndexedDB.
      await page.getByRole('status', { name: 'Connectivity' }).and(page.locator('[data-status="offline"]')).waitFor({ timeout: 30_000 });
      await page.getByRole('tab', { name: /All/ }).click();
      await expect.poll(() => conversationList(page).getByRole('option').count(), { timeout: 30_000 }).toBe(online);
      await expect(conversationList(page).getByRole('option', { name: /王芳/ }).count()).resolves.toBeGreaterThan(0);
      await screenshot(page, 'web-app-offline-reload');
      // API calls are not answered from any cache while offline.
      const api = await page.evaluate(() => fetch('/api/v1/me').then((r) => r.status, () => 'failed'));
      expect(api).toBe('failed');

      // Back online: the same page reconnects.
      await context.setOffline(false);
      await page.getByRole('status', { name: 'Connectivity' }).and(page.locator('[data-status="online"]')).waitFor({ timeout: 30_000 });
    } finally {
      await context.close();
    }
  });
});
