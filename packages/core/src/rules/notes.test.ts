import { describe, expect, it } from 'vitest';
import type { Agent, Inbox } from '../domain/model.js';
import type { Command } from '../commands/commands.js';
import { mentionsOf } from '../domain/composer.js';
import { makeContact, makeConversation } from '../testing/fixtures.js';
import { commandNeeds, decideCommand, emptyCommandState, type CommandState, type RuleContext, type StoredAttachment } from './index.js';

const T = 'tenant-1';
const NOW = 1_700_000_000_000;
const alice: Agent = { id: 'alice', tenantId: T, email: 'alice@x.org', name: 'alice', role: 'agent', teamIds: ['support'], active: true, seq: 1 };
const inbox: Inbox = { id: 'sms', tenantId: T, name: 'SMS', channel: 'sms', provider: null, teamIds: ['support'], createdAt: 0, seq: 1 };
const conv = makeConversation({ id: 'cv-1', tenantId: T, inboxId: 'sms', contactId: 'ct-1', teamId: 'support' });
const state = (over: Partial<CommandState> = {}): CommandState => ({ ...emptyCommandState(), conversation: conv, inbox, contact: makeContact({ id: 'ct-1', tenantId: T }), ...over });
const ctx: RuleContext = { actor: alice, now: NOW, seq: 10, ids: { next: (k) => `${k}-10` } };
const note = (over: Partial<Extract<Command, { type: 'add_note' }>>): Command => ({ id: '01900000-0000-7000-8000-000000000009', deviceTime: NOW - 5, type: 'add_note', conversationId: 'cv-1', text: 'see file', ...over });
const file: StoredAttachment = { id: 'f1', tenantId: T, name: 'invoice.pdf', mime: 'application/pdf', size: 1200, messageId: null };

describe('notes: attachments and mentions', () => {
  it('a note binds its uploads like a reply does and keeps its mentions for the notification policy', () => {
    const c = note({ attachments: [{ id: 'f1', name: 'x', mime: 'x/y', size: 1 }], mentions: ['bob', 'bob', 'carol'] });
    expect(commandNeeds(c).attachmentIds).toEqual(['f1']);
    const d = decideCommand(c, state({ attachments: new Map([['f1', file]]) }), ctx);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    const msg = d.facts.find((f) => f.kind === 'message');
    expect(msg?.kind === 'message' && msg.message.attachments).toEqual([{ id: 'f1', name: 'invoice.pdf', mime: 'application/pdf', size: 1200 }]);
    expect(msg?.kind === 'message' && mentionsOf(msg.message)).toEqual(['bob', 'carol']);
    expect(d.facts.some((f) => f.kind === 'attachment_bind' && f.attachmentId === 'f1')).toBe(true);
    // A note never goes to the customer.
    expect(d.facts.some((f) => f.kind === 'relay_job')).toBe(false);
  });
  it('an upload that does not exist or belongs to another message is refused', () => {
    const c = note({ attachments: [{ id: 'f1', name: 'x', mime: 'x/y', size: 1 }] });
    const missing = decideCommand(c, state(), ctx);
    expect(!missing.ok && missing.rejection.code).toBe('bad_request');
    const taken = decideCommand(c, state({ attachments: new Map([['f1', { ...file, messageId: 'other' }]]) }), ctx);
    expect(!taken.ok && taken.rejection.code).toBe('conflict');
  });
});
