// [trust] Click-to-call of a number the agent may not see: the server issues a call intent, an
// opaque one-time SIP target (`gtcall-<token>`) the softphone dials; the SIP server asks the server
// (with the inbox's SIP-side token) which number that is, once, and places the call. The number is
// read from the contact at that moment; the intent row holds no personal data (only where the
// number is: an identity index or an attribute key), only the token's hash, and expires.
import crypto from 'node:crypto';
import { z } from 'zod';
import { CALL_INTENT_PREFIX, phoneAt, phoneSourceOf, type Agent, type Conversation, type PhoneSource } from '@goutong/core';
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
