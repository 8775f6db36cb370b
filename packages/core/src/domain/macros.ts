import { z } from 'zod';
import { Id, Label, Millis, Priority, type Conversation } from './model.js';
import { renderCanned, unknownVariables, type CannedContext } from './canned.js';
import type { Intent } from '../client/client.js';
import { assertNever } from '../util/assert.js';
import { can, type Principal } from '../rules/permissions.js';

/**
 * Macros: a saved sequence of actions an agent applies to a conversation in one click. A macro is
 * configuration (the server stores it); applying it makes the normal commands (`macroIntents`), so
 * it works offline and every rule of those commands applies unchanged.
 */

export const MACRO_STATUSES = ['open', 'pending', 'resolved', 'closed', 'snoozed'] as const;

export const MacroAction = z.discriminatedUnion('type', [
  z.object({ type: z.literal('add_label'), label: Label }).strict(),
  z.object({ type: z.literal('remove_label'), label: Label }).strict(),
  z.object({ type: z.literal('set_priority'), priority: Priority }).strict(),
  /** `me` is whoever applies the macro. */
  z.object({ type: z.literal('assign_agent'), agentId: z.union([Id, z.literal('me')]) }).strict(),
  /** Moves the conversation to a team's queue (unassigned unless the macro also assigns an agent). */
  z.object({ type: z.literal('assign_team'), teamId: Id }).strict(),
  /** A reply to the customer; variables as in canned responses ({{contact.name}}, {{agent.name}}…). */
  z.object({ type: z.literal('send_reply'), text: z.string().trim().min(1).max(10_000) }).strict(),
  z.object({ type: z.literal('add_note'), text: z.string().trim().min(1).max(10_000) }).strict(),
  /** `snoozed` needs `snoozeMinutes` (from when the macro is applied). */
  z.object({ type: z.literal('set_status'), status: z.enum(MACRO_STATUSES), snoozeMinutes: z.number().int().min(1).max(60 * 24 * 90).optional() })
    .strict()
    .refine((a) => a.status !== 'snoozed' || a.snoozeMinutes !== undefined, { message: 'snoozeMinutes is required to snooze', path: ['snoozeMinutes'] }),
]);
export type MacroAction = z.infer<typeof MacroAction>;
export type MacroActionType = MacroAction['type'];
export const MACRO_ACTION_TYPES: readonly MacroActionType[] = ['add_label', 'remove_label', 'set_priority', 'assign_agent', 'assign_team', 'send_reply', 'add_note', 'set_status'];

/** What an agent sets on a macro. `shared`: every agent of the workspace sees it (needs `canned.manage`); else it is the owner's own. */
export const MacroInput = z.object({
  name: z.string().trim().min(1).max(100),
  actions: z.array(MacroAction).min(1).max(20),
  shared: z.boolean(),
}).strict();
export type MacroInput = z.infer<typeof MacroInput>;

export const Macro = z.object({
  id: Id,
  tenantId: Id,
  name: z.string().min(1).max(100),
  actions: z.array(MacroAction).min(1).max(20),
  /** The agent whose own macro it is; null for a shared macro. */
  ownerId: Id.nullable(),
  createdAt: Millis,
  updatedAt: Millis,
});
export type Macro = z.infer<typeof Macro>;

/** A problem with a macro's actions that the schema cannot see (unknown template variables, contradictions), or null. */
export function macroProblem(input: Pick<MacroInput, 'actions'>): string | null {
  for (const a of input.actions) {
    if (a.type === 'send_reply' || a.type === 'add_note') {
      const unknown = unknownVariables(a.text);
      if (unknown.length) return `unknown variables: ${unknown.join(', ')}`;
    }
  }
  const count = (t: MacroActionType) => input.actions.filter((a) => a.type === t).length;
  if (count('assign_agent') > 1 || count('assign_team') > 1) return 'assign an agent and a team at most once';
  if (count('set_status') > 1) return 'set the status at most once';
  if (count('set_priority') > 1) return 'set the priority at most once';
  return null;
}

/** Who may see and apply a macro: a shared one everybody in the workspace, an own one only its owner. */
export function macroVisibleTo(macro: Pick<Macro, 'tenantId' | 'ownerId'>, agent: { id: string; tenantId: string }): boolean {
  return macro.tenantId === agent.tenantId && (macro.ownerId === null || macro.ownerId === agent.id);
}

/** Who may create, change or delete a macro: a shared one needs `canned.manage`, an own one is its owner's. */
export function mayEditMacro(actor: Pick<Principal, 'role' | 'permissions'> & { id: string; tenantId: string }, target: Pick<Macro, 'tenantId' | 'ownerId'>): boolean {
  if (target.tenantId !== actor.tenantId) return false;
  return target.ownerId === null ? can(actor, 'canned.manage') : target.ownerId === actor.id;
}

export interface MacroContext {
  /** Who applies the macro (for `me` and {{agent.*}}). */
  agent: { id: string; name?: string | null; email?: string | null };
  /** The device's clock (snooze times). */
  now: number;
  /** Filled into reply and note texts. */
  canned?: Omit<CannedContext, 'agent'>;
}

/**
 * The context both apps apply a macro with: the agent, the device clock and the conversation's
 * names for the texts' variables ({{contact.name}}, {{conversation.subject}}, {{inbox.name}}).
 */
export function macroContext(
  conversation: Pick<Conversation, 'id' | 'contactName' | 'subject'>,
  agent: { id: string; name?: string | null; email?: string | null },
  now: number,
  inboxName: string | null = null,
): MacroContext {
  return {
    agent: { id: agent.id, name: agent.name ?? null, email: agent.email ?? null },
    now,
    canned: { contact: { name: conversation.contactName }, conversation: { id: conversation.id, subject: conversation.subject }, inbox: { name: inboxName } },
  };
}

/**
 * The commands applying a macro makes on one conversation, in the macro's order (an agent and a team
 * assignment become one `assign`, where the first of them stands). Labels already on (or absent from)
 * the conversation are skipped, so a macro applied twice changes nothing the second time.
 */
export function macroIntents(macro: Pick<Macro, 'actions'>, conversation: Pick<Conversation, 'id' | 'labels' | 'priority' | 'status' | 'assigneeId' | 'teamId'>, ctx: MacroContext): Intent[] {
  const conversationId = conversation.id;
  const render = (text: string) => renderCanned(text, { ...ctx.canned, agent: { name: ctx.agent.name ?? null, email: ctx.agent.email ?? null } });
  const agentAction = macro.actions.find((a) => a.type === 'assign_agent');
  const teamAction = macro.actions.find((a) => a.type === 'assign_team');
  const out: Intent[] = [];
  let assigned = false;
  const labels = new Set(conversation.labels);
  for (const a of macro.actions) {
    switch (a.type) {
      case 'add_label':
        if (!labels.has(a.label)) out.push({ type: 'add_label', conversationId, label: a.label });
        labels.add(a.label);
        break;
      case 'remove_label':
        if (labels.has(a.label)) out.push({ type: 'remove_label', conversationId, label: a.label });
        labels.delete(a.label);
        break;
      case 'set_priority':
        if (conversation.priority !== a.priority) out.push({ type: 'set_priority', conversationId, priority: a.priority });
        break;
      case 'assign_agent':
      case 'assign_team': {
        if (assigned) break;
        assigned = true;
        const assigneeId = agentAction ? (agentAction.agentId === 'me' ? ctx.agent.id : agentAction.agentId) : null;
        if (teamAction) out.push({ type: 'assign', conversationId, assigneeId, teamId: teamAction.teamId });
        else if (assigneeId !== conversation.assigneeId) out.push({ type: 'assign', conversationId, assigneeId });
        break;
      }
      case 'send_reply':
        out.push({ type: 'send_reply', conversationId, text: render(a.text) });
        break;
      case 'add_note':
        out.push({ type: 'add_note', conversationId, text: render(a.text) });
        break;
      case 'set_status':
        if (a.status === 'snoozed') out.push({ type: 'set_status', conversationId, status: 'snoozed', snoozedUntil: ctx.now + (a.snoozeMinutes ?? 60) * 60_000 });
        else if (a.status !== conversation.status) out.push({ type: 'set_status', conversationId, status: a.status });
        break;
      default:
        return assertNever(a, 'macro action');
    }
  }
  return out;
}
