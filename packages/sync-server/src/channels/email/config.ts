import { z } from 'zod';
import { splitAddress } from './threading.js';

const Host = z.string().min(1).max(253);

export const EmailConfig = z.object({
  /** The inbox's address (From of replies; plus-addressed Reply-To carries the conversation token). */
  address: z.string().email().max(254).transform((a) => a.toLowerCase()),
  fromName: z.string().max(200).optional(),
  /** Inbound by IMAP (IDLE); absent: a send-only inbox. */
  imap: z
    .object({
      host: Host,
      port: z.number().int().min(1).max(65535).default(993),
      secure: z.boolean().default(true),
      user: z.string().min(1).max(320),
      mailbox: z.string().min(1).max(200).default('INBOX'),
    })
    .optional(),
  smtp: z.object({
    host: Host,
    port: z.number().int().min(1).max(65535).default(587),
    /** TLS from the first byte (465); otherwise STARTTLS when offered. */
    secure: z.boolean().default(false),
    /** Refuse to send without STARTTLS. */
    requireTLS: z.boolean().default(false),
    user: z.string().min(1).max(320).optional(),
  }),
  /** Right-hand side of our Message-IDs (default: the address's domain). */
  messageIdDomain: Host.optional(),
  /** A reply to a resolved or closed conversation within this many hours reopens it; later ones start a new conversation linked to it. */
  reopenWindowHours: z.number().min(0).max(24 * 365).default(168),
  /** Mail without thread headers joins the contact's conversation with the same subject if active within this many days. */
  subjectMatchDays: z.number().min(0).max(365).default(30),
  /** First connection: `new` takes mail from the inbox's creation on, `all` imports the whole mailbox. */
  initialSync: z.enum(['new', 'all']).default('new'),
  /** Automatic acknowledgement of a new conversation (never sent to auto-submitted mail). */
  autoReply: z.object({ text: z.string().min(1).max(10_000), subject: z.string().max(998).optional() }).optional(),
  /** Cost of one outgoing mail (zero unless configured). */
  pricePerMessage: z.number().nonnegative().default(0),
  currency: z.string().regex(/^[A-Z]{3}$/).default('USD'),
  timeoutMs: z.number().int().min(1000).max(300_000).default(30_000),
});
export type EmailConfig = z.infer<typeof EmailConfig>;
export const EmailSecrets = z.object({ imapPassword: z.string().max(1024).optional(), smtpPassword: z.string().max(1024).optional() });

export function messageIdDomain(cfg: EmailConfig): string {
  return (cfg.messageIdDomain ?? splitAddress(cfg.address).domain).toLowerCase();
}

