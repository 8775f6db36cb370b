import { describe, expect, it } from 'vitest';
import { opsEventsOf } from './opsEvents.js';
import type { Conversation, Message } from '../domain/model.js';
import type { Fact } from './facts.js';

const conv = (over: Partial<Conversation> = {}): Conversation => ({
  id: 'c1', tenantId: 't', inboxId: 'i', channel: 'sms', contactId: 'k', contactName: 'K', teamId: null, status: 'open', priority: 'normal',
  assigneeId: null, labels: [], subject: null, lastMessagePreview: '', lastMessageDirection: null, lastMessageAt: 0, waitingSince: null,
  snoozedUntil: null, messageCount: 0, createdAt: 0, updatedAt: 0, seq: 1, ...over,
});
const msg = (over: Partial<Message> = {}): Message => ({
  id: 'm1', tenantId: 't', conversationId: 'c1', direction: 'in', kind: 'text', authorType: 'contact', authorId: null, text: 'hi', subject: null,
  attachments: [], status: null, statusReason: null, deviceTime: null, serverTime: 0, createdAt: 0, meta: {}, seq: 1, ...over,
});

describe('opsEventsOf', () => {
  it('a new conversation with its first inbound message: created first, then received', () => {
    const facts: Fact[] = [
      { kind: 'message', message: msg(), inboxId: 'i', externalId: 'x' },
      { kind: 'conversation', conversation: conv(), isNew: true },
    ];
    expect(opsEventsOf(facts, { before: new Map() })).toEqual([
      { type: 'conversation_created', conversationId: 'c1', messageId: 'm1' },
      { type: 'message_received', conversationId: 'c1', messageId: 'm1' },
    ]);
  });

  it('status, assignment and priority changes against the conversation before', () => {
    const before = conv();
    const after = conv({ status: 'resolved', assigneeId: 'a1', teamId: 'tm', priority: 'high' });
    expect(opsEventsOf([{ kind: 'conversation', conversation: after, isNew: false }], { before: new Map([['c1', before]]) })).toEqual([
      { type: 'status_changed', conversationId: 'c1', from: 'open', to: 'resolved' },
      { type: 'assigned', conversationId: 'c1', from: null, to: 'a1', teamFrom: null, teamTo: 'tm' },
      { type: 'priority_changed', conversationId: 'c1', from: 'normal', to: 'high' },
    ]);
    expect(opsEventsOf([{ kind: 'conversation', conversation: before, isNew: false }], { before: new Map([['c1', before]]) })).toEqual([]);
  });

  it('labels put on and taken off: one event with both lists, sorted; the same labels in another order are no change', () => {
    const before = conv({ labels: ['vip', 'billing'] });
    const after = conv({ labels: ['refund', 'billing', 'angry'] });
    expect(opsEventsOf([{ kind: 'conversation', conversation: after, isNew: false }], { before: new Map([['c1', before]]) })).toEqual([
      { type: 'labels_changed', conversationId: 'c1', added: ['angry', 'refund'], removed: ['vip'] },
    ]);
    const reordered = conv({ labels: ['billing', 'vip'] });
    expect(opsEventsOf([{ kind: 'conversation', conversation: reordered, isNew: false }], { before: new Map([['c1', before]]) })).toEqual([]);
    // A new conversation's labels are part of its creation, not a change.
    expect(opsEventsOf([{ kind: 'conversation', conversation: after, isNew: true }], { before: new Map() }).map((e) => e.type)).toEqual(['conversation_created']);
  });

  it('agent replies count, notes, events and automatic replies do not', () => {
    const out = (o: Partial<Message>): Fact => ({ kind: 'message', message: msg({ direction: 'out', ...o }), inboxId: 'i', externalId: null });
    const waiting = conv({ waitingSince: 100 });
    expect(opsEventsOf([out({ authorType: 'agent', authorId: 'a1', deviceTime: 5, serverTime: 400 })], { before: new Map([['c1', waiting]]) })).toEqual([
      { type: 'agent_replied', conversationId: 'c1', messageId: 'm1', kind: 'text', agentId: 'a1', deviceTime: 5, serverTime: 400, waitingSince: 100, firstReply: true },
    ]);
    expect(opsEventsOf([out({ authorType: 'agent', authorId: 'a1' })], { before: new Map(), repliedBefore: new Set(['c1']) })[0]).toMatchObject({ waitingSince: null, firstReply: false });
    expect(opsEventsOf([out({ authorType: 'agent', kind: 'note' }), out({ authorType: 'system' }), out({ kind: 'event', authorType: 'agent' })], { before: new Map() })).toEqual([]);
  });
});
