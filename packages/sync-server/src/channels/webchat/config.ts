import { z } from 'zod';
import { label } from '../label.js';

/** `https://shop.example.com`, `http://127.0.0.1:5173`: scheme, host and port, nothing else. */
const ORIGIN = /^https?:\/\/[a-z0-9.-]+(?::\d{1,5})?$/i;

export const PRE_CHAT_FIELDS = ['name', 'email', 'phone'] as const;
export type PreChatField = (typeof PRE_CHAT_FIELDS)[number];

export const WebchatConfig = z
  .object({
    allowedOrigins: z
      .array(z.string().trim().regex(ORIGIN, 'an origin such as https://shop.example.com (scheme, host, port; no path)'))
      .max(50)
      .default([])
      .meta(label('Allowed website origins', '允许嵌入的网站来源', { en: 'One per line, e.g. https://shop.example.com; the widget refuses to run on any other site', 'zh-CN': '每行一个，例如 https://shop.example.com；其他网站无法使用该聊天窗口' })),
    greeting: z.string().trim().max(500).optional().meta(label('Greeting', '欢迎语')),
    preChatFields: z.array(z.enum(PRE_CHAT_FIELDS)).max(3).default(['name', 'email']).meta(label('Pre-chat form fields (name, email, phone; all optional for the visitor)', '聊天前表单字段（name、email、phone；访客可不填）')),
    availability: z
      .enum(['auto', 'online', 'offline'])
      .default('auto')
      .meta(label('Availability (auto: by business hours)', '在线状态（auto：按营业时间）')),
    csat: z.boolean().default(true).meta(label('Ask for a rating when the conversation ends', '会话结束时请访客评分')),
    perVisitorPerMinute: z.number().int().min(1).max(1000).default(30).meta(label('Messages per visitor per minute', '每位访客每分钟消息数上限')),
    perIpPerMinute: z.number().int().min(1).max(10_000).default(600).meta(label('Requests per IP address per minute', '每个 IP 每分钟请求数上限')),
  })
  .meta(label('Website live chat', '网站在线聊天'));
export type WebchatConfig = z.infer<typeof WebchatConfig>;

export const WebchatSecrets = z
  .object({
    identitySecret: z
      .string()
      .min(16)
      .max(256)
      .optional()
      .meta(label('User identity secret (HMAC-SHA256 of the user id)', '用户身份密钥（对用户 ID 做 HMAC-SHA256）')),
  })
  .meta(label('Website live chat secrets', '网站在线聊天密钥'));

/** Optional, short, printable: what a visitor types into the pre-chat or offline form. */
const Contact = z.object({
  name: z.string().trim().max(200).optional(),
  email: z.string().trim().email().max(320).optional(),
  phone: z.string().trim().regex(/^[+0-9 ()-]{3,32}$/, 'a phone number').optional(),
});

export const SessionBody = z
  .object({
    visitorToken: z.string().max(2000).optional(),
    /** The host site's own user id and its HMAC-SHA256 with the inbox's identity secret (hex). */
    identifier: z.string().trim().min(1).max(200).optional(),
    identifierHash: z.string().regex(/^[0-9a-f]{64}$/i, 'hex HMAC-SHA256').optional(),
  })
  .merge(Contact)
  .strict()
  .refine((b) => (b.identifier === undefined) === (b.identifierHash === undefined), { message: 'identifier and identifierHash come together' });

export const StagedRef = z.string().min(10).max(2000);

export const SendBody = z
  .object({
    /** Made by the browser (UUID): the idempotency key of the message. */
    clientId: z.string().regex(/^[0-9a-f-]{16,64}$/i, 'a UUID'),
    text: z.string().max(10_000),
    deviceTime: z.number().int().nonnegative().optional(),
    attachments: z.array(StagedRef).max(10).default([]),
    /** Sent from the offline form (outside business hours): how to reach the visitor. */
    offline: Contact.optional(),
    preChat: Contact.optional(),
  })
  .strict()
  .refine((b) => b.text.trim().length > 0 || b.attachments.length > 0, { message: 'a message needs text or an attachment' });

export const TypingBody = z.object({ typing: z.boolean() }).strict();
export const CsatBody = z.object({ conversationId: z.string().min(1).max(128), rating: z.number().int().min(1).max(5), comment: z.string().trim().max(2000).optional() }).strict();
export const AfterQuery = z.object({ after: z.coerce.number().int().nonnegative().default(0), token: z.string().max(2000).optional() });
export const InboxParam = z.object({ inbox: z.string().min(3).max(200) });
