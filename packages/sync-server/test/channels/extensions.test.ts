import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startChannelServer, type ChannelServer } from './support.js';
import { echoProvider, type EchoLog } from './echo/index.js';
import { EXTENSIONS } from '../../src/channels/registry.js';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

describe.each([['sqlite'], ['postgres']] as const)('providers are extensions (%s)', (dialect) => {
  let s: ChannelServer;
  const log: EchoLog = { sent: [], inbound: [], vetoed: [], statuses: [], started: 0, stopped: 0 };
  const token = crypto.randomBytes(16).toString('hex');
  let inboxId = '';

  const inbound = (body: Record<string, unknown>, t = token) =>
    fetch(`${s.url}/webhooks/echo/${inboxId}/inbound?token=${t}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    s = await startChannelServer({ dialect, providers: [echoProvider(log)] });
    inboxId = await s.createInbox({ name: 'Echo', channel: 'sms', provider: 'echo', config: { sender: 'ACME', autoReply: { text: 'Got it, 已收到' } }, secrets: { token } });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    expect(log.stopped).toBe(log.started);
  });

  it('a provider added as one folder appears in the OpenAPI document with its titles, paths and admin URLs', async () => {
    const doc = (await (await fetch(`${s.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, unknown>; components: { schemas: Record<string, Record<string, any>> } };
    const cfg = doc.components.schemas['Provider.sms/echo.config']!;
    expect(cfg).toMatchObject({ title: 'SMS · Echo (test)', 'x-i18n': { 'zh-CN': { title: '短信 · 回声（测试）' } } });
    expect(cfg.properties.sender).toMatchObject({ title: 'Sender', description: 'Who replies come from', 'x-i18n': { 'zh-CN': { title: '发送方', description: '回复的发送方' } } });
    expect(doc.components.schemas['Provider.sms/echo.secrets']!.properties.token).toMatchObject({ title: 'Webhook token' });
    expect(doc.paths['/webhooks/echo/{inboxId}/inbound']).toBeDefined();
    // The built-in ones come from the same registry.
    expect(doc.paths['/api/v1/inboxes/{id}/voicemail']).toBeDefined();
    expect(doc.components.schemas['Provider.sms/twilio.config']).toMatchObject({ title: 'SMS · Twilio' });

    const view = await s.admin('GET', `/api/v1/inboxes/${inboxId}`);
    expect(view.status).toBe(200);
    expect(view.body.urls).toEqual([{ key: 'inbound', what: { en: 'Echo inbound webhook', 'zh-CN': '回声入站 webhook' }, method: 'POST', url: `/webhooks/echo/${inboxId}/inbound?token=<token>` }]);
    expect(view.body.secretsSet).toEqual(['token']);
    // Its migration ran, and its poller was started with the server.
    expect(await s.count("SELECT COUNT(*) AS n FROM schema_migrations WHERE id = 19 AND name = 'test: echo provider table'")).toBe(1);
    expect(await s.count('SELECT COUNT(*) AS n FROM echo_probe')).toBe(0);
    expect(log.started).toBe(1);
  });

  it("its webhook stores inbound, its hooks run, and replies go out through it exactly once (auto-reply through the same reply path)", async () => {
    expect((await inbound({ id: 'e1', from: '+8613800000001', text: '你好' }, 'wrong-token-wrong-token')).status).toBe(403);
    const r = await inbound({ id: 'e1', from: '+8613800000001', text: '你好' });
    expect(r.status).toBe(201);
    const { conversationId } = (await r.json()) as { conversationId: string };
    expect((await inbound({ id: 'e1', from: '+8613800000001', text: '你好' })).status).toBe(200);
    expect(log.inbound).toEqual([{ text: '你好', duplicate: false }, { text: '你好', duplicate: true }]);

    // The ops autoreply listener answered the new conversation once, as a system message through the relay and this provider.
    await eventually(() => log.sent.length === 1, 'auto-reply sent');
    expect(log.sent[0]).toMatchObject({ to: '+8613800000001', text: 'Got it, 已收到' });
    const auto = (await s.messages(conversationId)).find((m) => m.authorType === 'system')!;
    expect(auto).toMatchObject({ direction: 'out', text: 'Got it, 已收到', meta: { autoReply: true } });
    await eventually(async () => (await s.message(auto.id))?.status === 'accepted', 'auto-reply accepted');

    const reply = await s.reply(conversationId, 'Hello from the agent');
    expect(reply.status).toBe(201);
    await eventually(async () => (await s.message(reply.body.id))?.status === 'accepted', 'reply accepted');
    expect(log.sent.map((x) => x.text)).toEqual(['Got it, 已收到', 'Hello from the agent']);
    expect(log.sent[1]!.idempotencyKey).toBe(reply.body.id);
    await eventually(() => log.statuses.some((x) => x.messageId === reply.body.id && x.status === 'accepted'), 'onStatus saw accepted');

    // beforeSend vetoes: the message fails with the hook's reason and nothing reaches the provider.
    const vetoed = await s.reply(conversationId, 'this says VETO');
    await eventually(async () => (await s.message(vetoed.body.id))?.status === 'failed', 'vetoed reply failed');
    expect((await s.message(vetoed.body.id))!.statusReason).toBe('the reply contains "VETO"');
    expect(log.vetoed).toEqual([vetoed.body.id]);
    expect(log.sent).toHaveLength(2);

    // A second inbound in the same conversation gets no second auto-reply.
    await inbound({ id: 'e2', from: '+8613800000001', text: 'more' });
    const queued = await s.reply(conversationId, 'after e2');
    await eventually(async () => (await s.message(queued.body.id))?.status === 'accepted', 'after e2 accepted');
    expect(log.sent.map((x) => x.text)).toEqual(['Got it, 已收到', 'Hello from the agent', 'after e2']);
  });

  it('cross-cutting extensions apply to every provider that uses them: 退订 opts out on the new provider too', async () => {
    const r = await inbound({ id: 'e3', from: '+8613800000002', text: 'hi' });
    const { conversationId } = (await r.json()) as { conversationId: string };
    await eventually(() => log.sent.some((x) => x.to === '+8613800000002'), 'auto-reply to the second contact');
    const before = log.sent.length;
    const pending = await s.reply(conversationId, 'queued before the opt-out');
    await inbound({ id: 'e4', from: '+8613800000002', text: '退订' });
    const conv = (await s.conversation(conversationId))!;
    expect((await s.contact(conv.contactId))!.attributes).toMatchObject({ optedOut: 'true', optedOutKeyword: '退订' });
    await eventually(async () => ['failed', 'accepted'].includes((await s.message(pending.body.id))?.status ?? ''), 'pending reply settled');
    // Either it went out before the STOP arrived, or the optout beforeSend refused it; never after.
    const m = (await s.message(pending.body.id))!;
    if (m.status === 'failed') {
      expect(m.statusReason).toMatch(/opted out/);
      expect(log.sent).toHaveLength(before);
    } else expect(log.sent).toHaveLength(before + 1);
  });
});

describe('adding a provider is one folder plus one line', () => {
  it('the registry lists every extension once, one line each', () => {
    const text = fs.readFileSync(path.join(src, 'channels/registry.ts'), 'utf8');
    const list = /export const EXTENSIONS[^\n]*= \[\n([\s\S]*?)\n\];/.exec(text)![1]!.split('\n').map((l) => l.trim()).filter(Boolean);
    expect(list.every((l) => /^[A-Za-z]+,$/.test(l))).toBe(true);
    expect(list).toHaveLength(EXTENSIONS.length);
    expect(new Set(EXTENSIONS.map((make) => make())).size).toBe(EXTENSIONS.length);
  });

  it('no per-provider code remains in server.ts or the OpenAPI builder', () => {
    for (const file of ['server.ts', 'http/openapi.ts']) {
      const text = fs.readFileSync(path.join(src, file), 'utf8');
      for (const name of ['twilio', 'aliyun', 'kannel', 'wildfire', 'voicemail', 'voice/', 'sipVoice', 'email/', 'sms/', 'im/']) {
        expect(text.toLowerCase().includes(name.toLowerCase()), `${file} mentions ${name}`).toBe(false);
      }
    }
  });
});
