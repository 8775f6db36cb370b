// Two server processes' worth of servers (in this process) on one PostgreSQL and one Redis: a visitor
// connected to B sees the reply an agent committed through A, and the agent's typing from A's sync
// socket (Yjs presence through the broker); the visitor token made by B works on A.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@goutong/core';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTenant } from '../../src/seed.js';
import { createTestDatabase } from '../support/pg.js';
import { api, connectAgent, eventually, loginToken } from '../support/agentClient.js';

const REDIS_URL = process.env.GOUTONG_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const SITE = 'http://127.0.0.1:45124';
const PASSWORD = 'webchat-scale-pw';

describe('website chat across two server processes (PostgreSQL + Redis)', () => {
  let a: RunningServer;
  let b: RunningServer;
  let drop: () => Promise<void>;
  const dirs: string[] = [];
  let admin: ReturnType<typeof api>;
  let email = '';
  let token = '';

  beforeAll(async () => {
    const db = await createTestDatabase('gtwebscale');
    drop = db.drop;
    const start = async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-webscale-'));
      dirs.push(dir);
      const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '0', GOUTONG_LOG: 'silent', DATABASE_URL: db.url, REDIS_URL, GOUTONG_SECRET: 'webchat-scale-secret-0123456789abcdef', GOUTONG_RELAY_INTERVAL_MS: '100' });
      return startServer({ config, logger: silentLogger });
    };
    a = await start();
    b = await start();
    const slug = `w${crypto.randomBytes(4).toString('hex')}`;
    email = `admin@${slug}.test`;
    const tenant = await createTenant(a.workspace, { slug, name: 'Scale', teams: ['Support'], agents: [{ email, name: 'Admin', role: 'admin', teams: ['Support'], password: PASSWORD }] });
    admin = api(a.url, await loginToken(a.url, email, PASSWORD));
    const created = await admin('POST', '/api/v1/inboxes', { name: 'Site', channel: 'web', provider: 'webchat', config: { allowedOrigins: [SITE] }, secrets: {}, teamIds: [tenant.teamIds.Support!] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const view = await admin('GET', `/api/v1/inboxes/${created.body.id}`);
    token = new URL((view.body.urls as { url: string }[])[0]!.url, a.url).searchParams.get('inbox')!;
  }, 120_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("B's visitor sees A's reply and A's agent typing; B's token works on A", async () => {
    const on = (s: RunningServer) => `${s.url}/api/v1/webchat/${encodeURIComponent(token)}`;
    const headers = { origin: SITE, 'content-type': 'application/json' };
    const session = (await (await fetch(`${on(b)}/session`, { method: 'POST', headers, body: '{}' })).json()) as { visitorToken: string };
    const v = session.visitorToken;
    const clientId = crypto.randomUUID();
    const send = (s: RunningServer) => fetch(`${on(s)}/messages`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${v}` }, body: JSON.stringify({ clientId, text: 'hello from B' }) });
    const first = await send(b);
    expect(first.status).toBe(201);
    // The same message through the other process: stored once.
    expect((await send(a)).status).toBe(200);
    const { conversation, message } = (await first.json()) as { conversation: { id: string }; message: { seq: number } };

    const agent = await connectAgent(a.url, email, PASSWORD);
    const doc = agent.client.openConversationDoc(conversation.id);
    const ac = new AbortController();
    const events: { event: string; data: any }[] = [];
    const reading = (async () => {
      const res = await fetch(`${on(b)}/stream?token=${encodeURIComponent(v)}&after=${message.seq}`, { headers: { origin: SITE }, signal: ac.signal });
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(chunk)?.[1];
          const data = /^data: (.*)$/m.exec(chunk)?.[1];
          if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
        }
      }
    })().catch(() => undefined);
    try {
      await eventually(() => events.length > 0, 'stream open on B');
      await doc.ready;
      doc.setTyping('reply');
      await eventually(() => events.some((e) => e.event === 'typing' && e.data.agent?.name === 'Admin'), "A's agent typing reaches B's visitor", 20_000);
      const reply = await admin('POST', `/api/v1/conversations/${conversation.id}/messages`, { text: 'answer from A' }, { 'idempotency-key': crypto.randomUUID() });
      expect(reply.status).toBe(201);
      await eventually(() => events.some((e) => e.event === 'changes' && e.data.messages.some((m: { text: string }) => m.text === 'answer from A')), "A's reply reaches B's visitor", 20_000);
    } finally {
      ac.abort();
      await reading;
      doc.release();
      await agent.client.stop();
    }
  });
});
