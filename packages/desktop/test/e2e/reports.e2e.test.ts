// Dashboards against a real server: a supervisor opens Reports (its own chunk with ECharts) and sees
// the demo workspace's figures, in English and Chinese, light and dark; agents have no Reports button.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { choose, newAgentPage, openConversation, screenshot, setPrefs, signIn } from './helpers';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const card = (page: Page, key: string) => page.locator(`[data-card="${key}"] .value`);

describe('reports dashboards', () => {
  it('a supervisor sees the overview, the trend chart, agents and cost, in English and Chinese, light and dark', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'li.wei@demo.goutong');
      await page.getByRole('button', { name: 'Reports' }).click();
      const region = page.getByRole('region', { name: 'Reports' });
      await region.getByRole('list', { name: 'Key figures' }).waitFor();
      // The demo workspace opened 7 conversations today.
      await expect.poll(async () => Number(await card(page, 'opened').textContent())).toBeGreaterThanOrEqual(7);
      await expect(card(page, 'in').textContent()).resolves.toMatch(/^\d+$/);
      await region.locator('[data-testid="trend-chart"] canvas').first().waitFor();
      await screenshot(page, 'reports-overview-en');
      await region.getByRole('tab', { name: 'Agents' }).click();
      await region.getByRole('table').first().waitFor();
      await region.getByRole('tab', { name: 'Cost' }).click();
      await card(page, 'perConversation').waitFor();
      await region.locator('.top-costs').getByText('Billed items').waitFor();
      await expect(card(page, 'sla').count()).resolves.toBe(1);
      await screenshot(page, 'reports-cost-en');

      // Chinese and dark: the same figures, translated labels.
      await page.getByRole('button', { name: /Back/ }).click();
      await setPrefs(page, { language: '中文' });
      await setPrefs(page, { theme: '深色' });
      await page.getByRole('button', { name: '报表' }).click();
      const zh = page.getByRole('region', { name: '报表' });
      await zh.getByRole('list', { name: '关键指标' }).waitFor();
      await zh.getByText('新建会话').first().waitFor();
      await zh.getByText('首次响应（中位数）').first().waitFor();
      await zh.locator('[data-testid="trend-chart"] canvas').first().waitFor();
      await screenshot(page, 'reports-overview-zh-dark');
    } finally {
      await context.close();
    }
  });

  it('the volume dashboard breaks the period down by channel, local hour of day and label; CSAT and offers have their own tabs', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'li.wei@demo.goutong');
      await page.getByRole('button', { name: 'Reports' }).click();
      const region = page.getByRole('region', { name: 'Reports' });
      await region.getByRole('tab', { name: 'Volume' }).click();
      const table = region.locator('.el-table.volume');
      // The demo's seven conversations came in through its API inbox today.
      const row = table.getByRole('row').filter({ hasText: 'API' });
      await row.waitFor();
      await expect.poll(async () => Number((await row.locator('td').nth(1).textContent())?.trim())).toBeGreaterThanOrEqual(7);
      await region.locator('[data-testid="volume-chart"] canvas').first().waitFor();
      await choose(region, 'Break down by', 'By hour of day');
      await expect.poll(() => table.locator('tbody tr').count()).toBe(24);
      await table.getByRole('row').filter({ hasText: '00:00' }).first().waitFor();
      const opened = await table.locator('tbody tr').evaluateAll((rows) => rows.reduce((n, r) => n + Number(r.querySelectorAll('td')[1]?.textContent ?? 0), 0));
      expect(opened).toBeGreaterThanOrEqual(7);
      await screenshot(page, 'reports-volume-en');
      // By label: the demo's labelled conversations, each under its label.
      await choose(region, 'Break down by', 'By label');
      const billing = table.getByRole('row').filter({ hasText: 'billing' });
      await billing.waitFor();
      await expect.poll(async () => Number((await billing.locator('td').nth(1).textContent())?.trim())).toBeGreaterThanOrEqual(1);
      await table.getByRole('row').filter({ hasText: '订单' }).waitFor();
      // CSAT: the figures of the period (the demo has sent no survey yet) and where comments will be.
      await region.getByRole('tab', { name: 'CSAT' }).click();
      await card(page, 'csatAverage').waitFor();
      await expect(card(page, 'csatResponses').textContent()).resolves.toMatch(/^\d+ of \d+ surveys$/);
      await region.locator('[data-testid="volume-chart"] canvas').first().waitFor();
      await region.getByRole('table', { name: 'By agent' }).or(region.locator('.el-table.csat-agents')).first().waitFor();
      await screenshot(page, 'reports-csat-en');
      await region.getByRole('tab', { name: 'Offers' }).click();
      await region.locator('.el-table.offers').getByText('Uses').waitFor();
    } finally {
      await context.close();
    }
  });

  it('a long conversation shows its summary and the customer\'s mood beside it', async () => {
    const api = await apiAs(server.url, 'admin@demo.goutong');
    const inbox = await api.inboxId('Demo API');
    const lines = [
      'Hello, my washing machine WM-200 leaks water from the door since Monday.',
      'I bought it in March at your Shanghai store.',
      'The door seal looks torn at the bottom.',
      'I already tried cleaning the filter.',
      'The floor of my flat is wet every day.',
      'This is terrible, nobody answers and I am very frustrated!',
    ];
    for (const [i, text] of lines.entries()) await api.inbound(inbox, { externalId: `summary-${i}`, from: { identifier: 'summary@example.com', name: 'Summary Tester' }, text });
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'li.wei@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await openConversation(page, 'Summary Tester');
      const summary = page.getByRole('region', { name: 'Summary' });
      await summary.getByRole('button', { name: /leaks water from the door/ }).waitFor();
      await page.getByTestId('sentiment').getByText('Customer mood: negative').waitFor();
      await screenshot(page, 'conversation-summary-en');
    } finally {
      await context.close();
    }
  });

  it('the live board updates in real time as a customer writes in', async () => {
    const api = await apiAs(server.url, 'admin@demo.goutong');
    const inbox = await api.inboxId('Demo API');
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'li.wei@demo.goutong');
      await page.getByRole('button', { name: 'Reports' }).click();
      await page.getByRole('tab', { name: 'Live' }).click();
      const board = page.getByTestId('live-board');
      const unassigned = board.locator('[data-live="unassigned"] .value');
      await board.getByText('Live: updates as conversations change').waitFor();
      await expect.poll(async () => Number(await unassigned.textContent())).toBeGreaterThan(0);
      const before = Number(await unassigned.textContent());
      const onServer = (await api.call<{ totals: { unassigned: number } }>('GET', '/api/v1/reports/live')).totals.unassigned;
      expect(before).toBe(onServer); // the device's figure is the server's (one rule)
      await api.inbound(inbox, { externalId: 'live-1', from: { identifier: 'live@example.com', name: 'Live Tester' }, text: 'Hello, anyone?' });
      await expect.poll(async () => Number(await unassigned.textContent()), { timeout: 15_000 }).toBe(before + 1);
      await screenshot(page, 'reports-live-en');
    } finally {
      await context.close();
    }
  });

  it('agents have no Reports button and the API refuses them', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'zhang.san@demo.goutong');
      await expect(page.getByRole('button', { name: 'Reports' }).count()).resolves.toBe(0);
    } finally {
      await context.close();
    }
  });
});
