import { describe, expect, it } from 'vitest';
import { Macro, MacroInput, macroIntents, macroProblem, macroVisibleTo } from './macros.js';
import { Command } from '../commands/commands.js';
import { makeConversation } from '../testing/fixtures.js';

const conv = makeConversation({ id: 'cv-1', labels: ['vip'], priority: 'normal', status: 'open', assigneeId: null, teamId: null });
const ctx = { agent: { id: 'a-me', name: 'Zhang San', email: 'z@x.org' }, now: 1_000_000, canned: { contact: { name: 'Ann Lee' } } };

describe('macros', () => {
  it('become the normal commands, in order, with variables filled and "me" resolved', () => {
    const intents = macroIntents({
      actions: [
        { type: 'add_label', label: 'refund' },
        { type: 'set_priority', priority: 'high' },
        { type: 'assign_agent', agentId: 'me' },
        { type: 'send_reply', text: 'Hi {{contact.firstName}}, {{agent.name}} here: refunded.' },
        { type: 'set_status', status: 'resolved' },
      ],
    }, conv, ctx);
    expect(intents).toEqual([
      { type: 'add_label', conversationId: 'cv-1', label: 'refund' },
      { type: 'set_priority', conversationId: 'cv-1', priority: 'high' },
      { type: 'assign', conversationId: 'cv-1', assigneeId: 'a-me' },
      { type: 'send_reply', conversationId: 'cv-1', text: 'Hi Ann, Zhang San here: refunded.' },
      { type: 'set_status', conversationId: 'cv-1', status: 'resolved' },
    ]);
    // Each is a valid command once the outbox gives it an id and a time.
    for (const i of intents) expect(Command.safeParse({ ...i, id: '01900000-0000-7000-8000-000000000001', deviceTime: 1 }).success).toBe(true);
  });
  it('skips what is already so (applied twice, the second time changes nothing but replies/notes)', () => {
    const done = makeConversation({ ...conv, labels: ['vip', 'refund'], priority: 'high', status: 'resolved', assigneeId: 'a-me' });
    expect(macroIntents({ actions: [{ type: 'add_label', label: 'refund' }, { type: 'set_priority', priority: 'high' }, { type: 'assign_agent', agentId: 'me' }, { type: 'set_status', status: 'resolved' }] }, done, ctx)).toEqual([]);
    expect(macroIntents({ actions: [{ type: 'remove_label', label: 'nope' }] }, conv, ctx)).toEqual([]);
  });
  it('an agent and a team become one assign; snooze is from now', () => {
    expect(macroIntents({ actions: [{ type: 'assign_team', teamId: 'billing' }, { type: 'assign_agent', agentId: 'a-bob' }, { type: 'set_status', status: 'snoozed', snoozeMinutes: 60 }] }, conv, ctx)).toEqual([
      { type: 'assign', conversationId: 'cv-1', assigneeId: 'a-bob', teamId: 'billing' },
      { type: 'set_status', conversationId: 'cv-1', status: 'snoozed', snoozedUntil: 1_000_000 + 3_600_000 },
    ]);
    expect(macroIntents({ actions: [{ type: 'assign_team', teamId: 'billing' }] }, conv, ctx)).toEqual([{ type: 'assign', conversationId: 'cv-1', assigneeId: null, teamId: 'billing' }]);
  });
  it('input: bad actions and unknown variables are refused; snooze needs minutes', () => {
    expect(MacroInput.safeParse({ name: 'x', actions: [], shared: false }).success).toBe(false);
    expect(MacroInput.safeParse({ name: 'x', actions: [{ type: 'explode' }], shared: false }).success).toBe(false);
    expect(MacroInput.safeParse({ name: 'x', actions: [{ type: 'set_status', status: 'snoozed' }], shared: false }).success).toBe(false);
    expect(macroProblem({ actions: [{ type: 'send_reply', text: 'Hi {{order.total}}' }] })).toMatch(/order\.total/);
    expect(macroProblem({ actions: [{ type: 'set_status', status: 'resolved' }, { type: 'set_status', status: 'open' }] })).toMatch(/status/);
    expect(macroProblem({ actions: [{ type: 'send_reply', text: 'Hi {{contact.name}}' }] })).toBeNull();
  });
  it('visibility: shared macros for the workspace, own macros for their owner', () => {
    const m = Macro.parse({ id: 'm1', tenantId: 't', name: 'Refund', actions: [{ type: 'add_label', label: 'x' }], ownerId: 'a1', createdAt: 0, updatedAt: 0 });
    expect(macroVisibleTo(m, { id: 'a1', tenantId: 't' })).toBe(true);
    expect(macroVisibleTo(m, { id: 'a2', tenantId: 't' })).toBe(false);
    expect(macroVisibleTo({ ...m, ownerId: null }, { id: 'a2', tenantId: 't' })).toBe(true);
    expect(macroVisibleTo({ ...m, ownerId: null }, { id: 'a2', tenantId: 'other' })).toBe(false);
  });
});

describe('who edits macros and saved views', () => {
  it('shared ones need canned.manage (macros) or settings.manage (views); own ones are the owner\'s', async () => {
    const { mayEditMacro } = await import('./macros.js');
    const { mayEditSavedView } = await import('./savedViews.js');
    const agent = { id: 'a1', tenantId: 't', role: 'agent' as const };
    const sup = { id: 's1', tenantId: 't', role: 'supervisor' as const };
    const admin = { id: 'ad', tenantId: 't', role: 'admin' as const };
    expect(mayEditMacro(agent, { tenantId: 't', ownerId: 'a1' })).toBe(true);
    expect(mayEditMacro(agent, { tenantId: 't', ownerId: 's1' })).toBe(false);
    expect(mayEditMacro(agent, { tenantId: 't', ownerId: null })).toBe(false);
    expect(mayEditMacro(sup, { tenantId: 't', ownerId: null })).toBe(true);
    expect(mayEditMacro(sup, { tenantId: 'x', ownerId: null })).toBe(false);
    expect(mayEditSavedView(sup, { tenantId: 't', ownerId: null })).toBe(false);
    expect(mayEditSavedView(admin, { tenantId: 't', ownerId: null })).toBe(true);
    expect(mayEditSavedView(agent, { tenantId: 't', ownerId: 'a1' })).toBe(true);
  });
});

describe('saved views keep the SLA filter', () => {
  it('accepts due soon and breached; a view saved before the filter existed reads as any', async () => {
    const { SavedViewFilters } = await import('./savedViews.js');
    const base = { view: 'all', status: 'active', channel: '', priority: '', label: '', inboxId: '', teamId: '', assignee: '', text: '', sort: 'lastActivity' } as const;
    expect(SavedViewFilters.parse(base).sla).toBe('');
    expect(SavedViewFilters.parse({ ...base, sla: 'breached' }).sla).toBe('breached');
    expect(SavedViewFilters.parse({ ...base, sla: 'due' }).sla).toBe('due');
    expect(SavedViewFilters.safeParse({ ...base, sla: 'late' }).success).toBe(false);
  });

  it('the filter follows slaStatus: due soon is the warning state, breached past due or fired', async () => {
    const { matchesSlaFilter } = await import('../rules/sla.js');
    const sla = { policyId: 'p', firstResponseDueAt: 1000, nextResponseDueAt: null, resolutionDueAt: null, breached: [], warnAt: { first_response: 800 }, warned: [], fired: [], pausedAt: null, firstResponseAt: null, firstResponseDeviceTime: null, stoppedAt: null };
    expect(matchesSlaFilter(sla, 'due', 700)).toBe(false);
    expect(matchesSlaFilter(sla, 'due', 900)).toBe(true);
    expect(matchesSlaFilter(sla, 'breached', 900)).toBe(false);
    expect(matchesSlaFilter(sla, 'breached', 1000)).toBe(true);
    expect(matchesSlaFilter({ ...sla, pausedAt: 500 }, 'breached', 2000)).toBe(false);
    expect(matchesSlaFilter(null, 'due', 900)).toBe(false);
  });
});

describe('macroContext', () => {
  it('gives both apps the same context: the agent, the clock and the names for the texts', async () => {
    const { macroContext, macroIntents } = await import('./macros.js');
    const c = { id: 'c1', contactName: '王芳', subject: '退款', labels: [], priority: 'normal' as const, status: 'open' as const, assigneeId: null, teamId: null };
    const ctx = macroContext(c, { id: 'a1', name: 'Ann', email: 'ann@x.test' }, 1000, 'Support');
    expect(ctx).toEqual({ agent: { id: 'a1', name: 'Ann', email: 'ann@x.test' }, now: 1000, canned: { contact: { name: '王芳' }, conversation: { id: 'c1', subject: '退款' }, inbox: { name: 'Support' } } });
    const intents = macroIntents({ actions: [{ type: 'add_note', text: '{{agent.name}} → {{contact.name}} ({{inbox.name}})' }] }, c, ctx);
    expect(intents).toEqual([expect.objectContaining({ type: 'add_note', text: 'Ann → 王芳 (Support)' })]);
  });
});
