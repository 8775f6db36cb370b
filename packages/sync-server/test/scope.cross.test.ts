/**
 * Cross-tenant and cross-team isolation of the things that are not conversation rows: Yjs draft
 * documents, inbox administration, contacts and attachments. Two tenants on one server: the demo
 * tenant (Support: zhang.san, alice; Sales: bob; admin) and "other" (its own admin and agent, inbox
 * and customer). Every refusal is checked together with "and nothing changed", after a condition that
 * proves the request was handled (an answer, or a pong on the same socket: frames are handled in order).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import { webcrypto } from 'node:crypto';
import { conversationDocName, encodeFrame, PullResponse, Uuidv7Generator } from '@goutong/core';
import { createInbox, createTenant } from '../src/seed.js';
import { api, connectAgent, eventually, loginToken } from './support/agentClient.js';
import { startTestServer } from './support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
type Api = ReturnType<typeof api>;

const OTHER_PASSWORD = 'other-tenant-password';

/** A raw sync socket: authenticates, records what the server sends, and round-trips a ping. */
class Probe {
  readonly texts: { t: string; code?: string; doc?: string }[] = [];
  readonly binary: Uint8Array[] = [];
  private pongs = 0;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer, isBinary) => {
      if (isBinary) this.binary.push(new Uint8Array(d));
      else {
        const m = JSON.parse(d.toString()) as { t: string; code?: string; doc?: string };
        if (m.t === 'pong') this.pongs++;
        this.texts.push(m);
      }
    });
  }

  static async open(url: string, token: string): Promise<Probe> {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/sync`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const p = new Probe(ws);
    ws.send(JSON.stringify({ t: 'auth', token }));
    await eventually(() => p.texts.some((t) => t.t === 'ready'), 'socket ready');
    return p;
  }

  send(frame: unknown): void {
    this.ws.send(frame instanceof Uint8Array ? frame : JSON.stringify(frame), { binary: frame instanceof Uint8Array });
  }

  /** Resolves once the server handled everything sent before (frames are handled in order). */
  async roundTrip(): Promise<void> {
    const want = this.pongs + 1;
    this.send({ t: 'ping' });
    await eventually(() => this.pongs >= want, 'pong');
  }

  errorsFor(doc: string): string[] {
    return this.texts.filter((t) => t.t === 'error' && t.doc === doc).map((t) => t.code ?? '');
  }

  close(): void {
    this.ws.close(1000);
  }
}

/** A Yjs update frame writing `text` into `reply:<agentId>` of a document. */
function draftUpdate(doc: string, agentId: string, text: string): Uint8Array {
  const y = new Y.Doc();
  y.getText(`reply:${agentId}`).insert(0, text);
  const e = encoding.createEncoder();
  syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(y));
  return encodeFrame(doc, 0, encoding.toUint8Array(e));
}

async function pullAll(url: string, token: string): Promise<PullResponse> {
  const res = await fetch(`${url}/api/v1/sync/pull`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ checkpoint: 0, limit: 2000 }) });
  expect(res.status).toBe(200);
  const page = PullResponse.parse(await res.json());
  expect(page.hasMore).toBe(false);
  return page;
}

async function upload(url: string, token: string, name: string, content: string): Promise<{ id: string; name: string; mime: string; size: number; sha256?: string }> {
  const res = await fetch(`${url}/api/v1/attachments?name=${encodeURIComponent(name)}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: content });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; name: string; mime: string; size: number };
}

const download = (url: string, id: string, token: string) => fetch(`${url}/api/v1/attachments/${id}`, { headers: { authorization: `Bearer ${token}` } });

const ids = new Uuidv7Generator(Date.now, (n) => webcrypto.getRandomValues(new Uint8Array(n)));
/** A command id (UUIDv7) for raw command batches. */
const commandId = (): string => ids.next();

describe.each([['sqlite'], ['postgres']] as const)('cross-tenant and cross-team isolation on %s', (dialect) => {
  let s: Server;
  let admin: Api;
  let zhangToken: string;
  let bobToken: string;
  let otherAdminToken: string;
  let otherAgentToken: string;
  let demoInbox: string;
  let supportConv: { id: string; contactId: string };
  let otherInbox: string;
  let otherConv: { id: string; contactId: string };
  let agents: Record<string, string>;

  beforeAll(async () => {
    s = await startTestServer(dialect);
    admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
    zhangToken = await loginToken(s.url, 'zhang.san@demo.goutong');
    bobToken = await loginToken(s.url, 'bob@demo.goutong');
    agents = Object.fromEntries(((await admin('GET', '/api/v1/agents')).body.items as { id: string; email: string }[]).map((a) => [a.email, a.id]));
    demoInbox = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API').id;
    const inb = await admin('POST', `/api/v1/inboxes/${demoInbox}/inbound`, { externalId: 'cross-1', from: { identifier: '+8613911110000', name: '周敏' }, text: '请帮我退款' });
    expect(inb.status).toBe(201);
    supportConv = { id: inb.body.conversationId, contactId: inb.body.contactId };

    // A second tenant with its own inbox and customer.
    const other = await createTenant(s.workspace, {
      slug: 'other',
      name: 'Other Co',
      teams: ['Ops'],
      agents: [
        { email: 'admin@other.test', name: 'Other Admin', role: 'admin', teams: ['Ops'], password: OTHER_PASSWORD },
        { email: 'agent@other.test', name: 'Other Agent', role: 'agent', teams: ['Ops'], password: OTHER_PASSWORD },
      ],
    });
    otherInbox = await createInbox(s.workspace, s.secret, { tenantId: other.tenantId, name: 'Other API', channel: 'api', teamIds: [other.teamIds.Ops!] });
    otherAdminToken = await loginToken(s.url, 'admin@other.test', OTHER_PASSWORD);
    otherAgentToken = await loginToken(s.url, 'agent@other.test', OTHER_PASSWORD);
    const o = await api(s.url, otherAdminToken)('POST', `/api/v1/inboxes/${otherInbox}/inbound`, { externalId: 'other-1', from: { identifier: '+4915100000000', name: 'Otto' }, text: 'Hallo' });
    expect(o.status).toBe(201);
    otherConv = { id: o.body.conversationId, contactId: o.body.contactId };
  });
  afterAll(async () => s?.stopAll());

  // ----- Yjs documents ---------------------------------------------------------------------

  it('yjs: an agent cannot open or write the draft document of another team\'s conversation', async () => {
    const doc = conversationDocName(supportConv.id);
    const bob = await Probe.open(s.url, bobToken);
    try {
      bob.send({ t: 'sub', doc });
      bob.send(draftUpdate(doc, agents['bob@demo.goutong']!, 'bob was here'));
      await bob.roundTrip();
      expect(bob.errorsFor(doc)).toEqual(['not_found', 'not_subscribed']);
      expect(bob.binary).toEqual([]);
    } finally {
      bob.close();
    }
    // The document as a Support agent opens it afterwards: nothing of bob's.
    const zhang = await connectAgent(s.url, 'zhang.san@demo.goutong', 'goutong-demo');
    try {
      await eventually(() => zhang.client.connectivity.value.status === 'online', 'zhang online');
      const h = zhang.client.openConversationDoc(supportConv.id);
      await h.ready;
      expect(h.doc.getText(`reply:${agents['bob@demo.goutong']!}`).toString()).toBe('');
      h.release();
    } finally {
      await zhang.client.stop();
    }
  });

  it('yjs: another tenant cannot open or write a draft document', async () => {
    const doc = conversationDocName(supportConv.id);
    for (const token of [otherAdminToken, otherAgentToken]) {
      const p = await Probe.open(s.url, token);
      try {
        p.send({ t: 'sub', doc });
        p.send(draftUpdate(doc, 'intruder', 'from another tenant'));
        await p.roundTrip();
        expect(p.errorsFor(doc)).toEqual(['not_found', 'not_subscribed']);
        expect(p.binary).toEqual([]);
      } finally {
        p.close();
      }
    }
    // And the other way round: the demo admin (sees all of its own tenant) cannot open the other tenant's document.
    const p = await Probe.open(s.url, await loginToken(s.url, 'admin@demo.goutong'));
    try {
      p.send({ t: 'sub', doc: conversationDocName(otherConv.id) });
      await p.roundTrip();
      expect(p.errorsFor(conversationDocName(otherConv.id))).toEqual(['not_found']);
      expect(p.binary).toEqual([]);
    } finally {
      p.close();
    }
  });

  // ----- inbox administration ----------------------------------------------------------------

  it('inbox admin: a non-admin cannot patch an inbox, nor read one outside its teams', async () => {
    const before = (await admin('GET', `/api/v1/inboxes/${demoInbox}`)).body;
    const zhang = api(s.url, zhangToken);
    const bob = api(s.url, bobToken);
    expect((await zhang('PATCH', `/api/v1/inboxes/${demoInbox}`, { name: 'renamed by an agent' })).status).toBe(403);
    expect((await zhang('PATCH', `/api/v1/inboxes/${demoInbox}`, { config: { webhookUrl: 'https://attacker.example/hook' } })).status).toBe(403);
    expect((await bob('PATCH', `/api/v1/inboxes/${demoInbox}`, { teamIds: [] })).status).toBe(403);
    expect((await bob('GET', `/api/v1/inboxes/${demoInbox}`)).status).toBe(404);
    expect((await bob('GET', '/api/v1/inboxes')).body.items.map((i: { id: string }) => i.id)).not.toContain(demoInbox);
    // An agent's view of its own inbox shows no secret values.
    const seen = await zhang('GET', `/api/v1/inboxes/${demoInbox}`);
    expect(seen.status).toBe(200);
    expect(JSON.stringify(seen.body)).not.toMatch(/"secret"\s*:/);
    expect((await admin('GET', `/api/v1/inboxes/${demoInbox}`)).body).toEqual(before);
  });

  it('inbox admin: another tenant\'s admin cannot read or patch an inbox', async () => {
    const before = (await admin('GET', `/api/v1/inboxes/${demoInbox}`)).body;
    const intruder = api(s.url, otherAdminToken);
    expect((await intruder('GET', `/api/v1/inboxes/${demoInbox}`)).status).toBe(404);
    expect((await intruder('PATCH', `/api/v1/inboxes/${demoInbox}`, { name: 'taken over' })).status).toBe(404);
    expect((await intruder('PATCH', `/api/v1/inboxes/${demoInbox}`, { secrets: { secret: 'a-secret-the-intruder-knows' } })).status).toBe(404);
    expect((await intruder('GET', '/api/v1/inboxes')).body.items.map((i: { id: string }) => i.id)).toEqual([otherInbox]);
    // Nor post into it as an agent of its own tenant.
    expect((await intruder('POST', `/api/v1/inboxes/${demoInbox}/inbound`, { externalId: 'x-1', from: { identifier: 'evil' }, text: 'spoofed' })).status).toBe(404);
    expect((await admin('GET', `/api/v1/inboxes/${demoInbox}`)).body).toEqual(before);
    // And the demo admin cannot read or patch the other tenant's inbox.
    expect((await admin('GET', `/api/v1/inboxes/${otherInbox}`)).status).toBe(404);
    expect((await admin('PATCH', `/api/v1/inboxes/${otherInbox}`, { name: 'taken over' })).status).toBe(404);
  });

  // ----- contacts ----------------------------------------------------------------------------

  it('contacts: another tenant\'s contact is invisible via REST and pull, and cannot be updated', async () => {
    const intruder = api(s.url, otherAdminToken);
    expect((await intruder('GET', `/api/v1/contacts/${supportConv.contactId}`)).status).toBe(404);
    expect((await admin('GET', `/api/v1/contacts/${otherConv.contactId}`)).status).toBe(404);
    const theirs = await pullAll(s.url, otherAdminToken);
    expect(theirs.contacts.map((c) => c.id)).toEqual([otherConv.contactId]);
    expect(theirs.conversations.map((c) => c.id)).toEqual([otherConv.id]);
    const ours = await pullAll(s.url, (await loginToken(s.url, 'admin@demo.goutong')));
    expect(ours.contacts.map((c) => c.id)).toContain(supportConv.contactId);
    expect(ours.contacts.map((c) => c.id)).not.toContain(otherConv.contactId);
    // An update_contact from another tenant is rejected and changes nothing.
    const before = (await admin('GET', `/api/v1/contacts/${supportConv.contactId}`)).body;
    const r = await intruder('POST', '/api/v1/commands', { commands: [{ type: 'update_contact', id: commandId(), deviceTime: Date.now(), contactId: supportConv.contactId, name: 'Renamed', attributes: { tier: 'gold' } }] });
    expect(r.status).toBe(200);
    expect(r.body.results[0]).toMatchObject({ outcome: 'rejected', error: { code: 'not_found' } });
    expect((await admin('GET', `/api/v1/contacts/${supportConv.contactId}`)).body).toEqual(before);
  });

  it('contacts: an agent of another team cannot see a contact via REST or pull', async () => {
    const bob = api(s.url, bobToken);
    expect((await bob('GET', `/api/v1/contacts/${supportConv.contactId}`)).status).toBe(404);
    const pulled = await pullAll(s.url, bobToken);
    expect(pulled.contacts.map((c) => c.id)).not.toContain(supportConv.contactId);
    expect((await api(s.url, zhangToken)('GET', `/api/v1/contacts/${supportConv.contactId}`)).status).toBe(200);
  });

  it('contacts: an agent of another team cannot update a contact (rename it, change its attributes)', async () => {
    const before = (await admin('GET', `/api/v1/contacts/${supportConv.contactId}`)).body;
    const r = await api(s.url, bobToken)('POST', '/api/v1/commands', { commands: [{ type: 'update_contact', id: commandId(), deviceTime: Date.now(), contactId: supportConv.contactId, name: 'Renamed by Sales', attributes: { tier: 'gold' } }] });
    expect(r.status).toBe(200);
    expect(r.body.results[0]).toMatchObject({ outcome: 'rejected', error: { code: 'not_found' } });
    expect((await admin('GET', `/api/v1/contacts/${supportConv.contactId}`)).body).toEqual(before);
  });

  // ----- attachments -------------------------------------------------------------------------

  it('attachments: another tenant cannot download an attachment, nor take it into its own reply', async () => {
    const a = await upload(s.url, zhangToken, 'invoice.txt', 'invoice for 周敏');
    const sent = await api(s.url, zhangToken)('POST', '/api/v1/commands', { commands: [{ type: 'send_reply', id: commandId(), deviceTime: Date.now(), conversationId: supportConv.id, text: 'your invoice', attachments: [a] }] });
    expect(sent.body.results[0].outcome).toBe('applied');
    const loose = await upload(s.url, zhangToken, 'draft.txt', 'not sent yet');
    for (const token of [otherAdminToken, otherAgentToken]) {
      expect((await download(s.url, a.id, token)).status).toBe(404);
      expect((await download(s.url, loose.id, token)).status).toBe(404);
    }
    const steal = await api(s.url, otherAdminToken)('POST', '/api/v1/commands', { commands: [{ type: 'send_reply', id: commandId(), deviceTime: Date.now(), conversationId: otherConv.id, text: 'look', attachments: [a] }] });
    expect(steal.body.results[0].outcome).toBe('rejected');
    // The owner still downloads it.
    const mine = await download(s.url, a.id, zhangToken);
    expect(mine.status).toBe(200);
    expect(await mine.text()).toBe('invoice for 周敏');
  });

  it('attachments: an agent of another team cannot download an attachment of a conversation outside its teams', async () => {
    const a = await upload(s.url, zhangToken, 'contract.txt', 'support-only contract');
    const sent = await api(s.url, zhangToken)('POST', '/api/v1/commands', { commands: [{ type: 'send_reply', id: commandId(), deviceTime: Date.now(), conversationId: supportConv.id, text: 'the contract', attachments: [a] }] });
    expect(sent.body.results[0].outcome).toBe('applied');
    expect((await download(s.url, a.id, zhangToken)).status).toBe(200);
    expect((await download(s.url, a.id, await loginToken(s.url, 'alice@demo.goutong'))).status).toBe(200);
    expect((await download(s.url, a.id, bobToken)).status).toBe(404);
  });

  it('attachments: an upload not sent yet is not downloadable by an agent of another team', async () => {
    const loose = await upload(s.url, zhangToken, 'draft.txt', 'a draft attachment');
    expect((await download(s.url, loose.id, zhangToken)).status).toBe(200);
    expect((await download(s.url, loose.id, bobToken)).status).toBe(404);
  });
});
