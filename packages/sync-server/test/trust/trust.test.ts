// Issue 13 (trust): custom roles, reveal, the audit trail (append-only), API keys; on both databases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInbox } from '../../src/seed.js';
import { api, loginToken } from '../support/agentClient.js';
import { startTestServer } from '../support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
type Api = ReturnType<typeof api>;

let n = 0;
const cid = () => `01939a4e-0000-7000-8000-${(0xcafe00000000 + ++n).toString(16)}`;

describe.each([['sqlite'], ['postgres']] as const)('trust on %s', (dialect) => {
  let s: Server;
  let admin: Api;
  let adminToken: string;
  let zhang: Api;
  let liwei: Api;
  let tenantId: string;
  let demoInbox: string;
  let otherInbox: string;
  let otherConv: string;
  let demoConv: { id: string; contactId: string };

  const command = async (who: Api, c: Record<string, unknown>) => (await who('POST', '/api/v1/commands', { commands: [{ id: cid(), deviceTime: Date.now(), ...c }] })).body.results[0];
  const login = (email: string, password = 'goutong-demo') =>
    fetch(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'trust-test/1.0' }, body: JSON.stringify({ email, password }) });
  const auditActions = async (q = '') => ((await admin('GET', `/api/v1/audit-events?limit=1000${q}`)).body.items as { action: string }[]).map((e) => e.action);

  beforeAll(async () => {
    s = await startTestServer(dialect);
    adminToken = await loginToken(s.url, 'admin@demo.goutong');
    admin = api(s.url, adminToken);
    zhang = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
    liwei = api(s.url, await loginToken(s.url, 'li.wei@demo.goutong'));
    tenantId = (await admin('GET', '/api/v1/me')).body.agent.tenantId;
    demoInbox = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API').id;
    otherInbox = await createInbox(s.workspace, s.secret, { tenantId, name: 'Website', channel: 'api', teamIds: [] });
    const inbox = (await s.workspace.inbox(tenantId, otherInbox))!;
    otherConv = (await s.workspace.ingestInbound(inbox, { externalId: 'web-1', from: { identifier: 'visitor-1', name: 'Visitor' }, text: 'call me 13912345678' })).conversation.id;
    const posted = await admin('POST', `/api/v1/inboxes/${demoInbox}/inbound`, {
      externalId: `trust-${dialect}`, from: { identifier: '+8613612345678', name: '13612345678' }, text: '我的邮箱 wang.fang@example.com，身份证11010519491231002X',
    });
    demoConv = { id: posted.body.conversationId, contactId: posted.body.contactId };
  });
  afterAll(async () => s?.stopAll());

  it('a custom role limited to one inbox sees only it (pull, REST); a role change makes the device start over', async () => {
    const role = await admin('POST', '/api/v1/roles', { name: 'Website only', permissions: { actions: ['conversation.reply', 'contact.edit'], scope: { kind: 'listed', inboxIds: [otherInbox], teamIds: [] } } });
    expect(role.status).toBe(201);
    const alice = api(s.url, await loginToken(s.url, 'alice@demo.goutong'));
    const before = (await alice('POST', '/api/v1/sync/pull', { checkpoint: 0, limit: 1000 })).body;
    expect(before.conversations.some((c: { inboxId: string }) => c.inboxId === demoInbox)).toBe(true);
    const me = (await alice('GET', '/api/v1/me')).body.agent;
    expect((await admin('PUT', `/api/v1/agents/${me.id}/custom-role`, { roleId: role.body.id })).body.roleId).toBe(role.body.id);
    const pull = (await alice('POST', '/api/v1/sync/pull', { checkpoint: before.checkpoint, scope: before.scope, limit: 1000 })).body;
    expect(pull.reset).toBe(true);
    expect(pull.scope).not.toBe(before.scope);
    const all = (await alice('POST', '/api/v1/sync/pull', { checkpoint: 0, limit: 1000 })).body;
    expect(new Set(all.conversations.map((c: { inboxId: string }) => c.inboxId))).toEqual(new Set([otherInbox]));
    expect(all.inboxes.map((i: { id: string }) => i.id)).toEqual([otherInbox]);
    expect((await alice('GET', `/api/v1/conversations/${demoConv.id}`)).status).toBe(404);
    expect((await alice('GET', `/api/v1/conversations/${otherConv}`)).status).toBe(200);
    // Without pii.view the custom role receives masked values too.
    expect(JSON.stringify(all)).not.toContain('13912345678');
    // Without conversation.assign it cannot take a conversation.
    expect(await command(alice, { type: 'assign', conversationId: otherConv, assigneeId: me.id })).toMatchObject({ outcome: 'rejected', error: { code: 'forbidden' } });
    // Roles are for admins; a supervisor cannot grant more than it holds.
    expect((await zhang('POST', '/api/v1/roles', { name: 'x', permissions: { actions: [], scope: { kind: 'teams' } } })).status).toBe(403);
    expect((await liwei('POST', '/api/v1/roles', { name: 'y', permissions: { actions: ['settings.manage'], scope: { kind: 'teams' } } })).status).toBe(403);
    expect((await admin('POST', '/api/v1/roles', { name: 'bad', permissions: { actions: ['fly'], scope: { kind: 'teams' } } })).status).toBe(400);
    // A role in use cannot be deleted.
    expect((await admin('DELETE', `/api/v1/roles/${role.body.id}`)).status).toBe(409);
  });

  it('a role may restrict sign-in to IP ranges', async () => {
    const role = (await admin('POST', '/api/v1/roles', { name: 'Office network', permissions: { actions: ['conversation.reply'], scope: { kind: 'teams' }, ipRanges: ['10.0.0.0/8'] } })).body;
    const bob = (await (await fetch(`${s.url}/api/v1/agents`, { headers: { authorization: `Bearer ${adminToken}` } })).json()).items.find((a: { email: string }) => a.email === 'bob@demo.goutong');
    await admin('PUT', `/api/v1/agents/${bob.id}/custom-role`, { roleId: role.id });
    const refused = await login('bob@demo.goutong');
    expect(refused.status).toBe(401);
    expect(await refused.text()).toMatch(/network/);
    await admin('PATCH', `/api/v1/roles/${role.id}`, { permissions: { actions: ['conversation.reply'], scope: { kind: 'teams' }, ipRanges: ['127.0.0.0/8', '::1/128'] } });
    expect((await login('bob@demo.goutong')).status).toBe(200);
  });

  it('reveal: only with pii.reveal, with a reason, for a limited time, audited', async () => {
    expect((await zhang('POST', `/api/v1/contacts/${demoConv.contactId}/reveal`, { field: 'identity:0', reason: 'callback' })).status).toBe(403);
    expect((await liwei('POST', `/api/v1/contacts/${demoConv.contactId}/reveal`, { field: 'identity:0' })).status).toBe(400);
    const r = await liwei('POST', `/api/v1/contacts/${demoConv.contactId}/reveal`, { field: 'identity:0', reason: 'customer asked for a callback' });
    expect(r.status).toBe(200);
    expect(r.body.value).toBe('+8613612345678');
    expect(r.body.expiresAt - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    expect((await liwei('GET', `/api/v1/reveals/${r.body.revealId}`)).body.value).toBe('+8613612345678');
    // Bound to the session that revealed it: another session of the same agent does not get it.
    const other = api(s.url, await loginToken(s.url, 'li.wei@demo.goutong'));
    expect((await other('GET', `/api/v1/reveals/${r.body.revealId}`)).status).toBe(404);
    const msgs = (await liwei('GET', `/api/v1/conversations/${demoConv.id}/messages`)).body.items;
    const inbound = msgs.find((m: { direction: string }) => m.direction === 'in');
    const m = await liwei('POST', `/api/v1/messages/${inbound.id}/reveal`, { field: 'text', reason: 'verify the ID' });
    expect(m.body.value).toContain('11010519491231002X');
    const events = (await admin('GET', '/api/v1/audit-events?action=pii.reveal')).body.items;
    expect(events.map((e: { details: { reason: string } }) => e.details.reason)).toEqual(expect.arrayContaining(['customer asked for a callback', 'verify the ID']));
    expect(events[0].ip).toBeTruthy();
    expect(events[0].sessionId).toBeTruthy();
  });

  it('a masked value sent back by a device does not overwrite the clear value', async () => {
    const masked = (await zhang('GET', `/api/v1/contacts/${demoConv.contactId}`)).body;
    expect(masked.name).toBe('136****5678');
    expect(await command(zhang, { type: 'update_contact', contactId: demoConv.contactId, name: masked.name, attributes: { note: 'VIP' } })).toMatchObject({ outcome: 'applied' });
    const clear = (await admin('GET', `/api/v1/contacts/${demoConv.contactId}`)).body;
    expect(clear.name).toBe('13612345678');
    expect(clear.attributes.note).toBe('VIP');
    expect(clear.identities[0].identifier).toBe('+8613612345678');
  });

  it('API keys: shown once, scoped, rate-limited, revocable, audited', async () => {
    expect((await zhang('POST', '/api/v1/api-keys', { name: 'mine', permissions: { actions: [], scope: { kind: 'teams' } } })).status).toBe(403);
    const created = await admin('POST', '/api/v1/api-keys', { name: 'CRM sync', permissions: { actions: ['conversation.reply'], scope: { kind: 'listed', inboxIds: [demoInbox], teamIds: [] } }, ratePerMinute: 8 });
    expect(created.status).toBe(201);
    const token: string = created.body.token;
    expect(token).toMatch(/^gtk_/);
    const listed = (await admin('GET', '/api/v1/api-keys')).body.items;
    expect(JSON.stringify(listed)).not.toContain(token.slice(25));
    expect(JSON.stringify(await s.workspace.db.all('SELECT * FROM api_keys'))).not.toContain(token);
    const key = api(s.url, token);
    const convs = (await key('GET', '/api/v1/conversations?limit=100')).body.items as { inboxId: string; contactName: string }[];
    expect(convs.length).toBeGreaterThan(0);
    expect(convs.every((c) => c.inboxId === demoInbox)).toBe(true);
    expect(JSON.stringify(convs)).not.toContain('13612345678');
    expect((await key('GET', `/api/v1/conversations/${otherConv}`)).status).toBe(404);
    expect((await key('POST', '/api/v1/inboxes', { name: 'x', channel: 'api' })).status).toBe(403);
    expect((await key('GET', '/api/v1/audit-events')).status).toBe(403);
    const sent = await key('POST', `/api/v1/conversations/${demoConv.id}/messages`, { text: 'from the CRM' }, { 'idempotency-key': `crm-${dialect}` });
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    // Rate limit (per key): 8 a minute; 5 used so far.
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await key('GET', '/api/v1/me')).status);
    expect(statuses).toContain(429);
    expect((await admin('DELETE', `/api/v1/api-keys/${created.body.id}`)).status).toBe(204);
    expect((await key('GET', '/api/v1/conversations')).status).toBe(401);
    // A key whose permission set names IP ranges is refused elsewhere.
    const fenced = (await admin('POST', '/api/v1/api-keys', { name: 'Office only', permissions: { actions: [], scope: { kind: 'teams' }, ipRanges: ['10.0.0.0/8'] } })).body;
    expect((await api(s.url, fenced.token)('GET', '/api/v1/me')).status).toBe(403);
    const actions = await auditActions();
    expect(actions).toEqual(expect.arrayContaining(['apikey.create', 'apikey.revoke']));
    const cmd = (await admin('GET', '/api/v1/audit-events?action=command.send_reply')).body.items;
    expect(cmd.some((e: { apiKeyId: string | null }) => e.apiKeyId === created.body.id)).toBe(true);
  });

  it('a scripted session leaves an audit row for each action; search, filters, CSV export (itself audited)', async () => {
    const t0 = Date.now();
    expect((await login('alice@demo.goutong', 'wrong-password')).status).toBe(401);
    const tok = ((await (await login('zhang.san@demo.goutong')).json()) as { accessToken: string }).accessToken;
    const z = api(s.url, tok);
    expect(await command(z, { type: 'add_label', conversationId: demoConv.id, label: 'audited' })).toMatchObject({ outcome: 'applied' });
    expect((await admin('PUT', '/api/v1/masking/patterns', { patterns: [{ name: 'member', pattern: 'VIP-\\d{6}' }] })).status).toBe(200);
    expect((await admin('PUT', '/api/v1/masking/patterns', { patterns: [{ name: 'bad', pattern: '(a+)+$' }] })).status).toBe(400);
    expect((await admin('PATCH', `/api/v1/inboxes/${otherInbox}`, { name: 'Website 官网' })).status).toBe(200);
    await s.workspace.recordOptOut(demoConv.contactId, { optedOut: true, keyword: 'STOP', channel: 'sms' });
    expect((await admin('POST', `/api/v1/contacts/${demoConv.contactId}/opt-in`, { reason: 'agreed by phone' })).status).toBe(200);
    const page = (await admin('GET', `/api/v1/audit-events?from=${t0}&limit=1000`)).body.items as { action: string; actorId: string | null; ip: string | null; userAgent: string | null }[];
    const actions = page.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['auth.login_failed', 'auth.login', 'command.add_label', 'config.mask_patterns', 'inbox.update', 'contact.opt_in']));
    const loginRow = page.find((e) => e.action === 'auth.login')!;
    expect(loginRow.ip).toBeTruthy();
    expect(loginRow.userAgent).toBe('trust-test/1.0');
    const cfg = (await admin('GET', '/api/v1/audit-events?action=config.mask_patterns')).body.items[0];
    expect(cfg.details).toMatchObject({ before: [], after: [{ name: 'member' }] });
    const inboxRow = (await admin('GET', `/api/v1/audit-events?action=inbox.update&from=${t0}`)).body.items[0];
    expect(inboxRow.details).toMatchObject({ before: { name: 'Website' }, after: { name: 'Website 官网' } });
    const me = (await z('GET', '/api/v1/me')).body.agent;
    expect((await admin('GET', `/api/v1/audit-events?actorId=${me.id}&action=command.*&from=${t0}`)).body.items.map((e: { action: string }) => e.action)).toEqual(['command.add_label']);
    expect((await admin('GET', '/api/v1/audit-events?q=agreed%20by%20phone')).body.items.map((e: { action: string }) => e.action)).toEqual(['contact.opt_in']);
    // Keyset pages.
    const p1 = (await admin('GET', '/api/v1/audit-events?limit=2')).body;
    const p2 = (await admin('GET', `/api/v1/audit-events?limit=2&cursor=${p1.nextCursor}`)).body;
    expect(p2.items[0].id).toBeLessThan(p1.items[1].id);
    expect((await admin('GET', '/api/v1/audit-events?from=yesterday')).status).toBe(400);
    // CSV.
    const csv = await fetch(`${s.url}/api/v1/audit-events?from=${t0}`, { headers: { authorization: `Bearer ${adminToken}`, accept: 'text/csv' } });
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const text = await csv.text();
    expect(text.split('\r\n')[0]).toBe('id,at,actorId,action,target,ip,userAgent,sessionId,apiKeyId,details');
    expect(text).toContain('contact.opt_in');
    expect(await auditActions('&action=audit.export')).toEqual(['audit.export']);
    // A supervisor reads the trail; an agent does not.
    expect((await liwei('GET', '/api/v1/audit-events')).status).toBe(200);
    expect((await zhang('GET', '/api/v1/audit-events')).status).toBe(403);
  });

  it('the OpenAPI document describes the trust routes', async () => {
    const doc = (await admin('GET', '/api/v1/openapi.json')).body;
    for (const p of ['/api/v1/audit-events', '/api/v1/api-keys', '/api/v1/roles', '/api/v1/contacts/{id}/reveal', '/api/v1/masking/patterns']) expect(doc.paths[p], p).toBeDefined();
  });

  it('append-only: no API edits or deletes audit rows, and the database refuses UPDATE and DELETE', async () => {
    const before = (await s.workspace.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log'))!.n;
    const one = (await admin('GET', '/api/v1/audit-events?limit=1')).body.items[0];
    for (const method of ['DELETE', 'PATCH', 'PUT']) {
      expect((await admin(method, `/api/v1/audit-events/${one.id}`, method === 'DELETE' ? undefined : { action: 'x' })).status).toBe(404);
      expect((await admin(method, '/api/v1/audit-events', method === 'DELETE' ? undefined : { action: 'x' })).status).toBe(404);
    }
    await expect(s.workspace.db.run('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    await expect(s.workspace.db.run("UPDATE audit_log SET action = 'forged'")).rejects.toThrow(/append-only/);
    if (dialect === 'postgres') await expect(s.workspace.db.run('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
    expect((await s.workspace.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log'))!.n).toBe(before);
    // [trust] Through any API: no documented route writes under an audit path, and every documented
    // write route with one path parameter, called by the admin with an audit row's id, leaves the
    // row as it was.
    const doc = (await admin('GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const auditWrites = Object.entries(doc.paths).filter(([p]) => /audit/i.test(p)).flatMap(([p, ops]) => Object.keys(ops).filter((m) => m !== 'get' && m !== 'parameters').map((m) => `${m} ${p}`));
    expect(auditWrites).toEqual([]);
    const row = async () => JSON.stringify(await s.workspace.db.one('SELECT * FROM audit_log WHERE id = ?', [one.id]));
    const original = await row();
    let tried = 0;
    for (const [p, ops] of Object.entries(doc.paths)) {
      if ((p.match(/\{[^}]+\}/g) ?? []).length !== 1 || p.startsWith('/webhooks') || p.includes('/auth/')) continue;
      for (const m of ['delete', 'patch', 'put']) {
        if (!ops[m]) continue;
        tried++;
        await admin(m.toUpperCase(), p.replace(/\{[^}]+\}/, String(one.id)), m === 'delete' ? undefined : {});
      }
    }
    expect(tried).toBeGreaterThan(5);
    expect(await row()).toBe(original);
    expect(Number((await s.workspace.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log'))!.n)).toBeGreaterThanOrEqual(Number(before));
  });
});
