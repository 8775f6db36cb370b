import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTenant, createInbox } from '../src/seed.js';
import { AccessTokens } from '../src/auth/tokens.js';
import { signApiPayload } from '../src/channels/api.js';
import { api, loginToken } from './support/agentClient.js';
import { startTestServer } from './support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

async function raw(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

/**
 * Opens a socket and resolves with how it closed (code) and the frames it got; `onText` sees each
 * text frame (e.g. to close after the pong that proves the frames before it were handled).
 */
function socketSession(url: string, steps: (ws: WebSocket) => void, onText?: (ws: WebSocket, text: string) => void): Promise<{ code: number; texts: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/sync`);
    const texts: string[] = [];
    ws.on('message', (d, isBinary) => {
      if (isBinary) return;
      texts.push(d.toString());
      onText?.(ws, d.toString());
    });
    ws.on('open', () => steps(ws));
    ws.on('close', (code) => resolve({ code, texts }));
    ws.on('error', reject);
    setTimeout(() => ws.close(), 8000);
  });
}

describe.each([['sqlite'], ['postgres']] as const)('the public contract and bad input on %s', (dialect) => {
  let s: Server;
  let admin: ReturnType<typeof api>;
  let adminToken: string;
  let inboxId: string;
  let convId: string;

  beforeAll(async () => {
    s = await startTestServer(dialect);
    adminToken = await loginToken(s.url, 'admin@demo.goutong');
    admin = api(s.url, adminToken);
    inboxId = (await admin('GET', '/api/v1/inboxes')).body.items[0].id;
    convId = (await admin('GET', '/api/v1/conversations?limit=1')).body.items[0].id;
  });
  afterAll(async () => s?.stopAll());

  it('answers health, login, inboxes, conversations, messages and the OpenAPI document', async () => {
    expect(await raw(`${s.url}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
    const login = await raw(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@demo.goutong', password: 'goutong-demo' }) });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String), expiresIn: expect.any(Number) });
    const inboxes = await admin('GET', '/api/v1/inboxes');
    expect(inboxes.body.items).toEqual([expect.objectContaining({ name: 'Demo API', channel: 'api' })]);
    expect(JSON.stringify(inboxes.body)).not.toMatch(/"secret"\s*:/);
    const list = await admin('GET', '/api/v1/conversations?status=open&limit=3');
    expect(list.body.items.length).toBe(3);
    expect(list.body.nextCursor).toEqual(expect.any(String));
    const next = await admin('GET', `/api/v1/conversations?status=open&limit=3&cursor=${list.body.nextCursor}`);
    expect(next.body.items.map((c: any) => c.id)).not.toContain(list.body.items[0].id);
    const msgs = await admin('GET', `/api/v1/conversations/${convId}/messages?limit=10`);
    expect(msgs.body.items[0]).toMatchObject({ id: expect.any(String), direction: expect.any(String), kind: expect.any(String), text: expect.any(String), createdAt: expect.any(Number) });
    const doc = await raw(`${s.url}/api/v1/openapi.json`);
    expect(doc.body.openapi).toBe('3.1.0');
    for (const p of ['/api/v1/auth/login', '/api/v1/inboxes', '/api/v1/inboxes/{id}/inbound', '/api/v1/conversations', '/api/v1/conversations/{id}/messages', '/api/v1/conversations/{id}', '/api/v1/commands', '/api/v1/sync/pull']) {
      expect(doc.body.paths[p], p).toBeTruthy();
    }
  });

  it('inbound creates or appends, and the same externalId changes nothing', async () => {
    const body = { externalId: 'ext-1', from: { identifier: 'cust-42', name: 'Customer 42' }, text: 'hello' };
    const a = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, body);
    expect(a.status).toBe(201);
    const b = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { ...body, externalId: 'ext-2', text: 'are you there?' });
    expect(b.body.conversationId).toBe(a.body.conversationId);
    const dup = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, body);
    expect(dup.status).toBe(200);
    expect(dup.body.duplicate).toBe(true);
    const msgs = await admin('GET', `/api/v1/conversations/${a.body.conversationId}/messages`);
    expect(msgs.body.items.filter((m: any) => m.direction === 'in')).toHaveLength(2);
  });

  it('inbound by signature: valid is stored, wrong is 403, replayed is refused', async () => {
    const id = await createInbox(s.workspace, s.secret, { tenantId: (await admin('GET', '/api/v1/me')).body.agent.tenantId, name: 'Signed', channel: 'api', teamIds: [], secrets: { secret: 'a-very-secret-signing-key' } });
    const body = JSON.stringify({ externalId: 'sig-1', from: { identifier: 'crm-7' }, text: 'from the CRM' });
    const ts = String(Math.floor(Date.now() / 1000));
    const send = (sig: string, t = ts) => raw(`${s.url}/api/v1/inboxes/${id}/inbound`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-goutong-timestamp': t, 'x-goutong-signature': sig }, body });
    expect((await send(signApiPayload('wrong-secret-wrong-secret', ts, body))).status).toBe(403);
    expect((await send(signApiPayload('a-very-secret-signing-key', '1000', body), '1000')).status).toBe(401);
    const ok = await send(signApiPayload('a-very-secret-signing-key', ts, body));
    expect(ok.status).toBe(201);
    const replay = await send(signApiPayload('a-very-secret-signing-key', ts, body));
    expect(replay.status).toBe(409);
  });

  it('sends a reply once per Idempotency-Key', async () => {
    const h = { 'idempotency-key': 'reply-key-1' };
    const a = await admin('POST', `/api/v1/conversations/${convId}/messages`, { text: '您好，马上为您处理。' }, h);
    expect(a.status).toBe(201);
    const b = await admin('POST', `/api/v1/conversations/${convId}/messages`, { text: '您好，马上为您处理。' }, h);
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    const msgs = await admin('GET', `/api/v1/conversations/${convId}/messages?limit=100`);
    expect(msgs.body.items.filter((m: any) => m.id === a.body.id)).toHaveLength(1);
    expect((await admin('POST', `/api/v1/conversations/${convId}/messages`, { text: 'x' })).status).toBe(400);
  });

  it('stores attachments by content, serves them by token or signed URL, and checks references', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const up = await raw(`${s.url}/api/v1/attachments?name=${encodeURIComponent('发票 photo.png')}`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'image/png' }, body: png });
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({ name: '发票 photo.png', mime: 'image/png', size: png.length, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const viaToken = await fetch(`${s.url}/api/v1/attachments/${up.body.id}`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(Buffer.from(await viaToken.arrayBuffer()).equals(png)).toBe(true);
    expect(viaToken.headers.get('content-disposition')).toMatch(/^attachment;/);
    const viaUrl = await fetch(`${s.url}${up.body.url}&inline=1`);
    expect(viaUrl.status).toBe(200);
    expect(viaUrl.headers.get('content-disposition')).toMatch(/^inline;/);
    expect((await fetch(`${s.url}/api/v1/attachments/${up.body.id}?exp=99999999999&sig=00`)).status).toBe(401);
    expect((await fetch(`${s.url}/api/v1/attachments/${up.body.id}`)).status).toBe(401);
    // A reply carries it by id; forged metadata is replaced by ours, unknown ids are refused.
    const id = '01939a4e-0000-7000-8000-0000000000a1';
    const r = await admin('POST', '/api/v1/commands', { commands: [
      { type: 'send_reply', id, deviceTime: 1, conversationId: convId, text: '', attachments: [{ ...up.body, name: 'evil.exe', size: 1 }] },
      { type: 'send_reply', id: '01939a4e-0000-7000-8000-0000000000a2', deviceTime: 1, conversationId: convId, text: 'x', attachments: [{ id: 'nope', name: 'n', mime: 'a/b', size: 1 }] },
    ] });
    expect(r.body.results.map((x: any) => x.outcome)).toEqual(['applied', 'rejected']);
    const msgs = await admin('GET', `/api/v1/conversations/${convId}/messages?limit=100`);
    const sent = msgs.body.items.find((m: any) => m.id === id).attachments[0];
    expect(sent).toMatchObject({ name: '发票 photo.png', size: png.length, url: expect.stringMatching(/^\/api\/v1\/attachments\/.+sig=/) });
    // The URL in the message works without a token.
    const viaMessage = await fetch(`${s.url}${sent.url}`);
    expect(Buffer.from(await viaMessage.arrayBuffer()).equals(png)).toBe(true);
  });

  it('serves canned responses to agents; only managers edit them', async () => {
    const list = await admin('GET', '/api/v1/canned-responses');
    expect(list.body.items.map((c: any) => c.shortCode)).toContain('hello');
    const alice = api(s.url, await loginToken(s.url, 'alice@demo.goutong'));
    expect((await alice('GET', '/api/v1/canned-responses')).status).toBe(200);
    expect((await alice('POST', '/api/v1/canned-responses', { shortCode: 'x', title: 'x', body: 'x' })).status).toBe(403);
    const c = await admin('POST', '/api/v1/canned-responses', { shortCode: 'bye', title: 'Goodbye', body: '再见 {{contact.name}}' });
    expect(c.status).toBe(201);
    expect((await admin('POST', '/api/v1/canned-responses', { shortCode: 'bye', title: 'again', body: 'x' })).status).toBe(409);
    expect((await admin('PATCH', `/api/v1/canned-responses/${c.body.id}`, { title: 'Bye' })).body.title).toBe('Bye');
    expect((await admin('DELETE', `/api/v1/canned-responses/${c.body.id}`)).status).toBe(204);
    expect((await admin('POST', '/api/v1/canned-responses', { shortCode: 'bad code!', title: 'x', body: 'x' })).status).toBe(400);
  });

  it('keeps an inbox\'s service operations settings (routing, business hours, auto-replies) and refuses bad ones', async () => {
    const before = (await admin('GET', `/api/v1/inboxes/${inboxId}`)).body;
    expect(before.ops).toEqual({ routing: { strategy: 'manual' }, businessHoursId: null, autoReply: {} });
    const r = await admin('PATCH', `/api/v1/inboxes/${inboxId}`, {
      routing: { strategy: 'round_robin', capacity: 5, skills: ['zh'] },
      autoReply: { acknowledge: { text: { en: 'Thanks, we got it', 'zh-CN': '已收到' } } },
    });
    expect(r.status).toBe(200);
    expect(r.body.ops).toEqual({ routing: { strategy: 'round_robin', capacity: 5, skills: ['zh'] }, businessHoursId: null, autoReply: { acknowledge: { text: { en: 'Thanks, we got it', 'zh-CN': '已收到' } } } });
    // A later patch of one field keeps the others.
    const r2 = await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { autoReply: { outOfHours: null } });
    expect(r2.body.ops.routing.strategy).toBe('round_robin');
    expect(r2.body.ops.autoReply.acknowledge.text.en).toBe('Thanks, we got it');
    expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { routing: { strategy: 'lottery' } })).status).toBe(400);
    expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { autoReply: { acknowledge: { text: {} } } })).status).toBe(400);
    expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { routing: { strategy: 'manual' } })).body.ops.routing).toEqual({ strategy: 'manual' });
  });

  it('patches status, priority, assignee and labels', async () => {
    const me = (await admin('GET', '/api/v1/me')).body.agent;
    const r = await admin('PATCH', `/api/v1/conversations/${convId}`, { status: 'pending', priority: 'urgent', assigneeId: me.id, labels: ['vip', 'refund'] });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'pending', priority: 'urgent', assigneeId: me.id, labels: ['refund', 'vip'] });
    expect((await admin('PATCH', `/api/v1/conversations/${convId}`, { status: 'weird' })).status).toBe(400);
    expect((await admin('PATCH', `/api/v1/conversations/${convId}`, { unknownField: 1 })).status).toBe(400);
  });

  it('answers malformed JSON, wrong types, oversized bodies and unknown routes with clear JSON errors', async () => {
    const post = (body: string, type = 'application/json') => raw(`${s.url}/api/v1/commands`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': type }, body });
    const bad = await post('{"commands": [');
    expect(bad).toEqual({ status: 400, body: { error: { code: 'bad_request', message: 'malformed JSON body' } } });
    const wrong = await post(JSON.stringify({ commands: 'nope' }));
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toMatch(/commands/);
    const huge = await post(JSON.stringify({ commands: ['x'.repeat(2 * 1024 * 1024)] }));
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('payload_too_large');
    const notFound = await raw(`${s.url}/api/v1/nope`);
    expect(notFound.status).toBe(404);
    expect(notFound.body.error.code).toBe('not_found');
    // A bad command inside a good batch is rejected alone, with its reason.
    const mixed = await admin('POST', '/api/v1/commands', { commands: [{ type: 'set_priority', id: 'not-a-uuid', conversationId: convId, priority: 'high', deviceTime: 1 }, { type: 'frobnicate' }] });
    expect(mixed.status).toBe(200);
    expect(mixed.body.results.map((r: any) => r.outcome)).toEqual(['rejected', 'rejected']);
    expect(mixed.body.results[0].error.message).toMatch(/UUIDv7/);
  });

  it('rejects missing, forged and expired tokens with 401', async () => {
    expect((await raw(`${s.url}/api/v1/conversations`)).status).toBe(401);
    expect((await raw(`${s.url}/api/v1/conversations`, { headers: { authorization: 'Bearer abc.def.ghi' } })).status).toBe(401);
    const me = (await admin('GET', '/api/v1/me')).body.agent;
    const expired = new AccessTokens(s.secret, 60).issue({ agentId: me.id, tenantId: me.tenantId, role: me.role }, Date.now() - 3_600_000);
    const r = await raw(`${s.url}/api/v1/conversations`, { headers: { authorization: `Bearer ${expired}` } });
    expect(r.status).toBe(401);
    expect(r.body.error.message).toMatch(/expired/);
    const forged = new AccessTokens('another-secret-another-secret-xx', 60).issue({ agentId: me.id, tenantId: me.tenantId, role: 'admin' });
    expect((await raw(`${s.url}/api/v1/conversations`, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
  });

  it('refresh rotates tokens, reuse revokes the family, logout ends the session', async () => {
    const login = await raw(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'alice@demo.goutong', password: 'goutong-demo' }) });
    const r1 = login.body.refreshToken;
    const refresh = (t: string) => raw(`${s.url}/api/v1/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: t }) });
    const a = await refresh(r1);
    expect(a.status).toBe(200);
    expect((await refresh(r1)).status).toBe(401); // reuse of a rotated token
    expect((await refresh(a.body.refreshToken)).status).toBe(401); // the whole family is revoked
    expect((await raw(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'alice@demo.goutong', password: 'wrong' }) })).status).toBe(401);
  });

  it('limits failed logins per account with 429', async () => {
    const attempt = (password: string) => raw(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'li.wei@demo.goutong', password }) });
    for (let i = 0; i < 10; i++) expect((await attempt(`wrong-${i}`)).status).toBe(401);
    const blocked = await attempt('goutong-demo');
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('rate_limited');
    // Other accounts from the same address still log in.
    expect((await attempt.call(null, 'x')).status).toBe(429);
    expect(typeof (await loginToken(s.url, 'alice@demo.goutong'))).toBe('string');
  });

  it("never shows or touches another tenant's data", async () => {
    const other = await createTenant(s.workspace, { slug: 'other', name: 'Other', teams: ['T'], agents: [{ email: 'eve@other.test', name: 'Eve', role: 'admin', teams: ['T'], password: 'eve-password-1' }] });
    const otherInbox = await createInbox(s.workspace, s.secret, { tenantId: other.tenantId, name: 'Other API', channel: 'api', teamIds: [other.teamIds.T!] });
    const eve = api(s.url, await loginToken(s.url, 'eve@other.test', 'eve-password-1'));
    expect((await eve('GET', `/api/v1/conversations/${convId}`)).status).toBe(404);
    expect((await eve('GET', `/api/v1/conversations/${convId}/messages`)).status).toBe(404);
    expect((await eve('PATCH', `/api/v1/conversations/${convId}`, { status: 'closed' })).status).toBe(404);
    expect((await eve('GET', '/api/v1/conversations')).body.items).toEqual([]);
    const cmd = await eve('POST', '/api/v1/commands', { commands: [{ type: 'add_note', id: '01939a4e-0000-7000-8000-000000000001', deviceTime: 1, conversationId: convId, text: 'sneaky' }] });
    expect(cmd.body.results[0]).toMatchObject({ outcome: 'rejected', error: { code: 'not_found' } });
    expect((await admin('POST', `/api/v1/inboxes/${otherInbox}/inbound`, { externalId: 'x', from: { identifier: 'y' }, text: 'z' })).status).toBe(404);
    const pulled = await eve('POST', '/api/v1/sync/pull', { checkpoint: 0 });
    expect(pulled.body.conversations).toEqual([]);
    expect(pulled.body.agents.map((a: any) => a.email)).toEqual(['eve@other.test']);
  });

  it('scopes agents to their teams: Sales sees nothing of the Support inbox', async () => {
    const bob = api(s.url, await loginToken(s.url, 'bob@demo.goutong'));
    // Bob sees inboxes without teams (every agent does), never the Support inbox.
    const teamless = new Set((await admin('GET', '/api/v1/inboxes')).body.items.filter((i: any) => i.teamIds.length === 0).map((i: any) => i.id));
    expect(teamless.has(inboxId)).toBe(false);
    expect((await bob('GET', '/api/v1/conversations')).body.items.filter((c: any) => !teamless.has(c.inboxId))).toEqual([]);
    expect((await bob('GET', `/api/v1/conversations/${convId}`)).status).toBe(404);
    const pulled = await bob('POST', '/api/v1/sync/pull', { checkpoint: 0 });
    const seen = new Set(pulled.body.conversations.map((c: any) => c.id));
    expect(pulled.body.conversations.filter((c: any) => !teamless.has(c.inboxId))).toEqual([]);
    expect(pulled.body.messages.filter((m: any) => !seen.has(m.conversationId))).toEqual([]);
    const contactsSeen = new Set(pulled.body.conversations.map((c: any) => c.contactId));
    expect(pulled.body.contacts.filter((c: any) => !contactsSeen.has(c.id))).toEqual([]);
  });

  it('socket: no auth, bad token, malformed frames and Yjs updates close only that connection', async () => {
    const noAuth = await socketSession(s.url, (ws) => ws.send(Buffer.from([1, 2, 3]), { binary: true }));
    expect(noAuth.code).toBe(4401);
    const badToken = await socketSession(s.url, (ws) => ws.send(JSON.stringify({ t: 'auth', token: 'nope' })));
    expect(badToken.code).toBe(4401);
    const notJson = await socketSession(s.url, (ws) => ws.send('{{{'));
    expect(notJson.code).toBe(4400);
    const unknown = await socketSession(s.url, (ws) => {
      ws.send(JSON.stringify({ t: 'auth', token: adminToken }));
      ws.send(JSON.stringify({ t: 'explode' }));
    });
    expect(unknown.code).toBe(4400);
    // A garbage Yjs update on a subscribed document.
    const { encodeFrame } = await import('@goutong/core');
    const garbage = await socketSession(s.url, (ws) => {
      ws.send(JSON.stringify({ t: 'auth', token: adminToken }));
      ws.send(JSON.stringify({ t: 'sub', doc: `conv:${convId}` }));
      // Frames are handled in order per connection: the update is read after the subscription.
      ws.send(encodeFrame(`conv:${convId}`, 0, Uint8Array.from([2, 200, 255, 255, 255, 255, 15, 9, 9])), { binary: true });
    });
    expect(garbage.code).toBe(4400);
    expect(garbage.texts.some((t) => t.includes('bad_frame'))).toBe(true);
    const truncated = await socketSession(s.url, (ws) => {
      ws.send(JSON.stringify({ t: 'auth', token: adminToken }));
      ws.send(Buffer.from([0x80]), { binary: true });
    });
    expect(truncated.code).toBe(4400);
    // A document outside the agent's scope is refused without closing the socket.
    const bobToken = await loginToken(s.url, 'bob@demo.goutong');
    const refused = await socketSession(s.url, (ws) => {
      ws.send(JSON.stringify({ t: 'auth', token: bobToken }));
      ws.send(JSON.stringify({ t: 'sub', doc: `conv:${convId}` }));
      ws.send(JSON.stringify({ t: 'ping' }));
    }, (ws, text) => {
      if (JSON.parse(text).t === 'pong') ws.close(1000);
    });
    expect(refused.code).toBe(1000);
    expect(refused.texts.some((t) => t.includes('"not_found"'))).toBe(true);
    // The server is still up and serving.
    expect((await raw(`${s.url}/healthz`)).status).toBe(200);
    const fine = await socketSession(s.url, (ws) => {
      ws.send(JSON.stringify({ t: 'auth', token: adminToken }));
      ws.send(JSON.stringify({ t: 'ping' }));
    }, (ws, text) => {
      if (JSON.parse(text).t === 'pong') ws.close(1000);
    });
    // Pokes may come in between at any time (the agent's device presence is a fact of its own).
    expect(fine.texts.map((t) => JSON.parse(t).t).filter((t) => t !== 'poke')).toEqual(['ready', 'pong']);
  });
});
