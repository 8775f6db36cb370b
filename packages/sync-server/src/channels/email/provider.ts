import type { z } from 'zod';
import nodemailer from 'nodemailer';
import { joinsConversation, subjectWithTicket, type Inbox } from '@goutong/core';
import type { ChannelProvider, ProviderDeps, SendContext, SendResult } from '../provider.js';
import { findInbound } from '../../domain/channelFacts.js';
import { inboundMailSideRows, isOurHeader, outgoingByHeader, outgoingMessage } from '../../domain/threading.js';
import { parseMail, sanitizeEmailHtml, type InboundMail } from './parse.js';
import { conversationToken, findThread, ourMessageId, parseOurMessageId, recordMessageId, replyToAddress, threadHeaders } from './threading.js';
import { startMailboxWatchers } from './imap.js';
import { EmailConfig, EmailSecrets, messageIdDomain } from './config.js';

export { EmailConfig, EmailSecrets, messageIdDomain };

/** Transient SMTP trouble (connection, 4xx) is retried; a 5xx answer fails the message for good. */
export function classifySmtpError(e: unknown): SendResult {
  const err = e as { responseCode?: number; code?: string; response?: string; message?: string };
  const reason = `SMTP: ${err.response ?? err.message ?? String(e)}`.slice(0, 1000);
  if (typeof err.responseCode === 'number') {
    if (err.responseCode >= 500 && err.responseCode < 600 && err.code !== 'EAUTH') return { kind: 'rejected', reason, code: `smtp_${err.responseCode}` };
    return { kind: 'retry', reason };
  }
  return { kind: 'retry', reason };
}

export interface EmailProviderOptions {
  /** How often a connected mailbox is searched even without an IDLE push (safety net). */
  resyncMs?: number;
  /** Reconnect backoff (ms). */
  backoff?: { baseMs: number; maxMs: number };
}

/**
 * Email: inbound by IMAP IDLE (imapflow) with reconnect and backoff, parsed with mailparser, HTML
 * sanitised, attachments in the content-addressed store; outbound by SMTP (nodemailer) with a
 * Message-ID derived from our message id, In-Reply-To/References, and a Reply-To carrying the
 * conversation token. Bounces (DSN) fail the outgoing message; auto-submitted mail gets no auto-reply.
 */
export function emailProvider(opts: EmailProviderOptions = {}): ChannelProvider {
  let deps: ProviderDeps | null = null;

  const provider: ChannelProvider = {
    channel: 'email',
    name: 'email',
    configSchema: EmailConfig as unknown as z.ZodType<Record<string, unknown>>,
    secretsSchema: EmailSecrets as z.ZodType<Record<string, string>>,
    // Acknowledgements and out-of-hours replies come from the ops bus's autoreply listener (every channel).
    uses: [],
    urls: () => [],
    async send(ctx: SendContext): Promise<SendResult> {
      if (!deps) return { kind: 'retry', reason: 'email provider not started yet' };
      const cfg = EmailConfig.parse(ctx.config);
      const to = ctx.contact.identities.find((i) => i.channel === 'email')?.identifier;
      if (!to) return { kind: 'rejected', reason: 'the contact has no email address', code: 'no_recipient' };
      const db = deps.workspace.db;
      const domain = messageIdDomain(cfg);
      const messageId = ourMessageId(ctx.message.id, domain);
      const { inReplyTo, references } = await threadHeaders(db, ctx.conversation.id, ctx.message.id);
      const token = await conversationToken(db, ctx.conversation.id, ctx.inbox.id);
      const attachments: { filename: string; contentType: string; content: Buffer }[] = [];
      for (const a of ctx.message.attachments) {
        const bytes = await deps.attachments.bytes(ctx.message.tenantId, a.id);
        if (!bytes) return { kind: 'rejected', reason: `attachment ${a.name} is missing from the store`, code: 'attachment_missing' };
        attachments.push({ filename: a.name, contentType: a.mime, content: bytes });
      }
      // Recorded before sending: a reply to this mail finds the conversation even if we crash right after.
      await recordMessageId(db, { inboxId: ctx.inbox.id, headerId: messageId, conversationId: ctx.conversation.id, messageId: ctx.message.id, direction: 'out' });
      const automatic = ctx.message.authorType === 'system' || ctx.message.meta['autoReply'] === true;
      // [automation] Every outgoing mail names its ticket: `Re: [#1234] …`.
      const subject = subjectWithTicket(ctx.message.subject ?? (ctx.conversation.subject ? `Re: ${ctx.conversation.subject.replace(/^re:\s*/i, '')}` : '(no subject)'), ctx.conversation.ticketNumber) ?? '(no subject)';
      const transport = nodemailer.createTransport({
        host: cfg.smtp.host,
        port: cfg.smtp.port,
        secure: cfg.smtp.secure,
        requireTLS: cfg.smtp.requireTLS,
        ...(cfg.smtp.user ? { auth: { user: cfg.smtp.user, pass: ctx.secrets.smtpPassword ?? '' } } : {}),
        connectionTimeout: cfg.timeoutMs,
        greetingTimeout: cfg.timeoutMs,
        socketTimeout: cfg.timeoutMs,
      });
      try {
        const info = await transport.sendMail({
          from: cfg.fromName ? { name: cfg.fromName, address: cfg.address } : cfg.address,
          to,
          replyTo: replyToAddress(cfg.address, token),
          subject,
          text: ctx.message.text,
          messageId,
          ...(inReplyTo ? { inReplyTo } : {}),
          ...(references.length ? { references } : {}),
          headers: {
            'X-Goutong-Conversation': ctx.conversation.id,
            ...(automatic ? { 'Auto-Submitted': 'auto-replied', 'X-Auto-Response-Suppress': 'All', Precedence: 'auto_reply' } : {}),
          },
          attachments,
          // The DSN envelope id is our message id: a bounce names the message it is about.
          dsn: { id: ctx.message.id, return: 'headers', notify: ['failure', 'delay'], recipient: to },
        });
        const refused = info.rejected?.length ? info.rejected : null;
        if (refused) return { kind: 'rejected', reason: `SMTP refused ${refused.map(String).join(', ')}`, code: 'smtp_rejected' };
        return { kind: 'accepted', providerMessageId: messageId, cost: { amount: cfg.pricePerMessage, currency: cfg.currency, units: 1 } };
      } catch (e) {
        return classifySmtpError(e);
      } finally {
        transport.close();
      }
    },
    routes(_app, d) {
      // No webhooks: mail comes by IMAP. Keep the dependencies for send() and the receivers.
      deps = d;
    },
    async start(d) {
      deps = d;
      return startMailboxWatchers(d, (inbox, raw, source) => receiveMail(d, inbox, raw, source), opts);
    },
  };
  return provider;
}

/** Where a received mail came from (for logs and the external id of mail without a Message-ID). */
export interface MailSource {
  mailbox: string;
  uid: number;
}

export type MailOutcome =
  | { kind: 'stored'; conversationId: string; messageId: string; duplicate: boolean; threadedBy: string | null }
  | { kind: 'bounce'; messageId: string | null; action: string }
  | { kind: 'skipped'; why: string };

/** Handles one raw mail from the inbox's mailbox. Idempotent: the same mail twice changes nothing. */
export async function receiveMail(deps: ProviderDeps, inbox: Inbox, raw: Buffer, _source?: MailSource): Promise<MailOutcome> {
  const settings = await deps.inboxSettings(inbox.id);
  if (!settings) return { kind: 'skipped', why: 'inbox gone' };
  const cfg = EmailConfig.parse(settings.config);
  const ws = deps.workspace;
  const db = ws.db;
  const domain = messageIdDomain(cfg);
  const mail = await parseMail(raw);

  if (mail.bounce) {
    const b = mail.bounce;
    let messageId: string | null = null;
    if (b.envelopeId) messageId = await outgoingMessage(db, inbox.id, b.envelopeId);
    if (!messageId && b.originalMessageId) messageId = await outgoingByHeader(db, inbox.id, b.originalMessageId, parseOurMessageId(b.originalMessageId, domain));
    if (messageId) {
      const detail = [b.status, b.diagnostic].filter(Boolean).join(' ');
      const bounce = { action: b.action, status: b.status, diagnostic: b.diagnostic, recipient: b.recipient, report: mail.messageId };
      if (b.action === 'failed') await ws.setMessageStatus(messageId, 'failed', { reason: `bounced: ${detail || 'delivery failed'}`.slice(0, 2000), meta: { bounce } });
      else if (b.action === 'delivered') await ws.setMessageStatus(messageId, 'delivered', { meta: { dsn: bounce } });
      else await ws.setMessageStatus(messageId, 'accepted', { meta: { dsn: bounce } });
      return { kind: 'bounce', messageId, action: b.action };
    }
    // A bounce about nothing we sent: shown to agents like other automatic mail.
  }

  if (!mail.from) return { kind: 'skipped', why: 'no sender' };
  if (mail.from.address === cfg.address) return { kind: 'skipped', why: 'our own address' };
  if (mail.messageId && (await isOurHeader(db, inbox.id, mail.messageId))) return { kind: 'skipped', why: 'our own message' };
  const externalId = mail.messageId ?? `sha256:${mail.sourceHash}`;
  const seen = await findInbound(db, inbox.id, externalId);
  if (seen) return { kind: 'stored', conversationId: seen.conversationId, messageId: seen.id, duplicate: true, threadedBy: null };

  const now = Date.now();
  const match = await findThread(db, inbox, cfg.address, domain, mail, cfg.subjectMatchDays, now);
  let conversationId: string | undefined;
  let reopen = false;
  let newConversation = true;
  let previousConversationId: string | null = null;
  if (match) {
    // One rule with the lifecycle (core joinsConversation), over this inbox's own reopen window: an
    // open, pending or snoozed thread continues; a resolved one reopens within the window; a closed
    // one, or a resolved one after the window, starts a new conversation linked to it.
    const c = match.conversation;
    if (joinsConversation(c, cfg.reopenWindowHours * 3_600_000, now)) {
      conversationId = c.id;
      reopen = c.status === 'resolved';
      newConversation = false;
    } else {
      previousConversationId = c.id;
    }
  }

  // The bytes go to the content-addressed store first; their rows are written, bound to the
  // message, in the inbound's own transaction. Inline images are rewritten to them.
  const stored = mail.attachments.slice(0, 50).map((a) => ({ a, att: deps.attachments.stage(inbox.tenantId, a.content, { name: a.filename, mime: a.contentType }) }));
  const cidUrls = new Map<string, string>();
  for (const { a, att } of stored) if (a.cid) cidUrls.set(a.cid, att.url);
  const html = mail.html ? sanitizeEmailHtml(mail.html, cidUrls).slice(0, 200_000) : null;
  const res = await deps.ingest(inbox, {
    externalId,
    from: { identifier: mail.from.address, name: mail.from.name || undefined },
    text: mail.text || (stored.length ? `(${stored.length} attachment${stored.length > 1 ? 's' : ''})` : ''),
    subject: mail.subject || undefined,
    kind: 'email',
    stagedAttachments: stored.map(({ att: { id, name, mime, size, sha256 } }) => ({ id, name, mime, size, sha256 })),
    sideRows: inboundMailSideRows({ inboxId: inbox.id, headerId: mail.messageId, previousConversationId, at: now }),
    sentAt: mail.date ?? undefined,
    conversationId,
    newConversation,
    reopen,
    meta: {
      email: {
        messageId: mail.messageId,
        inReplyTo: mail.inReplyTo,
        references: mail.references.slice(-50),
        from: mail.from,
        to: mail.to.slice(0, 50),
        cc: mail.cc.slice(0, 50),
        ...(html ? { html } : {}),
        ...(match ? { threadedBy: match.by } : {}),
      },
      ...(mail.autoSubmitted ? { autoSubmitted: mail.autoSubmitted } : {}),
      ...(previousConversationId ? { previousConversationId } : {}),
      ...(reopen ? { reopened: true } : {}),
    },
  });
  // The acknowledgement of a new conversation is queued by the ops bus's autoreply listener (ops/autoreply.ts).
  return { kind: 'stored', conversationId: res.conversation.id, messageId: res.message.id, duplicate: res.duplicate, threadedBy: match?.by ?? null };
}

export type { InboundMail };
