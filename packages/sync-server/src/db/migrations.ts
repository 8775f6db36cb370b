import type { Db, Dialect, Queryable } from './db.js';
import { ContactIdentity, conversationSearchBody, messageSearchBody, type MessageKind } from '@goutong/core';
import { backfillHistograms } from './reportHistogramRows.js';

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
  /** Dialect-specific statements that cannot be split on `;` (trigger bodies), run after `sql` in the same transaction. */
  after?: (q: Queryable) => Promise<void>;
}

/** report_hourly's counters (migrations 300 and 391), summed into report_hourly_channels by migration 481. */
const HOURLY_COUNTERS = [
  'opened', 'resolved', 'reopened', 'msgs_in', 'msgs_out', 'transfers', 'calls', 'calls_missed', 'handle_seconds', 'cost_micros',
  'sla_resolved', 'sla_resolved_breached', 'sla_breach_first', 'sla_breach_next', 'sla_breach_resolution',
] as const;

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
    id: 4,
    name: 'inbox service operations settings (routing, business hours, auto-replies)',
    sql: `ALTER TABLE inboxes ADD COLUMN ops TEXT`,
  },
  {
    id: 5,
    name: 'ops jobs: events of committed facts and durable timers, with per-listener deliveries',
    sql: `
CREATE TABLE ops_jobs (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, subject_id TEXT NOT NULL,
  payload TEXT NOT NULL, due_at {{bigint}} NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_until {{bigint}},
  last_error TEXT, created_at {{bigint}} NOT NULL);
CREATE INDEX ops_jobs_due ON ops_jobs (due_at);
CREATE INDEX ops_jobs_subject ON ops_jobs (kind, name, subject_id);
CREATE TABLE ops_deliveries (job_id TEXT NOT NULL, listener TEXT NOT NULL, done_at {{bigint}} NOT NULL, PRIMARY KEY (job_id, listener))
`,
  },
  {
    id: 110,
    name: 'routing: agent availability, capacity, skills; round robin pointers; device presence',
    sql: `
ALTER TABLE agents ADD COLUMN availability TEXT;
ALTER TABLE agents ADD COLUMN chosen_availability TEXT;
ALTER TABLE agents ADD COLUMN on_call INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN capacity TEXT;
ALTER TABLE agents ADD COLUMN skills TEXT;
ALTER TABLE agents ADD COLUMN languages TEXT;
ALTER TABLE agents ADD COLUMN last_routed_at {{bigint}};
CREATE TABLE routing_pointers (tenant_id TEXT NOT NULL, scope TEXT NOT NULL, agent_id TEXT, updated_at {{bigint}} NOT NULL, PRIMARY KEY (tenant_id, scope));
CREATE TABLE agent_presence (
  conn_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, agent_id TEXT NOT NULL, process_id TEXT NOT NULL,
  connected_at {{bigint}} NOT NULL, seen_at {{bigint}} NOT NULL);
CREATE INDEX agent_presence_agent ON agent_presence (agent_id);
CREATE INDEX agent_presence_process ON agent_presence (process_id, seen_at);
CREATE INDEX conversations_queue ON conversations (tenant_id, assignee_id, status)
`,
  },
  {
    id: 112,
    name: 'routing per team (wins over the inbox routing)',
    sql: `CREATE TABLE team_routing (team_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, routing TEXT NOT NULL, updated_at {{bigint}} NOT NULL)`,
  },
  {
    id: 120,
    name: 'business hours calendars, team calendars, SLA policies, lifecycle settings, conversation SLA clocks',
    sql: `
CREATE TABLE business_hours (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, time_zone TEXT NOT NULL, weekly TEXT NOT NULL,
  holidays TEXT NOT NULL, created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL);
CREATE INDEX business_hours_tenant ON business_hours (tenant_id, name);
CREATE TABLE team_calendars (
  team_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), business_hours_id TEXT, supervisor_id TEXT, updated_at {{bigint}} NOT NULL);
CREATE INDEX team_calendars_hours ON team_calendars (business_hours_id);
CREATE TABLE sla_policies (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, body TEXT NOT NULL, is_default INTEGER NOT NULL,
  business_hours_id TEXT, created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL);
CREATE INDEX sla_policies_tenant ON sla_policies (tenant_id, created_at);
CREATE UNIQUE INDEX sla_policies_one_default ON sla_policies (tenant_id) WHERE is_default = 1;
CREATE TABLE lifecycle_settings (tenant_id TEXT PRIMARY KEY REFERENCES tenants(id), body TEXT NOT NULL, updated_at {{bigint}} NOT NULL);
ALTER TABLE conversations ADD COLUMN sla TEXT
`,
  },
  {
    id: 130,
    name: 'automation: templates, automation rules, webhook jobs, ticket numbers, CSAT surveys, conversation relations',
    sql: `
CREATE TABLE message_templates (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, body TEXT NOT NULL, subject TEXT,
  created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL, UNIQUE (tenant_id, name));
CREATE TABLE automation_rules (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, event TEXT NOT NULL, conditions TEXT NOT NULL,
  actions TEXT NOT NULL, enabled INTEGER NOT NULL, position INTEGER NOT NULL, disabled_reason TEXT,
  created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL);
CREATE INDEX automation_rules_tenant ON automation_rules (tenant_id, event, position);
CREATE TABLE automation_webhook_jobs (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, rule_id TEXT NOT NULL, url TEXT NOT NULL, secret TEXT, body TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL, next_attempt_at {{bigint}} NOT NULL, lease_until {{bigint}}, last_error TEXT, created_at {{bigint}} NOT NULL,
  updated_at {{bigint}} NOT NULL);
CREATE INDEX automation_webhook_jobs_due ON automation_webhook_jobs (state, next_attempt_at);
CREATE TABLE ticket_counters (tenant_id TEXT PRIMARY KEY, last_number {{bigint}} NOT NULL);
ALTER TABLE conversations ADD COLUMN ticket_number {{bigint}};
CREATE UNIQUE INDEX conversations_ticket ON conversations (tenant_id, ticket_number);
ALTER TABLE conversations ADD COLUMN csat TEXT;
CREATE TABLE csat_surveys (
  token TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, conversation_id TEXT NOT NULL UNIQUE, inbox_id TEXT NOT NULL, contact_id TEXT NOT NULL,
  agent_id TEXT, channel TEXT NOT NULL, mode TEXT NOT NULL, message_id TEXT, sent_at {{bigint}} NOT NULL, expires_at {{bigint}} NOT NULL,
  rating INTEGER, comment TEXT, answered_at {{bigint}});
CREATE INDEX csat_surveys_contact ON csat_surveys (tenant_id, contact_id, answered_at);
CREATE TABLE conversation_relations (
  tenant_id TEXT NOT NULL, conversation_id TEXT NOT NULL, related_id TEXT NOT NULL, kind TEXT NOT NULL, created_at {{bigint}} NOT NULL,
  PRIMARY KEY (conversation_id, related_id, kind))
`,
  },
  {
    id: 131,
    name: 'automation: merged and linked conversations',
    sql: `
ALTER TABLE conversations ADD COLUMN merged_into_id TEXT;
ALTER TABLE conversations ADD COLUMN related_ids TEXT
`,
  },
  {
    id: 220,
    name: 'trust: custom roles, api keys, reveals, mask patterns, audit context, append-only audit log',
    sql: `
CREATE TABLE roles (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, permissions TEXT NOT NULL,
  created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL, UNIQUE (tenant_id, name));
ALTER TABLE agents ADD COLUMN role_id TEXT;
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, secret_hash TEXT NOT NULL,
  permissions TEXT NOT NULL, rate_per_minute INTEGER NOT NULL, created_by TEXT, created_at {{bigint}} NOT NULL,
  revoked_at {{bigint}}, last_used_at {{bigint}});
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
CREATE TABLE pii_reveals (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, agent_id TEXT NOT NULL, session_id TEXT, target_kind TEXT NOT NULL,
  target_id TEXT NOT NULL, field TEXT NOT NULL, expires_at {{bigint}} NOT NULL, created_at {{bigint}} NOT NULL);
CREATE TABLE mask_patterns (tenant_id TEXT PRIMARY KEY REFERENCES tenants(id), patterns TEXT NOT NULL, updated_at {{bigint}} NOT NULL);
ALTER TABLE audit_log ADD COLUMN ip TEXT;
ALTER TABLE audit_log ADD COLUMN user_agent TEXT;
ALTER TABLE audit_log ADD COLUMN session_id TEXT;
ALTER TABLE audit_log ADD COLUMN api_key_id TEXT;
CREATE INDEX audit_log_time ON audit_log (tenant_id, created_at, id)
`,
    // Append-only for everyone, admins included: the database itself refuses UPDATE and DELETE.
    after: async (q) => {
      if (q.dialect === 'pg') {
        await q.run("CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$");
        await q.run('CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()');
        await q.run('CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()');
      } else {
        await q.run("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END");
        await q.run("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END");
      }
    },
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
  {
    id: 300,
    name: 'reports: hourly rollups, durations for percentiles, pricing, suggestion picks',
    sql: `
CREATE TABLE report_hourly (
  tenant_id TEXT NOT NULL, hour {{bigint}} NOT NULL, channel TEXT NOT NULL, inbox_id TEXT NOT NULL, team_id TEXT NOT NULL, agent_id TEXT NOT NULL,
  opened {{bigint}} NOT NULL DEFAULT 0, resolved {{bigint}} NOT NULL DEFAULT 0, reopened {{bigint}} NOT NULL DEFAULT 0,
  msgs_in {{bigint}} NOT NULL DEFAULT 0, msgs_out {{bigint}} NOT NULL DEFAULT 0, transfers {{bigint}} NOT NULL DEFAULT 0,
  calls {{bigint}} NOT NULL DEFAULT 0, calls_missed {{bigint}} NOT NULL DEFAULT 0, handle_seconds {{bigint}} NOT NULL DEFAULT 0,
  cost_micros {{bigint}} NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, hour, channel, inbox_id, team_id, agent_id));
CREATE TABLE report_durations (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, conversation_id TEXT NOT NULL, channel TEXT NOT NULL, inbox_id TEXT NOT NULL,
  team_id TEXT NOT NULL, agent_id TEXT NOT NULL, at {{bigint}} NOT NULL, seconds {{bigint}} NOT NULL, business_seconds {{bigint}} NOT NULL);
CREATE INDEX report_durations_at ON report_durations (tenant_id, kind, at);
CREATE TABLE tenant_pricing (tenant_id TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at {{bigint}} NOT NULL);
CREATE TABLE suggestion_picks (tenant_id TEXT NOT NULL, pick_key TEXT NOT NULL, picks {{bigint}} NOT NULL, PRIMARY KEY (tenant_id, pick_key))
`,
  },
  {
    id: 301,
    name: 'customer 360: contact merges (undoable)',
    sql: `
CREATE TABLE contact_merges (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, target_id TEXT NOT NULL, source_id TEXT NOT NULL, record TEXT NOT NULL,
  created_at {{bigint}} NOT NULL, undone_at {{bigint}});
CREATE INDEX contact_merges_target ON contact_merges (tenant_id, target_id)
`,
  },
  {
    id: 320,
    name: 'trust: call intents (click-to-call of a masked number, resolved by the SIP server)',
    sql: `
CREATE TABLE call_intents (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, agent_id TEXT NOT NULL, inbox_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL, contact_id TEXT NOT NULL, source TEXT NOT NULL,
  created_at {{bigint}} NOT NULL, expires_at {{bigint}} NOT NULL, used_at {{bigint}});
CREATE INDEX call_intents_expiry ON call_intents (expires_at)
`,
  },
  {
    id: 340,
    name: 'search: full-text index of messages and conversations (FTS5 trigram / pg_trgm); read marks per agent',
    sql: `
CREATE TABLE search_docs (id {{autoid}}, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, ref_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE UNIQUE INDEX search_docs_ref ON search_docs (kind, ref_id);
CREATE TABLE read_marks (
  tenant_id TEXT NOT NULL, agent_id TEXT NOT NULL, conversation_id TEXT NOT NULL, read_up_to {{bigint}} NOT NULL, seq {{bigint}} NOT NULL,
  PRIMARY KEY (tenant_id, agent_id, conversation_id));
CREATE INDEX read_marks_seq ON read_marks (tenant_id, agent_id, seq)
`,
    after: async (q) => {
      if (q.dialect === 'pg') {
        await q.run('CREATE EXTENSION IF NOT EXISTS pg_trgm');
        await q.run('CREATE INDEX search_docs_body ON search_docs USING gin (body gin_trgm_ops)');
      } else {
        await q.run("CREATE VIRTUAL TABLE search_fts USING fts5(body, content='search_docs', content_rowid='id', tokenize='trigram')");
      }
      await backfillSearch(q); // what was stored before the index existed
    },
  },
  {
    id: 350,
    name: 'composer: macros and saved views (per agent or shared)',
    sql: `
CREATE TABLE macros (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), owner_id TEXT, name TEXT NOT NULL, actions TEXT NOT NULL,
  created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL);
CREATE INDEX macros_tenant ON macros (tenant_id, owner_id);
CREATE TABLE saved_views (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), owner_id TEXT, name TEXT NOT NULL, filters TEXT NOT NULL,
  created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL);
CREATE INDEX saved_views_tenant ON saved_views (tenant_id, owner_id)
`,
  },
  {
    id: 390,
    name: 'insight: sentiment of the customer\'s latest message on the conversation',
    sql: `ALTER TABLE conversations ADD COLUMN sentiment TEXT`,
  },
  {
    id: 391,
    name: 'insight: SLA compliance counters and cost per conversation and contact',
    sql: `
ALTER TABLE report_hourly ADD COLUMN sla_resolved {{bigint}} NOT NULL DEFAULT 0;
ALTER TABLE report_hourly ADD COLUMN sla_resolved_breached {{bigint}} NOT NULL DEFAULT 0;
ALTER TABLE report_hourly ADD COLUMN sla_breach_first {{bigint}} NOT NULL DEFAULT 0;
ALTER TABLE report_hourly ADD COLUMN sla_breach_next {{bigint}} NOT NULL DEFAULT 0;
ALTER TABLE report_hourly ADD COLUMN sla_breach_resolution {{bigint}} NOT NULL DEFAULT 0;
CREATE TABLE report_costs (
  tenant_id TEXT NOT NULL, conversation_id TEXT NOT NULL, contact_id TEXT NOT NULL, hour {{bigint}} NOT NULL,
  channel TEXT NOT NULL, inbox_id TEXT NOT NULL, team_id TEXT NOT NULL, agent_id TEXT NOT NULL,
  cost_micros {{bigint}} NOT NULL DEFAULT 0, items {{bigint}} NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, conversation_id, hour));
CREATE INDEX report_costs_hour ON report_costs (tenant_id, hour)
`,
  },
  {
    id: 420,
    name: 'fields: custom contact fields, segments, targeted offers and their uses',
    sql: `
CREATE TABLE contact_fields (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), field_key TEXT NOT NULL, type TEXT NOT NULL, label TEXT NOT NULL,
  required INTEGER NOT NULL DEFAULT 0, options TEXT NOT NULL, ord INTEGER NOT NULL DEFAULT 0,
  created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL, UNIQUE (tenant_id, field_key));
CREATE TABLE segments (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, description TEXT NOT NULL, rule TEXT NOT NULL,
  created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL);
CREATE INDEX segments_tenant ON segments (tenant_id);
CREATE TABLE offers (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), title TEXT NOT NULL, text TEXT, text_zh TEXT, text_en TEXT,
  segment_id TEXT NOT NULL REFERENCES segments(id), valid_from {{bigint}}, valid_to {{bigint}}, active INTEGER NOT NULL DEFAULT 1,
  created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL);
CREATE INDEX offers_tenant ON offers (tenant_id);
CREATE TABLE offer_uses (
  message_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, offer_id TEXT NOT NULL, conversation_id TEXT NOT NULL, contact_id TEXT NOT NULL,
  agent_id TEXT NOT NULL, channel TEXT NOT NULL, inbox_id TEXT NOT NULL, team_id TEXT NOT NULL, at {{bigint}} NOT NULL);
CREATE INDEX offer_uses_at ON offer_uses (tenant_id, at)
`,
  },
  {
    id: 430,
    name: 'reports: rollup rebuilds from facts (per tenant) and the pending events a rebuild already counted',
    sql: `
CREATE TABLE report_rebuilds (tenant_id TEXT PRIMARY KEY, rebuilt_at {{bigint}} NOT NULL, conversations {{bigint}} NOT NULL, messages {{bigint}} NOT NULL);
CREATE TABLE report_rebuild_skips (job_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, created_at {{bigint}} NOT NULL)
`,
  },
  {
    id: 440,
    name: 'trust: privacy-number (AXB) bindings for calls from phones (no numbers kept but the virtual one)',
    sql: `
CREATE TABLE privacy_bindings (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, agent_id TEXT NOT NULL, inbox_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL, contact_id TEXT NOT NULL, source TEXT NOT NULL, agent_phone_hash TEXT NOT NULL,
  provider TEXT NOT NULL, subs_id TEXT NOT NULL, virtual_number TEXT NOT NULL,
  created_at {{bigint}} NOT NULL, expires_at {{bigint}} NOT NULL, released_at {{bigint}});
CREATE INDEX privacy_bindings_agent ON privacy_bindings (tenant_id, agent_id, contact_id)
`,
  },
  {
    id: 460,
    name: 'insight: CSAT dashboard reads answers and surveys sent by period',
    sql: `
CREATE INDEX csat_surveys_answered ON csat_surveys (tenant_id, answered_at);
CREATE INDEX csat_surveys_sent ON csat_surveys (tenant_id, sent_at)
`,
  },
  {
    id: 461,
    name: 'reports: duration histograms per UTC hour, day and month, by all dimensions, by agent and in total (percentiles without reading every duration), backfilled',
    sql: `
CREATE TABLE report_histograms (
  tenant_id TEXT NOT NULL, scope TEXT NOT NULL, grain TEXT NOT NULL, hour {{bigint}} NOT NULL, kind TEXT NOT NULL, clock TEXT NOT NULL,
  channel TEXT NOT NULL, inbox_id TEXT NOT NULL, team_id TEXT NOT NULL, agent_id TEXT NOT NULL, bucket INTEGER NOT NULL,
  n {{bigint}} NOT NULL, min_s {{bigint}} NOT NULL, max_s {{bigint}} NOT NULL,
  PRIMARY KEY (tenant_id, scope, grain, kind, hour, clock, channel, inbox_id, team_id, agent_id, bucket))
`,
    // The durations stored before the histograms existed (the same buckets the writer uses from then on).
    after: async (q) => {
      await backfillHistograms(q);
    },
  },
  {
    id: 480,
    name: 'insight: volume by label (hourly rollups per label; history before it: goutong-server rebuild-reports)',
    sql: `
CREATE TABLE report_hourly_labels (
  tenant_id TEXT NOT NULL, hour {{bigint}} NOT NULL, label TEXT NOT NULL, channel TEXT NOT NULL, inbox_id TEXT NOT NULL, team_id TEXT NOT NULL, agent_id TEXT NOT NULL,
  opened {{bigint}} NOT NULL DEFAULT 0, resolved {{bigint}} NOT NULL DEFAULT 0, msgs_in {{bigint}} NOT NULL DEFAULT 0, msgs_out {{bigint}} NOT NULL DEFAULT 0,
  calls {{bigint}} NOT NULL DEFAULT 0, calls_missed {{bigint}} NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, hour, label, channel, inbox_id, team_id, agent_id));
CREATE TABLE report_label_marks (tenant_id TEXT NOT NULL, conversation_id TEXT NOT NULL, label TEXT NOT NULL, PRIMARY KEY (tenant_id, conversation_id, label))
`,
  },
  {
    id: 481,
    name: 'insight: rollups per hour and channel (reports without an inbox, team or agent filter) and the spans of cost per conversation and contact',
    // report_cost_spans: per conversation (kind 'conversation') and per contact ('contact'), the first
    // and last hour with a cost, over all its cost rows (scope 'all', dimensions '') and per dimensions
    // ('dims'). How many conversations and contacts cost anything in a period is then counted from about
    // one row per head (domain/reports.ts costHeads), not by distinct counts over every hour's cost rows.
    sql: `
CREATE TABLE report_hourly_channels (
  tenant_id TEXT NOT NULL, hour {{bigint}} NOT NULL, channel TEXT NOT NULL,
  opened {{bigint}} NOT NULL DEFAULT 0, resolved {{bigint}} NOT NULL DEFAULT 0, reopened {{bigint}} NOT NULL DEFAULT 0,
  msgs_in {{bigint}} NOT NULL DEFAULT 0, msgs_out {{bigint}} NOT NULL DEFAULT 0, transfers {{bigint}} NOT NULL DEFAULT 0,
  calls {{bigint}} NOT NULL DEFAULT 0, calls_missed {{bigint}} NOT NULL DEFAULT 0, handle_seconds {{bigint}} NOT NULL DEFAULT 0,
  cost_micros {{bigint}} NOT NULL DEFAULT 0,
  sla_resolved {{bigint}} NOT NULL DEFAULT 0, sla_resolved_breached {{bigint}} NOT NULL DEFAULT 0, sla_breach_first {{bigint}} NOT NULL DEFAULT 0,
  sla_breach_next {{bigint}} NOT NULL DEFAULT 0, sla_breach_resolution {{bigint}} NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, hour, channel));
INSERT INTO report_hourly_channels (tenant_id, hour, channel, ${HOURLY_COUNTERS.join(', ')})
  SELECT tenant_id, hour, channel, ${HOURLY_COUNTERS.map((c) => `SUM(${c})`).join(', ')} FROM report_hourly GROUP BY tenant_id, hour, channel;
CREATE TABLE report_cost_spans (
  tenant_id TEXT NOT NULL, kind TEXT NOT NULL, scope TEXT NOT NULL, head_id TEXT NOT NULL,
  channel TEXT NOT NULL, inbox_id TEXT NOT NULL, team_id TEXT NOT NULL, agent_id TEXT NOT NULL,
  first_hour {{bigint}} NOT NULL, last_hour {{bigint}} NOT NULL,
  PRIMARY KEY (tenant_id, kind, scope, head_id, channel, inbox_id, team_id, agent_id));
CREATE INDEX report_cost_spans_hours ON report_cost_spans (tenant_id, kind, scope, first_hour, last_hour);
CREATE INDEX report_costs_contact ON report_costs (tenant_id, contact_id, hour);
${(['conversation', 'contact'] as const)
  .map((kind) => {
    const head = kind === 'conversation' ? 'conversation_id' : 'contact_id';
    return `INSERT INTO report_cost_spans (tenant_id, kind, scope, head_id, channel, inbox_id, team_id, agent_id, first_hour, last_hour)
  SELECT tenant_id, '${kind}', 'all', ${head}, '', '', '', '', MIN(hour), MAX(hour) FROM report_costs GROUP BY tenant_id, ${head};
INSERT INTO report_cost_spans (tenant_id, kind, scope, head_id, channel, inbox_id, team_id, agent_id, first_hour, last_hour)
  SELECT tenant_id, '${kind}', 'dims', ${head}, channel, inbox_id, team_id, agent_id, MIN(hour), MAX(hour) FROM report_costs GROUP BY tenant_id, ${head}, channel, inbox_id, team_id, agent_id`;
  })
  .join(';\n')}
`,
  },
  {
    id: 482,
    name: 'insight: abandoned calls (callers who hung up waiting in a queue; history before it: goutong-server rebuild-reports)',
    sql: `
ALTER TABLE report_hourly ADD COLUMN calls_abandoned {{bigint}} NOT NULL DEFAULT 0;
ALTER TABLE report_hourly_channels ADD COLUMN calls_abandoned {{bigint}} NOT NULL DEFAULT 0
`,
  },
];

/**
 * [search] Migration 340's backfill: every stored message and conversation becomes an index entry,
 * with the text core's rule says it holds (the same rule the fact writers use from then on).
 */
async function backfillSearch(q: Queryable): Promise<void> {
  const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);
  const put = (tenantId: string, kind: string, refId: string, body: string) =>
    q.run('INSERT INTO search_docs (tenant_id, kind, ref_id, body) VALUES (?, ?, ?, ?)', [tenantId, kind, refId, body]);
  for (let after = ''; ;) {
    const rows = await q.all<{ id: string; tenant_id: string; kind: string; text: string; subject: string | null; meta: unknown }>(
      'SELECT id, tenant_id, kind, text, subject, meta FROM messages WHERE id > ? ORDER BY id LIMIT 500', [after]);
    for (const r of rows) {
      const meta = json(r.meta);
      const body = messageSearchBody({ kind: r.kind as MessageKind, text: r.text, subject: r.subject ?? null, meta: meta && typeof meta === 'object' ? (meta as Record<string, unknown>) : {} });
      if (body !== null) await put(r.tenant_id, 'message', r.id, body);
    }
    if (rows.length < 500) break;
    after = rows[rows.length - 1]!.id;
  }
  for (let after = ''; ;) {
    const rows = await q.all<{ id: string; tenant_id: string; contact_name: string; subject: string | null; ticket_number: number | string | null; name: string | null; identities: unknown }>(
      `SELECT v.id, v.tenant_id, v.contact_name, v.subject, v.ticket_number, c.name, c.identities
       FROM conversations v LEFT JOIN contacts c ON c.id = v.contact_id WHERE v.id > ? ORDER BY v.id LIMIT 500`, [after]);
    for (const r of rows) {
      const identities = ContactIdentity.array().catch([]).parse(r.identities === null ? [] : json(r.identities));
      const body = conversationSearchBody(
        { subject: r.subject ?? null, contactName: r.contact_name, ticketNumber: r.ticket_number === null ? null : Number(r.ticket_number) },
        r.name === null ? null : { name: r.name, identities },
      );
      await put(r.tenant_id, 'conversation', r.id, body);
    }
    if (rows.length < 500) break;
    after = rows[rows.length - 1]!.id;
  }
  if (q.dialect === 'sqlite') await q.run("INSERT INTO search_fts (search_fts) VALUES ('rebuild')");
}

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
      if (m.after) await m.after(q);
      await q.run('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)', [m.id, m.name, Date.now()]);
    });
  }
}
