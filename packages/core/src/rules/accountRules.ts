// [accounts] Rules of accounts, data subject rights and retention: pure, state in, facts or a rejection out.
import { z } from 'zod';
import { CHANNELS, Id, Role, type Agent, type Channel, type Contact, type Conversation, type Message } from '../domain/model.js';
import type { Fact, Rejection } from './facts.js';

// ----- agents ---------------------------------------------------------------------------

/** The admin's edit of an agent (PATCH /api/v1/agents/{id}); other branches add fields in their own schemas. */
export const AgentPatch = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    role: Role.optional(),
    teamIds: z.array(Id).max(100).optional(),
    active: z.boolean().optional(),
  })
  .strict();
export type AgentPatch = z.infer<typeof AgentPatch>;

export type AgentPatchDecision =
  | { ok: true; agent: Agent; changed: (keyof AgentPatch)[]; deactivated: boolean; reactivated: boolean }
  | { ok: false; rejection: Rejection };

/**
 * Whether `actor` may apply `patch` to `target`, and the agent it gives. Only admins edit agents; an
 * admin cannot deactivate or demote themselves, and the workspace never loses its last active admin.
 * `knownTeamIds`: the tenant's teams (an unknown team is refused).
 */
export function decideAgentPatch(actor: Agent, target: Agent | null, patch: AgentPatch, ctx: { activeAdmins: number; knownTeamIds: readonly string[] }): AgentPatchDecision {
  const no = (code: Rejection['code'], message: string): AgentPatchDecision => ({ ok: false, rejection: { code, message } });
  if (actor.role !== 'admin') return no('forbidden', 'only admins edit agents');
  if (!target || target.tenantId !== actor.tenantId) return no('not_found', 'agent not found');
  const unknown = (patch.teamIds ?? []).filter((t) => !ctx.knownTeamIds.includes(t));
  if (unknown.length) return no('bad_request', `unknown team ${unknown.join(', ')}`);
  const next: Agent = {
    ...target,
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.role !== undefined ? { role: patch.role } : {}),
    ...(patch.teamIds !== undefined ? { teamIds: [...new Set(patch.teamIds)] } : {}),
    ...(patch.active !== undefined ? { active: patch.active } : {}),
  };
  if (target.id === actor.id && (!next.active || next.role !== 'admin')) return no('conflict', 'you cannot deactivate yourself or give up your own admin role');
  const wasCountedAdmin = target.active && target.role === 'admin';
  const stillAdmin = next.active && next.role === 'admin';
  if (wasCountedAdmin && !stillAdmin && ctx.activeAdmins <= 1) return no('conflict', 'the workspace needs at least one active admin');
  const changed = (Object.keys(patch) as (keyof AgentPatch)[]).filter((k) => JSON.stringify(target[k]) !== JSON.stringify(next[k]));
  return { ok: true, agent: next, changed, deactivated: target.active && !next.active, reactivated: !target.active && next.active };
}

/** Password policy of accounts (invite acceptance, change, reset). */
export function passwordProblem(password: string): string | null {
  if (password.length < 10) return 'the password needs at least 10 characters';
  if (password.length > 1024) return 'the password is too long';
  if (new Set(password).size < 4) return 'the password is too simple';
  return null;
}

// ----- data subject rights ---------------------------------------------------------------

/** What an erased contact is called everywhere its name was shown. */
export const ERASED_NAME = 'Erased contact';
export const ERASED_TEXT = '[erased]';

/**
 * Erasure of a contact: every personal value is replaced, the statistics of its conversations
 * (counts, times, status, assignee, labels) are kept. Each changed row gets `seq`, so devices that
 * hold it replace it on their next pull.
 */
export function decideErasure(
  contact: Contact,
  conversations: readonly Conversation[],
  messages: readonly Message[],
  attachmentIds: readonly string[],
  o: { seq: number; now: number; actorId: string | null },
): Fact[] {
  const facts: Fact[] = [
    { kind: 'contact', contact: { ...contact, name: ERASED_NAME, identities: [], attributes: {}, updatedAt: o.now, seq: o.seq }, isNew: false },
    { kind: 'contact_identities_drop', contactId: contact.id },
  ];
  for (const c of conversations) {
    facts.push({ kind: 'conversation', conversation: { ...c, contactName: ERASED_NAME, subject: c.subject === null ? null : ERASED_TEXT, lastMessagePreview: ERASED_TEXT, updatedAt: o.now, seq: o.seq }, isNew: false });
  }
  for (const m of messages) {
    facts.push({ kind: 'message_redact', messageId: m.id, text: ERASED_TEXT, subject: m.subject === null ? null : ERASED_TEXT, attachments: [], meta: { erased: true }, seq: o.seq });
  }
  for (const id of attachmentIds) facts.push({ kind: 'attachment_drop', attachmentId: id });
  facts.push({ kind: 'audit', agentId: o.actorId, action: 'contact.erase', target: contact.id, details: { conversations: conversations.length, messages: messages.length, attachments: attachmentIds.length } });
  return facts;
}

// ----- retention ---------------------------------------------------------------------------

/** Purge messages and recordings older than `days` (null: keep); per channel overrides. Announced to devices in pulls. */
export const RetentionPolicy = z.object({
  days: z.number().int().min(1).max(36_500).nullable(),
  channels: z.partialRecord(z.enum(CHANNELS), z.number().int().min(1).max(36_500).nullable()).default({}),
});
export type RetentionPolicy = z.infer<typeof RetentionPolicy>;

export const NO_RETENTION: RetentionPolicy = { days: null, channels: {} };
const DAY_MS = 24 * 3600_000;

/** Days messages of the channel are kept (null: forever). A channel's own setting wins over the default. */
export function retentionDays(policy: RetentionPolicy, channel: Channel): number | null {
  const own = policy.channels[channel];
  return own !== undefined ? own : policy.days;
}

/** Messages of the channel created before this instant are past retention (null: none is). */
export function retentionCutoff(policy: RetentionPolicy, channel: Channel, now: number): number | null {
  const d = retentionDays(policy, channel);
  return d === null ? null : now - d * DAY_MS;
}

export function isPastRetention(policy: RetentionPolicy, channel: Channel, createdAt: number, now: number): boolean {
  const cut = retentionCutoff(policy, channel, now);
  return cut !== null && createdAt < cut;
}
