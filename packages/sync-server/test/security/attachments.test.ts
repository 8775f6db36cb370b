import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/seed.js';
import { bindAttachment } from '../../src/domain/attachments.js';
import { api, loginToken } from '../support/agentClient.js';
import { startTestServer } from '../support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

interface Uploaded {
  id: string;
  url: string;
  name: string;
  mime: string;
  size: number;
  sha256: string;
}

/** Hole 9: attachment download checks scope (cross-tenant and cross-team). */
describe.each([['sqlite'], ['postgres']] as const)('attachment scope on %s', (dialect) => {
  let s: Server;
  const tokens: Record<string, string> = {};
  let supportConv: { id: string; tenantId: string };

  const upload = async (who: string, body: string): Promise<Uploaded> => {
    const r = await fetch(`${s.url}/api/v1/attachments?name=note.txt`, { method: 'POST', headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': 'text/plain' }, body });
    expect(r.status).toBe(201);
    return (await r.json()) as Uploaded;
  };
  const download = async (id: string, who: string | null, query = '') => {
    const r = await fetch(`${s.url}/api/v1/attachments/${id}${query}`, { headers: who ? { authorization: `Bearer ${tokens[who]}` } : {} });
    return { status: r.status, text: await r.text() };
  };

  beforeAll(async () => {
    s = await startTestServer(dialect);
    await createTenant(s.workspace, { slug: 'other', name: 'Other', teams: ['T'], agents: [{ email: 'eve@other.test', name: 'Eve', role: 'admin', teams: ['T'], password: 'eve-password-1' }] });
    for (const e of ['alice@demo.goutong', 'zhang.san@demo.goutong', 'bob@demo.goutong', 'admin@demo.goutong']) tokens[e.split('@')[0]!] = await loginToken(s.url, e);
    tokens.eve = await loginToken(s.url, 'eve@other.test', 'eve-password-1');
    const list = await api(s.url, tokens.alice!)('GET', '/api/v1/conversations?limit=1');
    supportConv = list.body.items[0];
    // Bob (Sales) cannot see the Support conversation.
    expect((await api(s.url, tokens.bob!)('GET', `/api/v1/conversations/${supportConv.id}`)).status).toBe(404);
  });
  afterAll(async () => s?.stopAll());

  it('attachment download checks scope: an unbound upload is only its uploader\'s', async () => {
    const a = await upload('alice', 'draft attachment of alice');
    expect((await download(a.id, 'alice')).status).toBe(200);
    expect((await download(a.id, 'zhang.san')).status).toBe(404); // same team, not the uploader
    expect((await download(a.id, 'bob')).status).toBe(404); // another team
    expect((await download(a.id, 'admin')).status).toBe(404);
    expect((await download(a.id, 'eve')).status).toBe(404); // another tenant
    // Its signed URL (given only to the uploader) works without a token.
    expect(await download(a.id, null, a.url.slice(a.url.indexOf('?')))).toMatchObject({ status: 200, text: 'draft attachment of alice' });
  });

  it('attachment download checks scope: a bound attachment follows its conversation (cross-team, cross-tenant)', async () => {
    const a = await upload('alice', 'reply attachment');
    const cmd = await api(s.url, tokens.alice!)('POST', '/api/v1/commands', {
      commands: [{ type: 'send_reply', id: '01939a4e-0000-7000-8000-0000000000a1', deviceTime: Date.now(), conversationId: supportConv.id, text: 'see attached', attachments: [{ id: a.id, name: a.name, mime: a.mime, size: a.size, sha256: a.sha256 }] }],
    });
    expect(cmd.body.results[0].outcome).toBe('applied');
    // send_reply binds the attachment to its message (the rules layer does it; bound here if not yet).
    await bindAttachment(s.db, supportConv.tenantId, a.id, '01939a4e-0000-7000-8000-0000000000a1');
    for (const who of ['alice', 'zhang.san', 'admin']) expect((await download(a.id, who)).status, who).toBe(200);
    expect((await download(a.id, 'bob')).status).toBe(404);
    expect((await download(a.id, 'eve')).status).toBe(404);
  });

  it('attachment download checks scope: signed URLs are bound to the tenant and the attachment, and expire', async () => {
    const a = await upload('alice', 'first');
    const b = await upload('alice', 'second');
    const e = await upload('eve', 'eve\'s file');
    const q = (u: Uploaded) => u.url.slice(u.url.indexOf('?'));
    expect((await download(e.id, null, q(e))).status).toBe(200);
    expect((await download(b.id, null, q(a))).status).toBe(401); // another attachment's signature
    expect((await download(e.id, null, q(a))).status).toBe(401); // another tenant's
    const exp = Number(new URL(a.url, s.url).searchParams.get('exp'));
    const sig = new URL(a.url, s.url).searchParams.get('sig');
    expect((await download(a.id, null, `?exp=${exp + 3600}&sig=${sig}`)).status).toBe(401); // tampered expiry
    expect((await download(a.id, null, `?exp=${Math.floor(Date.now() / 1000) - 10}&sig=${sig}`)).status).toBe(401); // expired
    expect((await download(a.id, null, '')).status).toBe(401);
    // A signature made for the attachment alone (not bound to its tenant) is refused.
    const { hmacHex } = await import('../../src/auth/crypto.js');
    const idOnly = hmacHex(s.secret, `attachment:${a.id}:${exp}`).slice(0, 32);
    expect((await download(a.id, null, `?exp=${exp}&sig=${idOnly}`)).status).toBe(401);
  });
});
