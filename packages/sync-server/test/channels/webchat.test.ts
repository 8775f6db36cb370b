import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, PASSWORD, startChannelServer, type ChannelServer } from './support.js';
import { connectAgent } from '../support/agentClient.js';

const SITE = 'http://127.0.0.1:45123';
const IDENTITY_SECRET = 'identity-secret-0123456789abcdef';

/** Reads server-sent events from a stream until `until` says enough (or the timeout). */
async function readEvents(url: string, headers: Record<string, string>, until: (events: { event: string; data: any }[]) => boolean, onEvent: (n: number, events: { event: string; data: any }[]) => Promise<void> = async () => {}, ms = 15_000) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const events: { event: string; data: any }[] = [];
  try {
    const res = await fetch(url, { headers, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(headers.origin);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (.*)$/m.exec(chunk)?.[1];
        const data = /^data: (.*)$/m.exec(chunk)?.[1];
        if (ev && data) {
          events.push({ event: ev, data: JSON.parse(data) });
          await onEvent(events.length, events);
        }
      }
      if (until(events)) break;
    }
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return events;
}

describe.each([['sqlite'], ['postgres']] as const)('website live chat provider (%s)', (dialect) => {
  let s: ChannelServer;
  let inboxId = '';
  let token = '';
  let base = '';

  const call = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { origin: SITE, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
  const session = (body: Record<string, unknown> = {}, headers: Record<string, string> = {}) => call('POST', '/session', body, headers);
  const send = (visitorToken: string, body: Record<string, unknown>) => call('POST', '/messages', body, { authorization: `Bearer ${visitorToken}` });

  beforeAll(async () => {
    s = await startChannelServer({ dialect });
    inboxId = await s.createInbox({
      name: 'Website',
      channel: 'web',
      provider: 'webchat',
      config: { allowedOrigins: [SITE], greeting: 'Hi! 你好！', perVisitorPerMinute: 8, perIpPerMinute: 1000 },
      secrets: { identitySecret: IDENTITY_SECRET },
    });
    const view = await s.admin('GET', `/api/v1/inboxes/${inboxId}`);
    expect(view.status).toBe(200);
    const widget = (view.body.urls as { key: string; url: string }[]).find((u) => u.key === 'widget')!;
    expect(widget.url).toMatch(/^\/widget\/widget\.js\?inbox=/);
    token = decodeURIComponent(new URL(widget.url, s.url).searchParams.get('inbox')!);
    expect(token.startsWith(`${inboxId}.`)).toBe(true);
    base = `${s.url}/api/v1/webchat/${encodeURIComponent(token)}`;
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('refuses other origins, a guessed inbox token and a forged visitor token; answers the CORS preflight of allowed ones', async () => {
    const bad = await session({}, { origin: 'http://evil.example' });
    expect(bad.status).toBe(403);
    expect(bad.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await fetch(`${base}/messages`, { method: 'OPTIONS', headers: { origin: SITE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(SITE);
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    const preBad = await fetch(`${base}/messages`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(preBad.status).toBe(403);
    expect(preBad.headers.get('access-control-allow-origin')).toBeNull();
    const guessed = await fetch(`${s.url}/api/v1/webchat/${encodeURIComponent(`${inboxId}.00000000000000000000`)}/session`, { method: 'POST', headers: { origin: SITE, 'content-type': 'application/json' }, body: '{}' });
    expect(guessed.status).toBe(404);

    const ok = await session();
    expect(ok.status).toBe(200);
    expect(ok.body.settings).toMatchObject({ greeting: 'Hi! 你好！', online: true, csat: true });
    const forgedToken = `${ok.body.visitorToken.split('.')[0]}.${'0'.repeat(64)}`;
    expect((await send(forgedToken, { clientId: crypto.randomUUID(), text: 'x' })).status).toBe(401);
    expect((await send(ok.body.visitorToken, { clientId: 'not a uuid!', text: 'x' })).status).toBe(400);
    expect((await send(ok.body.visitorToken, { clientId: crypto.randomUUID(), text: '   ' })).status).toBe(400);
  });

  it("stores a visitor's message exactly once per client id, and the agent's reply reaches the visitor as delivered", async () => {
    const v = (await session()).body.visitorToken as string;
    const clientId = crypto.randomUUID();
    const first = await send(v, { clientId, text: '我的订单在哪？', preChat: { name: 'Li Lei', email: 'li@example.com' } });
    expect(first.status).toBe(201);
    const again = await send(v, { clientId, text: '我的订单在哪？' });
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);
    expect(again.body.message.id).toBe(first.body.message.id);
    const conversationId = first.body.conversation.id as string;
    const stored = await s.messages(conversationId);
    expect(stored.filter((m) => m.direction === 'in')).toHaveLength(1);
    expect(stored[0]).toMatchObject({ text: '我的订单在哪？', meta: { clientId, preChat: { name: 'Li Lei', email: 'li@example.com' } } });
    const conv = (await s.conversation(conversationId))!;
    expect(conv.contactName).toBe('Li Lei');
    expect((await s.contact(conv.contactId))!.attributes).toMatchObject({ email: 'li@example.com' });

    const reply = await s.reply(conversationId, 'It ships today / 今天发货');
    expect(reply.status).toBe(201);
    await eventually(async () => ['accepted', 'delivered'].includes((await s.message(reply.body.id))?.status ?? ''), 'reply relayed');
    const seen = await call('GET', '/messages?after=0', undefined, { authorization: `Bearer ${v}` });
    expect(seen.status).toBe(200);
    expect(seen.body.messages.map((m: { text: string; direction: string }) => [m.direction, m.text])).toEqual([
      ['in', '我的订单在哪？'],
      ['out', 'It ships today / 今天发货'],
    ]);
    expect(seen.body.messages[1].agent).toEqual({ name: 'Admin' });
    await eventually(async () => (await s.message(reply.body.id))?.status === 'delivered', 'reply marked delivered');

    // A reply shows only once the relay handed it over (a reply vetoed before sending never shows).
    await s.server.relay.stop();
    const held = await s.reply(conversationId, 'held by the relay');
    expect((await s.message(held.body.id))!.status).toBe('queued');
    const before = await call('GET', `/messages?after=${seen.body.seq}`, undefined, { authorization: `Bearer ${v}` });
    expect(before.body.messages.map((m: { text: string }) => m.text)).not.toContain('held by the relay');
    s.server.relay.start();
    await eventually(async () => {
      const r = await call('GET', `/messages?after=${seen.body.seq}`, undefined, { authorization: `Bearer ${v}` });
      return r.body.messages.some((m: { text: string }) => m.text === 'held by the relay');
    }, 'the reply shows once accepted');

    // Another visitor sees nothing of it.
    const other = (await session()).body.visitorToken as string;
    expect((await call('GET', '/messages?after=0', undefined, { authorization: `Bearer ${other}` })).body.messages).toEqual([]);
  });

  it('pushes replies and agent typing over the stream, and tells agents when the visitor types', async () => {
    const v = (await session()).body.visitorToken as string;
    const first = await send(v, { clientId: crypto.randomUUID(), text: 'stream me' });
    const conversationId = first.body.conversation.id as string;
    const url = `${base}/stream?token=${encodeURIComponent(v)}&after=${first.body.message.seq}`;
    // Once the stream is open (its first event), the agent types and answers.
    const events = await readEvents(
      url,
      { origin: SITE },
      (ev) => ev.some((e) => e.event === 'changes' && e.data.messages.some((m: { text: string }) => m.text === 'pushed answer')),
      async (n) => {
        if (n !== 1) return;
        expect((await s.admin('POST', `/api/v1/webchat/conversations/${conversationId}/typing`, { typing: true })).status).toBe(204);
        expect((await s.reply(conversationId, 'pushed answer')).status).toBe(201);
      },
    );
    expect(events.some((e) => e.event === 'typing' && e.data.agent?.name === 'Admin')).toBe(true);

    expect((await call('POST', '/typing', { typing: true }, { authorization: `Bearer ${v}` })).status).toBe(204);
    expect((await s.admin('GET', `/api/v1/webchat/conversations/${conversationId}/typing`)).body).toEqual({ visitor: true });
  });

  it("a real agent app typing a reply (its Yjs presence) shows as typing to the visitor; typing a note never does", async () => {
    const v = (await session()).body.visitorToken as string;
    const first = await send(v, { clientId: crypto.randomUUID(), text: 'presence please' });
    const conversationId = first.body.conversation.id as string;
    const admin = Object.values(s.tenant.agents)[0]!;
    const agent = await connectAgent(s.url, admin.email, PASSWORD);
    try {
      const doc = agent.client.openConversationDoc(conversationId);
      await doc.ready;
      let switched = false;
      const typingEvents = await readEvents(
        `${base}/stream?token=${encodeURIComponent(v)}&after=${first.body.message.seq}`,
        { origin: SITE },
        (ev) => {
          const t = ev.filter((e) => e.event === 'typing').map((e) => e.data.agent);
          const i = t.findIndex((a) => a?.name === 'Admin');
          return i >= 0 && t.slice(i + 1).includes(null);
        },
        async (n, all) => {
          if (n === 1) doc.setTyping('reply');
          // Once the visitor saw the reply being typed, the agent switches to an internal note.
          else if (!switched && all.some((e) => e.event === 'typing' && e.data.agent?.name === 'Admin')) {
            switched = true;
            doc.setTyping('note');
          }
        },
      ).then((ev) => ev.filter((e) => e.event === 'typing').map((e) => e.data.agent));
      // reply → the agent's name; note → nothing shown (null), never the note itself.
      expect(typingEvents).toContainEqual({ name: 'Admin' });
      expect(typingEvents[typingEvents.length - 1]).toBeNull();
      expect(typingEvents.every((a) => a === null || a.name === 'Admin')).toBe(true);
      doc.release();
    } finally {
      await agent.client.stop();
    }
  });

  it('answers 429 over the per-address limit, and two concurrent sends of one client id store it once', async () => {
    const strict = await s.createInbox({ name: 'Strict', channel: 'web', provider: 'webchat', config: { allowedOrigins: [SITE], perIpPerMinute: 3 }, secrets: {} });
    const view = await s.admin('GET', `/api/v1/inboxes/${strict}`);
    const strictToken = new URL((view.body.urls as { url: string }[])[0]!.url, s.url).searchParams.get('inbox')!;
    const post = () => fetch(`${s.url}/api/v1/webchat/${encodeURIComponent(strictToken)}/session`, { method: 'POST', headers: { origin: SITE, 'content-type': 'application/json' }, body: '{}' });
    expect([(await post()).status, (await post()).status, (await post()).status]).toEqual([200, 200, 200]);
    const limited = await post();
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');

    const v = (await session()).body.visitorToken as string;
    const clientId = crypto.randomUUID();
    const both = await Promise.all([send(v, { clientId, text: 'twice at once' }), send(v, { clientId, text: 'twice at once' })]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 201]);
    expect(both[0]!.body.message.id).toBe(both[1]!.body.message.id);
    expect((await s.messages(both[0]!.body.conversation.id)).filter((m) => m.text === 'twice at once')).toHaveLength(1);
  });

  it("follows the inbox's business hours (auto): closed now → offline with the next opening; without a calendar → online", async () => {
    const hoursId = crypto.randomUUID();
    // The business-hours API's table (sla helper's migration; the contract: id, tenant_id, name, time_zone, weekly, holidays, created_at, updated_at).
    const exists = await s.server.db.one("SELECT 1 AS n FROM information_schema.tables WHERE table_name = 'business_hours'").catch(() => null) ?? (await s.server.db.one("SELECT 1 AS n FROM sqlite_master WHERE type = 'table' AND name = 'business_hours'").catch(() => null));
    if (!exists) await s.server.db.run('CREATE TABLE business_hours (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, time_zone TEXT NOT NULL, weekly TEXT NOT NULL, holidays TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)');
    const later = (new Date().getUTCDay() + 2) % 7;
    await s.server.db.run('INSERT INTO business_hours (id, tenant_id, name, time_zone, weekly, holidays, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      hoursId, s.tenant.tenantId, 'Two days from now only', 'UTC', JSON.stringify([{ day: later, open: '09:00', close: '10:00' }]), '[]', Date.now(), Date.now(),
    ]);
    const hoursInbox = await s.createInbox({ name: 'Hours', channel: 'web', provider: 'webchat', config: { allowedOrigins: [SITE] }, secrets: {} });
    const view = await s.admin('GET', `/api/v1/inboxes/${hoursInbox}`);
    const hoursToken = new URL((view.body.urls as { url: string }[])[0]!.url, s.url).searchParams.get('inbox')!;
    const open = () => fetch(`${s.url}/api/v1/webchat/${encodeURIComponent(hoursToken)}/session`, { method: 'POST', headers: { origin: SITE, 'content-type': 'application/json' }, body: '{}' }).then((r) => r.json() as Promise<{ settings: { online: boolean; nextOpening: number | null } }>);
    expect((await open()).settings).toMatchObject({ online: true, nextOpening: null });
    expect((await s.admin('PATCH', `/api/v1/inboxes/${hoursInbox}`, { businessHoursId: hoursId })).status).toBe(200);
    const closed = (await open()).settings;
    expect(closed.online).toBe(false);
    expect(new Date(closed.nextOpening!).getUTCDay()).toBe(later);
    expect(new Date(closed.nextOpening!).toISOString()).toMatch(/T09:00:00\.000Z$/);
  });

  it('upgrades to a verified user identity and refuses a forged one', async () => {
    const forged = await session({ identifier: 'user-42', identifierHash: crypto.createHmac('sha256', 'not-the-secret-0000').update('user-42').digest('hex') });
    expect(forged.status).toBe(403);
    expect(forged.body.error.message).toMatch(/identity/);
    const anon = (await session()).body.visitorToken as string;
    const hash = crypto.createHmac('sha256', IDENTITY_SECRET).update('user-42').digest('hex');
    const up = await session({ visitorToken: anon, identifier: 'user-42', identifierHash: hash });
    expect(up.status).toBe(200);
    expect(up.body.visitor.identified).toBe(true);
    const m = await send(up.body.visitorToken, { clientId: crypto.randomUUID(), text: 'signed in' });
    expect(m.status).toBe(201);
    const conv = (await s.conversation(m.body.conversation.id))!;
    expect((await s.contact(conv.contactId))!.identities).toEqual([{ channel: 'web', identifier: 'user:user-42' }]);
  });

  it('takes attachments through the attachment store, a rating once, and answers 429 over the per-visitor limit', async () => {
    const v = (await session()).body.visitorToken as string;
    const up = await fetch(`${base}/attachments`, { method: 'POST', headers: { origin: SITE, authorization: `Bearer ${v}`, 'content-type': 'image/png', 'x-file-name': 'shot.png' }, body: Buffer.from('PNGDATA') });
    // A JSON file goes as bytes too (never parsed), its type in x-file-type.
    const json = await fetch(`${base}/attachments`, { method: 'POST', headers: { origin: SITE, authorization: `Bearer ${v}`, 'content-type': 'application/octet-stream', 'x-file-type': 'application/json', 'x-file-name': encodeURIComponent('订单 1.json') }, body: '{"a":1}' });
    expect(json.status).toBe(201);
    expect(await json.json()).toMatchObject({ name: '订单 1.json', mime: 'application/json', size: 7 });
    expect((await fetch(`${base}/attachments`, { method: 'POST', headers: { origin: SITE, authorization: `Bearer ${v}`, 'content-type': 'application/octet-stream', 'x-file-name': '%E0%A4%A' }, body: 'x' })).status).toBe(400);
    expect(up.status).toBe(201);
    const { ref } = (await up.json()) as { ref: string };
    // Another visitor cannot use the reference.
    const other = (await session()).body.visitorToken as string;
    expect((await send(other, { clientId: crypto.randomUUID(), text: '', attachments: [ref] })).status).toBe(400);
    const m = await send(v, { clientId: crypto.randomUUID(), text: '', attachments: [ref] });
    expect(m.status).toBe(201);
    expect(m.body.message.attachments).toMatchObject([{ name: 'shot.png', mime: 'image/png', size: 7 }]);
    const file = await fetch(`${s.url}${m.body.message.attachments[0].url}`);
    expect(Buffer.from(await file.arrayBuffer()).toString()).toBe('PNGDATA');

    const conversationId = m.body.conversation.id as string;
    expect((await call('POST', '/csat', { conversationId, rating: 6 }, { authorization: `Bearer ${v}` })).status).toBe(400);
    expect((await call('POST', '/csat', { conversationId, rating: 5 }, { authorization: `Bearer ${other}` })).status).toBe(404);
    const r1 = await call('POST', '/csat', { conversationId, rating: 4, comment: '很快' }, { authorization: `Bearer ${v}` });
    expect(r1.status).toBe(201);
    const r2 = await call('POST', '/csat', { conversationId, rating: 1 }, { authorization: `Bearer ${v}` });
    expect(r2.body).toEqual({ duplicate: true, rating: 4 });
    expect((await s.messages(conversationId)).filter((x) => x.meta['csat'])).toHaveLength(1);

    // 8 per minute per visitor: this visitor used 4 (three uploads, one message); 4 more pass, the next is refused.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await send(v, { clientId: crypto.randomUUID(), text: `n${i}` })).status);
    expect(statuses).toEqual([201, 201, 201, 201, 429]);
    const limited = await send(v, { clientId: crypto.randomUUID(), text: 'too many' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.headers.get('access-control-allow-origin')).toBe(SITE);
  });
});
