// [fields] Rows of the custom contact field definitions: read by the command loader (facts.ts),
// the masker (masking.ts) and the admin API (contactFields.ts). No other domain import: no cycle.
import { ContactField, personalAttributeKeys, sortFields } from '@goutong/core';
import type { Queryable, Row } from '../db/db.js';
import { jsonColumn } from '../db/db.js';

const json = jsonColumn;

/** A definition row, parsed into core's schema (a DB row crosses a boundary). */
export const toContactField = (r: Row): ContactField =>
  ContactField.parse({
    id: r.id, tenantId: r.tenant_id, key: r.field_key, type: r.type, label: json(r.label), required: Number(r.required) === 1,
    options: json(r.options), order: Number(r.ord), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  });

/** The tenant's field definitions, in display order. */
export async function contactFieldsOf(q: Queryable, tenantId: string): Promise<ContactField[]> {
  return sortFields((await q.all('SELECT * FROM contact_fields WHERE tenant_id = ?', [tenantId])).map(toContactField));
}

/** Attribute keys that are personal data as a whole (fields of type phone/email): the masker masks them for roles without pii.view. */
export async function personalFieldKeys(q: Queryable, tenantId: string): Promise<string[]> {
  const rows = await q.all<{ field_key: string; type: string }>("SELECT field_key, type FROM contact_fields WHERE tenant_id = ? AND type IN ('phone', 'email')", [tenantId]);
  return personalAttributeKeys(rows.map((r) => ({ key: r.field_key, type: r.type as ContactField['type'] })));
}
