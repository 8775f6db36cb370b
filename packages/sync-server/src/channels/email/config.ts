import { z } from 'zod';
import { splitAddress } from './threading.js';
import { label, localized } from '../label.js';

const Host = z.string().min(1).max(253);

export const EmailConfig = z
  .object({
    /** The inbox's address (From of replies; plus-addressed Reply-To carries the conversation token). */
    address: z.string().email().max(254).meta(label('E-mail address', '邮箱地址')).transform((a) => a.toLowerCase()),
    fromName: z.string().max(200).meta(label('Sender name', '发件人名称')).optional(),
    /** Inbound by IMAP (IDLE); absent: a send-only inbox. */
    imap: z
      .object({
        host: Host.meta(label('Host', '主机')),
        port: z.number().int().min(1).max(65535).default(993).meta(label('Port', '端口')),
        secure: z.boolean().default(true).meta(label('TLS from the start', '直接使用 TLS')),
        user: z.string().min(1).max(320).meta(label('User name', '用户名')),
        mailbox: z.string().min(1).max(200).default('INBOX').meta(label('Mailbox', '邮箱文件夹')),
      })
      .meta(label('IMAP (inbound)', 'IMAP（收信）'))
      .optional(),
    smtp: z
      .object({
        host: Host.meta(label('Host', '主机')),
        port: z.number().int().min(1).max(65535).default(587).meta(label('Port', '端口')),
        /** TLS from the first byte (465); otherwise STARTTLS when offered. */
        secure: z.boolean().default(false).meta(label('TLS from the start', '直接使用 TLS')),
        /** Refuse to send without STARTTLS. */
        requireTLS: z.boolean().default(false).meta(label('Require STARTTLS', '要求 STARTTLS')),
        user: z.string().min(1).max(320).meta(label('User name', '用户名')).optional(),
      })
      .meta(label('SMTP (outbound)', 'SMTP（发信）')),
    /** Right-hand side of our Message-IDs (default: the address's domain). */
    messageIdDomain: Host.meta(label('Message-ID domain', 'Message-ID 域名')).optional(),
    /** A reply to a resolved or closed conversation within this many hours reopens it; later ones start a new conversation linked to it. */
    reopenWindowHours: z.number().min(0).max(24 * 365).default(168).meta(label('Reopen window (hours)', '重新打开时限（小时）', localized('A reply to a resolved conversation within this time reopens it; later ones start a new, linked conversation.', '在此时间内回复已解决的会话会重新打开它；之后的回复开启一个关联的新会话。'))),
    /** Mail without thread headers joins the contact's conversation with the same subject if active within this many days. */
    subjectMatchDays: z.number().min(0).max(365).default(30).meta(label('Subject match (days)', '主题匹配（天）')),
    /** First connection: `new` takes mail from the inbox's creation on, `all` imports the whole mailbox. */
    initialSync: z.enum(['new', 'all']).default('new').meta(label('Initial sync', '首次同步', localized('new: mail from the inbox\'s creation on; all: import the whole mailbox.', 'new：只收取收件箱创建之后的邮件；all：导入整个邮箱。'))),
    /** Automatic acknowledgement of a new conversation (never sent to auto-submitted mail): read by the ops bus's autoreply listener (legacy; prefer the inbox's ops.autoReply). */
    autoReply: z
      .object({ text: z.string().min(1).max(10_000).meta(label('Text', '内容')), subject: z.string().max(998).meta(label('Subject', '主题')).optional() })
      .meta(label('Auto-reply', '自动回复', localized('Sent once to the first mail of a new conversation, never to automatic mail.', '只对新会话的第一封邮件发送一次，从不回复自动邮件。')))
      .optional(),
    /** Cost of one outgoing mail (zero unless configured). */
    pricePerMessage: z.number().nonnegative().default(0).meta(label('Price per message', '每封价格')),
    currency: z.string().regex(/^[A-Z]{3}$/).default('USD').meta(label('Currency', '货币')),
    timeoutMs: z.number().int().min(1000).max(300_000).default(30_000).meta(label('Timeout (ms)', '超时（毫秒）')),
  })
  .meta(label('E-mail (IMAP/SMTP)', '邮件（IMAP/SMTP）'));
export type EmailConfig = z.infer<typeof EmailConfig>;
export const EmailSecrets = z
  .object({
    imapPassword: z.string().max(1024).meta(label('IMAP password', 'IMAP 密码')).optional(),
    smtpPassword: z.string().max(1024).meta(label('SMTP password', 'SMTP 密码')).optional(),
  })
  .meta(label('E-mail secrets', '邮件密钥'));

export function messageIdDomain(cfg: EmailConfig): string {
  return (cfg.messageIdDomain ?? splitAddress(cfg.address).domain).toLowerCase();
}
