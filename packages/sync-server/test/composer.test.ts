/**
 * Issue 15, the composer's server part, on a real server over HTTP (SQLite and PostgreSQL): macros
 * (CRUD, who may share, 400 on bad actions, audited, applied as the normal commands), saved views
 * (per agent, following them to a new sign-in, shared by admins only), and notes with an upload and
 * mentions (stored on the note for the notification policy).
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macroIntents, mentionsOf, Uuidv7Generator, type Conversation, type Macro } from '@goutong/core';
import { createTenant } from '../src/seed.js';
import { echoProvider, type EchoLog } from './channels/echo/index.js';
import { startChannelServer, type ChannelServer, type Dialect } from './channels/support.js';
import { api, eventually, loginToken } from './support/agentClient.js';

const PW = 'composer-test-pw';
const ids = new Uuidv7Generator(() => Date.now(), (n) => crypto.randomBytes(n));

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`macros, saved views and notes (${dialect})`, () => {
    let s: ChannelServer;
    const log: EchoLog = { sent: [], inbound: [], vetoed: [], statuses: [], started: 0, stopped: 0 };
    const token = crypto.randomBytes(16).toString('hex');
    let smsInbox: string;
    let tenantId: string;
    let agents: Record<string, { id: string }>;
    let sup: ReturnType<typeof api>;
    let ann: ReturnType<typeof api>;
    let ben: ReturnType<typeof api>;
    let slug = '';
    const sms = (id: string, from: string, text: string) =>
      fetch(`${s.url}/webhooks/echo/${smsInbox}/inbound?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, from, text }) })
        .then(async (r) => (await r.json()) as { conversationId: string; messageId: string });
    const audits = (action: string) => s.count('SELECT COUNT(*) AS n FROM audit_log WHERE tenant_id = ? AND action = ?', [tenantId, action]);

    let admin: ReturnType<typeof api>;
    let supportTeam: string;
    beforeAll(async () => {
      s = await startChannelServer({ dialect, providers: [echoProvider(log)] });
      // A workspace of its own: an admin, a supervisor and two agents in Support.
      slug = `c${crypto.randomBytes(4).toString('hex')}`;
      const mail = (who: string) => `${who}@${slug}.test`;
      const t = await createTenant(s.server.workspace, {
        slug, name: 'Composer tests', teams: ['Support'],
        agents: [
          { email: mail('admin'), name: 'Ada Admin', role: 'admin', teams: ['Support'], password: PW },
          { email: mail('sup'), name: 'Sue Park', role: 'supervisor', teams: ['Support'], password: PW },
          { email: mail('ann'), name: 'Ann Lee', role: 'agent', teams: ['Support'], password: PW },
          { email: mail('ben'), name: 'Ben Wu', role: 'agent', teams: ['Support'], password: PW },
        ],
      });
      tenantId = t.tenantId;
      supportTeam = t.teamIds.Support!;
      agents = Object.fromEntries(['admin', 'sup', 'ann', 'ben'].map((w) => [w, { id: t.agents[mail(w)]!.id }]));
      admin = api(s.url, await loginToken(s.url, mail('admin'), PW));
      sup = api(s.url, await loginToken(s.url, mail('sup'), PW));
      ann = api(s.url, await loginToken(s.url, mail('ann'), PW));
      ben = api(s.url, await loginToken(s.url, mail('ben'), PW));
      const inbox = await admin('POST', '/api/v1/inboxes', { name: 'Echo SMS', channel: 'sms', provider: 'echo', config: { sender: 'ACME' }, secrets: { token }, teamIds: [supportTeam] });
      if (inbox.status !== 201) throw new Error(`inbox: ${inbox.status} ${JSON.stringify(inbox.body)}`);
      smsInbox = inbox.body.id as string;
    }, 60_000);
    afterAll(async () => s?.close());

    it('macros: own ones are private, shared ones need canned.manage; bad input is a 400; every change is audited', async () => {
      const own = await ann('POST', '/api/v1/macros', { name: 'Refund done', shared: false, actions: [{ type: 'add_label', label: 'refund' }, { type: 'set_status', status: 'resolved' }] });
      expect(own.status).toBe(201);
      expect(own.body).toMatchObject({ ownerId: agents.ann!.id, name: 'Refund done' });
      expect((await ann('POST', '/api/v1/macros', { name: 'Team', shared: true, actions: [{ type: 'set_priority', priority: 'high' }] })).status).toBe(403);
      const shared = await sup('POST', '/api/v1/macros', { name: 'Escalate', shared: true, actions: [{ type: 'set_priority', priority: 'urgent' }, { type: 'assign_team', teamId: supportTeam }] });
      expect(shared.status).toBe(201);
      expect(shared.body.ownerId).toBeNull();
      // Ben sees the shared one, not Ann's own; he cannot read, change or delete hers.
      expect((await ben('GET', '/api/v1/macros')).body.items.map((m: Macro) => m.name)).toEqual(['Escalate']);
      expect((await ann('GET', '/api/v1/macros')).body.items.map((m: Macro) => m.name)).toEqual(['Escalate', 'Refund done']);
      expect((await ben('GET', `/api/v1/macros/${own.body.id}`)).status).toBe(404);
      expect((await ben('PATCH', `/api/v1/macros/${own.body.id}`, { name: 'Mine' })).status).toBe(404);
      expect((await ben('DELETE', `/api/v1/macros/${shared.body.id}`)).status).toBe(403);
      // Bad input: unknown action, unknown variable, unknown team, snooze without minutes, a duplicate name.
      expect((await ann('POST', '/api/v1/macros', { name: 'x', shared: false, actions: [{ type: 'explode' }] })).status).toBe(400);
      const badVar = await ann('POST', '/api/v1/macros', { name: 'x', shared: false, actions: [{ type: 'send_reply', text: 'Hi {{order.total}}' }] });
      expect(badVar.status).toBe(400);
      expect(badVar.body.error.message).toMatch(/order\.total/);
      expect((await ann('POST', '/api/v1/macros', { name: 'x', shared: false, actions: [{ type: 'assign_team', teamId: 'no-such-team' }] })).status).toBe(400);
      expect((await ann('POST', '/api/v1/macros', { name: 'x', shared: false, actions: [{ type: 'set_status', status: 'snoozed' }] })).status).toBe(400);
      expect((await ann('POST', '/api/v1/macros', 'not json at all')).status).toBe(400);
      expect((await ann('POST', '/api/v1/macros', { name: 'Refund done', shared: false, actions: [{ type: 'add_label', label: 'x' }] })).status).toBe(409);
      const renamed = await ann('PATCH', `/api/v1/macros/${own.body.id}`, { name: 'Refund closed' });
      expect(renamed.status).toBe(200);
      expect(renamed.body.actions).toHaveLength(2);
      expect((await ann('DELETE', `/api/v1/macros/${own.body.id}`)).status).toBe(204);
      expect((await ann('GET', `/api/v1/macros/${own.body.id}`)).status).toBe(404);
      expect(await audits('macro.create')).toBe(2);
      expect(await audits('macro.update')).toBe(1);
      expect(await audits('macro.delete')).toBe(1);
      expect((await fetch(`${s.url}/api/v1/macros`)).status).toBe(401);
    });

    it('the OpenAPI document describes the macro and saved-view routes', async () => {
      const doc = (await (await fetch(`${s.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
      expect(Object.keys(doc.paths['/api/v1/macros'] ?? {})).toEqual(['get', 'post']);
      expect(Object.keys(doc.paths['/api/v1/macros/{id}'] ?? {})).toEqual(['get', 'patch', 'delete']);
      expect(Object.keys(doc.paths['/api/v1/saved-views'] ?? {})).toEqual(['get', 'post']);
      expect(Object.keys(doc.paths['/api/v1/saved-views/{id}'] ?? {})).toEqual(['patch', 'delete']);
      expect(doc.components.schemas).toHaveProperty('MacroInput');
      expect(doc.components.schemas).toHaveProperty('SavedViewInput');
    });

    it('applying a macro is the normal commands: labels, priority, assignment, a reply that goes out, resolve', async () => {
      const { conversationId } = await sms(`m-${dialect}-1`, '+8613900000101', 'Where is my refund?');
      const m = await ann('POST', '/api/v1/macros', {
        name: 'Refund sent', shared: false,
        actions: [{ type: 'add_label', label: 'refund' }, { type: 'set_priority', priority: 'high' }, { type: 'assign_agent', agentId: 'me' }, { type: 'send_reply', text: 'Hi, {{agent.name}} here: your refund is on its way.' }, { type: 'set_status', status: 'resolved' }],
      });
      expect(m.status).toBe(201);
      const conv = (await s.conversation(conversationId))! as Conversation;
      const intents = macroIntents(m.body as Macro, conv, { agent: { id: agents.ann!.id, name: 'Ann Lee' }, now: Date.now() });
      const commands = intents.map((i) => ({ ...i, id: ids.next(), deviceTime: Date.now() }));
      const r = await ann('POST', '/api/v1/commands', { commands });
      expect(r.status).toBe(200);
      expect(r.body.results.map((x: { outcome: string }) => x.outcome)).toEqual(commands.map(() => 'applied'));
      const after = (await s.conversation(conversationId))!;
      expect(after).toMatchObject({ labels: ['refund'], priority: 'high', assigneeId: agents.ann!.id, status: 'resolved' });
      const texts = (await s.messages(conversationId)).filter((x) => x.kind === 'text' && x.direction === 'out').map((x) => x.text);
      expect(texts).toEqual(['Hi, Ann Lee here: your refund is on its way.']);
      await eventually(() => log.sent.some((x) => x.text === 'Hi, Ann Lee here: your refund is on its way.'), 'the macro\'s reply sent by the provider');
    });

    it('saved views follow the agent to a new sign-in; others do not see them; only admins share', async () => {
      const filters = { view: 'all', status: 'active', channel: 'sms', priority: 'high', label: 'refund', inboxId: smsInbox, teamId: '', assignee: '', text: '退款', sort: 'waitingLongest' };
      const mine = await ann('POST', '/api/v1/saved-views', { name: 'SMS refunds', shared: false, filters });
      expect(mine.status).toBe(201);
      const again = api(s.url, await loginToken(s.url, `ann@${slug}.test`, PW));
      // A view saved without the SLA filter reads it as "any" ('').
      expect((await again('GET', '/api/v1/saved-views')).body.items).toEqual([expect.objectContaining({ name: 'SMS refunds', filters: { ...filters, sla: '' }, ownerId: agents.ann!.id })]);
      expect((await ben('GET', '/api/v1/saved-views')).body.items).toEqual([]);
      expect((await ben('DELETE', `/api/v1/saved-views/${mine.body.id}`)).status).toBe(404);
      expect((await sup('POST', '/api/v1/saved-views', { name: 'Team', shared: true, filters })).status).toBe(403);
      const shared = await admin('POST', '/api/v1/saved-views', { name: 'Urgent', shared: true, filters: { ...filters, priority: 'urgent', label: '', text: '' } });
      expect(shared.status).toBe(201);
      expect((await ann('GET', '/api/v1/saved-views')).body.items.map((v: { name: string }) => v.name)).toEqual(['SMS refunds', 'Urgent']);
      expect((await ben('GET', '/api/v1/saved-views')).body.items.map((v: { name: string }) => v.name)).toEqual(['Urgent']);
      // Bad filters and unknown fields are a 400.
      expect((await ann('POST', '/api/v1/saved-views', { name: 'x', shared: false, filters: { ...filters, status: 'bogus' } })).status).toBe(400);
      expect((await ann('POST', '/api/v1/saved-views', { name: 'x', shared: false, filters: { ...filters, extra: 1 } })).status).toBe(400);
      expect((await ann('POST', '/api/v1/saved-views', { name: '', shared: false, filters })).status).toBe(400);
      const renamed = await ann('PATCH', `/api/v1/saved-views/${mine.body.id}`, { name: '短信退款' });
      expect(renamed.body).toMatchObject({ name: '短信退款', filters });
      expect((await ann('DELETE', `/api/v1/saved-views/${mine.body.id}`)).status).toBe(204);
      expect(await audits('saved_view.create')).toBe(2);
    });

    it('a note carries an uploaded file and its mentions (core mentionsOf reads them back); a foreign upload is refused', async () => {
      const { conversationId } = await sms(`m-${dialect}-2`, '+8613900000102', 'Photo of the damage attached');
      const annToken = await loginToken(s.url, `ann@${slug}.test`, PW);
      const up = await fetch(`${s.url}/api/v1/attachments?name=${encodeURIComponent('损坏 photo.png')}`, { method: 'POST', headers: { authorization: `Bearer ${annToken}`, 'content-type': 'image/png' }, body: Buffer.from('89504e470d0a1a0a', 'hex') });
      expect(up.status).toBe(201);
      const file = (await up.json()) as { id: string; name: string; mime: string; size: number };
      const id = ids.next();
      const r = await ann('POST', '/api/v1/commands', { commands: [{ id, deviceTime: Date.now(), type: 'add_note', conversationId, text: '@Ben Wu can you check this?', attachments: [file], mentions: [agents.ben!.id] }] });
      expect(r.body.results[0].outcome).toBe('applied');
      const note = (await s.message(id))!;
      expect(note.kind).toBe('note');
      expect(note.attachments.map((a) => a.name)).toEqual(['损坏 photo.png']);
      expect(mentionsOf(note)).toEqual([agents.ben!.id]);
      // The note went to nobody outside.
      expect(log.sent.some((x) => x.text.includes('can you check'))).toBe(false);
      // The same upload cannot be put on another message.
      const again = await ben('POST', '/api/v1/commands', { commands: [{ id: ids.next(), deviceTime: Date.now(), type: 'add_note', conversationId, text: 'mine', attachments: [file] }] });
      expect(again.body.results[0].outcome).toBe('rejected');
    });
  });
}

