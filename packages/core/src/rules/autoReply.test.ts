import { describe, expect, it } from 'vitest';
import { makeContact, makeConversation, makeInbox, makeMessage } from '../testing/fixtures.js';
import { InboxOps } from '../domain/model.js';
import { decideAutoReply, type AutoReplyState } from './autoReply.js';
import type { Calendar } from './businessHours.js';
import { customerLanguage, detectLanguage, templateProblem } from './templates.js';
import { renderCanned } from '../domain/canned.js';
import { subjectWithTicket, ticketNumberOfSubject } from './tickets.js';

let n = 0;
const ids = { next: (k: string) => `${k}-${++n}` };
const shanghai: Calendar = { timeZone: 'Asia/Shanghai', weekly: [1, 2, 3, 4, 5].map((day) => ({ day, open: '09:00', close: '18:00' })), holidays: [] };
const sh = (iso: string) => Date.parse(`${iso}+08:00`);
const ops = InboxOps.parse({
  businessHoursId: 'bh1',
  autoReply: {
    acknowledge: { text: { en: 'Thanks {{contact.name}}, ticket {{ticket.number}}', 'zh-CN': '已收到，工单 {{ticket.number}}' } },
    outOfHours: { text: { en: 'We are closed; back {{business.nextOpening}}', 'zh-CN': '我们已下班，{{business.nextOpening}} 回来' } },
  },
});
function st(over: Partial<AutoReplyState> = {}): AutoReplyState {
  const conversation = makeConversation({ channel: 'email', ticketNumber: 42, subject: 'Order', status: 'open' });
  return {
    inbox: makeInbox({ id: conversation.inboxId, channel: 'email' }), ops, calendar: shanghai, conversation, contact: makeContact({ name: 'Ann', attributes: {} }),
    message: makeMessage({ direction: 'in', authorType: 'contact', text: 'Where is my order?', subject: 'Order', meta: {} }), firstContact: true,
    lastAutoReplyAt: null, templates: new Map(), ...over,
  };
}

describe('auto-replies', () => {
  it('a customer\'s answer to a CSAT survey gets no automatic reply', () => {
    const d = decideAutoReply(st({ message: makeMessage({ direction: 'in', authorType: 'contact', text: '5', meta: { csatAnswer: { rating: 5, comment: null } } }) }), { now: sh('2026-12-03T20:00:00'), seq: 1, ids });
    expect(d).toEqual({ send: false, reason: 'csat_answer' });
    expect(decideAutoReply(st({ message: makeMessage({ direction: 'in', authorType: 'contact', text: '5', meta: {} }) }), { now: sh('2026-12-03T20:00:00'), seq: 1, ids }).send).toBe(true);
  });

  it('out of hours: names the next opening in the calendar zone; the subject carries the ticket', () => {
    const d = decideAutoReply(st(), { now: sh('2026-12-03T20:00:00'), seq: 1, ids });
    expect(d.send).toBe(true);
    if (!d.send) return;
    expect(d.kind).toBe('out_of_hours');
    expect(d.message.text).toBe('We are closed; back 2026-12-04 09:00 (Asia/Shanghai)');
    expect(d.message.subject).toBe('Re: [#42] Order');
    expect(d.message.authorType).toBe('system');
    expect(d.facts.some((f) => f.kind === 'relay_job')).toBe(true);
  });
  it('in hours, first contact: the acknowledgement, in Chinese for a Chinese message', () => {
    const d = decideAutoReply(st({ message: makeMessage({ direction: 'in', authorType: 'contact', text: '我的订单在哪里？', meta: {} }) }), { now: sh('2026-12-03T10:00:00'), seq: 1, ids });
    expect(d.send && d.message.text).toBe('已收到，工单 42');
    expect(d.send && d.language).toBe('zh-CN');
  });
  it('never to automatic mail, opted-out contacts, or twice in the window', () => {
    const now = sh('2026-12-03T20:00:00');
    expect(decideAutoReply(st({ message: makeMessage({ direction: 'in', authorType: 'contact', meta: { autoSubmitted: 'auto-replied' } }) }), { now, seq: 1, ids })).toEqual({ send: false, reason: 'auto_submitted' });
    expect(decideAutoReply(st({ contact: makeContact({ attributes: { optedOut: 'true' } }) }), { now, seq: 1, ids })).toEqual({ send: false, reason: 'opted_out' });
    expect(decideAutoReply(st({ lastAutoReplyAt: now - 3_600_000 }), { now, seq: 1, ids })).toEqual({ send: false, reason: 'window' });
    expect(decideAutoReply(st({ lastAutoReplyAt: now - 25 * 3_600_000 }), { now, seq: 1, ids }).send).toBe(true);
    // In hours, a follow-up message (not first contact) gets nothing.
    expect(decideAutoReply(st({ firstContact: false }), { now: sh('2026-12-03T10:00:00'), seq: 1, ids })).toEqual({ send: false, reason: 'not_configured' });
  });
  it('language: contact attribute first, else CJK detection', () => {
    expect(detectLanguage('退款')).toBe('zh-CN');
    expect(detectLanguage('refund')).toBe('en');
    expect(customerLanguage(makeContact({ attributes: { language: 'zh-Hans' } }), 'hello')).toBe('zh-CN');
    expect(customerLanguage(makeContact({ attributes: { language: 'en-US' } }), '你好')).toBe('en');
  });
  it('templates: unknown variables are refused; known ones render', () => {
    expect(templateProblem({ body: { en: 'Hi {{contact.name}} {{ticket.number}} {{business.nextOpening}}' } })).toBeNull();
    expect(templateProblem({ body: { en: 'Hi {{foo.bar}}' } })).toMatch(/unknown variable foo\.bar/);
    expect(templateProblem({ body: { 'zh-CN': '您好 {{ticket.nope}}' } })).toMatch(/ticket\.nope/);
    expect(templateProblem({ body: { en: 'Hi {{ name }}' } })).toMatch(/unknown/);
    expect(renderCanned('#{{ticket.number}}', { ticket: { number: 7 } })).toBe('#7');
  });
  it('tickets: subject tags', () => {
    expect(ticketNumberOfSubject('Re: [#1234] Refund')).toBe(1234);
    expect(ticketNumberOfSubject('Refund')).toBeNull();
    expect(subjectWithTicket('Re: Refund', 7)).toBe('Re: [#7] Refund');
    expect(subjectWithTicket('Re: [#7] Refund', 7)).toBe('Re: [#7] Refund');
    expect(subjectWithTicket(null, 7)).toBe('[#7]');
    expect(subjectWithTicket('Hello', undefined)).toBe('Hello');
  });
});
