// SLA in the agent app against a real server with a test clock: the badge in the inbox row and the
// conversation header turns amber when the server warned and red when it breached; the admin
// screens create a business-hours calendar (an overlap is refused with the server's message; a
// holiday may be a half day with its own open hours) and list SLA policies.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { choose, conversationList, newAgentPage, openConversation, screenshot, signIn } from './helpers';

let server: TestServer;
let browser: Browser;
const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'offset');

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer({ GOUTONG_TEST_CLOCK: clockFile, GOUTONG_OPS_INTERVAL_MS: '100' }), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('SLA in the desktop app', () => {
  it('shows the SLA badge (warning, then breached) in the row and the header; admins manage calendars and policies', async () => {
    const admin = await apiAs(server.url, 'admin@demo.goutong');
    await admin.call('POST', '/api/v1/sla-policies', {
      name: 'Demo SLA', isDefault: true, targets: { normal: { firstResponseSeconds: 3600, resolutionSeconds: 86_400 } }, warning: { percent: 50 },
    });
    const inboxId = await admin.inboxId('Demo API');
    await admin.inbound(inboxId, { externalId: 'sla-e2e-1', from: { identifier: '+8613600000001', name: '赵六 SLA' }, text: '请尽快回复' });

    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.locator('[data-view="all"]').click();
      const row = conversationList(page).getByRole('option', { name: '赵六 SLA' });
      const badge = row.getByTestId('sla-badge');
      await expect.poll(() => badge.getAttribute('data-sla-state'), { timeout: 20_000 }).toBe('ok');
      await expect(badge.getAttribute('aria-label')).resolves.toMatch(/^SLA first response: on track, due in/);

      await admin.call('POST', '/api/v1/test/clock', { advanceMs: 31 * 60_000 });
      await expect.poll(() => badge.getAttribute('data-sla-state'), { timeout: 20_000 }).toBe('warning');
      await admin.call('POST', '/api/v1/test/clock', { advanceMs: 30 * 60_000 });
      await expect.poll(() => badge.getAttribute('data-sla-state'), { timeout: 20_000 }).toBe('breached');
      await openConversation(page, '赵六 SLA');
      const header = page.locator('header.head').getByTestId('sla-badge');
      await expect(header.getAttribute('data-sla-state')).resolves.toBe('breached');
      await page.getByRole('log').getByText(/SLA breached: first response/).waitFor();
      await screenshot(page, 'sla-breached-en');

      await page.getByRole('button', { name: 'Settings' }).click();
      const area = page.getByRole('region', { name: 'Settings' });
      await area.getByRole('tab', { name: 'Business hours' }).click();
      await area.getByRole('button', { name: 'New calendar' }).click();
      const form = area.getByRole('form', { name: 'New calendar' });
      await form.getByLabel('Name', { exact: true }).fill('上海客服');
      await choose(form, 'Time zone', 'Asia/Shanghai');
      await form.getByRole('button', { name: 'Add hours on Monday' }).click();
      // Monday now has 09:00-18:00 and 18:00-24:00; move the second to start at 17:00: an overlap.
      await form.getByLabel('Monday Opens').nth(1).fill('17:00');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.getByRole('alert').filter({ hasText: /overlaps/ }).waitFor();
      await form.getByRole('button', { name: 'Remove Monday 17:00-24:00' }).click();
      // A half day: Christmas Eve opens 09:00-12:00 (its own hours replace the weekday's); New Year's Day is closed.
      await form.getByRole('button', { name: 'Add holiday' }).click();
      await form.getByLabel('Date').nth(0).fill('2026-12-24');
      await form.getByLabel('Holiday name').nth(0).fill('平安夜');
      await form.getByRole('button', { name: 'Add open hours on 2026-12-24 (a half day)' }).click();
      await form.getByRole('button', { name: 'Add holiday' }).click();
      await form.getByLabel('Date').nth(1).fill('2027-01-01');
      await form.getByRole('group', { name: 'Open hours on 2027-01-01' }).getByText('Closed all day').waitFor();
      await form.getByRole('button', { name: 'Save' }).click();
      const calendars = area.getByRole('table', { name: 'Business hours calendars' });
      await calendars.getByRole('rowheader', { name: '上海客服' }).waitFor();
      await expect(calendars.getByRole('row', { name: /上海客服/ }).textContent()).resolves.toContain('Asia/Shanghai');
      await expect(calendars.getByRole('row', { name: /上海客服/ }).textContent()).resolves.toContain('2026-12-24 平安夜 (09:00-12:00)');
      const saved = (await admin.call<{ items: Array<{ name: string; holidays: Array<{ date: string; hours: unknown[] }> }> }>('GET', '/api/v1/business-hours')).items.find((b) => b.name === '上海客服')!;
      expect(saved.holidays).toEqual([
        { date: '2026-12-24', name: '平安夜', hours: [{ open: '09:00', close: '12:00' }] },
        { date: '2027-01-01', name: '', hours: [] },
      ]);
      await screenshot(page, 'sla-business-hours-en');

      // The Support team counts in this calendar (it wins over the inbox's).
      await choose(area, 'Calendar of Support', '上海客服');
      const teams = await admin.call<{ items: Array<{ id: string; name: string }> }>('GET', '/api/v1/teams');
      const support = teams.items.find((x) => x.name === 'Support')!;
      await expect.poll(async () => (await admin.call<{ businessHoursId: string | null }>('GET', `/api/v1/teams/${support.id}/calendar`)).businessHoursId).not.toBeNull();

      await area.getByRole('tab', { name: 'SLA policies' }).click();
      await area.getByRole('table', { name: 'SLA policies' }).getByRole('rowheader', { name: 'Demo SLA' }).waitFor();
      await area.getByRole('button', { name: 'Edit Demo SLA' }).click();
      const policyForm = area.getByRole('form', { name: 'Edit Demo SLA' });
      await expect(policyForm.getByLabel('Normal First response').inputValue()).resolves.toBe('60');
      await policyForm.getByLabel('Urgent First response').fill('10');
      await policyForm.getByRole('button', { name: 'Save' }).click();
      await policyForm.waitFor({ state: 'detached' });
      const policies = await admin.call<{ items: Array<{ name: string; targets: Record<string, { firstResponseSeconds?: number }> }> }>('GET', '/api/v1/sla-policies');
      expect(policies.items.find((p) => p.name === 'Demo SLA')!.targets.urgent).toEqual({ firstResponseSeconds: 600 });
      const lifecycle = area.getByRole('form', { name: 'Conversation lifecycle' });
      await lifecycle.getByLabel(/Resolve pending conversations/).fill('48');
      await lifecycle.getByRole('button', { name: 'Save lifecycle settings' }).click();
      await lifecycle.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
      expect(await admin.call('GET', '/api/v1/lifecycle-settings')).toMatchObject({ autoResolvePendingAfterSeconds: 48 * 3600 });
      await screenshot(page, 'sla-policies-en');
    } finally {
      await context.close();
    }
  }, 120_000);
});
