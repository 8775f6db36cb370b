import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTenant } from '../../src/seed.js';
import { toContact, toConversation, toMessage } from '../../src/domain/rows.js';
import type { ChannelProvider } from '../../src/channels/provider.js';
import { createTestDatabase } from '../support/pg.js';
import { api, eventually, loginToken } from '../support/agentClient.js';

export { eventually };
export type Dialect = 'sqlite' | 'postgres';
export const PASSWORD = 'channel-test-pw';

/** An in-process server (SQLite in a temp dir, or a fresh PostgreSQL database) with one tenant and an admin. */
export async function startChannelServer(opts: { dialect?: Dialect; providers?: ChannelProvider[]; env?: Record<string, string> } = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-ch-'));
  let drop: (() => Promise<void>) | null = null;
  let databaseUrl: string | undefined;
  if (opts.dialect === 'postgres') {
    const db = await createTestDatabase('gtch');
    databaseUrl = db.url;
    drop = db.drop;
  }
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    GOUTONG_DATA_DIR: dataDir,
    GOUTONG_DEMO: '0',
    GOUTONG_LOG: process.env.GOUTONG_TEST_LOG ?? 'silent',
    GOUTONG_RELAY_INTERVAL_MS: '100',
    // Local fakes and peers listen on loopback: the egress guard refuses it unless allowed.
    GOUTONG_EGRESS_ALLOW: '127.0.0.0/8,::1',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...(opts.env ?? {}),
  });
  const server: RunningServer = await startServer({ config, ...(opts.providers ? { providers: opts.providers } : {}) });
  const slug = `t${crypto.randomBytes(4).toString('hex')}`;
  const tenant = await createTenant(server.workspace, {
    slug,
    name: 'Channel tests',
    teams: ['Support'],
    agents: [{ email: `admin@${slug}.test`, name: 'Admin', role: 'admin', teams: ['Support'], password: PASSWORD }],
  });
  const token = await loginToken(server.url, `admin@${slug}.test`, PASSWORD);
  const admin = api(server.url, token);
  const supportTeam = tenant.teamIds.Support!;
  return {
    server,
    url: server.url,
    admin,
    token,
    tenant,
    supportTeam,
    async createInbox(body: { name: string; channel: string; provider: string; config: Record<string, unknown>; secrets: Record<string, string> }): Promise<string> {
      const r = await admin('POST', '/api/v1/inboxes', { ...body, teamIds: [supportTeam] });
      if (r.status !== 201) throw new Error(`create inbox: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id as string;
    },
    async reply(conversationId: string, text: string, extra: Record<string, unknown> = {}) {
      return admin('POST', `/api/v1/conversations/${conversationId}/messages`, { text, ...extra }, { 'idempotency-key': crypto.randomUUID() });
    },
    async message(id: string) {
      const r = await server.db.one('SELECT * FROM messages WHERE id = ?', [id]);
      return r ? toMessage(r) : null;
    },
    async messages(conversationId: string) {
      return (await server.db.all('SELECT * FROM messages WHERE conversation_id = ? ORDER BY created_at, id', [conversationId])).map(toMessage);
    },
    async conversation(id: string) {
      const r = await server.db.one('SELECT * FROM conversations WHERE id = ?', [id]);
      return r ? toConversation(r) : null;
    },
    async conversations(inboxId: string) {
      return (await server.db.all('SELECT * FROM conversations WHERE inbox_id = ? ORDER BY created_at, id', [inboxId])).map(toConversation);
    },
    async contact(id: string) {
      const r = await server.db.one('SELECT * FROM contacts WHERE id = ?', [id]);
      return r ? toContact(r) : null;
    },
    async count(sql: string, params: (string | number)[] = []): Promise<number> {
      const r = await server.db.one<{ n: number }>(sql, params);
      return Number(r?.n ?? 0);
    },
    async close() {
      await server.close();
      await drop?.();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type ChannelServer = Awaited<ReturnType<typeof startChannelServer>>;
