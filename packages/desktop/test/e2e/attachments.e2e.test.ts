// Attachments end to end: the composer uploads files (POST /api/v1/attachments) and the reply names
// them by id; offline, the reply waits with its files on the device and goes out once.
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { newAgentPage, openConversation, screenshot, signIn } from './helpers';

let server: TestServer;
let browser: Browser;
let hook: http.Server;
/** What the api inbox's webhook (the customer's system) received. */
const received: Array<{ event: string; conversationId: string; message: { id: string; text: string; attachments: Array<{ id: string; name: string; mime: string; size: number; sha256?: string }> } }> = [];

/** A small RGB PNG (a colour gradient), so the thumbnail has something to show. */
function png(width = 96, height = 64): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0;
    for (let x = 0; x < width; x++) {
      const o = y * (width * 3 + 1) + 1 + x * 3;
      raw[o] = Math.round((x / width) * 255);
      raw[o + 1] = Math.round((y / height) * 255);
      raw[o + 2] = 180;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

beforeAll(async () => {
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      try {
        received.push(JSON.parse(body) as (typeof received)[number]);
      } catch {
        /* ignore */
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `hook-${received.length}` }));
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  // The demo api inbox posts outbound messages to "the customer's system" (this test's listener).
  const admin = await apiAs(server.url, 'admin@demo.goutong');
  const inbox = await admin.inboxId('Demo API');
  await admin.call('PATCH', `/api/v1/inboxes/${inbox}`, { config: { webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` } });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => hook?.close(r));
});

const bar = (page: Page) => page.getByRole('status', { name: 'Connectivity' });

async function restMessages(conversationId: string) {
  const api = await apiAs(server.url, 'li.wei@demo.goutong');
  const page = await api.call<{ items: Array<{ id: string; text: string; attachments: Array<{ id: string; name: string; mime: string; size: number }> }> }>('GET', `/api/v1/conversations/${conversationId}/messages?limit=50`);
  return { api, items: page.items };
}

async function download(id: string): Promise<Buffer> {
  const login = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'li.wei@demo.goutong', password: 'goutong-demo' }) });
  const { accessToken } = (await login.json()) as { accessToken: string };
  const res = await fetch(`${server.url}/api/v1/attachments/${id}`, { headers: { authorization: `Bearer ${accessToken}` } });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

describe('attachments against the sync server', () => {
  it('attach an image and a text file, send: the customer side gets both, the timeline shows a thumbnail', async () => {
    const { context, page } = await newAgentPage(browser);
    const image = png();
    const notes = Buffer.from('订单明细 order details\n#20261124\n', 'utf8');
    try {
      await signIn(page, server.url, 'admin@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await openConversation(page, '王芳');
      await page.getByLabel('Files to attach').setInputFiles([
        { name: 'parcel.png', mimeType: 'image/png', buffer: image },
        { name: '订单明细.txt', mimeType: 'text/plain', buffer: notes },
      ]);
      const chips = page.getByRole('list', { name: 'Attachments to send' });
      await chips.getByText('parcel.png').waitFor();
      await chips.getByText('订单明细.txt').waitFor();
      const text = 'Photo of your parcel and the order details attached.';
      await page.getByLabel('Reply message').fill(text);
      await page.getByRole('button', { name: 'Send' }).click();
      const msg = page.locator('article.msg', { hasText: text });
      await msg.waitFor();
      await expect.poll(() => msg.getAttribute('data-status'), { timeout: 30_000 }).toMatch(/^(accepted|delivered)$/);
      // Image inline, the other file as a download link.
      const thumb = msg.getByRole('button', { name: 'Image parcel.png' }).locator('img');
      await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(96);
      await msg.getByRole('link', { name: 'Download 订单明细.txt' }).waitFor();
      await screenshot(page, 'attachments-sent-en');

      // The customer's system (the api inbox webhook) and the REST view see the same files.
      await expect.poll(() => received.filter((r) => r.message.text === text).length, { timeout: 30_000 }).toBe(1);
      const hooked = received.find((r) => r.message.text === text)!;
      expect(hooked.message.attachments.map((a) => [a.name, a.mime, a.size])).toEqual([
        ['parcel.png', 'image/png', image.length],
        ['订单明细.txt', 'text/plain', notes.length],
      ]);
      const { items } = await restMessages(hooked.conversationId);
      const stored = items.filter((m) => m.text === text);
      expect(stored).toHaveLength(1);
      expect(stored[0]!.attachments.map((a) => a.name)).toEqual(['parcel.png', '订单明细.txt']);
      expect((await download(stored[0]!.attachments[0]!.id)).equals(image)).toBe(true);
      expect((await download(stored[0]!.attachments[1]!.id)).equals(notes)).toBe(true);

      // Another agent's workspace loads the thumbnail from the server (bearer download).
      const other = await newAgentPage(browser);
      try {
        await signIn(other.page, server.url, 'li.wei@demo.goutong');
        await other.page.getByRole('tab', { name: /All/ }).click();
        await openConversation(other.page, '王芳');
        const theirs = other.page.locator('article.msg', { hasText: text }).getByRole('button', { name: 'Image parcel.png' }).locator('img');
        await expect.poll(() => theirs.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 20_000 }).toBe(96);
      } finally {
        await other.context.close();
      }
    } finally {
      await context.close();
    }
  });

  it('offline: attach and send, the reply waits to upload (and the resolve behind it); back online it goes out once, in order', async () => {
    const { context, page: first } = await newAgentPage(browser);
    let page = first;
    let uploads = 0;
    const countUploads = (p: Page) =>
      p.on('response', (r) => {
        if (r.request().method() === 'POST' && r.url().includes('/api/v1/attachments') && r.status() === 201) uploads++;
      });
    countUploads(page);
    const file = Buffer.from('%PDF-1.4\n% offline invoice\n', 'utf8');
    try {
      await signIn(page, server.url, 'li.wei@demo.goutong');
      await page.getByRole('tab', { name: /All/ }).click();
      await openConversation(page, '赵强');
      await context.setOffline(true);
      await expect.poll(() => bar(page).getAttribute('data-status')).toBe('offline');
      await page.getByLabel('Files to attach').setInputFiles([{ name: 'invoice-E12.pdf', mimeType: 'application/pdf', buffer: file }]);
      const text = '离线附件：技术员上门单见附件。';
      await page.getByLabel('Reply message').fill(text);
      await page.getByLabel('Reply message').press('Control+Enter');
      const msg = page.locator('article.msg', { hasText: text });
      await msg.and(page.locator('[data-upload="waiting"]')).waitFor();
      await expect(msg.getByTestId('delivery-status').textContent()).resolves.toBe('Waiting to upload');
      await page.getByRole('toolbar', { name: 'Conversation actions' }).getByRole('button', { name: 'Resolve' }).click();
      await page.getByTestId('conversation-status').filter({ hasText: 'Resolved' }).waitFor();
      await expect.poll(() => bar(page).getAttribute('data-pending')).toBe('2');
      await page.getByRole('button', { name: 'Outbox' }).click();
      await page.getByRole('list', { name: 'Waiting to upload' }).getByText('1 file').first().waitFor();
      await page.waitForTimeout(500); // the drawer's slide-in
      await screenshot(page, 'attachments-offline-en');
      await page.keyboard.press('Escape');
      expect(uploads).toBe(0);

      // The app is closed and opened again (the network back, but uploads still failing): the file
      // and the queue come back from the device.
      const blockUploads = /\/api\/v1\/attachments\?/;
      await context.route(blockUploads, (r) => r.abort('connectionrefused'));
      await page.close();
      await context.setOffline(false);
      page = await context.newPage();
      countUploads(page);
      await page.goto(`${server.url}/app/`);
      await page.getByRole('tab', { name: /All/ }).click();
      await openConversation(page, '赵强');
      await page.locator('article.msg', { hasText: text }).and(page.locator('[data-upload]')).waitFor();
      await expect.poll(() => bar(page).getAttribute('data-pending')).toBe('2');
      await page.getByTestId('conversation-status').filter({ hasText: 'Resolved' }).waitFor();
      expect(uploads).toBe(0);

      await context.unroute(blockUploads);
      await expect.poll(() => bar(page).getAttribute('data-pending'), { timeout: 40_000 }).toBe('0');
      await expect.poll(() => page.locator('article.msg', { hasText: text }).getAttribute('data-status'), { timeout: 30_000 }).toMatch(/^(accepted|delivered)$/);
      expect(uploads).toBe(1);

      await expect.poll(() => received.filter((r) => r.message.text === text).length, { timeout: 30_000 }).toBe(1);
      const hooked = received.find((r) => r.message.text === text)!;
      expect(hooked.message.attachments.map((a) => a.name)).toEqual(['invoice-E12.pdf']);
      const { api, items } = await restMessages(hooked.conversationId);
      expect(items.filter((m) => m.text === text)).toHaveLength(1);
      expect((await download(items.find((m) => m.text === text)!.attachments[0]!.id)).equals(file)).toBe(true);
      const conv = await api.call<{ status: string }>('GET', `/api/v1/conversations/${hooked.conversationId}`);
      expect(conv.status).toBe('resolved');
      // Nothing more goes out later.
      await page.waitForTimeout(1_500);
      expect(received.filter((r) => r.message.text === text)).toHaveLength(1);
      expect(uploads).toBe(1);
    } finally {
      await context.close();
    }
  });
});
