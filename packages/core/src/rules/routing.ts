import { z } from 'zod';
import {
  AgentCapacity,
  Availability,
  type Agent,
  type Channel,
  type Contact,
  type Conversation,
  type Inbox,
  type InboxRouting,
  type Message,
} from '../domain/model.js';
import { canAccessInbox } from '../domain/policy.js';
import { SERVER_CONTACT_ATTRIBUTES, type IdSource } from './commandRules.js';
import { accept, reject, type Decision, type Fact } from './facts.js';

// ----- availability -------------------------------------------------------------------------

/** What decides an agent's availability: their choice, whether any device is connected, a call in progress. */
export interface AgentPresence {
  chosen: Availability;
  connected: boolean;
  onCall: boolean;
}

/**
 * The availability routing sees: offline without a connected device (or when the agent chose it);
 * busy while a call is in progress (an agent who chose away stays away); otherwise their choice.
 */
export function effectiveAvailability(p: AgentPresence): Availability {
  if (p.chosen === 'offline' || !p.connected) return 'offline';
  if (p.onCall && p.chosen === 'online') return 'busy';
  return p.chosen;
}

/** An agent's presence as stored on the agent (defaults for agents written before routing existed). */
export function presenceOf(agent: Agent, connected: boolean, onCall: boolean): AgentPresence {
  return { chosen: agent.chosenAvailability ?? 'online', connected, onCall };
}

/** The body of `PATCH /api/v1/agents/{id}` that routing owns (another module adds role/teams/active). */
export const AgentRoutingPatch = z
  .object({
    /** The agent's choice (the availability switch). */
    availability: Availability.optional(),
    /** The softphone's call state: a call in progress makes an online agent busy. */
    onCall: z.boolean().optional(),
    capacity: AgentCapacity.nullable().optional(),
    skills: z.array(z.string().trim().min(1).max(64)).max(50).optional(),
    languages: z.array(z.string().trim().min(1).max(35)).max(20).optional(),
  })
  .strict();
export type AgentRoutingPatch = z.infer<typeof AgentRoutingPatch>;

const ROUTING_ONLY_ADMIN: readonly (keyof AgentRoutingPatch)[] = ['capacity', 'skills'];

/**
 * A change of an agent's routing fields. An agent sets their own availability, call state and
 * languages; admins set anyone's fields, including capacity and skills. Null facts when nothing changes.
 */
export function decideAgentRoutingPatch(
  actor: Agent,
  target: Agent | null,
  targetId: string,
  patch: AgentRoutingPatch,
  presence: { connected: boolean; onCall: boolean },
  ctx: { now: number; seq: number },
): Decision {
  if (!target || target.tenantId !== actor.tenantId || target.id !== targetId) return reject('not_found', `agent ${targetId} not found`);
  const admin = actor.role === 'admin';
  if (!admin && actor.id !== target.id) return reject('forbidden', 'agents set only their own availability; admins set anyone\'s');
  const adminOnly = ROUTING_ONLY_ADMIN.filter((k) => patch[k] !== undefined);
  if (!admin && adminOnly.length > 0) return reject('forbidden', `only admins change ${adminOnly.join(', ')}`);
  const onCall = patch.onCall ?? presence.onCall;
  const chosen = patch.availability ?? target.chosenAvailability ?? 'online';
  const next: Agent = {
    ...target,
    chosenAvailability: chosen,
    availability: effectiveAvailability({ chosen, connected: presence.connected, onCall }),
    ...(patch.capacity !== undefined ? { capacity: patch.capacity } : {}),
    ...(patch.skills !== undefined ? { skills: normaliseTags(patch.skills) } : {}),
    ...(patch.languages !== undefined ? { languages: normaliseTags(patch.languages) } : {}),
    seq: ctx.seq,
  };
  if (sameRouting(next, target) && onCall === presence.onCall) return accept([]);
  const facts: Fact[] = [{ kind: 'agent_routing', agent: next, onCall }];
  const changed = (Object.keys(patch) as (keyof AgentRoutingPatch)[]).filter((k) => k !== 'onCall' && k !== 'availability');
  if (changed.length > 0 || actor.id !== target.id) {
    facts.push({ kind: 'audit', agentId: actor.id, action: 'agent.routing', target: target.id, details: { ...patch } });
  }
  return accept(facts);
}

/** The agent after their devices' presence changed (a socket connected, the last one closed). Null when nothing changes. */
export function decidePresence(agent: Agent, presence: { connected: boolean; onCall: boolean }, previousOnCall: boolean, seq: number): Fact | null {
  const availability = effectiveAvailability(presenceOf(agent, presence.connected, presence.onCall));
  if (availability === (agent.availability ?? 'offline') && presence.onCall === previousOnCall) return null;
  return { kind: 'agent_routing', agent: { ...agent, chosenAvailability: agent.chosenAvailability ?? 'online', availability, seq }, onCall: presence.onCall };
}

function sameRouting(a: Agent, b: Agent): boolean {
  return (
    a.availability === b.availability &&
    a.chosenAvailability === b.chosenAvailability &&
    JSON.stringify(a.capacity ?? null) === JSON.stringify(b.capacity ?? null) &&
    JSON.stringify(a.skills ?? []) === JSON.stringify(b.skills ?? []) &&
    JSON.stringify(a.languages ?? []) === JSON.stringify(b.languages ?? [])
  );
}

/** Skills and languages compare case-insensitively; duplicates go. */
export function normaliseTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => t.trim().toLowerCase()).filter(Boolean))];
}

// ----- routing ------------------------------------------------------------------------------

/** Open and pending conversations count against an agent's capacity. */
export const LOAD_STATUSES = ['open', 'pending'] as const;

/** An agent as routing weighs them. */
export interface RoutingCandidate {
  agent: Agent;
  /** Open+pending conversations assigned to the agent, per channel. */
  load: Partial<Record<Channel, number>>;
  /** When the agent was last routed a conversation (or 0): the longest idle wins a tie. */
  lastRoutedAt: number;
}

/** What the routing of one conversation reads. */
export interface RoutingState {
  conversation: Conversation;
  inbox: Inbox;
  contact: Contact | null;
  /** Every agent of the tenant (the rule picks who is in scope, available and has room). */
  candidates: readonly RoutingCandidate[];
  /** Round robin: the agent the scope's pointer points at (the last one routed to), or null. */
  pointer: string | null;
  /** The routing of the conversation's team, when the team has its own (it wins over the inbox's). */
  teamRouting?: InboxRouting | null;
}

/** How a conversation is routed: its team's routing when the team has one, else its inbox's. */
export function effectiveRouting(inbox: Pick<Inbox, 'ops'>, teamRouting: InboxRouting | null | undefined): InboxRouting {
  return teamRouting ?? inbox.ops?.routing ?? { strategy: 'manual' };
}

export type RoutingOutcome =
  /** Nothing to do: the inbox routes manually, or the conversation is not waiting for an agent. */
  | { kind: 'skip'; reason: string }
  /** Nobody available has room: the conversation waits in its queue (unassigned, its team set). */
  | { kind: 'queue'; reason: string }
  | { kind: 'assign'; agentId: string; facts: Fact[] };

/** The routing scope of a conversation: its inbox and team (round robin keeps one pointer per scope). */
export function routingScope(conv: Pick<Conversation, 'inboxId' | 'teamId'>): string {
  return `inbox:${conv.inboxId}|team:${conv.teamId ?? '-'}`;
}

/** The agent's capacity on a channel: theirs (a number, or the channel's entry), else the inbox's default, else unlimited. */
export function capacityOn(agent: Agent, channel: Channel, routing: InboxRouting): number {
  const c = agent.capacity;
  if (typeof c === 'number') return c;
  if (c && c[channel] !== undefined) return c[channel]!;
  return routing.capacity ?? Number.POSITIVE_INFINITY;
}

/**
 * The skills a conversation asks for besides its inbox's required ones: its labels and its contact's
 * attributes (`tier: vip` asks for `vip` or `tier:vip`; `vip: true` asks for `vip`).
 */
export function wantedSkills(conv: Pick<Conversation, 'labels'>, contact: Pick<Contact, 'attributes'> | null): string[] {
  const out = new Set(conv.labels.map((l) => l.trim().toLowerCase()));
  for (const [k, raw] of Object.entries(contact?.attributes ?? {})) {
    if (SERVER_CONTACT_ATTRIBUTES.includes(k) || k === 'language') continue;
    const key = k.trim().toLowerCase();
    const v = raw.trim().toLowerCase();
    if (!v || v.length > 64) continue;
    if (v === 'true' || v === 'yes' || v === '1') out.add(key);
    else {
      out.add(v);
      out.add(`${key}:${v}`);
    }
  }
  return [...out];
}

/** The primary subtag of a language tag (`zh-CN` → `zh`). */
function lang(tag: string): string {
  return tag.trim().toLowerCase().split(/[-_]/)[0] ?? '';
}

/**
 * Who gets a waiting conversation. Manual inboxes route nothing. Otherwise the candidates are the
 * active agents who are `online`, see the inbox, belong to the conversation's team (when it has one),
 * have every skill the inbox requires and room under their capacity on the channel. Among them the
 * best match wins: the most skills the conversation wants (labels, contact attributes such as VIP)
 * and the customer's language. Then the strategy: round robin takes the next agent after the
 * scope's pointer (in id order); least-loaded the one with the fewest open+pending conversations on
 * the channel. Ties go to the longest idle. Nobody left: the conversation waits in the queue.
 */
export function decideRouting(s: RoutingState, ctx: { now: number; seq: number; ids: IdSource }): RoutingOutcome {
  const { conversation: conv, inbox } = s;
  const routing = effectiveRouting(inbox, s.teamRouting);
  if (routing.strategy === 'manual') return { kind: 'skip', reason: s.teamRouting ? 'the team routes manually' : 'the inbox routes manually' };
  if (conv.assigneeId !== null) return { kind: 'skip', reason: 'already assigned' };
  if (conv.status !== 'open') return { kind: 'skip', reason: `the conversation is ${conv.status}` };
  const required = normaliseTags(routing.skills ?? []);
  const eligible = s.candidates.filter((c) => {
    const a = c.agent;
    if (!a.active || a.tenantId !== conv.tenantId || (a.availability ?? 'offline') !== 'online') return false;
    if (!canAccessInbox(a, inbox)) return false;
    if (conv.teamId !== null && !a.teamIds.includes(conv.teamId)) return false;
    const skills = new Set(normaliseTags([...(a.skills ?? []), ...(a.languages ?? [])]));
    if (!required.every((r) => skills.has(r) || (a.languages ?? []).some((l) => lang(l) === lang(r)))) return false;
    return (c.load[conv.channel] ?? 0) < capacityOn(a, conv.channel, routing);
  });
  if (eligible.length === 0) return { kind: 'queue', reason: 'no available agent has room' };
  const wanted = wantedSkills(conv, s.contact);
  const language = s.contact?.attributes['language'];
  const score = (c: RoutingCandidate): number => {
    const skills = new Set(normaliseTags(c.agent.skills ?? []));
    let n = wanted.filter((w) => skills.has(w)).length;
    if (language && (c.agent.languages ?? []).some((l) => lang(l) === lang(language))) n++;
    return n;
  };
  const best = Math.max(...eligible.map(score));
  const pool = eligible.filter((c) => score(c) === best);
  const idle = (a: RoutingCandidate, b: RoutingCandidate) => a.lastRoutedAt - b.lastRoutedAt || (a.agent.id < b.agent.id ? -1 : a.agent.id > b.agent.id ? 1 : 0);
  let chosen: RoutingCandidate;
  switch (routing.strategy) {
    case 'round_robin': {
      const byId = [...pool].sort((a, b) => (a.agent.id < b.agent.id ? -1 : a.agent.id > b.agent.id ? 1 : 0));
      chosen = (s.pointer !== null ? byId.find((c) => c.agent.id > s.pointer!) : undefined) ?? byId[0]!;
      break;
    }
    case 'least_loaded': {
      const load = (c: RoutingCandidate) => c.load[conv.channel] ?? 0;
      chosen = [...pool].sort((a, b) => load(a) - load(b) || idle(a, b))[0]!;
      break;
    }
  }
  const agentId = chosen.agent.id;
  const next: Conversation = { ...conv, assigneeId: agentId, updatedAt: ctx.now, seq: ctx.seq };
  return {
    kind: 'assign',
    agentId,
    facts: [
      { kind: 'conversation', conversation: next, isNew: false },
      systemEvent(conv, ctx, `routed (${routing.strategy})`, { action: 'assign', assigneeId: agentId, teamId: conv.teamId, by: 'routing', strategy: routing.strategy }),
      { kind: 'routing_pointer', tenantId: conv.tenantId, scope: routingScope(conv), agentId, at: ctx.now },
    ],
  };
}

/** The statuses whose assignment is released when the agent's devices all went offline. */
export const RELEASE_STATUSES = ['open', 'pending'] as const;

/**
 * The grace period after an agent's devices all went offline ran out: each of their open or pending
 * conversations goes back to its queue (unassigned, team kept) with a timeline event. Nothing when the
 * agent came back (is not offline any more) or the conversation is no longer theirs.
 */
export function decideRelease(agent: Agent, conv: Conversation, ctx: { now: number; seq: number; ids: IdSource }): Fact[] {
  if ((agent.availability ?? 'offline') !== 'offline') return [];
  if (conv.assigneeId !== agent.id || !(RELEASE_STATUSES as readonly string[]).includes(conv.status)) return [];
  return [
    { kind: 'conversation', conversation: { ...conv, assigneeId: null, updatedAt: ctx.now, seq: ctx.seq }, isNew: false },
    systemEvent(conv, ctx, 'released: agent offline', { action: 'assign', assigneeId: null, teamId: conv.teamId, by: 'routing', releasedFrom: agent.id, reason: 'agent_offline' }),
  ];
}

function systemEvent(conv: Conversation, ctx: { now: number; seq: number; ids: IdSource }, text: string, meta: Record<string, unknown>): Fact {
  const message: Message = {
    id: ctx.ids.next('event'), tenantId: conv.tenantId, conversationId: conv.id, direction: 'out', kind: 'event', authorType: 'system',
    authorId: null, text, subject: null, attachments: [], status: null, statusReason: null, deviceTime: null, serverTime: ctx.now,
    createdAt: ctx.now, meta, seq: ctx.seq,
  };
  return { kind: 'message', message, inboxId: conv.inboxId, externalId: null };
}

// ----- queues -------------------------------------------------------------------------------

export interface QueueEntry {
  scope: string;
  inboxId: string;
  teamId: string | null;
  waiting: number;
  /** How long the longest-waiting conversation waits (ms), 0 when none. */
  longestWaitMs: number;
  /** Waiting conversations, longest first. */
  conversationIds: string[];
}

/** When a waiting conversation started waiting for an agent. */
export function waitingStart(c: Pick<Conversation, 'waitingSince' | 'createdAt'>): number {
  return c.waitingSince ?? c.createdAt;
}

/**
 * The queues of a tenant: open unassigned conversations grouped by inbox and team, longest waiting
 * first (also the order in which a freed agent is offered them).
 */
export function queuesOf(conversations: readonly Conversation[], now: number): QueueEntry[] {
  const waiting = conversations.filter((c) => c.status === 'open' && c.assigneeId === null).sort((a, b) => waitingStart(a) - waitingStart(b) || (a.id < b.id ? -1 : 1));
  const byScope = new Map<string, QueueEntry>();
  for (const c of waiting) {
    const scope = routingScope(c);
    let e = byScope.get(scope);
    if (!e) byScope.set(scope, (e = { scope, inboxId: c.inboxId, teamId: c.teamId, waiting: 0, longestWaitMs: 0, conversationIds: [] }));
    e.waiting++;
    e.longestWaitMs = Math.max(e.longestWaitMs, Math.max(0, now - waitingStart(c)));
    e.conversationIds.push(c.id);
  }
  return [...byScope.values()].sort((a, b) => b.longestWaitMs - a.longestWaitMs || (a.scope < b.scope ? -1 : 1));
}
