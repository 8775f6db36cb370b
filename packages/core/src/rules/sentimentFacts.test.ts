// [insight] Sentiment as facts of an inbound write and as an automation condition.
import { describe, expect, it } from 'vitest';
import { makeContact, makeConversation, makeInbox, makeMessage } from '../testing/fixtures.js';
import { decideAutomation, type AutomationRule, type AutomationState } from './automation.js';
import { decideInbound } from './eventRules.js';

let n = 0;
const ids = { next: (k: string) => `${k}-${++n}` };
const NOW = Date.parse('2026-12-03T10:00:00+08:00');

describe('sentiment facts', () => {
  const inbox = makeInbox({ id: 'inbox-sms', channel: 'sms' });
  const inbound = (text: string, conversation = null as ReturnType<typeof makeConversation> | null) =>
    decideInbound({ inboxId: inbox.id, from: { identifier: '+8613800000000' }, text, externalId: null }, { inbox, contact: null, conversation }, { now: NOW, seq: 5, ids });

  it('an inbound text carries its sentiment on the message and on the conversation', () => {
    const r = inbound('我要投诉，快递还没收到！');
    expect(r.message.meta['sentiment']).toBe('negative');
    expect(r.conversation.sentiment).toBe('negative');
    const later = decideInbound({ inboxId: inbox.id, from: { identifier: '+8613800000000' }, text: '谢谢，收到了，很满意', externalId: null }, { inbox, contact: r.contact, conversation: r.conversation }, { now: NOW + 1, seq: 6, ids });
    expect(later.conversation.sentiment).toBe('positive');
  });

  it('an empty text (e.g. only an attachment) leaves the conversation\'s sentiment as it was', () => {
    const r = inbound('This is terrible');
    const next = decideInbound({ inboxId: inbox.id, from: { identifier: '+8613800000000' }, text: '', externalId: null }, { inbox, contact: r.contact, conversation: r.conversation }, { now: NOW + 1, seq: 6, ids });
    expect(next.message.meta['sentiment']).toBeUndefined();
    expect(next.conversation.sentiment).toBe('negative');
  });

  it('automation: "when a message arrives with negative sentiment, raise priority"', () => {
    const rule: AutomationRule = {
      id: 'r-upset', tenantId: 'tenant-1', name: 'Upset customers first', event: 'message_received', enabled: true, position: 0, disabledReason: null, createdAt: 0, updatedAt: 0,
      conditions: { match: 'all', items: [{ field: 'sentiment', in: ['negative'] }] },
      actions: [{ type: 'set_priority', priority: 'urgent' }],
    };
    const conversation = makeConversation({ id: 'c1', labels: [], priority: 'normal', status: 'open', teamId: null });
    const state = (text: string, sentiment: string | undefined): AutomationState => ({
      event: 'message_received', cause: null, conversation, inbox: makeInbox({ id: conversation.inboxId }), contact: makeContact({ id: conversation.contactId }),
      message: makeMessage({ conversationId: 'c1', direction: 'in', text, meta: sentiment ? { sentiment } : {} }), calendar: null, rules: [rule],
      teams: new Map(), agents: new Map(), templates: new Map(),
    });
    expect(decideAutomation(state('terrible!', 'negative'), { now: NOW, seq: 1, ids })).toHaveLength(1);
    expect(decideAutomation(state('thanks', 'positive'), { now: NOW, seq: 1, ids })).toEqual([]);
  });
});
