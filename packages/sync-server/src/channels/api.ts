import { z } from 'zod';
import { hmacHex } from '../auth/crypto.js';
import type { ChannelProvider, SendResult } from './provider.js';
import { label, localized } from './label.js';

/** Signature of outbound webhooks and signed inbound posts: HMAC-SHA256 over `${timestamp}.${rawBody}`. */
export function signApiPayload(secret: string, timestamp: string, rawBody: string): string {
  return `sha256=${hmacHex(secret, `${timestamp}.${rawBody}`)}`;
}

export const ApiConfig = z
  .object({
    /** Where outbound messages are POSTed; without it they are accepted for the integration to fetch. */
    webhookUrl: z.string().url().meta(label('Outbound webhook URL', '出站 webhook 地址')).refine((u) => /^https?:\/\//.test(u), 'http(s) only').optional(),
  })
  .meta(label('API (your own system)', 'API（自有系统）'));
export const ApiSecrets = z.object({ secret: z.string().min(16).max(256).meta(label('Signing secret', '签名密钥')) }).meta(label('API secrets', 'API 密钥'));

/**
 * The `api` channel (like Chatwoot's API inbox): an external system posts inbound messages to
 * `/api/v1/inboxes/{id}/inbound` and receives outbound ones as signed webhooks.
 */
export function apiProvider(opts: { fetch?: typeof fetch; timeoutMs?: number } = {}): ChannelProvider {
  const doFetch = opts.fetch ?? fetch;
  return {
    channel: 'api',
    name: 'api',
    configSchema: ApiConfig,
    secretsSchema: ApiSecrets,
    urls: ({ inbox }) => [
      {
        key: 'inbound',
        what: localized('Inbound messages (your system posts here, signed with the inbox secret)', '入站消息（您的系统用收件箱密钥签名后提交到此地址）'),
        method: 'POST',
        url: `/api/v1/inboxes/${encodeURIComponent(inbox.id)}/inbound`,
      },
    ],
    async send(ctx): Promise<SendResult> {
      const cfg = ApiConfig.parse(ctx.config);
      if (!cfg.webhookUrl) return { kind: 'accepted', providerMessageId: null };
      const body = JSON.stringify({
        event: 'message.created',
        inboxId: ctx.inbox.id,
        conversationId: ctx.conversation.id,
        contact: { id: ctx.contact.id, name: ctx.contact.name, identifiers: ctx.contact.identities.filter((i) => i.channel === 'api').map((i) => i.identifier) },
        message: { id: ctx.message.id, text: ctx.message.text, subject: ctx.message.subject, attachments: ctx.message.attachments, createdAt: ctx.message.createdAt, authorId: ctx.message.authorId },
      });
      const ts = String(Math.floor(Date.now() / 1000));
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 10_000);
      try {
        const res = await doFetch(cfg.webhookUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-goutong-timestamp': ts,
            'x-goutong-signature': signApiPayload(ctx.secrets.secret ?? '', ts, body),
            'idempotency-key': ctx.idempotencyKey,
          },
          body,
          signal: ac.signal,
        });
        const text = await res.text().catch(() => '');
        if (res.ok) {
          let id: string | null = null;
          try {
            const j = JSON.parse(text) as { id?: unknown };
            if (typeof j.id === 'string' || typeof j.id === 'number') id = String(j.id);
          } catch {
            /* a 2xx without JSON is fine */
          }
          return { kind: 'accepted', providerMessageId: id };
        }
        if (res.status >= 500 || res.status === 429 || res.status === 408) return { kind: 'retry', reason: `webhook answered ${res.status}` };
        return { kind: 'rejected', reason: `webhook answered ${res.status}: ${text.slice(0, 200)}`, code: `http_${res.status}` };
      } catch (e) {
        return { kind: 'retry', reason: `webhook unreachable: ${(e as Error).message}` };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
