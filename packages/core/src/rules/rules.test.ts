import { describe, expect, it } from 'vitest';
import type { Agent, Contact, Conversation, Inbox, Message } from '../domain/model.js';
import { canAccessInbox } from '../domain/policy.js';
import type { Command } from '../commands/commands.js';
import { makeContact, makeConversation, makeMessage } from '../testing/fixtures.js';
import {
  decideAdminOptIn,
  decideCommand,
  decideInbound,
  decideMessageStatus,
  decideOptOut,
  emptyCommandState,
  type CommandState,
  type Decision,
  type RuleContext,
  type StoredAttachment,
} from './index.js';

const T = 'tenant-1';
const NOW = 1_700_000_000_000;
const agent = (id: string, role: Agent['role'], teamIds: string[]): Agent => ({ id, tenantId: T, email: `${id}@x.org`, name: id, role, teamIds, active: true, seq: 1 });
const alice = agent('alice', 'agent', ['support']);
const bob = agent('bob', 'agent', ['sales']);
const carol = agent('carol', 'supervisor', []);
const dave = agent('dave', 'admin', []);
const inbox = (id: string, teamIds: string[], channel: Inbox['channel'] = 'email'): Inbox => ({ id, tenantId: T, name: id, channel, provider: null, teamIds, createdAt: 0, seq: 1 });
const support = inbox('mail', ['support']);
const teamless = inbox('web', []);
const contact: Contact = makeContact({ id: 'ct-1', tenantId: T, name: 'Ann', attributes: {} });
const conv: Conversation = makeConversation({ id: 'cv-1', tenantId: T, inboxId: 'mail', contactId: 'ct-1', teamId: 'support' });

const ctx = (actor: Agent): RuleContext => ({ actor, now: NOW, seq: 10, ids: { next: (k) => `${k}-10` } });
const cmd = <C extends Command>(c: Omit<C, 'id' | 'deviceTime'>): C => ({ id: '01900000-0000-7000-8000-000000000001', deviceTime: NOW - 5, ...c }) as C;
const onConv = (over: Partial<CommandState> = {}): CommandState => ({ ...emptyCommandState(), conversation: conv, inbox: support, contact, ...over });
const codeOf = (d: Decision) => (d.ok ? 'ok' : d.rejection.code);

describe('the decision layer', () => {
  it('manager-only close: agents may resolve, only supervisors and admins close', () => {
    const close = cmd({ type: 'set_status', conversationId: 'cv-1', status: 'closed' });
    expect(codeOf(decideCommand(close, onConv(), ctx(alice)))).toBe('forbidden');
    expect(codeOf(decideCommand(close, onConv(), ctx(carol)))).toBe('ok');
    expect(codeOf(decideCommand(cmd({ type: 'set_status', conversationId: 'cv-1', status: 'resolved' }), onConv(), ctx(alice)))).toBe('ok');
  });

  it('snooze must be in the future', () => {
    expect(codeOf(decideCommand(cmd({ type: 'set_status', conversationId: 'cv-1', status: 'snoozed', snoozedUntil: NOW }), onConv(), ctx(alice)))).toBe('bad_request');
    expect(codeOf(decideCommand(cmd({ type: 'set_status', conversationId: 'cv-1', status: 'snoozed', snoozedUntil: NOW + 1 }), onConv(), ctx(alice)))).toBe('ok');
  });

  it('the 50-label cap', () => {
    const full = { ...conv, labels: Array.from({ length: 50 }, (_, i) => `l${String(i).padStart(2, '0')}`) };
    expect(codeOf(decideCommand(cmd({ type: 'add_label', conversationId: 'cv-1', label: 'one-more' }), onConv({ conversation: full }), ctx(alice)))).toBe('bad_request');
    expect(codeOf(decideCommand(cmd({ type: 'add_label', conversationId: 'cv-1', label: 'l00' }), onConv({ conversation: full }), ctx(alice)))).toBe('ok');
  });

  it('no reply to an opted-out contact (a note is fine)', () => {
    const optedOut = { ...contact, attributes: { optedOut: 'true' } };
    expect(decideCommand(cmd({ type: 'send_reply', conversationId: 'cv-1', text: 'hi' }), onConv({ contact: optedOut }), ctx(alice))).toMatchObject({ ok: false, rejection: { code: 'forbidden' } });
    expect(codeOf(decideCommand(cmd({ type: 'add_note', conversationId: 'cv-1', text: 'hi' }), onConv({ contact: optedOut }), ctx(alice)))).toBe('ok');
  });

  it('unknown assignee is not_found everywhere', () => {
    expect(codeOf(decideCommand(cmd({ type: 'assign', conversationId: 'cv-1', assigneeId: 'ghost' }), onConv({ assignee: null }), ctx(carol)))).toBe('not_found');
    expect(codeOf(decideCommand(cmd({ type: 'assign', conversationId: 'cv-1', assigneeId: 'alice', teamId: 'nowhere' }), onConv({ assignee: alice, team: null }), ctx(carol)))).toBe('not_found');
  });

  it('one note kind: a note is `note`, a reply takes its channel kind, and both carry their facts', () => {
    const note = decideCommand(cmd({ type: 'add_note', conversationId: 'cv-1', text: 'internal' }), onConv(), ctx(alice));
    const reply = decideCommand(cmd({ type: 'send_reply', conversationId: 'cv-1', text: 'hello' }), onConv(), ctx(alice));
    expect(note.ok && note.facts.map((f) => (f.kind === 'message' ? f.message.kind : f.kind))).toEqual(['note', 'conversation']);
    expect(reply.ok && reply.facts.map((f) => (f.kind === 'message' ? f.message.kind : f.kind))).toEqual(['email', 'conversation', 'relay_job']);
  });

  it('update_contact checks team scope: Sales cannot update a contact only in Support conversations', () => {
    const upd = cmd({ type: 'update_contact', contactId: 'ct-1', name: 'Renamed' });
    const state = { ...emptyCommandState(), contact, contactInboxes: [support] };
    expect(decideCommand(upd, state, ctx(bob))).toEqual({ ok: false, rejection: { code: 'not_found', message: 'contact ct-1 not found' } });
    expect(codeOf(decideCommand(upd, state, ctx(alice)))).toBe('ok');
    expect(codeOf(decideCommand(upd, state, ctx(carol)))).toBe('ok');
    expect(codeOf(decideCommand(upd, { ...state, contact: { ...contact, tenantId: 'other' } }, ctx(carol)))).toBe('not_found');
  });

  it('opt-out is a server-written fact no agent command can clear', () => {
    const optedOut = { ...contact, attributes: { optedOut: 'true', optedOutKeyword: 'STOP' } };
    const state = { ...emptyCommandState(), contact: optedOut, contactInboxes: [support] };
    for (const attributes of [{ optedOut: '' }, { optedOut: 'false' }, { optedOutKeyword: '' }]) {
      expect(codeOf(decideCommand(cmd({ type: 'update_contact', contactId: 'ct-1', attributes }), state, ctx(carol)))).toBe('forbidden');
    }
    // Only the customer's START or an admin clears it; the admin's opt-in is audited with it.
    expect(decideOptOut(optedOut, { optedOut: false, keyword: 'START', channel: 'sms' }, { now: NOW, seq: 11 })).toMatchObject({ kind: 'contact', contact: { attributes: {} } });
    expect(codeOf(decideAdminOptIn(carol, optedOut, 'ct-1', { now: NOW, seq: 11 }))).toBe('forbidden');
    const optIn = decideAdminOptIn(dave, optedOut, 'ct-1', { now: NOW, seq: 11 });
    expect(optIn.ok && optIn.facts.map((f) => f.kind)).toEqual(['contact', 'audit']);
    expect(decideAdminOptIn(dave, contact, 'ct-1', { now: NOW, seq: 11 })).toEqual({ ok: true, facts: [] });
  });

  it('an inbox created without teams is visible to every agent', () => {
    expect(canAccessInbox(bob, teamless)).toBe(true);
    expect(canAccessInbox(agent('nobody', 'agent', []), teamless)).toBe(true);
    expect(canAccessInbox(bob, support)).toBe(false);
    const onTeamless = onConv({ conversation: { ...conv, inboxId: 'web', teamId: null }, inbox: teamless });
    expect(codeOf(decideCommand(cmd({ type: 'set_priority', conversationId: 'cv-1', priority: 'high' }), onTeamless, ctx(bob)))).toBe('ok');
    expect(codeOf(decideCommand(cmd({ type: 'set_priority', conversationId: 'cv-1', priority: 'high' }), onConv(), ctx(bob)))).toBe('not_found');
  });

  it('every attachment referenced by send_reply is bound to its message', () => {
    const stored = (over: Partial<StoredAttachment> = {}): StoredAttachment => ({ id: 'att-1', name: 'a.pdf', mime: 'application/pdf', size: 3, tenantId: T, messageId: null, ...over });
    const reply = cmd({ type: 'send_reply', conversationId: 'cv-1', text: 'see attached', attachments: [{ id: 'att-1', name: 'forged.exe', mime: 'x/evil', size: 1 }] });
    const ok = decideCommand(reply, onConv({ attachments: new Map([['att-1', stored()]]) }), ctx(alice));
    expect(ok.ok && ok.facts.filter((f) => f.kind === 'attachment_bind')).toEqual([{ kind: 'attachment_bind', attachmentId: 'att-1', messageId: reply.id }]);
    // Metadata from the store, never from the client.
    expect(ok.ok && ok.facts.find((f) => f.kind === 'message')).toMatchObject({ message: { attachments: [{ id: 'att-1', name: 'a.pdf', mime: 'application/pdf' }] } });
    expect(codeOf(decideCommand(reply, onConv({ attachments: new Map([['att-1', stored({ messageId: 'other' })]]) }), ctx(alice)))).toBe('conflict');
    expect(codeOf(decideCommand(reply, onConv({ attachments: new Map([['att-1', stored({ tenantId: 'other' })]]) }), ctx(alice)))).toBe('bad_request');
    expect(codeOf(decideCommand(reply, onConv(), ctx(alice)))).toBe('bad_request');
  });

  it('delivery statuses only move forward and a repeated receipt writes no fact', () => {
    const m: Message = makeMessage({ id: 'm1', direction: 'out', status: 'delivered', meta: { receipt: 'r1' } });
    expect(decideMessageStatus(m, 'p1', { status: 'accepted' })).toBeNull();
    expect(decideMessageStatus(m, 'p1', { status: 'delivered', providerMessageId: 'p1' })).toBeNull();
    expect(decideMessageStatus({ ...m, status: 'sending' }, null, { status: 'queued' })).toMatchObject({ kind: 'message_status', status: 'queued' });
    expect(decideMessageStatus({ ...m, status: 'accepted' }, 'p1', { status: 'failed', reason: 'no route' })).toMatchObject({ status: 'failed', reason: 'no route', meta: { receipt: 'r1' } });
  });

  it('an inbound message wakes a snoozed conversation and announces a known contact to a new conversation', () => {
    const snoozed = { ...conv, status: 'snoozed' as const, snoozedUntil: NOW + 1000 };
    const woke = decideInbound({ externalId: 'e1', from: { identifier: 'a@x.org' }, text: 'hello?' }, { inbox: support, contact, conversation: snoozed }, { now: NOW, seq: 12, ids: { next: (k) => `${k}-12` } });
    expect(woke.conversation).toMatchObject({ status: 'open', snoozedUntil: null, seq: 12 });
    const fresh = decideInbound({ externalId: 'e2', from: { identifier: 'a@x.org' }, text: 'new topic' }, { inbox: support, contact, conversation: null }, { now: NOW, seq: 13, ids: { next: (k) => `${k}-13` } });
    expect(fresh.facts.map((f) => f.kind)).toEqual(['contact', 'conversation', 'message']);
    expect(fresh.conversation).toMatchObject({ id: 'conversation-13', teamId: 'support', status: 'open' });
  });
});
