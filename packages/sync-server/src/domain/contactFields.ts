// [fields] Custom contact fields (admins define them), segments and targeted offers: their rows and
// admin changes, each committed with its audit row. The rules (validation, segment membership,
// which offers apply) are core's: rules/customFields.ts, rules/segments.ts, rules/offers.ts.
import {
  ContactField,
  ContactFieldInput,
  Offer,
  OfferInput,
  Segment,
  SegmentInput,
  patchedOffer,
  segmentsOf,
  type Agent,
  type Contact,
  type ContactFieldPatch,
  type OfferPatch,
  type OfferUsageRow,
} from '@goutong/core';
import type { Db, Queryable, Row } from '../db/db.js';
import { jsonColumn } from '../db/db.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { insertAudit, type AuditActor } from './audit.js';
import { searchContacts } from './contacts360.js';
import { contactFieldsOf, toContactField } from './contactFieldRows.js';

export { contactFieldsOf, personalFieldKeys, toContactField } from './contactFieldRows.js';
import type { Scope } from './scope.js';

const json = jsonColumn;
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

// ----- rows (parsed into core's schemas: a DB row crosses a boundary) -------------------------

export const toSegment = (r: Row): Segment =>
  Segment.parse({ id: r.id, tenantId: r.tenant_id, name: r.name, description: r.description, rule: json(r.rule), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) });

export const toOffer = (r: Row): Offer =>
  Offer.parse({
    id: r.id, tenantId: r.tenant_id, title: r.title, text: r.text ?? null, textZh: r.text_zh ?? null, textEn: r.text_en ?? null, segmentId: r.segment_id,
    validFrom: num(r.valid_from), validTo: num(r.valid_to), active: Number(r.active) === 1, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  });

// ----- custom fields -------------------------------------------------------------------------

export class ContactFields {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  list(tenantId: string): Promise<ContactField[]> {
    return contactFieldsOf(this.db, tenantId);
  }

  async create(actor: AuditActor, id: string, input: ContactFieldInput): Promise<ContactField> {
    const now = this.now();
    return this.db.tx(async (q) => {
      if (await q.one('SELECT id FROM contact_fields WHERE tenant_id = ? AND field_key = ?', [actor.tenantId, input.key])) throw conflict(`a field with key ${input.key} exists`);
      await q.run('INSERT INTO contact_fields (id, tenant_id, field_key, type, label, required, options, ord, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', [
        id, actor.tenantId, input.key, input.type, JSON.stringify(input.label), input.required ? 1 : 0, JSON.stringify(input.options), input.order, now, now,
      ]);
      await insertAudit(q, actor, { action: 'contact_field.create', target: id, details: { key: input.key, type: input.type } }, now);
      return toContactField((await q.one('SELECT * FROM contact_fields WHERE id = ?', [id]))!);
    });
  }

  async update(actor: AuditActor, id: string, patch: ContactFieldPatch): Promise<ContactField> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const r = await q.one('SELECT * FROM contact_fields WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      if (!r) throw notFound(`contact field ${id} not found`);
      const cur = toContactField(r);
      const next = ContactFieldInput.safeParse({ key: cur.key, type: cur.type, label: patch.label ?? cur.label, required: patch.required ?? cur.required, options: patch.options ?? cur.options, order: patch.order ?? cur.order });
      if (!next.success) throw badRequest(`invalid contact field: ${next.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const n = next.data;
      await q.run('UPDATE contact_fields SET label = ?, required = ?, options = ?, ord = ?, updated_at = ? WHERE id = ? AND tenant_id = ?', [
        JSON.stringify(n.label), n.required ? 1 : 0, JSON.stringify(n.options), n.order, now, id, actor.tenantId,
      ]);
      await insertAudit(q, actor, { action: 'contact_field.update', target: id, details: { key: cur.key, fields: Object.keys(patch) } }, now);
      return toContactField((await q.one('SELECT * FROM contact_fields WHERE id = ?', [id]))!);
    });
  }

  /** Removes the definition; the values stay on the contacts as plain attributes. */
  async remove(actor: AuditActor, id: string): Promise<void> {
    const now = this.now();
    await this.db.tx(async (q) => {
      const r = await q.one<{ field_key: string }>('SELECT field_key FROM contact_fields WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      if (!r) throw notFound(`contact field ${id} not found`);
      await q.run('DELETE FROM contact_fields WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      await insertAudit(q, actor, { action: 'contact_field.delete', target: id, details: { key: r.field_key } }, now);
    });
  }
}

// ----- segments ------------------------------------------------------------------------------

export async function segmentsOfTenant(q: Queryable, tenantId: string): Promise<Segment[]> {
  return (await q.all('SELECT * FROM segments WHERE tenant_id = ? ORDER BY name, id', [tenantId])).map(toSegment);
}

/** The latest activity of each contact's conversations (what `last_contacted` conditions read). */
async function lastContacted(q: Queryable, tenantId: string, contactIds: readonly string[]): Promise<Map<string, number>> {
  if (contactIds.length === 0) return new Map();
  const rows = await q.all<{ contact_id: string; at: number | string | null }>(
    `SELECT contact_id, MAX(last_message_at) AS at FROM conversations WHERE tenant_id = ? AND contact_id IN (${contactIds.map(() => '?').join(', ')}) GROUP BY contact_id`,
    [tenantId, ...contactIds],
  );
  return new Map(rows.filter((r) => r.at !== null).map((r) => [r.contact_id, Number(r.at)]));
}

/** How many contacts a segment's contact list reads per page from the contacts table. */
const SCAN_PAGE = 500;

export class Segments {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  list(tenantId: string): Promise<Segment[]> {
    return segmentsOfTenant(this.db, tenantId);
  }

  async get(tenantId: string, id: string): Promise<Segment> {
    const r = await this.db.one('SELECT * FROM segments WHERE id = ? AND tenant_id = ?', [id, tenantId]);
    if (!r) throw notFound(`segment ${id} not found`);
    return toSegment(r);
  }

  async create(actor: AuditActor, id: string, input: SegmentInput): Promise<Segment> {
    const now = this.now();
    return this.db.tx(async (q) => {
      await q.run('INSERT INTO segments (id, tenant_id, name, description, rule, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        id, actor.tenantId, input.name, input.description, JSON.stringify(input.rule), now, now,
      ]);
      await insertAudit(q, actor, { action: 'segment.create', target: id, details: { name: input.name } }, now);
      return toSegment((await q.one('SELECT * FROM segments WHERE id = ?', [id]))!);
    });
  }

  async update(actor: AuditActor, id: string, patch: Partial<SegmentInput>): Promise<Segment> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const r = await q.one('SELECT * FROM segments WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      if (!r) throw notFound(`segment ${id} not found`);
      const cur = toSegment(r);
      await q.run('UPDATE segments SET name = ?, description = ?, rule = ?, updated_at = ? WHERE id = ? AND tenant_id = ?', [
        patch.name ?? cur.name, patch.description ?? cur.description, JSON.stringify(patch.rule ?? cur.rule), now, id, actor.tenantId,
      ]);
      await insertAudit(q, actor, { action: 'segment.update', target: id, details: { fields: Object.keys(patch) } }, now);
      return toSegment((await q.one('SELECT * FROM segments WHERE id = ?', [id]))!);
    });
  }

  /** A segment an offer targets cannot go (delete or retarget the offers first). */
  async remove(actor: AuditActor, id: string): Promise<void> {
    const now = this.now();
    await this.db.tx(async (q) => {
      if (!(await q.one('SELECT id FROM segments WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]))) throw notFound(`segment ${id} not found`);
      const used = await q.one<{ n: number | string }>('SELECT COUNT(*) AS n FROM offers WHERE segment_id = ? AND tenant_id = ?', [id, actor.tenantId]);
      if (Number(used?.n ?? 0) > 0) throw conflict('offers target this segment: delete them or choose another segment first');
      await q.run('DELETE FROM segments WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      await insertAudit(q, actor, { action: 'segment.delete', target: id, details: {} }, now);
    });
  }

  /**
   * The contacts of a segment the agent may see (core `matchesSegment` on each), newest first.
   * Reads the visible contacts page by page and stops once the page asked for is full.
   */
  async contacts(agent: Agent, scope: Scope, segment: Segment, limit: number, offset: number): Promise<{ items: Contact[]; more: boolean }> {
    const now = this.now();
    const matched: Contact[] = [];
    for (let at = 0; ; at += SCAN_PAGE) {
      const page = await searchContacts(this.db, agent, scope, '', SCAN_PAGE, at);
      const last = await lastContacted(this.db, agent.tenantId, page.map((c) => c.id));
      for (const c of page) {
        if (segmentsOf([segment], { contact: c, lastContactedAt: last.get(c.id) ?? null, now }).length > 0) matched.push(c);
      }
      if (matched.length > offset + limit || page.length < SCAN_PAGE) break;
    }
    return { items: matched.slice(offset, offset + limit), more: matched.length > offset + limit };
  }
}

// ----- offers --------------------------------------------------------------------------------

const offerInputOf = (o: Offer): OfferInput => ({
  title: o.title, text: o.text, textZh: o.textZh, textEn: o.textEn, segmentId: o.segmentId, validFrom: o.validFrom, validTo: o.validTo, active: o.active,
});

export class Offers {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  async list(tenantId: string): Promise<Offer[]> {
    return (await this.db.all('SELECT * FROM offers WHERE tenant_id = ? ORDER BY title, id', [tenantId])).map(toOffer);
  }

  private async assertSegment(q: Queryable, tenantId: string, segmentId: string): Promise<void> {
    if (!(await q.one('SELECT id FROM segments WHERE id = ? AND tenant_id = ?', [segmentId, tenantId]))) throw badRequest(`segment ${segmentId} not found`);
  }

  async create(actor: AuditActor, id: string, input: OfferInput): Promise<Offer> {
    const now = this.now();
    return this.db.tx(async (q) => {
      await this.assertSegment(q, actor.tenantId, input.segmentId);
      await q.run(
        'INSERT INTO offers (id, tenant_id, title, text, text_zh, text_en, segment_id, valid_from, valid_to, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [id, actor.tenantId, input.title, input.text, input.textZh, input.textEn, input.segmentId, input.validFrom, input.validTo, input.active ? 1 : 0, now, now],
      );
      await insertAudit(q, actor, { action: 'offer.create', target: id, details: { title: input.title, segmentId: input.segmentId } }, now);
      return toOffer((await q.one('SELECT * FROM offers WHERE id = ?', [id]))!);
    });
  }

  async update(actor: AuditActor, id: string, patch: OfferPatch): Promise<Offer> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const r = await q.one('SELECT * FROM offers WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      if (!r) throw notFound(`offer ${id} not found`);
      const next = patchedOffer(offerInputOf(toOffer(r)), patch);
      if (!next.ok) throw badRequest(`invalid offer: ${next.message}`);
      const n = next.offer;
      if (patch.segmentId !== undefined) await this.assertSegment(q, actor.tenantId, n.segmentId);
      await q.run(
        'UPDATE offers SET title = ?, text = ?, text_zh = ?, text_en = ?, segment_id = ?, valid_from = ?, valid_to = ?, active = ?, updated_at = ? WHERE id = ? AND tenant_id = ?',
        [n.title, n.text, n.textZh, n.textEn, n.segmentId, n.validFrom, n.validTo, n.active ? 1 : 0, now, id, actor.tenantId],
      );
      await insertAudit(q, actor, { action: 'offer.update', target: id, details: { fields: Object.keys(patch) } }, now);
      return toOffer((await q.one('SELECT * FROM offers WHERE id = ?', [id]))!);
    });
  }

  /** Removes the offer; its counted uses stay in the report (under its id). */
  async remove(actor: AuditActor, id: string): Promise<void> {
    const now = this.now();
    await this.db.tx(async (q) => {
      const r = await q.run('DELETE FROM offers WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      if (r.changes === 0) throw notFound(`offer ${id} not found`);
      await insertAudit(q, actor, { action: 'offer.delete', target: id, details: {} }, now);
    });
  }
}

/**
 * [offers] Counts a reply that used an offer (its `meta.offerId`, set by core's decision from the
 * reply's `offerId`): one row per message, written by the reports listener in its transaction, so
 * each use counts exactly once. An id that names no offer of the tenant is not counted.
 */
export async function recordOfferUse(
  q: Queryable,
  tenantId: string,
  use: { offerId: unknown; messageId: string; conversationId: string; contactId: string; agentId: string; channel: string; inboxId: string; teamId: string; at: number },
): Promise<void> {
  if (typeof use.offerId !== 'string') return;
  if (!(await q.one('SELECT id FROM offers WHERE id = ? AND tenant_id = ?', [use.offerId, tenantId]))) return;
  await q.run(
    `INSERT INTO offer_uses (message_id, tenant_id, offer_id, conversation_id, contact_id, agent_id, channel, inbox_id, team_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (message_id) DO NOTHING`,
    [use.messageId, tenantId, use.offerId, use.conversationId, use.contactId, use.agentId, use.channel, use.inboxId, use.teamId, use.at],
  );
}

/** The offers report: uses per offer in [from, to), with distinct conversations and agents; filtered like the other reports. */
export async function offerUsage(
  q: Queryable,
  tenantId: string,
  f: { from: number; to: number; inboxId?: string | undefined; teamId?: string | undefined; agentId?: string | undefined },
): Promise<OfferUsageRow[]> {
  let where = 'u.tenant_id = ? AND u.at >= ? AND u.at < ?';
  const params: (string | number)[] = [tenantId, f.from, f.to];
  for (const [col, v] of [['inbox_id', f.inboxId], ['team_id', f.teamId], ['agent_id', f.agentId]] as const) {
    if (!v) continue;
    where += ` AND u.${col} = ?`;
    params.push(v);
  }
  const rows = await q.all<{ offer_id: string; title: string | null; uses: number | string; conversations: number | string; agents: number | string }>(
    `SELECT u.offer_id, o.title, COUNT(*) AS uses, COUNT(DISTINCT u.conversation_id) AS conversations, COUNT(DISTINCT u.agent_id) AS agents
     FROM offer_uses u LEFT JOIN offers o ON o.id = u.offer_id WHERE ${where} GROUP BY u.offer_id, o.title ORDER BY COUNT(*) DESC, u.offer_id`,
    params,
  );
  return rows.map((r) => ({ offerId: r.offer_id, title: r.title ?? '', uses: Number(r.uses), conversations: Number(r.conversations), agents: Number(r.agents) }));
}
