// Search and read state in the workspace against a real sync server and Debian's Chromium. Each
// step failed before issue 15: search found only name, label and the last message ("a customer's
// first message, an email address or anything the agent replied to is not found"), the count said
// "1 conversations", and a result did not open at the message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { newAgentPage, screenshot, signIn } from './helpers';

let server: TestServer;
let browser: Browser;
let conversationId: string;
let firstMessageId: string;
const FIRST = '包裹编号 PX-7781 的快递被退回了';
const REPLY = 'We re-shipped parcel PX-7781 with express courier';
const EMAIL = 'mei.lin@example.net';

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  const admin = await apiAs(server.url, 'admin@demo.goutong');
  const inbox = await admin.inboxId('Demo API');
  conversationId = (await admin.inbound(inbox, { externalId: 'search-e2e-0', from: { identifier: EMAIL, name: 'Mei Lin 林梅' }, text: FIRST })).conversationId;
  // The first message scrolls out of the first page of the timeline and out of the list preview.
  for (let i = 1; i <= 45; i++) await admin.inbound(inbox, { externalId: `search-e2e-${i}`, from: { identifier: EMAIL, name: 'Mei Lin 林梅' }, text: `follow-up number ${i}` });
  const page = await admin.call<{ items: Array<{ id: string; text: string }>; nextCursor: string | null }>('GET', `/api/v1/conversations/${conversationId}/messages?limit=100`);
  firstMessageId = page.items.find((m) => m.text === FIRST)!.id;
  const r = await admin.call<{ results: Array<{ outcome: string }> }>('POST', '/api/v1/commands', {
    commands: [{ id: '01950000-0000-7000-8000-00000000e2e1', deviceTime: Date.now(), type: 'send_reply', conversationId, text: REPLY }],
  });
  expect(r.results[0]!.outcome).toBe('applied');
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const searchBox = (page: Page) => page.getByRole('textbox', { name: 'Search conversations' });
const results = (page: Page) => page.getByRole('region', { name: 'Search results' });

describe('search in the workspace', () => {
  it("finds the customer's first message, the email address and the agent's reply; '1 conversation'; opens at the message", async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();

      // The customer's first message (not the last one, not in the preview).
      await searchBox(page).fill('退回');
      const first = results(page).locator(`button[data-message-id="${firstMessageId}"]`);
      await first.waitFor({ timeout: 20_000 });
      await expect(first.locator('mark').first().textContent()).resolves.toBe('退回');
      await expect.poll(() => results(page).getByTestId('search-count').textContent()).toMatch(/^1 result in 1 conversation$/);

      // An email address.
      await searchBox(page).fill(EMAIL);
      await results(page).locator(`button[data-conversation-id="${conversationId}"][data-message-id=""]`).waitFor({ timeout: 20_000 });

      // The inbox rows filtered to one: "1 conversation", not "1 conversations".
      await searchBox(page).fill('Mei Lin');
      await expect.poll(() => page.locator('.summary').textContent(), { timeout: 20_000 }).toMatch(/^1 conversation ·/);

      // What the agent replied.
      await searchBox(page).fill('re-shipped');
      const reply = results(page).locator('button[data-message-id="01950000-0000-7000-8000-00000000e2e1"]');
      await reply.waitFor({ timeout: 20_000 });
      await expect(reply.textContent()).resolves.toContain('Agent reply');

      // Opening a result opens the conversation at that message.
      await searchBox(page).fill('PX-7781');
      await expect.poll(() => results(page).getByTestId('search-count').textContent(), { timeout: 20_000 }).toMatch(/^2 results in 1 conversation$/);
      await results(page).locator(`button[data-message-id="${firstMessageId}"]`).click();
      const target = page.locator(`[role="log"] [data-message-id="${firstMessageId}"]`);
      await target.waitFor({ timeout: 20_000 });
      await expect.poll(() => target.getAttribute('data-search-focus')).toBe('true');
      await expect(target.isVisible()).resolves.toBe(true);
      const inView = await target.evaluate((el) => {
        const r = el.getBoundingClientRect();
        const log = el.closest('[role="log"]')!.getBoundingClientRect();
        return r.bottom > log.top && r.top < log.bottom;
      });
      expect(inView).toBe(true);
      await screenshot(page, 'search-opens-at-message-en');
    } finally {
      await context.close();
    }
  }, 120_000);
});
