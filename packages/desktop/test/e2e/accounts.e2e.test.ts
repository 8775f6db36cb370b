// [accounts] End to end in Chromium: the local database is encrypted at rest; an admin deactivates
// an agent whose browser is open and the device erases its data and signs out; my account screen.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { newAgentPage, openConversation, screenshot, signIn } from './helpers';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Names of the IndexedDB databases and everything they store, as text. */
async function indexedDbDump(page: Page): Promise<{ names: string[]; text: string }> {
  return page.evaluate(async () => {
    const req = <T>(r: IDBRequest<T>) => new Promise<T>((res, rej) => ((r.onsuccess = () => res(r.result)), (r.onerror = () => rej(r.error))));
    const names: string[] = [];
    let text = '';
    for (const info of await indexedDB.databases()) {
      names.push(info.name!);
      const db = await req(indexedDB.open(info.name!));
      for (const store of Array.from(db.objectStoreNames)) {
        const all = await req(db.transaction(store, 'readonly').objectStore(store).getAll());
        text += `\n${info.name}/${store}: ${JSON.stringify(all)}`;
      }
      db.close();
    }
    return { names, text };
  });
}

describe('accounts in the agent workspace', () => {
  it('stores the local database encrypted; deactivation wipes the open device and signs it out', async () => {
    const { context, page } = await newAgentPage(browser);
    try {
      await signIn(page, server.url, 'li.wei@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await openConversation(page, '王芳');
      const text = '你好，我的订单 #20261124 还没有发货，请帮忙查一下。';
      await page.getByText(text).first().waitFor();
      const before = await indexedDbDump(page);
      expect(before.names.some((n) => n.includes('goutong-'))).toBe(true);
      expect(before.text).toContain('e1:');
      for (const clear of [text, '王芳', 'li.wei@demo.goutong']) expect(before.text.includes(clear), `clear "${clear}" in IndexedDB`).toBe(false);

      const admin = await apiAs(server.url, 'admin@demo.goutong');
      const { items } = await admin.call<{ items: { id: string; email: string }[] }>('GET', '/api/v1/agents');
      const li = items.find((a) => a.email === 'li.wei@demo.goutong')!;
      await admin.call('PATCH', `/api/v1/agents/${li.id}`, { active: false });

      await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 20_000 });
      await page.getByText('This device was signed out by the server and its local data was erased').waitFor();
      await expect.poll(async () => (await indexedDbDump(page)).text.includes('e1:'), { timeout: 10_000 }).toBe(false);
      await screenshot(page, 'accounts-wiped-en');
      await admin.call('PATCH', `/api/v1/agents/${li.id}`, { active: true });
    } finally {
      await context.close();
    }
  });

  it('my account: two-factor enrolment shows the otpauth link and the key; sessions list the devices (zh-CN)', async () => {
    const { context, page } = await newAgentPage(browser, { locale: 'zh-CN' });
    try {
      await page.goto(`${server.url}/app/`);
      await page.getByLabel('邮箱').fill('zhang.san@demo.goutong');
      await page.getByLabel('密码', { exact: true }).fill('goutong-demo');
      await page.locator('form button[type="submit"]').click();
      await page.getByRole('button', { name: '设置' }).click();
      await page.getByRole('tab', { name: '我的账户' }).click();
      await page.getByRole('button', { name: '开启', exact: true }).click();
      const uri = page.getByRole('textbox', { name: 'otpauth 链接' });
      await uri.waitFor();
      await expect(uri.inputValue()).resolves.toMatch(/^otpauth:\/\/totp\/.+secret=[A-Z2-7]+/);
      await expect(page.getByRole('textbox', { name: '手动输入的密钥' }).inputValue()).resolves.toMatch(/^[A-Z2-7]{32}$/);
      await page.getByRole('heading', { name: '会话与设备' }).waitFor();
      await expect(page.locator('table.sessions tbody tr').count()).resolves.toBeGreaterThanOrEqual(1);
      await screenshot(page, 'accounts-my-account-zh-CN');
    } finally {
      await context.close();
    }
  });
});
