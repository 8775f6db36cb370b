import type { Db, Dialect } from './db.js';

/** Dialect tokens: {{blob}}, {{autoid}}, {{bigint}}. Everything else is SQL both databases accept. */
function render(sql: string, d: Dialect): string {
  return sql
    .replaceAll('{{blob}}', d === 'pg' ? 'BYTEA' : 'BLOB')
    .replaceAll('{{autoid}}', d === 'pg' ? 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT')
    .replaceAll('{{bigint}}', 'BIGINT');
}

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** Numbered, append-only. Never edit a migration that has shipped; add a new one. */
export const MIGRATIONS: Migration[] = [
  {
    id: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tenants (id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL, created_at {{bigint}} NOT NULL);
CREATE TABLE tenant_seq (tenant_id TEXT PRIMARY KEY REFERENCES tenants(id), seq {{bigint}} NOT NULL);
CREATE TABLE teams (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, seq {{bigint}} NOT NULL);
CREATE INDEX teams_seq ON teams (tenant_id, seq);
CREATE TABLE agents (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), email TEXT NOT NULL, name TEXT NOT NULL,
  role TEXT NOT NULL, team_ids TEXT NOT NULL, password_hash TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1,
  created_at {{bigint}} NOT NULL, seq {{bigint}} NOT NULL, UNIQUE (tenant_id, email));
CREATE INDEX agents_seq ON agents (tenant_id, seq);
CREATE INDEX agents_email ON agents (email);
CREATE TABLE inboxes (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, channel TEXT NOT NULL,
  provider TEXT, team_ids TEXT NOT NULL, config TEXT NOT NULL, secrets TEXT, created_at {{bigint}} NOT NULL, seq {{bigint}} NOT NULL);
CREATE INDEX inboxes_seq ON inboxes (tenant_id, seq);
CREATE TABLE contacts (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, identities TEXT NOT NULL,
  attributes TEXT NOT NULL, created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL, seq {{bigint}} NOT NULL);
CREATE INDEX contacts_seq ON contacts (tenant_id, seq);
CREATE TABLE contact_identities (
  tenant_id TEXT NOT NULL, channel TEXT NOT NULL, identifier TEXT NOT NULL, contact_id TEXT NOT NULL REFERENCES contacts(id),
  PRIMARY KEY (tenant_id, channel, identifier));
CREATE TABLE conversations (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), inbox_id TEXT NOT NULL REFERENCES inboxes(id),
  channel TEXT NOT NULL, contact_id TEXT NOT NULL REFERENCES contacts(id), contact_name TEXT NOT NULL, team_id TEXT,
  status TEXT NOT NULL, priority TEXT NOT NULL, assignee_id TEXT, labels TEXT NOT NULL, subject TEXT,
  last_message_preview TEXT NOT NULL, last_message_direction TEXT, last_message_at {{bigint}} NOT NULL,
  waiting_since {{bigint}}, snoozed_until {{bigint}}, message_count INTEGER NOT NULL, created_at {{bigint}} NOT NULL,
  updated_at {{bigint}} NOT NULL, seq {{bigint}} NOT NULL);
CREATE INDEX conversations_seq ON conversations (tenant_id, seq);
CREATE INDEX conversations_list ON conversations (tenant_id, last_message_at, id);
CREATE INDEX conversations_contact ON conversations (inbox_id, contact_id, status);
CREATE TABLE messages (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), conversation_id TEXT NOT NULL REFERENCES conversations(id),
  inbox_id TEXT NOT NULL, direction TEXT NOT NULL, kind TEXT NOT NULL, author_type TEXT NOT NULL, author_id TEXT,
  text TEXT NOT NULL, subject TEXT, attachments TEXT NOT NULL, status TEXT, status_reason TEXT,
  device_time {{bigint}}, server_time {{bigint}} NOT NULL, created_at {{bigint}} NOT NULL, meta TEXT NOT NULL,
  external_id TEXT, provider_message_id TEXT, seq {{bigint}} NOT NULL);
CREATE INDEX messages_seq ON messages (tenant_id, seq);
CREATE INDEX messages_page ON messages (conversation_id, created_at, id);
CREATE UNIQUE INDEX messages_external ON messages (inbox_id, external_id);
CREATE INDEX messages_provider ON messages (inbox_id, provider_message_id);
CREATE TABLE commands (
  tenant_id TEXT NOT NULL, id TEXT NOT NULL, agent_id TEXT NOT NULL, type TEXT NOT NULL, seq {{bigint}} NOT NULL,
  device_time {{bigint}} NOT NULL, server_time {{bigint}} NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE idempotency_keys (
  tenant_id TEXT NOT NULL, agent_id TEXT NOT NULL, key TEXT NOT NULL, command_id TEXT NOT NULL, created_at {{bigint}} NOT NULL,
  PRIMARY KEY (tenant_id, agent_id, key));
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY, agent_id TEXT NOT NULL REFERENCES agents(id), tenant_id TEXT NOT NULL, family TEXT NOT NULL,
  expires_at {{bigint}} NOT NULL, revoked_at {{bigint}}, created_at {{bigint}} NOT NULL);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE TABLE yjs_updates (id {{autoid}}, tenant_id TEXT NOT NULL, doc TEXT NOT NULL, data {{blob}} NOT NULL, created_at {{bigint}} NOT NULL);
CREATE INDEX yjs_updates_doc ON yjs_updates (tenant_id, doc, id);
CREATE TABLE relay_jobs (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, message_id TEXT NOT NULL UNIQUE REFERENCES messages(id), inbox_id TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at {{bigint}} NOT NULL, lease_until {{bigint}},
  lease_owner TEXT, last_error TEXT, created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL);
CREATE INDEX relay_jobs_ready ON relay_jobs (state, next_attempt_at);
CREATE TABLE webhook_replay (key TEXT PRIMARY KEY, seen_at {{bigint}} NOT NULL);
CREATE TABLE audit_log (
  id {{autoid}}, tenant_id TEXT NOT NULL, agent_id TEXT, action TEXT NOT NULL, target TEXT, details TEXT NOT NULL, created_at {{bigint}} NOT NULL);
`,
  },
  {
    id: 2,
    name: 'channels: email threading, attachments, conversation links',
    sql: `
CREATE TABLE email_imap_state (inbox_id TEXT PRIMARY KEY, mailbox TEXT NOT NULL, uid_validity TEXT NOT NULL, last_uid {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL);
CREATE TABLE email_message_ids (
  inbox_id TEXT NOT NULL, header_id TEXT NOT NULL, conversation_id TEXT NOT NULL, message_id TEXT NOT NULL, direction TEXT NOT NULL,
  created_at {{bigint}} NOT NULL, PRIMARY KEY (inbox_id, header_id));
CREATE INDEX email_message_ids_conv ON email_message_ids (conversation_id, created_at);
CREATE TABLE conversation_tokens (token TEXT PRIMARY KEY, conversation_id TEXT NOT NULL UNIQUE, inbox_id TEXT NOT NULL, created_at {{bigint}} NOT NULL);
CREATE TABLE conversation_links (conversation_id TEXT PRIMARY KEY, previous_conversation_id TEXT NOT NULL, created_at {{bigint}} NOT NULL);
CREATE TABLE attachments (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, sha256 TEXT NOT NULL, name TEXT NOT NULL, mime TEXT NOT NULL, size {{bigint}} NOT NULL,
  message_id TEXT, created_by TEXT, created_at {{bigint}} NOT NULL);
CREATE INDEX attachments_message ON attachments (message_id);
CREATE INDEX attachments_blob ON attachments (tenant_id, sha256)
`,
  },
  {
    id: 3,
    name: 'canned responses',
    sql: `
CREATE TABLE canned_responses (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), short_code TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
  created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL, UNIQUE (tenant_id, short_code));
`,
  },
  {
    id: 230,
    name: 'accounts: invites and resets, two-factor, sessions and devices, retention',
    sql: `
CREATE TABLE agent_tokens (
  token_hash TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, agent_id TEXT NOT NULL REFERENCES agents(id), kind TEXT NOT NULL,
  expires_at {{bigint}} NOT NULL, used_at {{bigint}}, created_by TEXT, created_at {{bigint}} NOT NULL);
CREATE INDEX agent_tokens_agent ON agent_tokens (agent_id, kind);
CREATE TABLE agent_mfa (
  agent_id TEXT PRIMARY KEY REFERENCES agents(id), tenant_id TEXT NOT NULL, secret TEXT NOT NULL, enabled_at {{bigint}},
  last_step {{bigint}} NOT NULL DEFAULT 0, created_at {{bigint}} NOT NULL);
CREATE TABLE agent_recovery_codes (agent_id TEXT NOT NULL REFERENCES agents(id), code_hash TEXT NOT NULL, used_at {{bigint}}, PRIMARY KEY (agent_id, code_hash));
CREATE TABLE mfa_challenges (
  token_hash TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, agent_id TEXT NOT NULL REFERENCES agents(id), expires_at {{bigint}} NOT NULL,
  used_at {{bigint}}, attempts INTEGER NOT NULL DEFAULT 0, device_name TEXT, platform TEXT, ip TEXT, created_at {{bigint}} NOT NULL);
CREATE TABLE agent_sessions (
  family TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, agent_id TEXT NOT NULL REFERENCES agents(id), device_name TEXT, platform TEXT, ip TEXT,
  created_at {{bigint}} NOT NULL, last_seen_at {{bigint}} NOT NULL, ended_at {{bigint}}, wipe INTEGER NOT NULL DEFAULT 0);
CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id, ended_at);
CREATE TABLE retention_policies (
  tenant_id TEXT NOT NULL REFERENCES tenants(id), channel TEXT NOT NULL, days INTEGER NOT NULL, updated_at {{bigint}} NOT NULL, PRIMARY KEY (tenant_id, channel));
CREATE TABLE retention_runs (tenant_id TEXT PRIMARY KEY, lease_until {{bigint}} NOT NULL, lease_owner TEXT, last_run_at {{bigint}}, purged {{bigint}} NOT NULL DEFAULT 0)
`,
  },
];

/** Applies the server's migrations and those the extensions declare (channels/provider.ts), in id order. */
export async function migrate(db: Db, extensions: readonly Migration[] = []): Promise<void> {
  const ids = MIGRATIONS.map((m) => m.id);
  if (new Set(ids).size !== ids.length || ids.some((id, i) => i > 0 && id <= ids[i - 1]!)) {
    throw new Error(`migrations must have unique, increasing ids (got ${ids.join(', ')})`);
  }
  const all = [...MIGRATIONS, ...extensions].sort((a, b) => a.id - b.id);
  const clash = all.find((m, i) => i > 0 && m.id === all[i - 1]!.id);
  if (clash) throw new Error(`two migrations have id ${clash.id} (an extension must pick an unused id)`);
  await db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
  const done = new Set((await db.all<{ id: number }>('SELECT id FROM schema_migrations')).map((r) => Number(r.id)));
  for (const m of all) {
    if (done.has(m.id)) continue;
    await db.tx(async (q) => {
      // Two processes starting together on PostgreSQL: the second waits here and then sees the row.
      if (q.dialect === 'pg') await q.run('LOCK TABLE schema_migrations IN EXCLUSIVE MODE');
      if (await q.one('SELECT id FROM schema_migrations WHERE id = ?', [m.id])) return;
      for (const stmt of render(m.sql, q.dialect).split(';').map((s) => s.trim()).filter(Boolean)) {
        await q.run(stmt);
      }
      await q.run('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)', [m.id, m.name, Date.now()]);
    });
  }
}
