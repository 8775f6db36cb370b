// The widget end to end: a real sync server (in this process, SQLite), a host page served from
// ANOTHER origin (a second 127.0.0.1 port) that embeds the built widget with one <script> tag, and
// Debian's Chromium through playwright-core. The agent answers through the server's API.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { eventually, startChannelServer, type ChannelServer } from '../../sync-server/test/channels/support.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const IDENTITY_SECRET = 'e2e-identity-secret-0123456789';

/** Host pages on their own origin: `/?lang=..&token=..&id=..&hash=..` embeds the widget; a hostile stylesheet tries to restyle it. */
async function startHostSite(serverUrl: () => string): Promise<{ origin: string; close(): Promise<void> }> {
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const esc = (s: string) => s.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
    const attrs = [`data-inbox-token="${esc(u.searchParams.get('token') ?? '')}"`];
    if (u.searchParams.get('id')) attrs.push(`data-identifier="${esc(u.searchParams.get('id')!)}"`, `data-identifier-hash="${esc(u.searchParams.get('hash') ?? '')}"`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="${esc(u.searchParams.get('lang') ?? 'en')}"><head><meta charset="utf-8"><title>Shop</title>
<style>button{background:rgb(255,0,0)!important;font-size:40px!important}.panel,.list{display:none!important}</style></head>
<body><h1>Host shop</h1><script src="${serverUrl()}/widget/widget.js" ${attrs.join(' ')} async></script></body></html>`);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => new Promise((r) => srv.close(() => r())) };
}

describe('website chat widget in Chromium, embedded on another origin', () => {
  let s: ChannelServer;
  let site: Awaited<ReturnType<typeof startHostSite>>;
  let evil: Awaited<ReturnType<typeof startHostSite>>;
  let browser: Browser;
  let token = '';
  let offlineToken = '';

  const widgetToken = async (inboxId: string) => {
    const view = await s.admin('GET', `/api/v1/inboxes/${inboxId}`);
    const url = (view.body.urls as { key: string; url: string }[]).find((u) => u.key === 'widget')!.url;
    return new URL(url, s.url).searchParams.get('inbox')!;
  };
  const pageOn = async (ctx: BrowserContext, origin: string, q: Record<string, string>): Promise<Page> => {
    const page = await ctx.newPage();
    await page.goto(`${origin}/?${new URLSearchParams(q)}`);
    return page;
  };
  const w = (page: Page, css: string) => page.locator(`[data-goutong-widget] ${css}`);

  beforeAll(async () => {
    site = await startHostSite(() => s.url);
    evil = await startHostSite(() => s.url);
    [s, browser] = await Promise.all([startChannelServer(), chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true })]);
    const inboxId = await s.createInbox({ name: 'Shop chat', channel: 'web', provider: 'webchat', config: { allowedOrigins: [site.origin], greeting: '您好，有什么可以帮您？', preChatFields: ['name', 'email'] }, secrets: { identitySecret: IDENTITY_SECRET } });
    token = await widgetToken(inboxId);
    const offlineId = await s.createInbox({ name: 'After hours', channel: 'web', provider: 'webchat', config: { allowedOrigins: [site.origin], availability: 'offline', preChatFields: [] }, secrets: {} });
    offlineToken = await widgetToken(offlineId);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
    await site?.close();
    await evil?.close();
  });

  it('chats: pre-chat form, offline twice (one answer lost), back online: the agent sees each message once; the visitor sees typing, the answer and rates it', async () => {
    const ctx = await browser.newContext();
    const page = await pageOn(ctx, site.origin, { lang: 'zh-CN', token });
    const launcher = w(page, 'button.l');
    // Shadow DOM: the host page's `button{background:red}` does not reach the launcher.
    expect(await launcher.evaluate((b) => getComputedStyle(b).backgroundColor)).not.toBe('rgb(255, 0, 0)');
    await launcher.click();

    // Pre-chat form (zh-CN from <html lang>), then the greeting.
    await w(page, 'input[name=name]').fill('王芳');
    await w(page, 'input[name=email]').fill('wang@example.com');
    await w(page, 'form button[type=submit]').click();
    await expect.poll(() => w(page, '.greeting').textContent()).toContain('您好，有什么可以帮您？');
    const input = w(page, 'textarea.input');
    await input.fill('你好，我想问一下订单');
    await input.press('Enter');
    await expect.poll(() => w(page, '.msg.mine .status').last().textContent()).toBe('已发送');

    // Offline: two messages wait in the durable outbox, visibly pending.
    await ctx.setOffline(true);
    await input.fill('离线消息一');
    await input.press('Enter');
    await input.fill('离线消息二');
    await input.press('Enter');
    // A file attached offline waits in the browser (IndexedDB) with its message.
    await w(page, 'input[type=file]').setInputFiles({ name: 'receipt.png', mimeType: 'image/png', buffer: Buffer.from('fake png bytes') });
    await expect.poll(() => w(page, '.msg.pending').count()).toBe(3);
    expect(await w(page, '.msg.pending .file').textContent()).toBe('receipt.png');
    expect(await w(page, '.msg.pending .status').first().textContent()).toBe('发送中…');
    const stored = await page.evaluate((k) => JSON.parse(localStorage.getItem(k) ?? '[]') as { text: string }[], `goutong:${token}:outbox`);
    expect(stored.map((x) => x.text)).toEqual(['离线消息一', '离线消息二', '']);

    // Back online, but the first answer is lost on the way back: the server stored it, the browser
    // never heard; the retry with the same client id stores nothing new.
    let lost = 0;
    await page.route(`${s.url}/api/v1/webchat/*/messages`, async (route) => {
      if (route.request().method() === 'POST' && lost === 0) {
        lost += 1;
        await route.fetch();
        return route.abort('connectionreset');
      }
      return route.continue();
    });
    await ctx.setOffline(false);
    await expect.poll(() => w(page, '.msg.pending').count(), { timeout: 30_000 }).toBe(0);
    expect(lost).toBe(1);
    expect(await page.evaluate((k) => localStorage.getItem(k), `goutong:${token}:outbox`)).toBe('[]');

    const conv = (await s.conversations((await s.server.workspace.inboxes(s.tenant.tenantId)).find((i) => i.name === 'Shop chat')!.id))[0]!;
    const inbound = (await s.messages(conv.id)).filter((m) => m.direction === 'in');
    expect(inbound.map((m) => m.text)).toEqual(['你好，我想问一下订单', '离线消息一', '离线消息二', '']);
    expect(inbound[3]!.attachments).toMatchObject([{ name: 'receipt.png', mime: 'image/png', size: 14 }]);
    expect(Buffer.from((await s.server.attachments.bytes(s.tenant.tenantId, inbound[3]!.attachments[0]!.id))!).toString()).toBe('fake png bytes');
    expect(conv.contactName).toBe('王芳');
    expect((await s.contact(conv.contactId))!.attributes).toMatchObject({ email: 'wang@example.com' });

    // The agent types, then answers: the visitor sees both, with the agent's name and avatar.
    expect((await s.admin('POST', `/api/v1/webchat/conversations/${conv.id}/typing`, { typing: true })).status).toBe(204);
    await expect.poll(() => w(page, '.typing').textContent()).toBe('Admin 正在输入…');
    const reply = await s.reply(conv.id, '您的订单今天发货');
    expect(reply.status).toBe(201);
    await expect.poll(() => w(page, '.msg.theirs:not(.greeting) .text').last().textContent()).toBe('您的订单今天发货');
    expect(await w(page, '.msg.theirs:not(.greeting) .who').last().textContent()).toBe('Admin');
    expect(await w(page, '.msg.theirs:not(.greeting) .avatar').last().textContent()).toBe('A');
    await eventually(async () => (await s.message(reply.body.id))?.status === 'delivered', 'the answer reached the visitor');

    // The visitor types: the agent can tell.
    await input.pressSequentially('还有');
    await eventually(async () => (await s.admin('GET', `/api/v1/webchat/conversations/${conv.id}/typing`)).body.visitor === true, 'agent sees the visitor typing');

    // Resolved: the visitor rates it once.
    expect((await s.admin('PATCH', `/api/v1/conversations/${conv.id}`, { status: 'resolved' })).status).toBe(200);
    await w(page, 'button.star[data-rating="5"]').click();
    await expect.poll(() => w(page, '.csat.done').textContent()).toBe('感谢您的评价！');
    const csat = (await s.messages(conv.id)).filter((m) => m.meta['csat']);
    expect(csat.map((m) => m.meta['csat'])).toEqual([{ rating: 5 }]);
    await ctx.close();
  });

  it('is refused on a site that is not allowed, and with a forged user identity; a signed one is accepted', async () => {
    const ctx = await browser.newContext();
    const bad = await ctx.newPage();
    // The CORS preflight is refused (403 without Access-Control-Allow-Origin): the browser never sends the session request.
    const refused = bad.waitForEvent('requestfailed', (r) => r.url().endsWith('/session'));
    const preflight = fetch(`${s.url}/api/v1/webchat/${encodeURIComponent(token)}/session`, { method: 'OPTIONS', headers: { origin: evil.origin, 'access-control-request-method': 'POST' } });
    await bad.goto(`${evil.origin}/?${new URLSearchParams({ token })}`);
    await w(bad, 'button.l').click();
    expect((await refused).failure()?.errorText).toMatch(/CORS|net::ERR_FAILED/);
    expect((await preflight).status).toBe(403);
    await expect.poll(() => w(bad, '.notice').textContent()).toMatch(/connection|网络/);

    const forged = await ctx.newPage();
    const forgedAnswer = forged.waitForResponse((r) => r.url().endsWith('/session'));
    await forged.goto(`${site.origin}/?${new URLSearchParams({ token, id: 'customer-7', hash: crypto.createHmac('sha256', 'wrong-secret-wrong-secret').update('customer-7').digest('hex') })}`);
    await w(forged, 'button.l').click();
    const f = await forgedAnswer;
    expect(f.status()).toBe(403);
    expect(((await f.json()) as { error: { message: string } }).error.message).toMatch(/identity/);

    const signed = await ctx.newPage();
    const signedAnswer = signed.waitForResponse((r) => r.url().endsWith('/session'));
    await signed.goto(`${site.origin}/?${new URLSearchParams({ token, id: 'customer-7', hash: crypto.createHmac('sha256', IDENTITY_SECRET).update('customer-7').digest('hex') })}`);
    await w(signed, 'button.l').click();
    const ok = await signedAnswer;
    expect(ok.status()).toBe(200);
    expect(((await ok.json()) as { visitor: { identified: boolean } }).visitor.identified).toBe(true);

    // A single-page site signs the user in after the page loaded: GoutongWidget.identify upgrades the session.
    await ctx.close();
    const fresh = await browser.newContext();
    const spa = await pageOn(fresh, site.origin, { token });
    const anonymous = spa.waitForResponse((r) => r.url().endsWith('/session'));
    await w(spa, 'button.l').click();
    expect(((await (await anonymous).json()) as { visitor: { identified: boolean } }).visitor.identified).toBe(false);
    const upgraded = spa.waitForResponse((r) => r.url().endsWith('/session'));
    const hash8 = crypto.createHmac('sha256', IDENTITY_SECRET).update('customer-8').digest('hex');
    await spa.evaluate(([id, h]) => (window as unknown as { GoutongWidget: { identify(a: string, b: string): void } }).GoutongWidget.identify(id!, h!), ['customer-8', hash8]);
    const up = await upgraded;
    expect(up.status()).toBe(200);
    expect(((await up.json()) as { visitor: { identified: boolean } }).visitor.identified).toBe(true);
    // Signed out: a new anonymous visitor.
    const anonymousAgain = spa.waitForResponse((r) => r.url().endsWith('/session'));
    await spa.evaluate(() => (window as unknown as { GoutongWidget: { reset(): void } }).GoutongWidget.reset());
    const again = await anonymousAgain;
    expect(JSON.parse(again.request().postData() ?? '{}')).toEqual({});
    expect(((await again.json()) as { visitor: { identified: boolean } }).visitor.identified).toBe(false);
    await fresh.close();
  });

  it('outside business hours shows the offline form (English page, dark scheme); the message reaches the team', async () => {
    const ctx = await browser.newContext({ colorScheme: 'dark' });
    const page = await pageOn(ctx, site.origin, { lang: 'en', token: offlineToken });
    await w(page, 'button.l').click();
    await expect.poll(() => w(page, '.sub').textContent()).toBe('We are away right now');
    expect(await w(page, '.panel').evaluate((p) => getComputedStyle(p).backgroundColor)).toBe('rgb(17, 24, 39)');
    await w(page, 'input[name=name]').fill('Sam');
    await w(page, 'input[name=email]').fill('sam@example.com');
    await w(page, 'textarea[name=message]').fill('Please call me back tomorrow');
    await w(page, 'form button[type=submit]').click();
    await expect.poll(() => w(page, '.hint').last().textContent()).toBe('Thank you! We received your message.');
    await expect.poll(() => w(page, '.msg.pending').count()).toBe(0);
    const inbox = (await s.server.workspace.inboxes(s.tenant.tenantId)).find((i) => i.name === 'After hours')!;
    const [conv] = await s.conversations(inbox.id);
    const [m] = await s.messages(conv!.id);
    expect(m).toMatchObject({ text: 'Please call me back tomorrow', meta: { offlineForm: true, contact: { name: 'Sam', email: 'sam@example.com' } } });
    await ctx.close();
  });
});
