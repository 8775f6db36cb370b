// A provider for tests, written the way a new provider is: this one folder, nothing else. It sends
// nowhere: it counts what it is given (the fake), takes inbound over a token-protected webhook,
// declares its config (with en/zh-CN titles), its URLs, a migration, and every hook.
import { z } from 'zod';
import type { ChannelProvider, SendContext } from '../../../src/channels/provider.js';
import { label, localized } from '../../../src/channels/label.js';

export const EchoConfig = z
  .object({
    /** Shown to the admin as the sender of replies. */
    sender: z.string().min(1).max(32).meta(label('Sender', '发送方', localized('Who replies come from', '回复的发送方'))),
    /** Replies containing this word are vetoed by beforeSend. */
    forbiddenWord: z.string().min(1).max(32).default('VETO').meta(label('Forbidden word', '禁用词')),
    /** Read by the ops bus's autoreply listener as the acknowledgement (legacy provider config). */
    autoReply: z.object({ text: z.string().min(1).max(1000).meta(label('Text', '内容')) }).meta(label('Auto-reply', '自动回复')).optional(),
  })
  .meta(label('SMS · Echo (test)', '短信 · 回声（测试）'));
export const EchoSecrets = z.object({ token: z.string().min(16).max(128).meta(label('Webhook token', 'Webhook 令牌')) }).meta(label('Echo secrets', '回声密钥'));

/** What the fake saw: every send, every hook call. */
export interface EchoLog {
  sent: { to: string; text: string; idempotencyKey: string }[];
  inbound: { text: string; duplicate: boolean }[];
  vetoed: string[];
  statuses: { messageId: string; status: string | null }[];
  started: number;
  stopped: number;
}

export function echoProvider(log: EchoLog): ChannelProvider {
  return {
    channel: 'sms',
    name: 'echo',
    configSchema: EchoConfig,
    secretsSchema: EchoSecrets,
    // STOP/退订/START work here too: the opt-out extension applies to every provider that uses it.
    uses: ['optout'],
    migrations: [{ id: 19, name: 'test: echo provider table', sql: 'CREATE TABLE echo_probe (id TEXT PRIMARY KEY)' }],
    async send(ctx: SendContext) {
      const to = ctx.contact.identities.find((i) => i.channel === 'sms')?.identifier ?? '';
      log.sent.push({ to, text: ctx.message.text, idempotencyKey: ctx.idempotencyKey });
      return { kind: 'accepted', providerMessageId: `echo-${log.sent.length}` };
    },
    urls: ({ inbox, secret }) => [
      { key: 'inbound', what: localized('Echo inbound webhook', '回声入站 webhook'), method: 'POST', url: `/webhooks/echo/${encodeURIComponent(inbox.id)}/inbound?token=${secret('token')}` },
    ],
    openapi: {
      '/webhooks/echo/{inboxId}/inbound': { post: { summary: 'Echo inbound (test provider)', tags: ['webhooks'], responses: { '201': { description: 'Stored' }, '403': { description: 'Bad token' } } } },
    },
    routes(app, deps) {
      app.post<{ Params: { inboxId: string }; Querystring: { token?: string } }>('/webhooks/echo/:inboxId/inbound', async (req, reply) => {
        const s = await deps.inboxSettings(req.params.inboxId).catch(() => null);
        if (!s || s.inbox.provider !== 'echo' || req.query.token !== s.secrets.token) return reply.status(403).send({ error: { code: 'forbidden', message: 'bad token' } });
        const body = z.object({ id: z.string().min(1), from: z.string().min(1), text: z.string() }).safeParse(req.body);
        if (!body.success) return reply.status(400).send({ error: { code: 'bad_request', message: 'id, from and text are required' } });
        const res = await deps.ingest(s.inbox, { externalId: body.data.id, from: { identifier: body.data.from }, text: body.data.text });
        return reply.status(res.duplicate ? 200 : 201).send({ conversationId: res.conversation.id, messageId: res.message.id });
      });
    },
    async afterInbound({ result }) {
      log.inbound.push({ text: result.message.text, duplicate: result.duplicate });
    },
    async beforeSend(ctx) {
      const cfg = EchoConfig.parse(ctx.config);
      if (!ctx.message.text.includes(cfg.forbiddenWord)) return null;
      log.vetoed.push(ctx.message.id);
      return { reason: `the reply contains "${cfg.forbiddenWord}"`, code: 'echo_forbidden' };
    },
    async onStatus({ message }) {
      log.statuses.push({ messageId: message.id, status: message.status });
    },
    async start() {
      log.started++;
      return {
        stop: async () => {
          log.stopped++;
        },
      };
    },
  };
}
