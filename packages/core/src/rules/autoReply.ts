import type { AutoReplyMessage, Contact, Conversation, Inbox, InboxOps, Message } from '../domain/model.js';
import { isOptedOut } from './commandRules.js';
import { decideSystemReply, type EventContext } from './eventRules.js';
import { formatOpening, isOpen, nextOpening, type Calendar } from './businessHours.js';
import type { Fact } from './facts.js';
import { customerLanguage, renderTemplate, type CustomerLanguage, type MessageTemplate } from './templates.js';
import { subjectWithTicket } from './tickets.js';

/** At most one automatic reply per conversation in this window, unless the inbox sets another. */
export const DEFAULT_AUTO_REPLY_WINDOW_MS = 24 * 60 * 60 * 1000;

export type AutoReplyKind = 'acknowledge' | 'out_of_hours';

/** What the auto-reply decision reads. */
export interface AutoReplyState {
  inbox: Inbox;
  /** The inbox's ops (its autoReply settings); a legacy `config.autoReply.text` is passed as `acknowledge` text. */
  ops: InboxOps;
  /** The inbox's business hours (ops.businessHoursId), null when none or not found. */
  calendar: Calendar | null;
  conversation: Conversation;
  contact: Contact | null;
  /** The inbound message that triggered it. */
  message: Message;
  /** Whether this message opened the conversation (first contact). */
  firstContact: boolean;
  /** When the last automatic reply of this conversation was written, or null. */
  lastAutoReplyAt: number | null;
  templates: ReadonlyMap<string, MessageTemplate>;
}

/** Why nothing is sent, for logs and tests; or what is sent. */
export type AutoReplyDecision =
  | { send: false; reason: 'not_inbound' | 'csat_answer' | 'auto_submitted' | 'opted_out' | 'closed' | 'window' | 'not_configured' | 'template_missing' }
  | { send: true; kind: AutoReplyKind; language: CustomerLanguage; facts: Fact[]; message: Message };

/** Automatic mail: auto-submitted, bounces, lists, precedence bulk (the channels set meta.autoSubmitted/bounce). */
export function isAutomaticMessage(m: Pick<Message, 'meta'>): boolean {
  const meta = m.meta;
  const flag = (k: string) => meta[k] !== undefined && meta[k] !== null && meta[k] !== false && meta[k] !== 'no';
  return flag('autoSubmitted') || flag('bounce') || flag('dsn');
}

/** Which automatic message applies now: out of hours (calendar closed), else on first contact the acknowledgement. */
export function chooseAutoReply(ops: InboxOps, calendar: Calendar | null, firstContact: boolean, now: number): { kind: AutoReplyKind; msg: AutoReplyMessage } | null {
  const closed = calendar !== null && !isOpen(calendar, now);
  if (closed && ops.autoReply.outOfHours) return { kind: 'out_of_hours', msg: ops.autoReply.outOfHours };
  if (firstContact && ops.autoReply.acknowledge) return { kind: 'acknowledge', msg: ops.autoReply.acknowledge };
  return null;
}

/**
 * Voice: the text the voicemail greeting speaks to a caller (the same choice as a written auto-reply:
 * out of hours naming the next opening, else the acknowledgement), in the caller's language. Null
 * when the inbox has none (the SIP side plays its default).
 */
export function decideGreeting(
  s: { inbox: Inbox; ops: InboxOps; calendar: Calendar | null; contact: Contact | null; templates: ReadonlyMap<string, MessageTemplate>; phone?: string | undefined },
  now: number,
): { kind: AutoReplyKind; language: CustomerLanguage; text: string } | null {
  const chosen = chooseAutoReply(s.ops, s.calendar, true, now);
  if (!chosen) return null;
  const template = chosen.msg.templateId ? s.templates.get(chosen.msg.templateId) : null;
  if (chosen.msg.templateId && !template) return null;
  // No message to read: the contact's language, else a Chinese number (+86, +852, +853, +886) speaks zh-CN.
  const language = s.contact?.attributes['language'] ? customerLanguage(s.contact, '') : /^\+?(86|852|853|886)/.test(s.phone ?? '') ? 'zh-CN' : 'en';
  const opening = s.calendar ? nextOpening(s.calendar, now) : null;
  const r = renderTemplate({ body: template ? template.body : chosen.msg.text! }, language, {
    contact: s.contact, inbox: s.inbox, business: { nextOpening: opening !== null && s.calendar ? formatOpening(opening, s.calendar.timeZone) : '' },
  });
  return { kind: chosen.kind, language, text: r.text };
}

/**
 * The auto-reply of an inbound message, on every channel: out of hours (the calendar is closed now
 * and the inbox has an outOfHours message), the reply naming the next opening; else, on first contact,
 * the acknowledgement. Never to a survey answer, automatic mail or an opted-out contact, never into a closed
 * conversation, at most once per conversation per window. In the customer's language (contact
 * attribute `language`, else detected from the message). The facts are the system reply path's.
 */
export function decideAutoReply(s: AutoReplyState, ctx: EventContext, opts: { windowMs?: number } = {}): AutoReplyDecision {
  const m = s.message;
  if (m.direction !== 'in' || m.authorType !== 'contact') return { send: false, reason: 'not_inbound' };
  // A customer's 1-5 answer to a survey (decideInbound's meta.csatAnswer) is not a new question.
  if (m.meta['csatAnswer'] !== undefined && m.meta['csatAnswer'] !== null) return { send: false, reason: 'csat_answer' };
  if (isAutomaticMessage(m)) return { send: false, reason: 'auto_submitted' };
  if (s.contact && isOptedOut(s.contact)) return { send: false, reason: 'opted_out' };
  if (s.conversation.status === 'closed') return { send: false, reason: 'closed' };
  const windowMs = opts.windowMs ?? (s.ops.autoReply.windowMinutes !== undefined ? s.ops.autoReply.windowMinutes * 60_000 : DEFAULT_AUTO_REPLY_WINDOW_MS);
  if (s.lastAutoReplyAt !== null && ctx.now - s.lastAutoReplyAt < windowMs) return { send: false, reason: 'window' };
  const chosen = chooseAutoReply(s.ops, s.calendar, s.firstContact, ctx.now);
  if (!chosen) return { send: false, reason: 'not_configured' };
  const { kind, msg } = chosen;
  const template = msg.templateId ? s.templates.get(msg.templateId) : null;
  if (msg.templateId && !template) return { send: false, reason: 'template_missing' };
  const body = template ? template.body : msg.text!;
  const subjectT = template ? template.subject : msg.subject ?? null;
  const language = customerLanguage(s.contact, `${m.subject ?? ''} ${m.text}`);
  const opening = s.calendar ? nextOpening(s.calendar, ctx.now) : null;
  const conv = s.conversation;
  const r = renderTemplate({ body, subject: subjectT }, language, {
    contact: s.contact, conversation: conv, inbox: s.inbox, ticket: { number: conv.ticketNumber ?? null },
    business: { nextOpening: opening !== null && s.calendar ? formatOpening(opening, s.calendar.timeZone) : '' },
  });
  const baseSubject = r.subject ?? (conv.channel === 'email' ? `Re: ${(m.subject ?? conv.subject ?? '').replace(/^Re:\s*/i, '')}`.trim() : null);
  const subject = conv.channel === 'email' ? subjectWithTicket(baseSubject, conv.ticketNumber) : baseSubject;
  const d = decideSystemReply(conv, { text: r.text, subject, meta: { autoReply: true, autoReplyKind: kind, language } }, ctx);
  return { send: true, kind, language, facts: d.facts, message: d.message };
}
