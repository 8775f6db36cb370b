import { z } from 'zod';
import { Id, Millis } from '../domain/model.js';

/**
 * [fields] Custom contact fields defined by admins: typed attributes of a contact. The one rule that
 * validates (and normalises) attribute values against the definitions, used by the server's
 * `update_contact` decision and by the apps' forms before they queue the intent.
 * Values stay strings in `Contact.attributes` (numbers in decimal, booleans `true`/`false`, dates
 * `YYYY-MM-DD`), so search, masking and templates keep working on them.
 */
export const CONTACT_FIELD_TYPES = ['text', 'number', 'date', 'select', 'boolean', 'phone', 'email'] as const;
export const ContactFieldType = z.enum(CONTACT_FIELD_TYPES);
export type ContactFieldType = z.infer<typeof ContactFieldType>;

/** Attribute keys the server owns (opt-out, merges): never a custom field. Kept in step with SERVER_CONTACT_ATTRIBUTES. */
const RESERVED_KEYS = ['optedOut', 'optedOutAt', 'optedOutKeyword', 'optedOutChannel', 'mergedInto'];

export const ContactFieldKey = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'a key starts with a letter and has letters, digits and _ only (at most 64)')
  .refine((k) => !RESERVED_KEYS.includes(k), 'this key is reserved for the server');

export const ContactFieldLabel = z.object({ zh: z.string().trim().min(1).max(100), en: z.string().trim().min(1).max(100) }).strict();

const FieldBody = z
  .object({
    key: ContactFieldKey,
    type: ContactFieldType,
    label: ContactFieldLabel,
    required: z.boolean().default(false),
    /** select: the choices, in order. */
    options: z.array(z.string().trim().min(1).max(100)).max(100).default([]),
    order: z.number().int().min(0).max(10_000).default(0),
  })
  .strict();

function refineOptions(f: { type?: ContactFieldType; options?: string[] }, ctx: z.RefinementCtx): void {
  if (f.type === 'select' && (f.options?.length ?? 0) === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['options'], message: 'a select field needs at least one option' });
  if (f.type !== undefined && f.type !== 'select' && (f.options?.length ?? 0) > 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['options'], message: 'only a select field has options' });
  if (f.options && new Set(f.options).size !== f.options.length) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['options'], message: 'options must be unique' });
}

/** What an admin sends to create a field. */
export const ContactFieldInput = FieldBody.superRefine(refineOptions);
export type ContactFieldInput = z.infer<typeof ContactFieldInput>;
/** What an admin sends to change one (the key and type stay: stored values were written for them). */
export const ContactFieldPatch = FieldBody.omit({ key: true, type: true }).partial().strict();
export type ContactFieldPatch = z.infer<typeof ContactFieldPatch>;

export const ContactField = z.object({
  id: Id,
  tenantId: Id,
  key: ContactFieldKey,
  type: ContactFieldType,
  label: ContactFieldLabel,
  required: z.boolean(),
  options: z.array(z.string()),
  order: z.number().int(),
  createdAt: Millis,
  updatedAt: Millis,
});
export type ContactField = z.infer<typeof ContactField>;

/** Fields in display order (order, then key). */
export function sortFields<T extends Pick<ContactField, 'order' | 'key'>>(fields: readonly T[]): T[] {
  return fields.slice().sort((a, b) => a.order - b.order || a.key.localeCompare(b.key));
}

/** The label in the interface language (`zh-CN` or anything starting with `zh` → Chinese). */
export function fieldLabel(field: Pick<ContactField, 'label'>, locale: string): string {
  return locale.toLowerCase().startsWith('zh') ? field.label.zh : field.label.en;
}

/** Attribute keys whose values are personal data (fields of type phone or email): masked whole for roles without pii.view. */
export function personalAttributeKeys(fields: readonly Pick<ContactField, 'key' | 'type'>[]): string[] {
  return fields.filter((f) => f.type === 'phone' || f.type === 'email').map((f) => f.key);
}

export type FieldValueResult = { ok: true; value: string } | { ok: false; message: string };

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{2,}$/;
const PHONE_RE = /^\+?[0-9][0-9 ()-]{2,31}$/;

/** Whether `YYYY-MM-DD` names a real calendar day. */
export function isIsoDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/**
 * One value checked against its field and normalised (trimmed; numbers in canonical decimal;
 * booleans `true`/`false` from true/false/1/0/yes/no/是/否). An empty value clears the attribute.
 */
export function normalizeFieldValue(field: Pick<ContactField, 'type' | 'options'>, raw: string): FieldValueResult {
  const v = raw.trim();
  if (v === '') return { ok: true, value: '' };
  switch (field.type) {
    case 'text':
      return v.length > 2000 ? { ok: false, message: 'at most 2000 characters' } : { ok: true, value: v };
    case 'number': {
      if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(v)) return { ok: false, message: 'not a number' };
      const n = Number(v);
      return Number.isFinite(n) ? { ok: true, value: String(n) } : { ok: false, message: 'not a finite number' };
    }
    case 'date':
      return isIsoDate(v) ? { ok: true, value: v } : { ok: false, message: 'not a date (YYYY-MM-DD)' };
    case 'select':
      return field.options.includes(v) ? { ok: true, value: v } : { ok: false, message: `not one of the options (${field.options.join(', ')})` };
    case 'boolean': {
      const l = v.toLowerCase();
      if (['true', '1', 'yes', 'y', '是'].includes(l)) return { ok: true, value: 'true' };
      if (['false', '0', 'no', 'n', '否'].includes(l)) return { ok: true, value: 'false' };
      return { ok: false, message: 'not true or false' };
    }
    case 'phone':
      return PHONE_RE.test(v) && v.replace(/\D/g, '').length >= 3 ? { ok: true, value: v } : { ok: false, message: 'not a phone number' };
    case 'email':
      return EMAIL_RE.test(v) ? { ok: true, value: v } : { ok: false, message: 'not an email address' };
    default: {
      const never: never = field.type;
      throw new Error(`unknown field type ${String(never)}`);
    }
  }
}

export interface AttributeError {
  key: string;
  message: string;
}

export type AttributesCheck = { ok: true; attributes: Record<string, string> } | { ok: false; errors: AttributeError[] };

/**
 * Attributes an edit sets, checked against the tenant's field definitions: each value of a defined
 * field must fit its type (normalised in the result), and a required field cannot be cleared.
 * Values equal to the stored ones pass as they are (a value stored before its field existed does not
 * block an edit of another attribute). Attributes without a definition are free text, as before.
 */
export function checkContactAttributes(
  fields: readonly Pick<ContactField, 'key' | 'type' | 'options' | 'required'>[],
  current: Readonly<Record<string, string>>,
  patch: Readonly<Record<string, string>>,
): AttributesCheck {
  const byKey = new Map(fields.map((f) => [f.key, f]));
  const out: Record<string, string> = {};
  const errors: AttributeError[] = [];
  for (const [key, raw] of Object.entries(patch)) {
    const field = byKey.get(key);
    if (!field || raw === current[key]) {
      out[key] = raw;
      continue;
    }
    const r = normalizeFieldValue(field, raw);
    if (!r.ok) errors.push({ key, message: r.message });
    else if (r.value === '' && field.required) errors.push({ key, message: 'is required' });
    else out[key] = r.value;
  }
  return errors.length ? { ok: false, errors } : { ok: true, attributes: out };
}

/** The rejection text of a failed check (one line). */
export function attributeErrorsText(errors: readonly AttributeError[]): string {
  return errors.map((e) => `${e.key}: ${e.message}`).join('; ');
}
