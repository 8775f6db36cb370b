import crypto from 'node:crypto';
import { z } from 'zod';
import type { Contact, Inbox } from '@goutong/core';
import type { FastifyReply } from 'fastify';
import type { ProviderDeps, SendContext, SendResult } from '../provider.js';
import type { InboundResult, Workspace } from '../../domain/workspace.js';
import { countSegments, smsCost, type SegmentRule } from './segments.js';

/** Keywords that opt a number out (carrier and Twilio conventions, and the Chinese 退订/TD). */
export const OPT_OUT_KEYWORDS = ['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'REVOKE', '退订', 'TD', 'T', '取消订阅'];
/** Keywords that opt back in. */
export const OPT_IN_KEYWORDS = ['START', 'UNSTOP', 'YES', 'SUBSCRIBE', '订阅', '恢复订阅'];

/** `out` / `in` when the whole message is an opt-out / opt-in keyword (case, spaces and end punctuation ignored). */
export function optKeyword(text: string): 'out' | 'in' | null {
  const t = text.normalize('NFKC').trim().replace(/[\s.!。！,，]+$/u, '').toUpperCase();
  if (!t || t.length > 20) return null;
  if (OPT_OUT_KEYWORDS.includes(t)) return 'out';
  if (OPT_IN_KEYWORDS.includes(t)) return 'in';
  return null;
}

/** Pricing part of every SMS inbox's configuration. */
export const SmsPricing = {
  /** Price of one segment sent (in `currency`); the message's cost is segments × price. */
  pricePerSegment: z.number().nonnegative().default(0),
  /** Price of one segment received (many providers bill inbound too). */
  inboundPricePerSegment: z.number().nonnegative().default(0),
  currency: z.string().regex(/^[A-Z]{3}$/).default('USD'),
};

/** The public base URL of this server as the provider reaches it (webhook and callback URLs, signatures). */
export const PublicBaseUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'http(s) only')
  .transform((u) => u.replace(/\/+$/, ''));

export function sha256(s: string): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}

export function safeEqualStr(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
}

/** The number a reply goes to: the contact's identity on the inbox's channel. */
export function recipientOf(ctx: SendContext): string | null {
  return ctx.contact.identities.find((i) => i.channel === ctx.inbox.channel)?.identifier ?? null;
}

/** Refuses outbound to a contact who opted out; checked again by the provider in case the opt-out arrived after queuing. */
export function optedOutRefusal(contact: Contact): SendResult | null {
  if (contact.attributes['optedOut'] !== 'true') return null;
  const kw = contact.attributes['optedOutKeyword'];
  return { kind: 'rejected', reason: `the recipient opted out of SMS${kw ? ` (replied "${kw}")` : ''}; nothing was sent`, code: 'opted_out' };
}

/**
 * Who an SMS goes to, or why it must not go: the contact opted out (checked again here in case the
 * opt-out arrived after queuing) or has no number on this channel.
 */
export function smsRecipient(ctx: SendContext): { to: string } | { refused: SendResult } {
  const refused = optedOutRefusal(ctx.contact);
  if (refused) return { refused };
  const to = recipientOf(ctx);
  if (!to) return { refused: { kind: 'rejected', reason: 'the contact has no phone number on this channel', code: 'no_recipient' } };
  return { to };
}

export function outboundCost(text: string, cfg: { pricePerSegment: number; currency: string }, rule: SegmentRule = 'gsm') {
  const seg = countSegments(text, rule);
  return { seg, cost: smsCost(seg.segments, cfg.pricePerSegment, cfg.currency) };
}

/** Records an opt-out (or opt-in) on the contact, as a fact (new seq). No-op when already so. The rule is core's (decideOptOut). */
export async function recordOptOut(ws: Workspace, contactId: string, change: { optedOut: boolean; keyword: string; channel: string; at: number }): Promise<Contact | null> {
  return ws.recordOptOut(contactId, change);
}

export interface SmsInbound {
  externalId: string;
  from: string;
  to?: string | undefined;
  text: string;
  sentAt?: number | undefined;
  meta?: Record<string, unknown>;
}

/**
 * Stores an inbound SMS (idempotent on the provider's message id), records its segments and cost,
 * and applies STOP/退订 (START) keywords to the contact. Runs the keyword step on duplicates too, so a
 * crash between the two steps is repaired by the provider's retry.
 */
export async function receiveSms(
  ws: Workspace,
  inbox: Inbox,
  pricing: { inboundPricePerSegment: number; currency: string },
  input: SmsInbound,
  rule: SegmentRule = 'gsm',
): Promise<InboundResult> {
  const seg = countSegments(input.text, rule);
  const res = await ws.ingestInbound(inbox, {
    externalId: input.externalId,
    from: { identifier: input.from.trim() },
    text: input.text,
    sentAt: input.sentAt,
    meta: {
      ...(input.meta ?? {}),
      from: input.from,
      ...(input.to ? { to: input.to } : {}),
      segments: seg.segments,
      encoding: seg.encoding,
      cost: smsCost(seg.segments, pricing.inboundPricePerSegment, pricing.currency),
    },
  });
  const kw = optKeyword(input.text);
  if (kw) {
    await recordOptOut(ws, res.conversation.contactId, { optedOut: kw === 'out', keyword: input.text.trim(), channel: inbox.channel, at: Date.now() });
  }
  return res;
}

/** Loads an inbox's settings for a webhook, checking channel and provider; null when it is not such an inbox. */
export async function webhookInbox(deps: ProviderDeps, inboxId: string, provider: string) {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(inboxId)) return null;
  const s = await deps.inboxSettings(inboxId).catch(() => null);
  if (!s || s.inbox.channel !== 'sms' || s.inbox.provider !== provider) return null;
  return s;
}

/** Finds our outgoing message for a receipt: by our id (carried in the callback URL) or by the provider's id. */
export async function findOutgoing(ws: Workspace, inboxId: string, ids: { messageId?: string | null; providerMessageId?: string | null }): Promise<string | null> {
  if (ids.messageId) {
    const r = await ws.db.one<{ id: string }>("SELECT id FROM messages WHERE id = ? AND inbox_id = ? AND direction = 'out'", [ids.messageId, inboxId]);
    if (r) return r.id;
  }
  if (ids.providerMessageId) {
    const r = await ws.db.one<{ id: string }>("SELECT id FROM messages WHERE inbox_id = ? AND provider_message_id = ? AND direction = 'out'", [inboxId, ids.providerMessageId]);
    if (r) return r.id;
  }
  return null;
}

/** Marks a provider event (delivery id, receipt) as handled; true the first time. Call after the event's effects committed. */
export async function markEventSeen(ws: Workspace, key: string): Promise<boolean> {
  const r = await ws.db.run('INSERT INTO webhook_replay (key, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING', [key, Date.now()]);
  return r.changes > 0;
}

export async function eventSeen(ws: Workspace, key: string): Promise<boolean> {
  return (await ws.db.one('SELECT key FROM webhook_replay WHERE key = ?', [key])) !== null;
}

/** Maps an HTTP answer to a send result: 5xx, 408 and 429 are worth retrying, other 4xx are final. */
export function httpOutcome(status: number, reason: string, retryAfter?: string | null): SendResult {
  if (status >= 500 || status === 408 || status === 429) {
    const s = retryAfter ? Number(retryAfter) : NaN;
    return { kind: 'retry', reason, ...(Number.isFinite(s) && s >= 0 ? { retryAfterMs: Math.min(s * 1000, 600_000) } : {}) };
  }
  return { kind: 'rejected', reason, code: `http_${status}` };
}

/** fetch with a timeout; network failures come back as a `retry` result. */
export async function fetchWithTimeout(
  doFetch: typeof fetch,
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<{ ok: true; res: Response; body: string } | { ok: false; result: SendResult }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const res = await doFetch(url, { ...init, signal: ac.signal });
    const body = await res.text();
    return { ok: true, res, body };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why = err.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : `${err.cause?.code ?? err.message}`;
    return { ok: false, result: { kind: 'retry', reason: `provider unreachable: ${why}` } };
  } finally {
    clearTimeout(timer);
  }
}

export function twiml(reply: FastifyReply): FastifyReply {
  return reply.status(200).header('content-type', 'text/xml; charset=utf-8').send('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
}
