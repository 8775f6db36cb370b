// Masking before data leaves the server: every outgoing row for a principal without pii.view goes
// through the Masker (core's rules/masking.ts does the detecting and masking), and reveals of one
// value for a limited time, each audited with its reason.
import crypto from 'node:crypto';
import { z } from 'zod';
import {
  can,
  compilePatterns,
  maskContact,
  maskFileName,
  maskJson,
  maskConversation,
  maskMessage,
  MaskPatternSpec,
  type Agent,
  type Contact,
  type Conversation,
  type MaskPattern,
  type Message,
  type PermissionSet,
} from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import { badRequest, forbidden, notFound } from '../errors.js';
import { insertAudit } from './audit.js';
import { toContact, toMessage } from './rows.js';
import { personalFieldKeys } from './contactFieldRows.js';

type Principal = Agent & { permissions?: PermissionSet };

/** What a principal receives: clear rows (pii.view) or masked ones. */
export interface Masker {
  readonly masked: boolean;
  conversation(c: Conversation): Conversation;
  message(m: Message): Message;
  contact(c: Contact): Contact;
  json<T>(v: T): T;
  /** An attachment's file name (the rule of `maskMessage`'s attachment names). */
  fileName(name: string): string;
}

const CLEAR: Masker = { masked: false, conversation: (c) => c, message: (m) => m, contact: (c) => c, json: (v) => v, fileName: (n) => n };

export const MaskPatternList = z.array(MaskPatternSpec).max(50);

export async function maskPatterns(q: Queryable, tenantId: string): Promise<z.infer<typeof MaskPatternList>> {
  const r = await q.one<{ patterns: string }>('SELECT patterns FROM mask_patterns WHERE tenant_id = ?', [tenantId]);
  if (!r) return [];
  const parsed = MaskPatternList.safeParse(JSON.parse(String(r.patterns)));
  return parsed.success ? parsed.data : [];
}

/** `personalKeys`: contact attributes that are personal data as a whole ([fields] custom fields of type phone or email). */
export function maskerOf(patterns: readonly MaskPattern[], personalKeys: readonly string[] = []): Masker {
  return {
    masked: true,
    conversation: (c) => maskConversation(c, patterns),
    message: (m) => maskMessage(m, patterns),
    contact: (c) => maskContact(c, patterns, personalKeys),
    json: (v) => maskJson(v, patterns),
    fileName: (n) => maskFileName(n, patterns),
  };
}

/** The masker for a principal: the identity with pii.view, else masking with the tenant's admin patterns. */
export async function maskerFor(q: Queryable, p: Principal): Promise<Masker> {
  if (can(p, 'pii.view')) return CLEAR;
  return maskerOf(compilePatterns(await maskPatterns(q, p.tenantId)), await personalFieldKeys(q, p.tenantId));
}

/**
 * [trust] The file name a download announces (`Content-Disposition`): masked like the message's
 * attachment names for a principal without pii.view, and for the holder of a signed link (`null`:
 * a link names no one, so it gets what the least privileged agent gets).
 */
export async function downloadFileName(q: Queryable, p: Principal | null, tenantId: string, name: string): Promise<string> {
  const masker = p ? await maskerFor(q, p) : maskerOf(compilePatterns(await maskPatterns(q, tenantId)));
  return masker.fileName(name);
}

export async function saveMaskPatterns(db: Db, actor: Principal, patterns: z.infer<typeof MaskPatternList>, now: number): Promise<void> {
  if (!can(actor, 'settings.manage')) throw forbidden('requires the settings.manage permission');
  await db.tx(async (q) => {
    const before = await maskPatterns(q, actor.tenantId);
    await q.run('INSERT INTO mask_patterns (tenant_id, patterns, updated_at) VALUES (?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET patterns = excluded.patterns, updated_at = excluded.updated_at', [
      actor.tenantId, JSON.stringify(patterns), now,
    ]);
    await insertAudit(q, { tenantId: actor.tenantId, agentId: actor.id }, { action: 'config.mask_patterns', target: actor.tenantId, details: { before, after: patterns } }, now);
  });
}

// ----- reveal ------------------------------------------------------------------------------

export const REVEAL_TTL_MS = 5 * 60_000;

export const RevealBody = z
  .object({
    /** Contact: `name`, `identity:<n>`, `attribute:<key>`. Message: `text`, `subject`, `attachment:<n>`. */
    field: z.string().min(1).max(80).regex(/^(name|text|subject|identity:\d{1,3}|attachment:\d{1,3}|attribute:[^\s]{1,64})$/, 'field: name, identity:<n>, attribute:<key>, text, subject or attachment:<n>'),
    reason: z.string().trim().min(3, 'give a reason (at least 3 characters)').max(500),
  })
  .strict();

export interface Revealed {
  revealId: string;
  field: string;
  value: string;
  expiresAt: number;
}

function contactField(c: Contact, field: string): string | null {
  if (field === 'name') return c.name;
  const [kind, arg] = [field.slice(0, field.indexOf(':')), field.slice(field.indexOf(':') + 1)];
  if (kind === 'identity') return c.identities[Number(arg)]?.identifier ?? null;
  if (kind === 'attribute') return c.attributes[arg] ?? null;
  return null;
}

function messageField(m: Message, field: string): string | null {
  if (field === 'text') return m.text;
  if (field === 'subject') return m.subject;
  if (field.startsWith('attachment:')) return m.attachments[Number(field.slice(11))]?.name ?? null;
  return null;
}

/**
 * Reveals one clear value to a principal with pii.reveal for REVEAL_TTL_MS, bound to its session: the
 * grant row and the audit row (with the reason) commit together. `visible` checks the principal may
 * see the target at all (not_found otherwise).
 */
export async function reveal(
  db: Db,
  actor: Principal,
  target: { kind: 'contact' | 'message'; id: string },
  body: z.infer<typeof RevealBody>,
  o: { sessionId: string | null; now: number; visible: (q: Queryable) => Promise<void> },
): Promise<Revealed> {
  if (!can(actor, 'pii.reveal')) throw forbidden('requires the pii.reveal permission');
  return db.tx(async (q) => {
    await o.visible(q);
    let value: string | null;
    if (target.kind === 'contact') {
      const r = await q.one('SELECT * FROM contacts WHERE id = ? AND tenant_id = ?', [target.id, actor.tenantId]);
      if (!r) throw notFound(`contact ${target.id} not found`);
      value = contactField(toContact(r), body.field);
    } else {
      const r = await q.one('SELECT * FROM messages WHERE id = ? AND tenant_id = ?', [target.id, actor.tenantId]);
      if (!r) throw notFound(`message ${target.id} not found`);
      value = messageField(toMessage(r), body.field);
    }
    if (value === null) throw badRequest(`${target.kind} ${target.id} has no field ${body.field}`);
    const revealId = crypto.randomBytes(18).toString('base64url');
    const expiresAt = o.now + REVEAL_TTL_MS;
    await q.run('INSERT INTO pii_reveals (id, tenant_id, agent_id, session_id, target_kind, target_id, field, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      revealId, actor.tenantId, actor.id, o.sessionId, target.kind, target.id, body.field, expiresAt, o.now,
    ]);
    await insertAudit(q, { tenantId: actor.tenantId, agentId: actor.id }, { action: 'pii.reveal', target: `${target.kind}:${target.id}`, details: { field: body.field, reason: body.reason, revealId, expiresAt } }, o.now);
    return { revealId, field: body.field, value, expiresAt };
  });
}

/** A reveal read again while it lasts, by the same agent in the same session; gone afterwards. */
export async function revealedAgain(db: Db, actor: Principal, revealId: string, sessionId: string | null, now: number): Promise<Revealed> {
  const r = await db.one('SELECT * FROM pii_reveals WHERE id = ? AND tenant_id = ? AND agent_id = ?', [revealId, actor.tenantId, actor.id]);
  if (!r || (r.session_id ?? null) !== sessionId) throw notFound('reveal not found');
  if (Number(r.expires_at) <= now) throw notFound('this reveal has expired; reveal again with a reason');
  if (!can(actor, 'pii.reveal')) throw forbidden('requires the pii.reveal permission');
  const field = String(r.field);
  let value: string | null = null;
  if (r.target_kind === 'contact') {
    const c = await db.one('SELECT * FROM contacts WHERE id = ?', [String(r.target_id)]);
    value = c ? contactField(toContact(c), field) : null;
  } else {
    const m = await db.one('SELECT * FROM messages WHERE id = ?', [String(r.target_id)]);
    value = m ? messageField(toMessage(m), field) : null;
  }
  if (value === null) throw notFound('the revealed value no longer exists');
  return { revealId, field, value, expiresAt: Number(r.expires_at) };
}

/** The conversation a message belongs to, in a tenant (a reveal checks the conversation is visible). */
export async function conversationOfMessage(q: Queryable, tenantId: string, messageId: string): Promise<string | null> {
  const m = await q.one<{ conversation_id: string }>('SELECT conversation_id FROM messages WHERE id = ? AND tenant_id = ?', [messageId, tenantId]);
  return m ? String(m.conversation_id) : null;
}
