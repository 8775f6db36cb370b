import { describe, expect, it } from 'vitest';
import { makeAgent, makeConversation, makeInbox } from '../testing/fixtures.js';
import { applyToConversation, Command } from '../commands/commands.js';
import { decideCommand, emptyCommandState, type CommandState } from './commandRules.js';
import { isTicketQuery, matchesTicket } from './tickets.js';
import { matchesQuery } from '../domain/query.js';

let n = 0;
const ids = { next: (k: string) => `${k}-${++n}` };
const id = (i: number) => `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`;
const agent = makeAgent({ id: 'ag1', role: 'agent', teamIds: [] });
const inbox = makeInbox({ id: 'inbox-1', teamIds: [] });
const ctx = { actor: agent, now: 5_000, seq: 77, ids };

function state(a: ReturnType<typeof makeConversation>, b: ReturnType<typeof makeConversation>): CommandState {
  return { ...emptyCommandState(), conversation: a, inbox, related: b, relatedInbox: inbox };
}

describe('tickets: merge and link', () => {
  const source = makeConversation({ id: 'c-src', inboxId: 'inbox-1', contactId: 'k1', messageCount: 3, lastMessageAt: 4_000, lastMessagePreview: 'later', labels: ['a'], ticketNumber: 8 });
  const target = makeConversation({ id: 'c-dst', inboxId: 'inbox-1', contactId: 'k1', messageCount: 2, lastMessageAt: 3_000, labels: ['b'], ticketNumber: 7 });

  it('merge moves every message, closes the source pointing to the target, and sums the counts', () => {
    const cmd = Command.parse({ id: id(1), deviceTime: 1, type: 'merge_conversation', conversationId: 'c-src', targetId: 'c-dst' });
    const d = decideCommand(cmd, state(source, target), ctx);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.facts[0]).toEqual({ kind: 'message_move', fromConversationId: 'c-src', toConversationId: 'c-dst', toInboxId: 'inbox-1' });
    const convs = d.facts.flatMap((f) => (f.kind === 'conversation' ? [f.conversation] : []));
    expect(convs.find((c) => c.id === 'c-dst')).toMatchObject({ messageCount: 5, lastMessagePreview: 'later', labels: ['b', 'a'], seq: 77 });
    expect(convs.find((c) => c.id === 'c-src')).toMatchObject({ status: 'closed', mergedIntoId: 'c-dst', messageCount: 0 });
    const events = d.facts.flatMap((f) => (f.kind === 'message' ? [f.message] : []));
    expect(events.map((m) => [m.conversationId, m.text])).toEqual([['c-src', 'Merged into #7'], ['c-dst', 'Merged #8 into this conversation (3 messages)']]);
    // Offline, the device shows the source closed at once.
    expect(applyToConversation(source, cmd, agent)).toMatchObject({ status: 'closed', mergedIntoId: 'c-dst' });
  });

  it('merge refuses another customer, itself, or a closed target', () => {
    const other = { ...target, contactId: 'k2' };
    const cmd = Command.parse({ id: id(2), deviceTime: 1, type: 'merge_conversation', conversationId: 'c-src', targetId: 'c-dst' });
    expect(decideCommand(cmd, state(source, other), ctx)).toMatchObject({ ok: false, rejection: { code: 'bad_request' } });
    expect(decideCommand(cmd, state(source, { ...target, status: 'closed' }), ctx)).toMatchObject({ ok: false, rejection: { code: 'conflict' } });
    expect(decideCommand(cmd, state(source, null as never), ctx)).toMatchObject({ ok: false, rejection: { code: 'not_found' } });
    expect(Command.safeParse({ id: id(3), deviceTime: 1, type: 'merge_conversation', conversationId: 'x', targetId: 'x' }).success).toBe(false);
  });

  it('link lists each conversation on the other; unlink removes it; linking twice changes nothing', () => {
    const a = { ...source, contactId: 'k9' };
    const link = Command.parse({ id: id(4), deviceTime: 1, type: 'link_conversation', conversationId: a.id, relatedId: target.id });
    const d = decideCommand(link, state(a, target), ctx);
    const convs = d.ok ? d.facts.flatMap((f) => (f.kind === 'conversation' ? [f.conversation] : [])) : [];
    expect(convs.map((c) => [c.id, c.relatedIds])).toEqual([[a.id, [target.id]], [target.id, [a.id]]]);
    expect(decideCommand(link, state(convs[0]!, convs[1]!), ctx)).toEqual({ ok: true, facts: [] });
    const unlink = Command.parse({ id: id(5), deviceTime: 1, type: 'link_conversation', conversationId: a.id, relatedId: target.id, unlink: true });
    const u = decideCommand(unlink, state(convs[0]!, convs[1]!), ctx);
    expect(u.ok && u.facts.flatMap((f) => (f.kind === 'conversation' ? [f.conversation.relatedIds] : []))).toEqual([[], []]);
  });

  it('search: #n is only the ticket, n the ticket or the text', () => {
    expect(isTicketQuery('#12')).toBe(true);
    expect(isTicketQuery('12')).toBe(false);
    expect(matchesTicket({ ticketNumber: 12 }, '#12')).toBe(true);
    expect(matchesTicket({ ticketNumber: 12 }, '#123')).toBe(false);
    const c = makeConversation({ ticketNumber: 12, lastMessagePreview: 'order #123' });
    expect(matchesQuery(c, { text: '#12' })).toBe(true);
    expect(matchesQuery(c, { text: '#123' })).toBe(false);
    expect(matchesQuery(c, { text: '123' })).toBe(true);
  });
});
