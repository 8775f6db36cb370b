import { MessageTemplate, templateProblem, type InboxOps, type TemplateInput } from '@goutong/core';
import type { Db, Queryable, Row } from '../db/db.js';
import { jsonColumn } from '../db/db.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { insertAudit, type AuditActor } from './audit.js';

const json = jsonColumn;

/** Database rows cross a boundary too: parsed into the core schema. */
export const toTemplate = (r: Row): MessageTemplate =>
  MessageTemplate.parse({
    id: r.id, tenantId: r.tenant_id, name: r.name, body: json(r.body), subject: r.subject ? json(r.subject) : null,
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  });

export async function templateRow(q: Queryable, tenantId: string, id: string): Promise<MessageTemplate | null> {
  const r = await q.one('SELECT * FROM message_templates WHERE id = ? AND tenant_id = ?', [id, tenantId]);
  return r ? toTemplate(r) : null;
}

/** Every template of a tenant by id (what the auto-reply and automation rules render). */
export async function templatesOf(q: Queryable, tenantId: string): Promise<Map<string, MessageTemplate>> {
  return new Map((await q.all('SELECT * FROM message_templates WHERE tenant_id = ?', [tenantId])).map((r) => [String(r.id), toTemplate(r)] as const));
}

async function assertNameFree(q: Queryable, tenantId: string, name: string, exceptId: string | null): Promise<void> {
  const other = await q.one<{ id: string }>('SELECT id FROM message_templates WHERE tenant_id = ? AND name = ?', [tenantId, name]);
  if (other && other.id !== exceptId) throw conflict(`a template named "${name}" exists`);
}

/** Who uses a template: automation rules (send_template) and inbox settings (auto-replies, CSAT). */
export async function templateUsers(q: Queryable, tenantId: string, id: string): Promise<string[]> {
  const users: string[] = [];
  for (const r of await q.all('SELECT id, name, actions FROM automation_rules WHERE tenant_id = ?', [tenantId])) {
    const actions = json(r.actions) as { type: string; templateId?: string }[];
    if (actions.some((a) => a.type === 'send_template' && a.templateId === id)) users.push(`automation rule "${String(r.name)}"`);
  }
  for (const r of await q.all('SELECT id, name, ops FROM inboxes WHERE tenant_id = ?', [tenantId])) {
    const ops = (r.ops ? json(r.ops) : {}) as { autoReply?: { acknowledge?: { templateId?: string } | null; outOfHours?: { templateId?: string } | null }; csat?: { templateId?: string } };
    if (ops.autoReply?.acknowledge?.templateId === id || ops.autoReply?.outOfHours?.templateId === id || ops.csat?.templateId === id) users.push(`inbox "${String(r.name)}"`);
  }
  return users;
}

/** Message templates of a workspace (admins). Every change commits with its audit row. */
export class Templates {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  async list(tenantId: string): Promise<MessageTemplate[]> {
    return (await this.db.all('SELECT * FROM message_templates WHERE tenant_id = ? ORDER BY name', [tenantId])).map(toTemplate);
  }

  async get(tenantId: string, id: string): Promise<MessageTemplate> {
    const t = await templateRow(this.db, tenantId, id);
    if (!t) throw notFound(`template ${id} not found`);
    return t;
  }

  async create(actor: AuditActor, id: string, input: TemplateInput): Promise<MessageTemplate> {
    const problem = templateProblem(input);
    if (problem) throw badRequest(problem);
    const now = this.now();
    return this.db.tx(async (q) => {
      await assertNameFree(q, actor.tenantId, input.name, null);
      await q.run('INSERT INTO message_templates (id, tenant_id, name, body, subject, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        id, actor.tenantId, input.name, JSON.stringify(input.body), input.subject ? JSON.stringify(input.subject) : null, now, now,
      ]);
      await insertAudit(q, actor, { action: 'template.create', target: id, details: { name: input.name } }, now);
      return (await templateRow(q, actor.tenantId, id))!;
    });
  }

  async update(actor: AuditActor, id: string, patch: Partial<TemplateInput>): Promise<MessageTemplate> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const cur = await templateRow(q, actor.tenantId, id);
      if (!cur) throw notFound(`template ${id} not found`);
      const next = { name: patch.name ?? cur.name, body: patch.body ?? cur.body, subject: patch.subject === undefined ? cur.subject : patch.subject };
      const problem = templateProblem(next);
      if (problem) throw badRequest(problem);
      if (next.name !== cur.name) await assertNameFree(q, actor.tenantId, next.name, id);
      await q.run('UPDATE message_templates SET name = ?, body = ?, subject = ?, updated_at = ? WHERE id = ? AND tenant_id = ?', [
        next.name, JSON.stringify(next.body), next.subject ? JSON.stringify(next.subject) : null, now, id, actor.tenantId,
      ]);
      await insertAudit(q, actor, { action: 'template.update', target: id, details: { fields: Object.keys(patch) } }, now);
      return (await templateRow(q, actor.tenantId, id))!;
    });
  }

  /** Deletes a template nobody uses; one still used by a rule or an inbox answers 409 naming the users. */
  async remove(actor: AuditActor, id: string): Promise<void> {
    const now = this.now();
    await this.db.tx(async (q) => {
      if (!(await templateRow(q, actor.tenantId, id))) throw notFound(`template ${id} not found`);
      const users = await templateUsers(q, actor.tenantId, id);
      if (users.length > 0) throw conflict(`template ${id} is used by ${users.join(', ')}; change them first`);
      await q.run('DELETE FROM message_templates WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      await insertAudit(q, actor, { action: 'template.delete', target: id, details: {} }, now);
    });
  }
}

/** An inbox's automatic messages may only name templates that exist and text with known variables (400 otherwise). */
export async function checkOpsTemplates(q: Queryable, tenantId: string, ops: InboxOps): Promise<void> {
  const named: [string, string | undefined][] = [
    ['autoReply.acknowledge', ops.autoReply.acknowledge?.templateId], ['autoReply.outOfHours', ops.autoReply.outOfHours?.templateId], ['csat', ops.csat?.templateId],
  ];
  for (const [where, id] of named) {
    if (id && !(await templateRow(q, tenantId, id))) throw badRequest(`${where}: unknown template ${id}`);
  }
  for (const [where, m] of [['autoReply.acknowledge', ops.autoReply.acknowledge], ['autoReply.outOfHours', ops.autoReply.outOfHours]] as const) {
    const problem = m?.text ? templateProblem({ body: m.text, subject: m.subject ?? null }) : null;
    if (problem) throw badRequest(`${where}: ${problem}`);
  }
}
