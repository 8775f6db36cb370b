import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERASED_NAME } from '@goutong/core';
import { api, loginToken } from '../support/agentClient.js';
import { startTestServer, type Dialect } from '../support/inProcess.js';

/** Every value of every column of every table, as text (the whole database, whatever the branches added). */
async function everyTable(db: Awaited<ReturnType<typeof startTestServer>>['db']): Promise<Map<string, string>> {
  const tables =
    db.dialect === 'pg'
      ? (await db.all<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")).map((r) => r.name)
      : (await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")).map((r) => r.name);
  const out = new Map<string, string>();
  for (const t of tables) {
    const rows = await db.all(`SELECT * FROM "${t}"`);
    out.set(t, rows.map((r) => Object.values(r).map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v))).join('\u0001')).join('\n'));
  }
  return out;
}

describe.each([['sqlite'], ['postgres']] as [Dialect][])('data subject rights on %s: export and erasure', (dialect) => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  let admin: ReturnType<typeof api>;
  const tag = crypto.randomBytes(4).toString('hex');
  const PERSONAL = {
    name: `Erasable Person 艾瑞丝 ${tag}`,
    phone: `+86139${Math.floor(10_000_000 + Math.random() * 89_999_999)}`,
    email: `erasable.${tag}@example.org`,
    idNumber: '11010519491231002X',
    card: '6222021234567890123',
    subject: `Passport renewal ${tag}`,
    file: `passport-${tag}.pdf`,
    blob: `ERASABLE-BLOB-${tag}-`.repeat(20),
    attr: `Room 1203, Lane ${tag}, Pudong`,
  };
  let contactId = '';
  let conversationId = '';
  let blobSha = '';

  beforeAll(async () => {
    s = await startTestServer(dialect);
    const token = await loginToken(s.url, 'admin@demo.goutong');
    admin = api(s.url, token);
    const me = (await admin('GET', '/api/v1/me')).body.agent;
    const inbox = (await s.workspace.inboxes(me.tenantId)).find((i) => i.channel === 'email') ?? (await s.workspace.inboxes(me.tenantId))[0]!;
    const staged = s.attachments.stage(me.tenantId, Buffer.from(PERSONAL.blob), { name: PERSONAL.file, mime: 'application/pdf' });
    blobSha = staged.sha256;
    const att = { id: staged.id, name: staged.name, mime: staged.mime, size: staged.size, sha256: staged.sha256 };
    const first = await s.workspace.ingestInbound(inbox, {
      externalId: `ext-${PERSONAL.email}`,
      from: { identifier: inbox.channel === 'email' ? PERSONAL.email : PERSONAL.phone, name: PERSONAL.name },
      subject: PERSONAL.subject,
      text: `Hello, I am ${PERSONAL.name}; call me on ${PERSONAL.phone}, ID ${PERSONAL.idNumber}, card ${PERSONAL.card}.`,
      stagedAttachments: [att],
      meta: { from: PERSONAL.email },
    });
    contactId = first.conversation.contactId;
    conversationId = first.conversation.id;
    // The agent answers (quoting the address) and records an attribute of the contact.
    const reply = await admin('POST', `/api/v1/conversations/${conversationId}/messages`, { text: `Dear ${PERSONAL.name}, we will write to ${PERSONAL.email}.` }, { 'idempotency-key': `k-${tag}` });
    expect(reply.status).toBe(201);
    const upd = await admin('POST', '/api/v1/commands', { commands: [{ type: 'update_contact', id: s.workspace.ids.next(), deviceTime: Date.now(), contactId, attributes: { address: PERSONAL.attr } }] });
    expect(upd.body.results[0]).toMatchObject({ outcome: 'applied' });
  }, 60_000);
  afterAll(async () => s?.stopAll());

  it('exports everything about the contact as JSON and CSV (admins and supervisors; audited)', async () => {
    const zhang = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
    expect((await zhang('GET', `/api/v1/contacts/${contactId}/export`)).status).toBe(403);
    const j = await admin('GET', `/api/v1/contacts/${contactId}/export`);
    expect(j.status).toBe(200);
    expect(j.body.contact).toMatchObject({ id: contactId, name: PERSONAL.name });
    expect(j.body.identities.map((i: { identifier: string }) => i.identifier).some((x: string) => x === PERSONAL.email || x === PERSONAL.phone)).toBe(true);
    expect(j.body.attributes).toMatchObject({ address: PERSONAL.attr });
    expect(j.body.conversations.map((c: { id: string }) => c.id)).toContain(conversationId);
    const texts = j.body.messages.map((m: { text: string }) => m.text).join('\n');
    expect(texts).toContain(PERSONAL.card);
    expect(texts).toContain(`we will write to ${PERSONAL.email}`);
    expect(j.body.attachments).toEqual([expect.objectContaining({ name: PERSONAL.file, sha256: blobSha })]);

    const csv = await fetch(`${s.url}/api/v1/contacts/${contactId}/export?format=csv`, { headers: { authorization: `Bearer ${await loginToken(s.url, 'admin@demo.goutong')}` } });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const text = await csv.text();
    expect(text.split('\r\n')[0]).toBe('record,id,parent_id,field,value');
    expect(text).toContain(`contact,${contactId},,name,${PERSONAL.name}`);
    expect(text).toContain(PERSONAL.card);
    expect(text).toContain(`attachment,`);
    expect(text).toContain(PERSONAL.file);
    expect((await admin('GET', `/api/v1/contacts/${contactId}/export?format=xml`)).status).toBe(400);
    expect(Number((await s.db.one<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'contact.export' AND target = ?", [contactId]))!.n)).toBe(2);
  });

  it('erasure leaves no personal value in any table, keeps the statistics, and reaches devices as new facts', async () => {
    const before = (await admin('GET', `/api/v1/conversations/${conversationId}`)).body;
    const seqBefore = await s.workspace.currentSeq(before.tenantId);
    const zhang = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
    expect((await zhang('POST', `/api/v1/contacts/${contactId}/erase`)).status).toBe(403);
    // The scan sees the values before the erasure (it can fail).
    const seen = await everyTable(s.db);
    expect(seen.get('messages')).toContain(PERSONAL.card);
    expect(seen.get('contacts')).toContain(PERSONAL.attr);
    expect(seen.get('attachments')).toContain(PERSONAL.file);
    // [trust] The scan covers the search index (clear text until the erasure), its FTS tables on
    // SQLite, and the side tables an erasure could forget.
    expect(seen.get('search_docs')).toContain(PERSONAL.card);
    if (dialect === 'sqlite') expect([...seen.keys()].filter((t) => t.startsWith('search_fts')).length).toBeGreaterThan(0);
    for (const t of ['read_marks', 'call_intents', 'privacy_bindings', 'report_hourly', 'report_costs', 'audit_log', 'commands']) expect(seen.has(t), t).toBe(true);
    expect(fs.existsSync(path.join(s.attachments.root, blobSha.slice(0, 2), blobSha.slice(2, 4), blobSha))).toBe(true);
    const r = await admin('POST', `/api/v1/contacts/${contactId}/erase`);
    expect(r.status).toBe(200);

    const tables = await everyTable(s.db);
    expect(tables.size).toBeGreaterThan(10);
    for (const [table, content] of tables) {
      for (const [what, value] of Object.entries(PERSONAL)) {
        if (what === 'blob') continue;
        expect(content.includes(value), `${what} (${value}) still in table ${table}`).toBe(false);
      }
    }
    // The bytes of the attachment are gone too.
    const file = path.join(s.attachments.root, blobSha.slice(0, 2), blobSha.slice(2, 4), blobSha);
    expect(fs.existsSync(file)).toBe(false);

    // Statistics stay; the rows changed with a new seq, so a pull from before brings them.
    const after = (await admin('GET', `/api/v1/conversations/${conversationId}`)).body;
    expect(after).toMatchObject({ messageCount: before.messageCount, status: before.status, createdAt: before.createdAt, lastMessageAt: before.lastMessageAt, contactName: ERASED_NAME });
    const pull = await admin('POST', '/api/v1/sync/pull', { checkpoint: seqBefore });
    expect(pull.body.contacts.map((c: { id: string; name: string }) => [c.id, c.name])).toContainEqual([contactId, ERASED_NAME]);
    expect(pull.body.conversations.map((c: { id: string }) => c.id)).toContain(conversationId);
    const msgs = pull.body.messages.filter((m: { conversationId: string }) => m.conversationId === conversationId);
    expect(msgs.length).toBe(before.messageCount);
    for (const m of msgs) expect(m.attachments).toEqual([]);
    expect(JSON.stringify(pull.body)).not.toContain(PERSONAL.card);
    expect(Number((await s.db.one<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'contact.erase' AND target = ?", [contactId]))!.n)).toBe(1);
  });
});
