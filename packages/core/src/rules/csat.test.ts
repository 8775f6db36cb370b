import { describe, expect, it } from 'vitest';
import { makeContact, makeConversation, makeInbox } from '../testing/fixtures.js';
import { decideCsatSurvey, parseCsatReply } from './csat.js';

let n = 0;
const ids = { next: (k: string) => `${k}-${++n}` };

describe('CSAT', () => {
  it('parses 1-5 replies in English and Chinese', () => {
    expect(parseCsatReply('5')).toEqual({ rating: 5, comment: null });
    expect(parseCsatReply(' 五 ')).toEqual({ rating: 5, comment: null });
    expect(parseCsatReply('５')).toEqual({ rating: 5, comment: null });
    expect(parseCsatReply('5 very good')).toEqual({ rating: 5, comment: 'very good' });
    expect(parseCsatReply('4分，很满意')).toEqual({ rating: 4, comment: '很满意' });
    expect(parseCsatReply('3 stars')).toEqual({ rating: 3, comment: null });
    for (const no of ['50', '5.5', '6', '0', 'five', 'my order 5', '5元', '']) expect(parseCsatReply(no)).toBeNull();
  });
  it('sends the survey once, after resolution, by reply on SMS and by link elsewhere', () => {
    const base = {
      inbox: makeInbox({ channel: 'sms' }), settings: { enabled: true }, contact: makeContact({ attributes: {} }), alreadySent: false, template: null,
      link: 'https://x.example/csat/tok', lastInboundText: '谢谢',
    };
    const sms = decideCsatSurvey({ ...base, conversation: makeConversation({ channel: 'sms', status: 'resolved' }) }, { now: 1, seq: 1, ids });
    expect(sms?.mode).toBe('reply');
    const msg = sms?.facts.find((f) => f.kind === 'message');
    expect(msg?.kind === 'message' && msg.message.text).toContain('回复 1');
    const mail = decideCsatSurvey({ ...base, lastInboundText: 'thanks', conversation: makeConversation({ channel: 'email', status: 'resolved' }) }, { now: 1, seq: 1, ids });
    const m2 = mail?.facts.find((f) => f.kind === 'message');
    expect(m2?.kind === 'message' && m2.message.text).toContain('https://x.example/csat/tok');
    expect(decideCsatSurvey({ ...base, alreadySent: true, conversation: makeConversation({ channel: 'sms', status: 'resolved' }) }, { now: 1, seq: 1, ids })).toBeNull();
    expect(decideCsatSurvey({ ...base, settings: { enabled: false }, conversation: makeConversation({ channel: 'sms', status: 'resolved' }) }, { now: 1, seq: 1, ids })).toBeNull();
    expect(decideCsatSurvey({ ...base, conversation: makeConversation({ channel: 'sms', status: 'open' }) }, { now: 1, seq: 1, ids })).toBeNull();
  });
});
