import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, Uuidv7Generator } from '@goutong/core';
import { webcrypto } from 'node:crypto';
import { signApiPayload } from '../src/channels/api.js';
import { RelayWorker } from '../src/relay/worker.js';
import { ProviderRegistry, type ChannelProvider } from '../src/channels/provider.js';
import { api, eventually, loginToken } from './support/agentClient.js';
import { startTestServer, type Dialect } from './support/inProcess.js';

/** A customer system receiving our api-channel webhooks; it can be "down" (503) for a while. */
class Receiver {
  readonly seen: { body: any; headers: http.IncomingHttpHeaders; raw: string }[] = [];
  failuresLeft = 0;
  private server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      if (this.failuresLeft > 0) {
        this.failuresLeft--;
        res.writeHead(503).end('down');
        return;
      }
      this.seen.push({ body: JSON.parse(raw), headers: req.headers, raw });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `crm-${this.seen.length}` }));
    });
  });
  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const ids = new Uuidv7Generator(Date.now, (n) => webcrypto.getRandomValues(new Uint8Array(n)));

describe.each([['sqlite'], ['postgres']] as [Dialect][])('relay through the api channel on %s', (dialect) => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  let receiver: Receiver;
  let admin: ReturnType<typeof api>;
  let inboxId: string;
  let secret: string;
  let convId: string;

  beforeAll(async () => {
    receiver = new Receiver();
    const hook = await receiver.start();
    s = await startTestServer(dialect);
    admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
    const teams = (await admin('GET', '/api/v1/teams')).body.items;
    const created = await admin('POST', '/api/v1/inboxes', { name: 'CRM', channel: 'api', config: { webhookUrl: hook }, teamIds: [teams[0].id] });
    expect(created.status).toBe(201);
    expect(created.body.secret).toEqual(expect.any(String)); // shown once
    inboxId = created.body.id;
    secret = created.body.secret;
    expect((await admin('GET', `/api/v1/inboxes/${inboxId}`)).body).not.toHaveProperty('secret');
    // PATCH merges config; null removes a field (and it can be set again).
    expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { config: { webhookUrl: null } })).body.config).toEqual({});
    expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { config: { webhookUrl: hook } })).body.config).toEqual({ webhookUrl: hook });
    convId = (await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: 'crm-in-1', from: { identifier: 'crm-user-9', name: 'Li Na' }, text: 'Need help' })).body.conversationId;
  });
  afterAll(async () => {
    await s?.stopAll();
    await receiver?.stop();
  });

  it('posts each reply once, signed over timestamp and raw body, and retries while the receiver is down', async () => {
    receiver.failuresLeft = 2;
    const id = ids.next();
    const r = await admin('POST', '/api/v1/commands', { commands: [{ type: 'send_reply', id, deviceTime: Date.now(), conversationId: convId, text: '已为您处理' }] });
    expect(r.body.results[0].outcome).toBe('applied');
    // Speed the backoff up: make the job due now whenever it waits.
    const t = setInterval(() => void s.db.run("UPDATE relay_jobs SET next_attempt_at = 0 WHERE state = 'queued'").then(() => s.relay.kick()), 100);
    try {
      await eventually(async () => (await admin('GET', `/api/v1/conversations/${convId}/messages`)).body.items.find((m: any) => m.id === id)?.status === 'accepted', 'accepted', 20_000);
    } finally {
      clearInterval(t);
    }
    const deliveries = receiver.seen.filter((d) => d.body.message.id === id);
    expect(deliveries).toHaveLength(1);
    const d = deliveries[0]!;
    expect(d.headers['idempotency-key']).toBe(id);
    const ts = String(d.headers['x-goutong-timestamp']);
    expect(d.headers['x-goutong-signature']).toBe(signApiPayload(secret, ts, d.raw));
    expect(d.body).toMatchObject({ event: 'message.created', conversationId: convId, message: { text: '已为您处理' }, contact: { identifiers: ['crm-user-9'] } });
  });

  it('a repeated receipt is no new fact; a changed one is', async () => {
    const id = ids.next();
    await admin('POST', '/api/v1/commands', { commands: [{ type: 'send_reply', id, deviceTime: Date.now(), conversationId: convId, text: 'receipt test' }] });
    await eventually(async () => (await admin('GET', `/api/v1/conversations/${convId}/messages`)).body.items.find((m: any) => m.id === id)?.status === 'accepted', 'accepted');
    const first = await s.workspace.setMessageStatus(id, 'delivered', { providerMessageId: 'prov-1', meta: { receipt: 'r1' } });
    expect(first?.status).toBe('delivered');
    expect(await s.workspace.setMessageStatus(id, 'delivered', { providerMessageId: 'prov-1', meta: { receipt: 'r1' } })).toBeNull();
    expect(await s.workspace.setMessageStatus(id, 'delivered')).toBeNull();
    const changed = await s.workspace.setMessageStatus(id, 'delivered', { meta: { receipt: 'r2' } });
    expect(changed!.seq).toBeGreaterThan(first!.seq);
  });

  it('a job whose worker died is taken over after its lease and completes once', async () => {
    const id = ids.next();
    // Another "process" claimed the job and died: state sending with an expired lease.
    await s.relay.stop();
    await admin('POST', '/api/v1/commands', { commands: [{ type: 'send_reply', id, deviceTime: Date.now(), conversationId: convId, text: 'after a crash' }] });
    await s.db.run("UPDATE relay_jobs SET state = 'sending', lease_owner = 'dead-worker', lease_until = ?, attempts = 1 WHERE message_id = ?", [Date.now() - 1, id]);
    s.relay.start();
    await eventually(async () => (await admin('GET', `/api/v1/conversations/${convId}/messages`)).body.items.find((m: any) => m.id === id)?.status === 'accepted', 'taken over');
    expect(receiver.seen.filter((x) => x.body.message.id === id)).toHaveLength(1);
  });

  it('several workers share the queue without sending anything twice', async () => {
    await s.relay.stop();
    const sent: string[] = [];
    const counting: ChannelProvider = {
      channel: 'api', name: 'api', configSchema: (await import('../src/channels/api.js')).ApiConfig, secretsSchema: (await import('../src/channels/api.js')).ApiSecrets,
      async send(ctx) {
        await new Promise((r) => setTimeout(r, 2));
        sent.push(ctx.message.id);
        return { kind: 'accepted', providerMessageId: `p-${ctx.message.id}` };
      },
    };
    const providers = new ProviderRegistry().register(counting);
    const made: string[] = [];
    const cmds = Array.from({ length: 40 }, () => {
      const id = ids.next();
      made.push(id);
      return { type: 'send_reply', id, deviceTime: Date.now(), conversationId: convId, text: `bulk ${id}` };
    });
    await admin('POST', '/api/v1/commands', { commands: cmds });
    const workers = Array.from({ length: 4 }, () => new RelayWorker({ db: s.db, workspace: s.workspace, providers, deps: { workspace: s.workspace, logger: silentLogger, attachments: s.attachments, inboxSettings: (i) => s.inboxes.settings(i) }, logger: silentLogger, intervalMs: 1000, batch: 3 }));
    const counts = await Promise.all(workers.map((w) => w.pass()));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(40);
    expect([...sent].sort()).toEqual([...made].sort());
    const rows = await s.db.all<{ state: string }>('SELECT state FROM relay_jobs WHERE message_id IN (' + made.map(() => '?').join(',') + ')', made);
    expect(rows.every((r) => r.state === 'done')).toBe(true);
    s.relay.start();
  });
});
