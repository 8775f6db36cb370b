import { z } from 'zod';
import type { Channel, Conversation, Contact, Inbox } from '../domain/model.js';
import { isOptedOut } from './commandRules.js';
import { decideSystemReply, type EventContext } from './eventRules.js';
import type { Fact } from './facts.js';
import { customerLanguage, pickLanguage, type CustomerLanguage, type MessageTemplate } from './templates.js';
import { renderCanned } from '../domain/canned.js';

/** How long an SMS survey waits for its 1-5 answer. */
export const CSAT_REPLY_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/** How long a survey link stays answerable. */
export const CSAT_LINK_TTL_MS = 30 * 24 * 60 * 60 * 1000;

export const CsatAnswer = z.object({
  rating: z.number().int().min(1).max(5),
  comment: z.string().trim().max(2000).nullable().default(null),
});
export type CsatAnswer = z.infer<typeof CsatAnswer>;

const CN_DIGITS: Record<string, number> = { 一: 1, 二: 2, 两: 2, 三: 3, 四: 4, 五: 5 };

/**
 * A 1-5 answer in a reply text: "5", "５", "五", "5 very good", "5分 很满意", "4星". The rating must
 * open the message and stand alone (not "50", not "5.5", not "5元"): anything else is not an answer.
 */
export function parseCsatReply(text: string): CsatAnswer | null {
  const t = text.normalize('NFKC').trim();
  const m = /^([1-5一二两三四五])(?:\s*(?:分|星|stars?|points?|\/\s*5))?(?=$|[\s,，。!！:：;；—]|\.(?!\d))(.*)$/su.exec(t);
  if (!m) return null;
  const rating = CN_DIGITS[m[1]!] ?? Number(m[1]);
  const comment = (m[2] ?? '').replace(/^[\s,，.。!！:：;；\-—]+/u, '').trim();
  return { rating, comment: comment ? comment.slice(0, 2000) : null };
}

/** Per-inbox CSAT settings (InboxOps.csat). */
export interface CsatSettings {
  enabled: boolean;
  templateId?: string | undefined;
}

/** SMS asks for a 1-5 reply; the other channels get a link to the survey page. */
export function csatMode(channel: Channel): 'reply' | 'link' | null {
  switch (channel) {
    case 'sms':
      return 'reply';
    case 'email':
    case 'im':
    case 'api':
      return 'link';
    case 'voice':
      return null;
    default:
      return null;
  }
}

const DEFAULT_TEXT: Record<'reply' | 'link', Record<CustomerLanguage, string>> = {
  reply: {
    en: 'How did we do? Reply with a number from 1 (poor) to 5 (excellent).',
    'zh-CN': '请为本次服务评分：回复 1（很差）到 5（很好）。',
  },
  link: {
    en: 'How did we do? Rate our service here: {{csat.link}}',
    'zh-CN': '请为本次服务评分：{{csat.link}}',
  },
};

export interface CsatSurveyState {
  inbox: Inbox;
  settings: CsatSettings | null;
  conversation: Conversation;
  contact: Contact | null;
  /** Whether a survey went out for this conversation already. */
  alreadySent: boolean;
  template: MessageTemplate | null;
  /** The public survey link (link mode). */
  link: string;
  /** The customer's last message text (language detection). */
  lastInboundText: string;
}

/** After resolution: the survey to send (once per conversation, enabled inbox, not to opted-out contacts), or null. */
export function decideCsatSurvey(s: CsatSurveyState, ctx: EventContext): { facts: Fact[]; mode: 'reply' | 'link'; messageId: string } | null {
  if (!s.settings?.enabled || s.alreadySent) return null;
  if (s.conversation.status !== 'resolved') return null;
  if (s.contact && isOptedOut(s.contact)) return null;
  const mode = csatMode(s.conversation.channel);
  if (!mode) return null;
  const lang = customerLanguage(s.contact, s.lastInboundText);
  const body = s.template ? pickLanguage(s.template.body, lang) : DEFAULT_TEXT[mode][lang];
  let text = renderCanned(body, { contact: s.contact, conversation: s.conversation, inbox: s.inbox, ticket: { number: s.conversation.ticketNumber ?? null }, csat: { link: s.link } });
  if (mode === 'link' && !text.includes(s.link)) text = `${text}\n${s.link}`;
  const subject = s.conversation.channel === 'email' ? (lang === 'zh-CN' ? '服务评价' : 'How did we do?') : null;
  const d = decideSystemReply(s.conversation, { text, subject, meta: { csatSurvey: true, csatMode: mode } }, ctx);
  return { facts: d.facts, mode, messageId: d.message.id };
}

/** The conversation with the customer's answer (a replicated fact: devices see `csat`). */
export function withCsatAnswer(conv: Conversation, answer: CsatAnswer, ctx: Pick<EventContext, 'now' | 'seq'>): Fact {
  // An answer is not a question: a finished conversation does not start waiting for an agent.
  const done = conv.status === 'resolved' || conv.status === 'closed';
  return {
    kind: 'conversation',
    conversation: { ...conv, csat: { rating: answer.rating, comment: answer.comment }, ...(done ? { waitingSince: null } : {}), updatedAt: ctx.now, seq: ctx.seq },
    isNew: false,
  };
}
