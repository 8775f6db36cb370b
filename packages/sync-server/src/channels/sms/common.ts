import crypto from 'node:crypto';
import { z } from 'zod';
import type { Inbox } from '@goutong/core';
import type { FastifyReply } from 'fastify';
import type { ProviderDeps, SendContext, SendResult } from '../provider.js';
import type { InboundResult, Workspace } from '../../domain/workspace.js';
import * as facts from '../../domain/channelFacts.js';
import { label } from '../label.js';
import { countSegments, smsCost, type SegmentRule } from './segments.js';

/** Pricing part of every SMS inbox's configuration. */
export const SmsPricing = {
  /** Price of one segment sent (in `currency`); the message's cost is segments × price. */
  pricePerSegment: z.number().nonnegative().default(0).meta(label('Price per segment', '每段价格')),
  /** Price of one segment received (many providers bill inbound too). */
  inboundPricePerSegment: z.number().nonnegative().default(0).meta(label('Inbound price per segment', '入站每段价格')),
  currency: z.string().regex(/^[A-Z]{3}$/).default('USD').meta(label('Currency', '货币')),
};

/** The SMS providers' shared declarations: opt-out (STOP/退订/START) applies to all of them. */
export const SMS_USES = ['optout'] as const;

/** The public base URL of this server as the provider reaches it (webhook and callback URLs, signatures). */
export const PublicBaseUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'http(s) only')
  .transform((u) => u.replace(/\/+$/, ''));

/** Where the provider reaches this server (absolute, from the config), or this server's own path. */
export function webhookBase(config: Record<string, unknown>): string {
  return typeof config.webhookBaseUrl === 'string' ? config.webhookBaseUrl.replace(/\/+$/, '') : '';
}

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

/** Who an SMS goes to, or why it must not go: the contact has no number on this channel. (Opt-out is the optout extension's beforeSend.) */
export function smsRecipient(ctx: SendContext): { to: string } | { refused: SendResult } {
  const to = recipientOf(ctx);
  if (!to) return { refused: { kind: 'rejected', reason: 'the contact has no phone number on this channel', code: 'no_recipient' } };
  return { to };
}

export function outboundCost(text: string, cfg: { pricePerSegment: number; currency: string }, rule: SegmentRule = 'gsm') {
  const seg = countSegments(text, rule);
  return { seg, cost: smsCost(seg.segments, cfg.pricePerSegment, cfg.currency) };
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
 * Stores an inbound SMS (idempotent on the provider's message id) with its segments and cost. The
 * extensions' afterInbound hooks (STOP/退订/START: optout) run after it, on duplicates too.
 */
export async function receiveSms(
  deps: ProviderDeps,
  inbox: Inbox,
  pricing: { inboundPricePerSegment: number; currency: string },
  input: SmsInbound,
  rule: SegmentRule = 'gsm',
): Promise<InboundResult> {
  const seg = countSegments(input.text, rule);
  return deps.ingest(inbox, {
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
}

/** Loads an inbox's settings for a webhook, checking channel and provider; null when it is not such an inbox. */
export async function webhookInbox(deps: ProviderDeps, inboxId: string, provider: string) {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(inboxId)) return null;
  const s = await deps.inboxSettings(inboxId).catch(() => null);
  if (!s || s.inbox.channel !== 'sms' || s.inbox.provider !== provider) return null;
  return s;
}

/** Finds our outgoing message for a receipt: by our id (carried in the callback URL) or by the provider's id. */
export function findOutgoing(ws: Workspace, inboxId: string, ids: { messageId?: string | null; providerMessageId?: string | null }): Promise<string | null> {
  return facts.findOutgoing(ws.db, inboxId, ids);
}

/** Marks a provider event (delivery id, receipt) as handled; true the first time. Call after the event's effects committed. */
export function markEventSeen(ws: Workspace, key: string): Promise<boolean> {
  return facts.markEventSeen(ws.db, key);
}

export function eventSeen(ws: Workspace, key: string): Promise<boolean> {
  return facts.eventSeen(ws.db, key);
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
