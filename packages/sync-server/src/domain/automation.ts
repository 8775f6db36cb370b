import { createHmac } from 'node:crypto';
import {
  AutomationRule, automationRuleProblem, decideGreeting, InboxOps, ruleReferences, type Agent, type AutomationAction, type AutomationRefs, type AutomationRuleInput,
  type Calendar, type Contact, type Conversation, type Inbox, type Message, type Team,
} from '@goutong/core';
import { toAgent, toContact, toConversation, toInbox, toMessage, toTeam } from './rows.js';
import { contactByIdentity } from './facts.js';
import { templatesOf } from './templates.js';
import { businessHoursById } from './businessHours.js';
import type { Db, Queryable, Row } from '../db/db.js';
import { jsonColumn } from '../db/db.js';
import { badRequest, notFound } from '../errors.js';
import { insertAudit, type AuditActor } from './audit.js';

const json = jsonColumn;

/** A webhook secret never leaves the server: answers show this instead (sending it back keeps the secret). */
export const SECRET_MASK = '********';

export const toRule = (r: Row): AutomationRule =>
  AutomationRule.parse({
    id: r.id, tenantId: r.tenant_id, name: r.name, event: r.event, conditions: json(r.conditions), actions: json(r.actions),
    enabled: Boolean(Number(r.enabled)), position: Number(r.position), disabledReason: r.disabled_reason ?? null,
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  });

/** A rule as the API shows it (webhook secrets masked). */
export function publicRule(rule: AutomationRule): AutomationRule {
  return { ...rule, actions: rule.actions.map((a) => (a.type === 'webhook' && a.secret ? { ...a, secret: SECRET_MASK } : a)) };
}

/** The tenant's rules (every event), in position order. */
export async function rulesOf(q: Queryable, tenantId: string): Promise<AutomationRule[]> {
  return (await q.all('SELECT * FROM automation_rules WHERE tenant_id = ? ORDER BY position, id', [tenantId])).map(toRule);
}

async function ruleRow(q: Queryable, tenantId: string, id: string): Promise<AutomationRule | null> {
  const r = await q.one('SELECT * FROM automation_rules WHERE id = ? AND tenant_id = ?', [id, tenantId]);
  return r ? toRule(r) : null;
}

/** What exists in the tenant, for checking a rule's references. */
export async function automationRefs(q: Queryable, tenantId: string): Promise<AutomationRefs> {
  const ids = async (sql: string) => new Set((await q.all<{ id: string }>(sql, [tenantId])).map((r) => String(r.id)));
  return {
    teamIds: await ids('SELECT id FROM teams WHERE tenant_id = ?'),
    agentIds: await ids('SELECT id FROM agents WHERE tenant_id = ? AND active = 1'),
    templateIds: await ids('SELECT id FROM message_templates WHERE tenant_id = ?'),
    inboxIds: await ids('SELECT id FROM inboxes WHERE tenant_id = ?'),
  };
}

/**
 * A rule whose team, agent or template no longer exists is disabled with the reason (the domain's
 * answer when something it names is deleted); returns the ids of the rules it disabled.
 */
export async function disableRulesWithMissingRefs(q: Queryable, tenantId: string, now: number): Promise<string[]> {
  const refs = await automationRefs(q, tenantId);
  const out: string[] = [];
  for (const rule of await rulesOf(q, tenantId)) {
    if (!rule.enabled) continue;
    const problem = automationRuleProblem(rule, refs);
    if (!problem) continue;
    const r = await q.run('UPDATE automation_rules SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled = 1', [problem, now, rule.id]);
    if (r.changes > 0) out.push(rule.id);
  }
  return out;
}

/** Masked secrets sent back keep the stored secret of the webhook action with the same URL. */
function keepSecrets(next: AutomationAction[], prev: readonly AutomationAction[]): AutomationAction[] {
  return next.map((a) => {
    if (a.type !== 'webhook' || a.secret !== SECRET_MASK) return a;
    const old = prev.find((p) => p.type === 'webhook' && p.url === a.url);
    const secret = old?.type === 'webhook' ? old.secret : undefined;
    if (!secret) throw badRequest(`webhook ${a.url}: give the secret (the masked value matches no stored secret)`);
    return { ...a, secret };
  });
}

/** Automation rules of a workspace (admins): saved only when every team/agent/template/inbox they name exists. */
export class AutomationRules {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  async list(tenantId: string): Promise<AutomationRule[]> {
    return (await rulesOf(this.db, tenantId)).map(publicRule);
  }

  async get(tenantId: string, id: string): Promise<AutomationRule> {
    const r = await ruleRow(this.db, tenantId, id);
    if (!r) throw notFound(`automation rule ${id} not found`);
    return publicRule(r);
  }

  async create(actor: AuditActor, id: string, input: AutomationRuleInput): Promise<AutomationRule> {
    const now = this.now();
    return this.db.tx(async (q) => {
      if (input.actions.some((a) => a.type === 'webhook' && a.secret === SECRET_MASK)) throw badRequest('give the webhook secret');
      const problem = automationRuleProblem(input, await automationRefs(q, actor.tenantId));
      if (problem) throw badRequest(`automation rule refers to ${problem}`);
      const max = await q.one<{ m: number | string | null }>('SELECT MAX(position) AS m FROM automation_rules WHERE tenant_id = ?', [actor.tenantId]);
      const position = input.position ?? (max?.m === null || max?.m === undefined ? 0 : Number(max.m) + 1);
      await q.run(
        'INSERT INTO automation_rules (id, tenant_id, name, event, conditions, actions, enabled, position, disabled_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)',
        [id, actor.tenantId, input.name, input.event, JSON.stringify(input.conditions), JSON.stringify(input.actions), input.enabled ? 1 : 0, position, now, now],
      );
      await insertAudit(q, actor, { action: 'automation_rule.create', target: id, details: { name: input.name, event: input.event, refs: ruleReferences(input) } }, now);
      return publicRule((await ruleRow(q, actor.tenantId, id))!);
    });
  }

  async update(actor: AuditActor, id: string, patch: Partial<AutomationRuleInput>): Promise<AutomationRule> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const cur = await ruleRow(q, actor.tenantId, id);
      if (!cur) throw notFound(`automation rule ${id} not found`);
      const next = {
        name: patch.name ?? cur.name, event: patch.event ?? cur.event, conditions: patch.conditions ?? cur.conditions,
        actions: patch.actions ? keepSecrets(patch.actions, cur.actions) : cur.actions, enabled: patch.enabled ?? cur.enabled, position: patch.position ?? cur.position,
      };
      // Enabling (or editing) a rule checks its references again: a rule the server disabled stays off until fixed.
      if (next.enabled) {
        const problem = automationRuleProblem(next, await automationRefs(q, actor.tenantId));
        if (problem) throw badRequest(`automation rule refers to ${problem}`);
      }
      await q.run(
        'UPDATE automation_rules SET name = ?, event = ?, conditions = ?, actions = ?, enabled = ?, position = ?, disabled_reason = ?, updated_at = ? WHERE id = ? AND tenant_id = ?',
        [next.name, next.event, JSON.stringify(next.conditions), JSON.stringify(next.actions), next.enabled ? 1 : 0, next.position, next.enabled ? null : cur.disabledReason, now, id, actor.tenantId],
      );
      await insertAudit(q, actor, { action: 'automation_rule.update', target: id, details: { fields: Object.keys(patch) } }, now);
      return publicRule((await ruleRow(q, actor.tenantId, id))!);
    });
  }

  /** Sets the order: the given ids get positions 0, 1, 2… (every rule of the tenant must be named once). */
  async reorder(actor: AuditActor, ids: readonly string[]): Promise<AutomationRule[]> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const all = await rulesOf(q, actor.tenantId);
      const known = new Set(all.map((r) => r.id));
      if (ids.length !== known.size || new Set(ids).size !== ids.length || ids.some((id) => !known.has(id))) {
        throw badRequest('name every automation rule of the workspace exactly once');
      }
      for (const [i, id] of ids.entries()) await q.run('UPDATE automation_rules SET position = ?, updated_at = ? WHERE id = ? AND tenant_id = ?', [i, now, id, actor.tenantId]);
      await insertAudit(q, actor, { action: 'automation_rule.reorder', target: null, details: { ids } }, now);
      return (await rulesOf(q, actor.tenantId)).map(publicRule);
    });
  }

  async remove(actor: AuditActor, id: string): Promise<void> {
    const now = this.now();
    await this.db.tx(async (q) => {
      const r = await q.run('DELETE FROM automation_rules WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      if (r.changes === 0) throw notFound(`automation rule ${id} not found`);
      await insertAudit(q, actor, { action: 'automation_rule.delete', target: id, details: {} }, now);
    });
  }
}

// ----- outbound webhooks: a durable job per call (retried with backoff, never blocking the bus) ----

export const WEBHOOK_MAX_ATTEMPTS = 8;

/** The signature header of an automation webhook: `t=<unix ms>,v1=<hex HMAC-SHA256 of "t.body">`. */
export function signWebhook(secret: string, at: number, body: string): string {
  return `t=${at},v1=${createHmac('sha256', secret).update(`${at}.${body}`).digest('hex')}`;
}

/** Queues a webhook call inside the caller's transaction (the rule's facts commit with it). */
export async function queueWebhook(q: Queryable, job: { id: string; tenantId: string; ruleId: string; url: string; secret: string | null; body: Record<string, unknown> }, now: number): Promise<void> {
  await q.run(
    'INSERT INTO automation_webhook_jobs (id, tenant_id, rule_id, url, secret, body, state, attempts, next_attempt_at, lease_until, last_error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, NULL, ?, ?)',
    [job.id, job.tenantId, job.ruleId, job.url, job.secret, JSON.stringify(job.body), 'queued', now, now, now],
  );
}

export interface WebhookJob {
  id: string;
  tenantId: string;
  ruleId: string;
  url: string;
  secret: string | null;
  body: string;
  attempts: number;
}

/**
 * Claims one due webhook job with a lease (conditional UPDATE: one worker wins even across
 * processes), or null when none is due.
 */
export async function claimWebhookJob(db: Db, now: number, leaseMs: number): Promise<WebhookJob | null> {
  for (let tries = 0; tries < 5; tries += 1) {
    const r = await db.one("SELECT * FROM automation_webhook_jobs WHERE state IN ('queued', 'sending') AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at LIMIT 1", [now, now]);
    if (!r) return null;
    const won = await db.run(
      "UPDATE automation_webhook_jobs SET state = 'sending', lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE id = ? AND state IN ('queued', 'sending') AND (lease_until IS NULL OR lease_until < ?)",
      [now + leaseMs, now, String(r.id), now],
    );
    if (won.changes > 0) {
      return { id: String(r.id), tenantId: String(r.tenant_id), ruleId: String(r.rule_id), url: String(r.url), secret: (r.secret as string | null) ?? null, body: String(r.body), attempts: Number(r.attempts) + 1 };
    }
  }
  return null;
}

/** Finishes a claimed job: delivered, or failed for good, or retried later with backoff. */
export async function finishWebhookJob(db: Db, job: WebhookJob, outcome: { ok: true } | { ok: false; error: string }, now: number): Promise<void> {
  if (outcome.ok) {
    await db.run("UPDATE automation_webhook_jobs SET state = 'delivered', lease_until = NULL, last_error = NULL, updated_at = ? WHERE id = ?", [now, job.id]);
    return;
  }
  if (job.attempts >= WEBHOOK_MAX_ATTEMPTS) {
    await db.run("UPDATE automation_webhook_jobs SET state = 'failed', lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ?", [outcome.error.slice(0, 500), now, job.id]);
    return;
  }
  const delay = Math.min(60 * 60_000, 1000 * 2 ** job.attempts);
  await db.run("UPDATE automation_webhook_jobs SET state = 'queued', lease_until = NULL, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?", [now + delay, outcome.error.slice(0, 500), now, job.id]);
}

/** A tenant's webhook jobs (newest first): what admins see of the calls their rules made. */
export async function webhookJobsOf(db: Db, tenantId: string, limit = 50): Promise<Record<string, unknown>[]> {
  return (await db.all('SELECT id, rule_id, url, state, attempts, last_error, created_at, updated_at FROM automation_webhook_jobs WHERE tenant_id = ? ORDER BY created_at DESC LIMIT ?', [tenantId, limit])).map((r) => ({
    id: r.id, ruleId: r.rule_id, url: r.url, state: r.state, attempts: Number(r.attempts), lastError: r.last_error ?? null, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  }));
}

// ----- what the ops listeners load (inside their transaction) -------------------------------

/** The business-hours calendar of an inbox (ops.businessHoursId), or null when it has none (domain/businessHours.ts reads it). */
export async function calendarOfInbox(q: Queryable, inbox: Inbox): Promise<Calendar | null> {
  const id = inbox.ops?.businessHoursId;
  return id ? businessHoursById(q, inbox.tenantId, id) : null;
}

/** A conversation with its inbox and contact, in the tenant (null when any is gone). */
export async function conversationContext(q: Queryable, tenantId: string, conversationId: string): Promise<{ conversation: Conversation; inbox: Inbox; contact: Contact | null } | null> {
  const c = await q.one('SELECT * FROM conversations WHERE id = ? AND tenant_id = ?', [conversationId, tenantId]);
  if (!c) return null;
  const conversation = toConversation(c);
  const i = await q.one('SELECT * FROM inboxes WHERE id = ?', [conversation.inboxId]);
  if (!i) return null;
  const k = await q.one('SELECT * FROM contacts WHERE id = ?', [conversation.contactId]);
  return { conversation, inbox: toInbox(i), contact: k ? toContact(k) : null };
}

export async function messageById(q: Queryable, id: string): Promise<Message | null> {
  const r = await q.one('SELECT * FROM messages WHERE id = ?', [id]);
  return r ? toMessage(r) : null;
}

/** The enabled rules of a tenant for one event type (most events have none: the listener stops here). */
export async function enabledRulesFor(q: Queryable, tenantId: string, event: string): Promise<AutomationRule[]> {
  return (await q.all('SELECT * FROM automation_rules WHERE tenant_id = ? AND event = ? AND enabled = 1 ORDER BY position, id', [tenantId, event])).map(toRule);
}

/** Teams and agents of a tenant by id (what rule actions name). */
export async function teamsAndAgents(q: Queryable, tenantId: string): Promise<{ teams: Map<string, Team>; agents: Map<string, Agent> }> {
  const teams = new Map((await q.all('SELECT * FROM teams WHERE tenant_id = ?', [tenantId])).map((r) => [String(r.id), toTeam(r)] as const));
  const agents = new Map((await q.all('SELECT * FROM agents WHERE tenant_id = ?', [tenantId])).map((r) => [String(r.id), toAgent(r)] as const));
  return { teams, agents };
}

/** Disables one rule with the reason (a conditional update: already disabled → false). */
export async function disableRule(q: Queryable, ruleId: string, reason: string, now: number): Promise<boolean> {
  return (await q.run('UPDATE automation_rules SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled = 1', [reason, now, ruleId])).changes > 0;
}

/** The last automatic reply (auto-reply) written into a conversation, or null. */
export async function lastAutoReplyAt(q: Queryable, conversationId: string): Promise<number | null> {
  const r = await q.one<{ m: number | string | null }>(`SELECT MAX(created_at) AS m FROM messages WHERE conversation_id = ? AND author_type = 'system' AND meta LIKE '%"autoReply":true%'`, [conversationId]);
  return r?.m === null || r?.m === undefined ? null : Number(r.m);
}

/** Whether a message is the first inbound message of its conversation (first contact). */
export async function isFirstInbound(q: Queryable, conversationId: string, messageId: string): Promise<boolean> {
  const r = await q.one<{ id: string }>("SELECT id FROM messages WHERE conversation_id = ? AND direction = 'in' ORDER BY created_at, id LIMIT 1", [conversationId]);
  return r?.id === messageId;
}

/** The legacy per-provider auto-reply text (`config.autoReply.text`, before InboxOps), when an inbox still has one. */
export async function legacyAutoReply(q: Queryable, inboxId: string): Promise<{ text: string; subject?: string } | null> {
  const r = await q.one<{ config: string | null }>('SELECT config FROM inboxes WHERE id = ?', [inboxId]);
  try {
    const cfg = (r?.config ? json(r.config) : {}) as { autoReply?: { text?: unknown; subject?: unknown } };
    const t = cfg.autoReply?.text;
    if (typeof t !== 'string' || !t.trim()) return null;
    return { text: t, ...(typeof cfg.autoReply?.subject === 'string' ? { subject: cfg.autoReply.subject } : {}) };
  } catch {
    return null;
  }
}

/** The latest inbound text of a conversation (language detection). */
export async function lastInboundText(q: Queryable, conversationId: string): Promise<string> {
  const r = await q.one<{ text: string }>("SELECT text FROM messages WHERE conversation_id = ? AND direction = 'in' ORDER BY created_at DESC, id DESC LIMIT 1", [conversationId]);
  return r?.text ?? '';
}

/** Voice: what the voicemail greeting says to a caller (core decideGreeting), or null when the inbox has no auto-reply. */
export async function voicemailGreeting(q: Queryable, inbox: Inbox, from: string | null, now: number): Promise<{ kind: string; language: string; text: string } | null> {
  const ops = inbox.ops ?? InboxOps.parse({});
  const contact = from ? await contactByIdentity(q, inbox.tenantId, inbox.channel, from) : null;
  return decideGreeting({ inbox, ops, calendar: await calendarOfInbox(q, inbox), contact, templates: await templatesOf(q, inbox.tenantId), phone: from ?? undefined }, now);
}

/** A public base URL the inbox's provider config names (webhookBaseUrl, publicBaseUrl, publicUrl), or null. */
export async function inboxPublicBaseUrl(q: Queryable, inboxId: string): Promise<string | null> {
  const r = await q.one<{ config: string | null }>('SELECT config FROM inboxes WHERE id = ?', [inboxId]);
  try {
    const cfg = (r?.config ? json(r.config) : {}) as Record<string, unknown>;
    for (const k of ['publicBaseUrl', 'publicUrl', 'webhookBaseUrl']) {
      const v = cfg[k];
      if (typeof v === 'string' && /^https?:\/\//i.test(v)) return v;
    }
  } catch {
    return null;
  }
  return null;
}
