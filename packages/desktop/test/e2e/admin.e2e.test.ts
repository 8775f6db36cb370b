// The settings area against a real server: inboxes created from the provider schemas of the
// OpenAPI document, secrets shown once, canned responses that reach the composer, role gating.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { choose, conversationList, newAgentPage, openConversation, screenshot, setPrefs, signIn } from './helpers';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

interface AdminInbox {
  id: string;
  name: string;
  channel: string;
  provider: string | null;
  teamIds: string[];
  config: Record<string, unknown>;
  secretsSet: string[];
}

const settings = (page: Page) => page.getByRole('region', { name: /^(Settings|设置)$/ });

describe('settings area (admin screens)', () => {
  it('the admin creates a Kannel SMS inbox and a canned response; the inbox filter and the composer picker show them', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('button', { name: 'Settings' }).click();
      const area = settings(page);
      await area.getByRole('tab', { name: 'Inboxes', selected: true }).waitFor();
      const table = area.getByRole('table', { name: 'Inboxes' });
      await table.getByRole('rowheader', { name: 'Demo API' }).waitFor();
      await expect(table.getByRole('row', { name: /Demo API/ }).textContent()).resolves.toContain('secret');
      await screenshot(page, 'admin-inboxes-en');

      await area.getByRole('button', { name: 'New inbox' }).click();
      const form = area.getByRole('form', { name: 'New inbox' });
      await choose(form, 'Channel and provider', 'SMS · Kannel');
      // The fields come from Provider.sms/kannel.config|secrets of the OpenAPI document.
      await form.getByLabel('sendsms user').waitFor();
      await form.getByRole('button', { name: 'Create inbox' }).click();
      await form.getByRole('alert').filter({ hasText: 'Some fields need attention' }).waitFor();
      await expect(form.getByLabel('sendsms user').getAttribute('aria-invalid')).resolves.toBe('true');
      await expect(form.getByLabel('Webhook token', { exact: true }).getAttribute('aria-invalid')).resolves.toBe('true');

      await form.getByLabel('Name', { exact: true }).fill('Kannel 短信');
      await form.getByRole('checkbox', { name: 'Support' }).check();
      await form.getByLabel('sendsms user').fill('goutong');
      await form.getByLabel('This server as the provider reaches it').fill('127.0.0.1:8787');
      await form.getByLabel('Delivery report mask').fill('99');
      await form.getByLabel('Password', { exact: true }).fill('kannel-pass');
      await form.getByRole('button', { name: 'Generate Webhook token' }).click();
      await form.getByRole('button', { name: 'Create inbox' }).click();
      await expect.poll(() => form.getByLabel('This server as the provider reaches it').getAttribute('aria-invalid')).toBe('true');
      await form.getByText('A full URL, such as https://host/path').waitFor();
      await form.getByText('At most 31').waitFor();
      await form.getByLabel('This server as the provider reaches it').fill(server.url);
      await form.getByLabel('Delivery report mask').fill('');
      const token = await form.getByLabel('Webhook token', { exact: true }).inputValue();
      expect(token.length).toBeGreaterThanOrEqual(16);
      await screenshot(page, 'admin-kannel-form-en');
      await form.getByRole('button', { name: 'Create inbox' }).click();

      await area.getByRole('heading', { name: 'Inbox “Kannel 短信” created' }).waitFor();
      // Kannel's secrets were typed by the admin: nothing generated to show once; the get-url to configure.
      await expect(area.getByText('Secrets shown only once').count()).resolves.toBe(0);
      const getUrl = await area.getByRole('textbox', { name: /Kannel sms-service get-url/ }).inputValue();
      const { items } = await (await apiAs(server.url, 'admin@demo.goutong')).call<{ items: AdminInbox[] }>('GET', '/api/v1/inboxes');
      const kannel = items.find((i) => i.name === 'Kannel 短信')!;
      expect(kannel).toMatchObject({ channel: 'sms', provider: 'kannel', config: { username: 'goutong', webhookBaseUrl: server.url, dlrMask: 31 }, secretsSet: ['password', 'webhookToken'] });
      expect(kannel.teamIds).toHaveLength(1);
      expect(JSON.stringify(items)).not.toContain('kannel-pass');
      expect(JSON.stringify(items)).not.toContain(token);
      expect(getUrl).toBe(`${server.url}/webhooks/kannel/${kannel.id}/inbound?token=${encodeURIComponent(token)}&from=%p&to=%P&text=%a&coding=%c&charset=%C&id=%I&ts=%t&smsc=%i`);
      // The get-url works: Kannel delivering an SMS to it makes a conversation.
      const sms = await fetch(getUrl.replace('%p', encodeURIComponent('+8613511112222')).replace('%P', '10086').replace('%a', encodeURIComponent('短信测试 SMS test')).replace('%c', '0').replace('%C', 'UTF-8').replace('%I', 'kannel-e2e-1').replace('%t', String(Math.floor(Date.now() / 1000))).replace('%i', 'fake'));
      expect(sms.status).toBeLessThan(300);
      await screenshot(page, 'admin-inbox-created-en');
      await area.getByRole('button', { name: 'Done' }).click();
      await table.getByRole('rowheader', { name: 'Kannel 短信' }).waitFor();
      // The list shows the config and the names of the secrets, never their values.
      const row = table.getByRole('row', { name: /Kannel 短信/ });
      await row.getByText(/settings$/).click();
      await row.getByText('goutong', { exact: true }).waitFor();
      const rowText = await row.textContent();
      expect(rowText).toContain('webhookToken');
      expect(rowText).not.toContain('kannel-pass');
      expect(rowText).not.toContain(token);
      await screenshot(page, 'admin-inboxes-list-en');

      // Edit: a config change (PATCH), secrets left blank stay as they are.
      await table.getByRole('button', { name: 'Edit Kannel 短信' }).click();
      const edit = area.getByRole('form', { name: 'Edit Kannel 短信' });
      await expect(edit.getByLabel('sendsms user').inputValue()).resolves.toBe('goutong');
      await expect(edit.getByLabel('Password', { exact: true }).getAttribute('placeholder')).resolves.toContain('leave blank to keep');
      await edit.getByLabel('Sender number').fill('10086');
      await edit.getByRole('button', { name: 'Save changes' }).click();
      await edit.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
      const after = (await (await apiAs(server.url, 'admin@demo.goutong')).call<AdminInbox>('GET', `/api/v1/inboxes/${kannel.id}`));
      expect(after.config.from).toBe('10086');
      expect(after.secretsSet).toEqual(['password', 'webhookToken']);
      await edit.getByRole('button', { name: 'Cancel' }).click();

      // An api inbox: the server generates its signing secret and shows it once.
      await area.getByRole('button', { name: 'New inbox' }).click();
      const apiForm = area.getByRole('form', { name: 'New inbox' });
      await choose(apiForm, 'Channel and provider', 'API (your own system)');
      await apiForm.getByLabel('Name', { exact: true }).fill('Shop backend');
      await apiForm.getByRole('button', { name: 'Create inbox' }).click();
      const once = area.getByRole('note', { name: /Secrets shown only once/ });
      await once.waitFor();
      await once.getByText('never shows them again', { exact: false }).waitFor();
      const secret = await once.getByRole('textbox', { name: 'Signing secret' }).inputValue();
      expect(secret.length).toBeGreaterThanOrEqual(16);
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
      await once.getByRole('button', { name: 'Copy Signing secret' }).click();
      await once.getByRole('button', { name: 'Copy Signing secret' }).filter({ hasText: 'Copied' }).waitFor();
      await expect(page.evaluate(() => navigator.clipboard.readText())).resolves.toBe(secret);
      await screenshot(page, 'admin-secret-once-en');
      const inboundUrl = await area.getByRole('textbox', { name: /Inbound messages/ }).inputValue();
      // The secret signs inbound posts (HMAC over "timestamp.body").
      const body = JSON.stringify({ externalId: 'shop-1', from: { identifier: 'shop-customer-1', name: 'Shop Customer' }, text: 'signed with the secret shown once' });
      const ts = String(Math.floor(Date.now() / 1000));
      const signed = await fetch(inboundUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-goutong-timestamp': ts, 'x-goutong-signature': `sha256=${crypto.createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}` },
        body,
      });
      expect(signed.status).toBe(201);
      await area.getByRole('button', { name: 'Done' }).click();

      // Canned responses.
      await area.getByRole('tab', { name: 'Canned responses' }).click();
      const cannedTable = area.getByRole('table', { name: 'Canned responses' });
      await cannedTable.getByRole('rowheader', { name: '问候 Greeting' }).waitFor();
      await area.getByRole('button', { name: 'New canned response' }).click();
      const cannedForm = area.getByRole('form', { name: 'New canned response' });
      await cannedForm.getByLabel('Short code').fill('sms-sign');
      await cannedForm.getByLabel('Title').fill('短信签名 SMS signature');
      await cannedForm.getByLabel('Text').fill('Hi ');
      await cannedForm.getByRole('button', { name: '{{contact.name}}' }).click();
      await cannedForm.getByLabel('Text').press('End');
      await cannedForm.getByLabel('Text').pressSequentially(', this is ');
      await cannedForm.getByRole('button', { name: '{{agent.name}}' }).click();
      await cannedForm.getByRole('button', { name: 'Save' }).click();
      await cannedTable.getByRole('rowheader', { name: '短信签名 SMS signature' }).waitFor();
      await screenshot(page, 'admin-canned-en');

      // Back in the inbox: the new inboxes reach the filter by sync, the canned response the picker.
      await area.getByRole('button', { name: 'Back to the inbox' }).click();
      await page.getByRole('tab', { name: /All/ }).click();
      // The option appears in the (Element Plus) list when the inbox arrives by sync; choose waits for it.
      await page.getByRole('combobox', { name: 'Inbox filter', exact: true }).waitFor({ timeout: 20_000 });
      await choose(page, 'Inbox filter', 'Kannel 短信');
      await conversationList(page).getByRole('option', { name: /8613511112222/ }).waitFor({ timeout: 20_000 });
      await choose(page, 'Inbox filter', 'All inboxes');
      await openConversation(page, '王芳');
      // [composer] the short code at the caret opens the picker; Enter inserts the filled text.
      await page.getByLabel('Reply message').pressSequentially('/sms-s');
      await page.getByRole('listbox', { name: 'Canned responses' }).getByRole('option', { name: /sms-sign/ }).waitFor();
      await page.getByLabel('Reply message').press('Enter');
      await expect.poll(() => page.getByLabel('Reply message').inputValue()).toBe('Hi 王芳, this is Admin 管理员');
    } finally {
      await context.close();
    }
  });

  it('speaks Chinese', async () => {
    const { context, page } = await newAgentPage(browser, { locale: 'zh-CN' });
    try {
      await page.goto(`${server.url}/app/`);
      await setPrefs(page, { language: '中文' });
      await page.getByLabel('邮箱', { exact: true }).fill('admin@demo.goutong');
      await page.getByLabel('密码', { exact: true }).fill('goutong-demo');
      await page.getByRole('button', { name: '登录' }).click();
      await page.getByRole('button', { name: '设置' }).click();
      const area = settings(page);
      await area.getByRole('button', { name: '新建收件箱' }).click();
      const form = area.getByRole('form', { name: '新建收件箱' });
      await choose(form, '渠道与服务商', '短信 · Kannel');
      await form.getByLabel('sendsms 用户').waitFor();
      await form.getByRole('button', { name: '创建收件箱' }).click();
      await form.getByText('必填').first().waitFor();
      await screenshot(page, 'admin-kannel-form-zh-CN');
      await area.getByRole('tab', { name: '坐席' }).click();
      await area.getByRole('table', { name: '坐席' }).getByRole('rowheader', { name: '张三 Zhang San' }).waitFor();
      await area.getByRole('tab', { name: '团队' }).click();
      await area.getByRole('table', { name: '团队' }).getByRole('rowheader', { name: 'Support' }).waitFor();
    } finally {
      await context.close();
    }
  });

  it('agents see only their own account in the settings; supervisors see canned responses, agents and teams but not inboxes', async () => {
    const agent = await newAgentPage(browser);
    const supervisor = await newAgentPage(browser);
    try {
      await Promise.all([signIn(agent.page, server.url, 'zhang.san@demo.goutong'), signIn(supervisor.page, server.url, 'li.wei@demo.goutong')]);
      // [accounts] Every agent has "My account" (password, two-factor, sessions) in the settings.
      await agent.page.getByRole('button', { name: 'Settings' }).click();
      await expect(settings(agent.page).getByRole('tab').allTextContents()).resolves.toEqual(['Macros', 'Agents', 'Teams', 'My account'].map((x) => expect.stringContaining(x)));
      await supervisor.page.getByRole('button', { name: 'Settings' }).click();
      const area = settings(supervisor.page);
      await area.getByRole('tab', { name: 'Canned responses', selected: true }).waitFor();
      await expect(area.getByRole('tab').allTextContents()).resolves.toEqual(
        ['Canned responses', 'Fields, segments & offers', 'Macros', 'Agents', 'Teams', 'Routing and queues', 'Business hours', 'SLA policies', 'Security', 'My account'].map((x) => expect.stringContaining(x)),
      );
      await area.getByRole('button', { name: 'New canned response' }).waitFor();
      await area.getByRole('tab', { name: 'Agents' }).click();
      const agents = area.getByRole('table', { name: 'Agents' });
      await agents.getByRole('rowheader', { name: 'Alice Chen' }).waitFor();
      await expect(agents.getByRole('row', { name: /Alice Chen/ }).textContent()).resolves.toContain('alice@demo.goutong');
    } finally {
      await agent.context.close();
      await supervisor.context.close();
    }
  });
});
