// [trust] Click-to-call of a number the agent may not see: the server issues a call intent, an
// opaque one-time SIP target (`gtcall-<token>`) the softphone dials; the SIP server asks the server
// (with the inbox's SIP-side token) which number that is, once, and places the call. The number is
// read from the contact at that moment; the intent row holds no personal data (only where the
// number is: an identity index or an attribute key), only the token's hash, and expires.
import crypto from 'node:crypto';
import { z } from 'zod';
import { CALL_INTENT_PREFIX, phoneAt, phoneSourceOf, type Agent, type Contact, type Conversation, type PhoneSource } from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { insertAudit } from './audit.js';
import { maskerFor } from './masking.js';
import { toContact } from './rows.js';

export const CALL_INTENT_TTL_MS = 2 * 60_000;

export const CallIntentBody = z
  .object({
    conversationId: z.string().min(1).max(128),
    /** Which of the contact's identities (index), else the contact's number by core's phoneSourceOf. */
    identity: z.number().int().min(0).max(200).optional(),
    /** The voice inbox whose line places the call (default: the first the agent has a line on). */
    inboxId: z.string().min(1).max(128).optional(),
  })
  .strict();

const Source = z.union([z.object({ kind: z.literal('identity'), index: z.number().int().min(0) }), z.object({ kind: z.literal('attribute'), key: z.string() })]);

const hash = (token: string) => crypto.createHash('sha256').update(token).digest('hex');

/** The phone number of a conversation's contact to call: an identity (index) or core's phoneSourceOf. */
async function contactPhone(q: Queryable, agent: Agent, conversation: Conversation, identity: number | undefined): Promise<{ contact: Contact; source: PhoneSource; number: string }> {
  const r = await q.one('SELECT * FROM contacts WHERE id = ? AND tenant_id = ?', [conversation.contactId, agent.tenantId]);
  if (!r) throw notFound('the conversation has no contact');
  const contact = toContact(r);
  let source: PhoneSource | null;
  if (identity !== undefined) {
    const i = contact.identities[identity];
    if (!i || (i.channel !== 'voice' && i.channel !== 'sms')) throw badRequest('that identity is not a phone number');
    source = { kind: 'identity', index: identity };
  } else source = phoneSourceOf(contact);
  const number = source ? phoneAt(contact, source) : null;
  if (!source || !number) throw new ApiError('bad_request', 'this contact has no phone number');
  return { contact, source, number };
}

export interface CallIntent {
  /** What the softphone dials as the SIP user. */
  dialTarget: string;
  /** What the agent sees of the number (masked without pii.view). */
  display: string;
  expiresAt: number;
}

/**
 * Issues an intent for the contact of a conversation the agent may see (checked by the caller:
 * `conversation` comes from Workspace.visibleConversation). Audited as `call.intent`.
 */
export async function createCallIntent(
  db: Db,
  agent: Agent,
  conversation: Conversation,
  voiceInboxId: string,
  identity: number | undefined,
  now: number,
): Promise<CallIntent> {
  return db.tx(async (q) => {
    const { contact, source, number } = await contactPhone(q, agent, conversation, identity);
    const token = crypto.randomBytes(20).toString('hex');
    const expiresAt = now + CALL_INTENT_TTL_MS;
    await q.run(
      'INSERT INTO call_intents (id, tenant_id, agent_id, inbox_id, conversation_id, contact_id, source, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)',
      [hash(token), agent.tenantId, agent.id, voiceInboxId, conversation.id, contact.id, JSON.stringify(source), now, expiresAt],
    );
    await q.run('DELETE FROM call_intents WHERE expires_at < ?', [now - CALL_INTENT_TTL_MS]);
    await insertAudit(q, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'call.intent', target: contact.id, details: { conversationId: conversation.id, inboxId: voiceInboxId, source } }, now);
    const masker = await maskerFor(q, agent);
    return { dialTarget: `${CALL_INTENT_PREFIX}${token}`, display: masker.json(number), expiresAt };
  });
}

export interface ResolvedCall {
  number: string;
  agentId: string;
  conversationId: string;
  contactId: string;
}

/**
 * The SIP server's question: which number is this intent (of this voice inbox)? Answered once,
 * before it expires; the number is the contact's at this moment. Audited as `call.dial` on the
 * agent's behalf.
 */
export async function resolveCallIntent(db: Db, inboxId: string, token: string, now: number): Promise<ResolvedCall> {
  return db.tx(async (q: Queryable) => {
    const row = await q.one<{ tenant_id: string; agent_id: string; inbox_id: string; conversation_id: string; contact_id: string; source: string; expires_at: number; used_at: number | null }>(
      'SELECT * FROM call_intents WHERE id = ?',
      [hash(token)],
    );
    if (!row || row.inbox_id !== inboxId) throw notFound('no such call intent');
    if (row.used_at !== null || Number(row.expires_at) < now) throw new ApiError('conflict', 'this call intent was used or has expired');
    const claimed = await q.run('UPDATE call_intents SET used_at = ? WHERE id = ? AND used_at IS NULL', [now, hash(token)]);
    if (claimed.changes === 0) throw new ApiError('conflict', 'this call intent was used or has expired');
    const r = await q.one('SELECT * FROM contacts WHERE id = ? AND tenant_id = ?', [row.contact_id, row.tenant_id]);
    const source = Source.safeParse(JSON.parse(String(row.source)));
    const number = r && source.success ? phoneAt(toContact(r), source.data) : null;
    if (!number) throw new ApiError('conflict', 'the contact has no such number any more');
    await insertAudit(q, { tenantId: row.tenant_id, agentId: row.agent_id }, { action: 'call.dial', target: row.contact_id, details: { conversationId: row.conversation_id, inboxId } }, now);
    return { number, agentId: row.agent_id, conversationId: row.conversation_id, contactId: row.contact_id };
  });
}

// ----- [trust] Privacy numbers (AXB): calls from a phone's own dialer --------------------------------
// The agent's phone A and the contact's number B are bound by the provider to a virtual number X
// (channels/voice/privacyNumber.ts); the app dials X. The row keeps neither A (only its hash, to reuse
// a live binding) nor B (only where it is, like a call intent), and is audited as `call.bind` /
// `call.unbind`. The provider drops the binding at `expires_at` by itself.

export const PrivacyBindingBody = z
  .object({
    conversationId: z.string().min(1).max(128),
    /** The agent's own phone (A), from the app's settings. */
    agentPhone: z.string().trim().regex(/^\+?[0-9][0-9 -]{4,30}$/, 'a phone number'),
    identity: z.number().int().min(0).max(200).optional(),
    inboxId: z.string().min(1).max(128).optional(),
  })
  .strict();
export type PrivacyBindingBody = z.infer<typeof PrivacyBindingBody>;

export interface PrivacyBindingView {
  id: string;
  /** X: what the phone dials. */
  virtualNumber: string;
  /** The contact's number as the agent may see it. */
  display: string;
  expiresAt: number;
  inboxId: string;
}

export interface BindingRequest {
  id: string;
  number: string;
  source: PhoneSource;
  contactId: string;
  agentPhoneHash: string;
  display: string;
  /** A live binding of the same agent phone to the same number, to give again. */
  live: PrivacyBindingView | null;
}

/** The agent's phone, hashed per tenant (digits; a mainland number with or without +86 is one phone). */
function phoneHash(tenantId: string, phone: string): string {
  const digits = phone.replace(/\D/g, '');
  const national = digits.length === 13 && digits.startsWith('86') ? digits.slice(2) : digits;
  return crypto.createHash('sha256').update(`${tenantId}\u0000${national}`).digest('hex');
}

/** What to bind (read only): the contact's number for the provider, and a live binding to reuse. */
export async function privacyBindingRequest(db: Db, agent: Agent, conversation: Conversation, inboxId: string, body: PrivacyBindingBody, now: number, newId: () => string): Promise<BindingRequest> {
  const { contact, source, number } = await contactPhone(db, agent, conversation, body.identity);
  const agentPhoneHash = phoneHash(agent.tenantId, body.agentPhone);
  const display = (await maskerFor(db, agent)).json(number);
  const rows = await db.all<{ id: string; source: string; virtual_number: string; expires_at: number; inbox_id: string }>(
    'SELECT id, source, virtual_number, expires_at, inbox_id FROM privacy_bindings WHERE tenant_id = ? AND agent_id = ? AND contact_id = ? AND inbox_id = ? AND agent_phone_hash = ? AND released_at IS NULL AND expires_at > ?',
    [agent.tenantId, agent.id, contact.id, inboxId, agentPhoneHash, now + 30_000],
  );
  const same = rows.find((r) => String(r.source) === JSON.stringify(source));
  return {
    id: newId(),
    number,
    source,
    contactId: contact.id,
    agentPhoneHash,
    display,
    live: same ? { id: same.id, virtualNumber: same.virtual_number, display, expiresAt: Number(same.expires_at), inboxId: same.inbox_id } : null,
  };
}

/** Records a binding the provider made (or gives a live one again), with its audit row. */
export async function recordPrivacyBinding(
  db: Db,
  agent: Agent,
  conversation: Conversation,
  inboxId: string,
  req: BindingRequest,
  made: { provider: string; subsId: string; virtualNumber: string; expiresAt: number } | null,
  now: number,
): Promise<PrivacyBindingView> {
  return db.tx(async (q) => {
    const view = made ? { id: req.id, virtualNumber: made.virtualNumber, display: req.display, expiresAt: made.expiresAt, inboxId } : req.live;
    if (!view) throw new Error('recordPrivacyBinding: nothing to record');
    if (made) {
      await q.run(
        'INSERT INTO privacy_bindings (id, tenant_id, agent_id, inbox_id, conversation_id, contact_id, source, agent_phone_hash, provider, subs_id, virtual_number, created_at, expires_at, released_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)',
        [req.id, agent.tenantId, agent.id, inboxId, conversation.id, req.contactId, JSON.stringify(req.source), req.agentPhoneHash, made.provider, made.subsId, made.virtualNumber, now, made.expiresAt],
      );
    }
    await insertAudit(
      q,
      { tenantId: agent.tenantId, agentId: agent.id },
      { action: 'call.bind', target: req.contactId, details: { conversationId: conversation.id, inboxId, bindingId: view.id, virtualNumber: view.virtualNumber, expiresAt: view.expiresAt, source: req.source, reused: !made } },
      now,
    );
    return view;
  });
}

export interface BindingRow {
  id: string;
  inboxId: string;
  subsId: string;
  virtualNumber: string;
  expiresAt: number;
  contactId: string;
  conversationId: string;
}

/** The agent's own unreleased binding (404 otherwise). */
export async function ownBinding(db: Db, agent: Agent, id: string): Promise<BindingRow> {
  const r = await db.one<{ id: string; agent_id: string; inbox_id: string; subs_id: string; virtual_number: string; expires_at: number; released_at: number | null; contact_id: string; conversation_id: string }>(
    'SELECT * FROM privacy_bindings WHERE id = ? AND tenant_id = ?',
    [id, agent.tenantId],
  );
  if (!r || r.agent_id !== agent.id) throw notFound('no such privacy-number binding');
  if (r.released_at !== null) throw new ApiError('conflict', 'this binding was released already');
  return { id: r.id, inboxId: r.inbox_id, subsId: r.subs_id, virtualNumber: r.virtual_number, expiresAt: Number(r.expires_at), contactId: r.contact_id, conversationId: r.conversation_id };
}

/** Marks a binding released (after the provider dropped it, or it expired), audited as `call.unbind`. */
export async function releasePrivacyBinding(db: Db, agent: Agent, b: BindingRow, now: number): Promise<void> {
  await db.tx(async (q) => {
    const r = await q.run('UPDATE privacy_bindings SET released_at = ? WHERE id = ? AND released_at IS NULL', [now, b.id]);
    if (r.changes === 0) throw new ApiError('conflict', 'this binding was released already');
    await insertAudit(q, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'call.unbind', target: b.contactId, details: { conversationId: b.conversationId, inboxId: b.inboxId, bindingId: b.id, expired: b.expiresAt <= now } }, now);
  });
}
