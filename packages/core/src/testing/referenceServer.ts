import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { Command } from '../commands/commands.js';
import {
  commandNeeds,
  decideCommand,
  decideInbound,
  decideMessageStatus,
  decideOptOut,
  decidePresence,
  decideRouting,
  emptyCommandState,
  LOAD_STATUSES,
  OPEN_STATUSES,
  type RoutingCandidate,
  withStatus,
  type CommandState,
  type Fact,
  type IdSource,
  type Rejection as RuleRejection,
  type StoredAttachment,
} from '../rules/index.js';
import { assertNever } from '../util/assert.js';
import type {
  Agent,
  Attachment,
  InboxRouting,
  Channel,
  Contact,
  ContactIdentity,
  Conversation,
  ConversationStatus,
  DeliveryStatus,
  Inbox,
  Message,
  Priority,
  Role,
  Team,
  Tenant,
} from '../domain/model.js';
import { canAccessInbox } from '../domain/policy.js';
import { seesAllInboxes } from '../rules/permissions.js';
import {
  ClientControl,
  decidePushFlow,
  PUSH_FLOW,
  PullRequest,
  type FactsFrame,
  type PushMode,
  parseDocName,
  type CommandBatchResponse,
  type CommandOutcome,
  type MessagePage,
  type PullResponse,
} from '../protocol/wire.js';
import { decodeFrame, encodeFrame, FRAME_AWARENESS, FRAME_SYNC, FrameError } from '../protocol/yframe.js';
import { cloneValue, compareMessagesNewestFirst, isOlderThan } from './memoryStore.js';
import { opsIdSource, TenantOps, type OpsStats, type OpsWrite, type ReferenceSurvey, type ReferenceTimer } from './referenceOps.js';
import {
  AutomationRuleInput,
  BusinessHoursInput,
  LifecycleSettings,
  SlaPolicyInput,
  automationRuleProblem,
  calendarProblem,
  slaPolicyProblem,
  type AutomationRule,
  type CsatAnswer,
  type MessageTemplate,
  type OpsCause,
  type SlaPolicy,
} from '../rules/index.js';
import { InboxOps } from '../domain/model.js';
import type { Clock } from '../ports/platform.js';

/**
 * An error the reference server answers a whole request with (the HTTP status and error code of
 * the real server). The test network turns it into a TransportError.
 */
export class ReferenceServerError extends Error {
  override readonly name = 'ReferenceServerError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Where the server sends socket frames of one connection (the test network delays them). */
export interface ConnectionSink {
  text(data: string): void;
  binary(data: Uint8Array): void;
  /** The server closes the socket (bad frame, agent deactivated…). */
  close(code: number, reason: string): void;
  /** [push] Bytes sent on this socket and not yet delivered (the ws `bufferedAmount`). */
  buffered?(): number;
}

/** The server side of one authenticated sync socket. */
export interface ServerConnection {
  readonly agentId: string;
  receive(data: string | Uint8Array): void;
  /** The socket is gone (client close, network failure). */
  close(): void;
}

/** One entry of the server's commit log. */
export interface CommitRecord {
  seq: number;
  at: number;
  kind: 'command' | 'inbound' | 'delivery' | 'directory' | 'seed' | 'routing' | 'ops';
  commandId: string | null;
  agentId: string | null;
}

interface DocState {
  doc: Y.Doc;
  awareness: awarenessProtocol.Awareness;
  subs: Set<Conn>;
}

interface TenantState {
  tenant: Tenant;
  seq: number;
  teams: Map<string, Team>;
  agents: Map<string, Agent>;
  inboxes: Map<string, Inbox>;
  contacts: Map<string, Contact>;
  conversations: Map<string, Conversation>;
  messages: Map<string, Message>;
  /** Message ids of each conversation in the order the server stored them. */
  messageOrder: Map<string, string[]>;
  /** Applied command ids (dedupe key) with the seq of their commit. */
  commands: Map<string, { seq: number; agentId: string; type: Command['type'] }>;
  /** `${inboxId}\u0000${providerMessageId}` of stored inbound messages (inbound dedupe). */
  inboundKeys: Map<string, string>;
  log: CommitRecord[];
  docs: Map<string, DocState>;
  connections: Set<Conn>;
  /** Conversations that were resolved or closed at some point (tests use it for cache checks). */
  everInactive: Set<string>;
  /** Uploaded files by id (the attachment store). */
  uploads: Map<string, StoredAttachment>;
  /** Message ids with a relay job (the transactional outbox). */
  relayJobs: string[];
  audit: { seq: number; agentId: string | null; action: string; target: string | null; details: Record<string, unknown> }[];
  /** [routing] Round robin's pointer per routing scope (the last agent routed to, and when). */
  routingPointers: Map<string, { agentId: string; at: number }>;
  /** [ops] Service operations (automation, auto-replies, SLA, lifecycle timers, CSAT) once `enableOps` turned them on. */
  ops: TenantOps | null;
  /** [search-read] Read marks by `${agentId}\u0000${conversationId}` (each agent pulls only theirs). */
  readMarks: Map<string, { agentId: string; conversationId: string; readUpTo: number; seq: number }>;
}

class Conn implements ServerConnection {
  /** Awareness client ids this connection controls, per document. */
  readonly controlled = new Map<string, Set<number>>();
  open = true;
  /** [push] The client asked for pushed facts; its flow-control state and last acknowledged checkpoint. */
  push = false;
  flow: PushMode = { mode: 'push' };
  acked = 0;
  constructor(
    readonly server: ReferenceServer,
    readonly tenant: TenantState,
    readonly agentId: string,
    readonly sink: ConnectionSink,
  ) {}
  receive(data: string | Uint8Array): void {
    if (!this.open) return;
    this.server.onSocketData(this, data);
  }
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.server.onSocketClosed(this);
  }
}

export interface ReferenceServerOptions {
  /** Server time (use the FakeClock's `now`). */
  now: () => number;
  /** The server answers at most this many rows per pull, whatever the client asks (default: no cap). */
  maxPullRows?: number;
  /** [ops] Where the ops' durable timers are armed (the FakeClock); without it, `runDueOpsTimers` fires them. */
  timers?: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  /** [push] Flow-control bounds of pushing sockets (default PUSH_FLOW; tests make them small). */
  pushFlow?: { highWater: number; lowWater: number };
}

/** A command's rejection (core's decision layer). */
export type Rejection = RuleRejection;

/** FNV-1a 32-bit, hex; used to make short scope strings. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

const INACTIVE: readonly ConversationStatus[] = ['resolved', 'closed'];
/** [ops] The cause of routing's assignments (automation's loop protection counts it as a step). */
const ROUTING_CAUSE: OpsCause = { ruleId: 'routing', depth: 1 };

/**
 * An in-memory adapter of the sync server for property and client tests. It holds no product rule:
 * every command and server event goes through core's decision layer (`decideCommand`,
 * `decideInbound`, `decideMessageStatus`…), the same functions the real server's Workspace calls;
 * this class only loads the state a decision needs from its maps and stores the facts it returns.
 *
 * Rules:
 *  - one monotonic `seq` per tenant; every commit (applied command, inbound message, delivery
 *    status, directory change) takes the next seq and stamps every row it changes with it;
 *  - `push` answers each command `applied`, `duplicate` (same id seen before: the original seq,
 *    nothing re-applied) or `rejected` (validation, permission, scope; NOT remembered, so a retry
 *    is evaluated again);
 *  - an agent's scope is the inboxes it may access (`canAccessInbox`): their conversations and
 *    messages, the contacts of those conversations, plus the whole directory (agents, teams);
 *    a conversation outside the scope is `not_found`;
 *  - `pull` returns rows with seq > checkpoint in scope, merged across tables by seq, never
 *    splitting one commit across two pages; `reset` when the client's scope is not the current one.
 */
export interface ReferenceServerStats {
  applied: number;
  duplicates: number;
  /** Rejections by error code. */
  rejected: Record<string, number>;
  pulls: number;
  /** Pulls answered with `reset`. */
  resets: number;
  /** [push] Pokes sent to sockets that asked for pushes, because they fell behind (poke mode). */
  pushPokes?: number;
}

export class ReferenceServer {
  readonly stats: ReferenceServerStats = { applied: 0, duplicates: 0, rejected: {}, pulls: 0, resets: 0 };
  private tenants = new Map<string, TenantState>();
  /** Which tenant an agent / inbox / conversation / contact id belongs to. */
  private owner = new Map<string, TenantState>();
  private commitListeners = new Set<(tenantId: string, seq: number) => void>();

  constructor(private readonly o: ReferenceServerOptions) {}

  now(): number {
    return this.o.now();
  }

  // ----- seeding and directory ---------------------------------------------------------

  createTenant(t: { id: string; slug?: string; name?: string }): Tenant {
    if (this.tenants.has(t.id)) throw new Error(`tenant ${t.id} exists`);
    const tenant: Tenant = { id: t.id, slug: t.slug ?? t.id, name: t.name ?? t.id, createdAt: this.now() };
    this.tenants.set(t.id, {
      tenant,
      seq: 0,
      teams: new Map(),
      agents: new Map(),
      inboxes: new Map(),
      contacts: new Map(),
      conversations: new Map(),
      messages: new Map(),
      messageOrder: new Map(),
      commands: new Map(),
      inboundKeys: new Map(),
      log: [],
      docs: new Map(),
      connections: new Set(),
      everInactive: new Set(),
      uploads: new Map(),
      routingPointers: new Map(),
      ops: null,
      readMarks: new Map(),
      relayJobs: [],
      audit: [],
    });
    return tenant;
  }

  addTeam(tenantId: string, team: { id: string; name?: string }): Team {
    const t = this.tenant(tenantId);
    return this.commit(t, 'directory', null, null, (seq) => {
      const row: Team = { id: team.id, tenantId, name: team.name ?? team.id, seq };
      t.teams.set(row.id, row);
      return row;
    });
  }

  addAgent(tenantId: string, a: { id: string; name?: string; email?: string; role: Role; teamIds?: string[]; active?: boolean }): Agent {
    const t = this.tenant(tenantId);
    return this.commit(t, 'directory', null, null, (seq) => {
      const row: Agent = {
        id: a.id,
        tenantId,
        email: a.email ?? `${a.id.toLowerCase().replace(/[^a-z0-9]/g, '')}@example.com`,
        name: a.name ?? a.id,
        role: a.role,
        teamIds: [...(a.teamIds ?? [])],
        active: a.active ?? true,
        seq,
      };
      t.agents.set(row.id, row);
      this.owner.set(row.id, t);
      return row;
    });
  }

  /** Changes an agent (teams, role, active). A scope change makes that agent's clients reset. */
  updateAgent(agentId: string, patch: Partial<Pick<Agent, 'name' | 'role' | 'teamIds' | 'active'>>): Agent {
    const t = this.tenantOfAgent(agentId);
    const closeSockets = patch.active === false;
    const row = this.commit(t, 'directory', null, null, (seq) => {
      const a = t.agents.get(agentId)!;
      const next: Agent = { ...a, ...patch, teamIds: [...(patch.teamIds ?? a.teamIds)], seq };
      t.agents.set(agentId, next);
      return next;
    });
    // [accounts] As the server: a deactivated agent's devices are told to wipe (CloseCode.wipe).
    if (closeSockets) for (const c of [...t.connections]) if (c.agentId === agentId) this.kick(c, 4410, 'agent deactivated');
    return row;
  }

  addInbox(tenantId: string, i: { id: string; name?: string; channel: Channel; provider?: string | null; teamIds?: string[] }): Inbox {
    const t = this.tenant(tenantId);
    return this.commit(t, 'directory', null, null, (seq) => {
      const row: Inbox = {
        id: i.id,
        tenantId,
        name: i.name ?? i.id,
        channel: i.channel,
        provider: i.provider ?? null,
        teamIds: [...(i.teamIds ?? [])],
        createdAt: this.now(),
        seq,
      };
      t.inboxes.set(row.id, row);
      this.owner.set(row.id, t);
      return row;
    });
  }

  addContact(tenantId: string, c: { id: string; name?: string; identities?: ContactIdentity[]; attributes?: Record<string, string> }): Contact {
    const t = this.tenant(tenantId);
    return this.commit(t, 'seed', null, null, (seq) => {
      const now = this.now();
      const row: Contact = {
        id: c.id,
        tenantId,
        name: c.name ?? c.id,
        identities: cloneValue(c.identities ?? []),
        attributes: { ...(c.attributes ?? {}) },
        createdAt: now,
        updatedAt: now,
        seq,
      };
      t.contacts.set(row.id, row);
      this.owner.set(row.id, t);
      return row;
    });
  }

  /** Creates a conversation directly (seeding); use `inbound` to simulate a customer writing. */
  addConversation(c: {
    id: string;
    inboxId: string;
    contactId: string;
    status?: ConversationStatus;
    priority?: Priority;
    assigneeId?: string | null;
    teamId?: string | null;
    labels?: string[];
    subject?: string | null;
  }): Conversation {
    const t = this.ownerOf(c.inboxId);
    const inbox = t.inboxes.get(c.inboxId)!;
    const contact = t.contacts.get(c.contactId);
    if (!contact) throw new Error(`unknown contact ${c.contactId}`);
    return this.commit(t, 'seed', null, null, (seq) => {
      const row = this.newConversation(t, inbox, contact, seq, c);
      return row;
    });
  }

  // ----- facts from the outside world --------------------------------------------------

  /**
   * A customer message arrives on an inbox (webhook, mailbox poll). Dropped as a duplicate when
   * `providerMessageId` was seen on this inbox. Finds the contact by identity (or creates it),
   * appends to the contact's latest conversation on the inbox that is not closed (reopening it
   * when resolved or snoozed) or starts a new one.
   */
  inbound(i: {
    inboxId: string;
    from: string;
    text: string;
    name?: string;
    subject?: string | null;
    providerMessageId?: string;
    /** Append to this conversation instead of looking one up (threading decided by the channel). */
    conversationId?: string;
    /** With conversationId: reopen it when resolved or closed. */
    reopen?: boolean;
    messageId?: string;
    /** What the channel noted about the message (e.g. email `autoSubmitted`, a bounce). */
    meta?: Record<string, unknown>;
  }): { message: Message; conversation: Conversation; duplicate: boolean } {
    const t = this.ownerOf(i.inboxId);
    const inbox = t.inboxes.get(i.inboxId)!;
    const key = i.providerMessageId !== undefined ? `${i.inboxId}\u0000${i.providerMessageId}` : null;
    if (key !== null && t.inboundKeys.has(key)) {
      const m = t.messages.get(t.inboundKeys.get(key)!)!;
      return { message: cloneValue(m), conversation: cloneValue(t.conversations.get(m.conversationId)!), duplicate: true };
    }
    const result = this.commit(t, 'inbound', null, null, (seq) => {
      const contact = this.contactByIdentity(t, inbox.channel, i.from.trim());
      let conv: Conversation | null = null;
      if (i.conversationId !== undefined) {
        conv = t.conversations.get(i.conversationId) ?? null;
        if (!conv || conv.inboxId !== inbox.id) throw new Error(`conversation ${i.conversationId} is not on inbox ${inbox.id}`);
      } else if (contact) conv = this.openConversationOf(t, inbox.id, contact.id);
      // [ops] A 1-5 answer to a pending SMS survey joins the surveyed conversation; with no open
      // conversation, the latest resolved one is joined within the tenant's reopen window.
      const target = t.ops && i.conversationId === undefined ? t.ops.inboundTarget(inbox, contact, i.text, conv) : null;
      if (target) conv = target.conversation;
      const meta: Record<string, unknown> = { ...i.meta, ...(i.providerMessageId !== undefined ? { providerMessageId: i.providerMessageId } : {}) };
      if (target?.kind === 'csat') meta['csatAnswer'] = target.answer;
      const d = decideInbound(
        {
          externalId: i.providerMessageId ?? `in-${seq}`,
          from: { identifier: i.from, ...(i.name !== undefined ? { name: i.name } : {}) },
          text: i.text,
          ...(i.subject ? { subject: i.subject } : {}),
          meta,
          ...(i.reopen ? { reopen: true } : {}),
        },
        { inbox, contact, conversation: conv, ...(target?.kind === 'resolved' ? { reopenWindowMs: target.reopenWindowMs } : {}) },
        { now: this.now(), seq, ids: this.idSource(seq, i.messageId) },
      );
      this.storeFacts(t, d.facts, seq);
      if (target?.kind === 'csat') {
        const answered = t.ops!.answerFacts(target.survey, target.answer, { now: this.now(), seq });
        if (answered) this.storeFacts(t, answered, seq);
      }
      if (key !== null) t.inboundKeys.set(key, d.message.id);
      return { message: cloneValue(d.message), conversation: cloneValue(d.conversation), duplicate: false };
    });
    // [routing] as the server's listener: a new (or reopened) conversation of a routed inbox finds an agent.
    this.routeIfRouted(t, result.conversation.id);
    return result;
  }

  private routeIfRouted(t: TenantState, conversationId: string): void {
    const c = t.conversations.get(conversationId);
    const strategy = c ? t.inboxes.get(c.inboxId)?.ops?.routing.strategy : undefined;
    if (strategy !== undefined && strategy !== 'manual') this.route(conversationId);
  }

  // ----- [routing] the server's routing listener, in memory ------------------------------

  /** An inbox's routing settings (PATCH /api/v1/inboxes/{id} `routing`). */
  setInboxRouting(inboxId: string, routing: InboxRouting): Inbox {
    const t = this.ownerOf(inboxId);
    return this.commit(t, 'directory', null, null, (seq) => {
      const i = t.inboxes.get(inboxId)!;
      const next: Inbox = { ...i, ops: { businessHoursId: null, autoReply: {}, ...i.ops, routing }, seq };
      t.inboxes.set(inboxId, next);
      return cloneValue(next);
    });
  }

  /** An agent's devices connected (or all went away): core's decidePresence, as the server's sockets report it. */
  setAgentPresence(agentId: string, connected: boolean): Agent {
    const t = this.tenantOfAgent(agentId);
    const a = t.agents.get(agentId)!;
    if (decidePresence(a, { connected, onCall: false }, false, 0) === null) return cloneValue(a);
    return this.commit(t, 'directory', null, null, (seq) => {
      this.storeFacts(t, [decidePresence(a, { connected, onCall: false }, false, seq)!], seq);
      return cloneValue(t.agents.get(agentId)!);
    });
  }

  /** Routes a waiting conversation (core's decideRouting), in a commit of its own, as the server's listener does. Returns the assignee or null. */
  route(conversationId: string): string | null {
    const t = this.ownerOf(conversationId);
    const conversation = t.conversations.get(conversationId);
    const inbox = conversation ? t.inboxes.get(conversation.inboxId) : undefined;
    if (!conversation || !inbox) return null;
    const load = new Map<string, Partial<Record<Channel, number>>>();
    for (const c of t.conversations.values()) {
      if (c.assigneeId === null || !(LOAD_STATUSES as readonly string[]).includes(c.status)) continue;
      const m = load.get(c.assigneeId) ?? {};
      m[c.channel] = (m[c.channel] ?? 0) + 1;
      load.set(c.assigneeId, m);
    }
    const candidates: RoutingCandidate[] = [...t.agents.values()].map((agent) => ({ agent, load: load.get(agent.id) ?? {}, lastRoutedAt: t.routingPointers.get(`agent:${agent.id}`)?.at ?? 0 }));
    const contact = t.contacts.get(conversation.contactId) ?? null;
    const scope = `inbox:${conversation.inboxId}|team:${conversation.teamId ?? '-'}`;
    const state = { conversation, inbox, contact, candidates, pointer: t.routingPointers.get(scope)?.agentId ?? null };
    if (decideRouting(state, { now: this.now(), seq: 0, ids: this.idSource(0) }).kind !== 'assign') return null;
    return this.commit(t, 'routing', null, null, (seq) => {
      // The real server routes after the inbound's commit with a later UUIDv7; here both may share a
      // tick, so the event's readable id must sort after the inbound's (`rt-` after `in-`/`ev-`).
      const d = decideRouting(state, { now: this.now(), seq, ids: { next: () => `rt-${seq}` } });
      if (d.kind !== 'assign') return null;
      this.storeFacts(t, d.facts, seq);
      t.routingPointers.set(`agent:${d.agentId}`, { agentId: d.agentId, at: this.now() });
      return d.agentId;
    });
  }

  // ----- [ops] service operations, in memory (sync-server/src/ops/, see referenceOps.ts) -----------

  /**
   * Turns the tenant's service operations on: from now on every stored fact's ops events run the
   * server's listeners (automation, auto-replies, SLA, lifecycle timers, CSAT) through core's rules,
   * with durable timers on the `timers` clock. `lifecycle`: the tenant's lifecycle settings
   * (PATCH /api/v1/lifecycle-settings), defaults otherwise.
   */
  enableOps(tenantId: string, o: { lifecycle?: Partial<LifecycleSettings> } = {}): void {
    const t = this.tenant(tenantId);
    if (t.ops) throw new Error(`ops are on for ${tenantId} already`);
    const lifecycle = LifecycleSettings.parse({ ...o.lifecycle });
    t.ops = new TenantOps({ now: () => this.now(), timers: this.o.timers ?? null, write: (decide) => this.writeOps(t, decide) }, t, lifecycle);
  }

  /** POST /api/v1/business-hours (400 for an unknown time zone or overlapping hours). */
  addBusinessHours(tenantId: string, id: string, input: unknown): void {
    const ops = this.opsOf(tenantId);
    const parsed = BusinessHoursInput.safeParse(input);
    if (!parsed.success) throw new ReferenceServerError(400, 'bad_request', parsed.error.message);
    const problem = calendarProblem(parsed.data);
    if (problem) throw new ReferenceServerError(400, 'bad_request', `invalid business hours: ${problem}`);
    ops.calendars.set(id, { ...parsed.data, id, tenantId, createdAt: this.now(), updatedAt: this.now() });
  }

  /** POST /api/v1/sla-policies. */
  addSlaPolicy(tenantId: string, id: string, input: unknown): SlaPolicy {
    const t = this.tenant(tenantId);
    const ops = this.opsOf(tenantId);
    const parsed = SlaPolicyInput.safeParse(input);
    if (!parsed.success) throw new ReferenceServerError(400, 'bad_request', parsed.error.message);
    const problem = slaPolicyProblem(parsed.data, {
      inboxIds: new Set(t.inboxes.keys()), teamIds: new Set(t.teams.keys()), businessHoursIds: new Set(ops.calendars.keys()), otherDefault: ops.slaPolicies.some((p) => p.isDefault),
    });
    if (problem) throw new ReferenceServerError(400, 'bad_request', `invalid SLA policy: ${problem}`);
    const policy: SlaPolicy = { ...parsed.data, id, tenantId, createdAt: this.now(), updatedAt: this.now() };
    ops.slaPolicies.push(policy);
    return cloneValue(policy);
  }

  /** POST /api/v1/automation-rules (400 when it names an unknown team, agent, template or inbox). */
  addAutomationRule(tenantId: string, id: string, input: unknown): AutomationRule {
    const t = this.tenant(tenantId);
    const ops = this.opsOf(tenantId);
    const parsed = AutomationRuleInput.safeParse(input);
    if (!parsed.success) throw new ReferenceServerError(400, 'bad_request', parsed.error.message);
    const problem = automationRuleProblem(parsed.data, {
      teamIds: new Set(t.teams.keys()), agentIds: new Set([...t.agents.values()].filter((a) => a.active).map((a) => a.id)),
      templateIds: new Set(ops.templates.keys()), inboxIds: new Set(t.inboxes.keys()),
    });
    if (problem) throw new ReferenceServerError(400, 'bad_request', `invalid rule: ${problem}`);
    const { position, ...rest } = parsed.data;
    const rule: AutomationRule = { ...rest, id, tenantId, position: position ?? ops.rules.length, disabledReason: null, createdAt: this.now(), updatedAt: this.now() };
    ops.rules.push(rule);
    return cloneValue(rule);
  }

  /** A message template (POST /api/v1/templates). */
  addTemplate(tenantId: string, template: Omit<MessageTemplate, 'tenantId' | 'createdAt' | 'updatedAt'>): void {
    this.opsOf(tenantId).templates.set(template.id, { ...template, tenantId, createdAt: this.now(), updatedAt: this.now() });
  }

  /** PATCH /api/v1/inboxes/{id} `businessHoursId`, `autoReply`, `csat`: a directory change of the inbox row. */
  setInboxOps(inboxId: string, patch: { businessHoursId?: string | null; autoReply?: unknown; csat?: unknown }): Inbox {
    const t = this.ownerOf(inboxId);
    const ops = this.opsOf(t.tenant.id);
    if (patch.businessHoursId && !ops.calendars.has(patch.businessHoursId)) throw new ReferenceServerError(400, 'bad_request', `business hours ${patch.businessHoursId} not found`);
    const cur = t.inboxes.get(inboxId)!;
    const prev = cur.ops ?? InboxOps.parse({});
    const parsed = InboxOps.safeParse({
      ...prev,
      ...(patch.businessHoursId !== undefined ? { businessHoursId: patch.businessHoursId } : {}),
      ...(patch.autoReply !== undefined ? { autoReply: { ...prev.autoReply, ...(patch.autoReply as object) } } : {}),
      ...(patch.csat !== undefined ? { csat: patch.csat ?? undefined } : {}),
    });
    if (!parsed.success) throw new ReferenceServerError(400, 'bad_request', parsed.error.message);
    return this.commit(t, 'directory', null, null, (seq) => {
      const next: Inbox = { ...cur, ops: parsed.data, seq };
      t.inboxes.set(inboxId, next);
      return cloneValue(next);
    });
  }

  /** POST /csat/{token}: the survey page's answer, once (null: answered already or unknown). */
  answerCsat(tenantId: string, token: string, answer: CsatAnswer): Conversation | null {
    const t = this.tenant(tenantId);
    const survey = this.opsOf(tenantId).surveyByToken(token);
    if (!survey) throw new ReferenceServerError(404, 'not_found', 'this survey link is not valid');
    if (survey.expiresAt <= this.now()) throw new ReferenceServerError(409, 'conflict', 'this survey has expired');
    if (survey.answeredAt !== null) return null;
    return this.commit(t, 'inbound', null, null, (seq) => {
      const facts = t.ops!.answerFacts(survey, answer, { now: this.now(), seq });
      if (facts) this.storeFacts(t, facts, seq);
      return cloneValue(t.conversations.get(survey.conversationId)!);
    });
  }

  /** The tenant's CSAT surveys (csat_surveys). */
  csatSurveys(tenantId: string): ReferenceSurvey[] {
    return [...this.opsOf(tenantId).surveys.values()].map(cloneValue);
  }

  /** The tenant's automation rules as stored (a rule naming something deleted is disabled with its reason). */
  automationRules(tenantId: string): AutomationRule[] {
    return this.opsOf(tenantId).rules.map(cloneValue);
  }

  opsStats(tenantId: string): OpsStats {
    return { ...this.opsOf(tenantId).stats };
  }

  opsTimers(tenantId: string): ReferenceTimer[] {
    return this.opsOf(tenantId).pendingTimers();
  }

  /** Fires the ops timers due now (hosts without `timers`). */
  runDueOpsTimers(tenantId: string): number {
    return this.opsOf(tenantId).runDueTimers();
  }

  private opsOf(tenantId: string): TenantOps {
    const ops = this.tenant(tenantId).ops;
    if (!ops) throw new Error(`ops are off for ${tenantId} (enableOps)`);
    return ops;
  }

  /** One ops transaction: probe, then a commit of its own storing each group under its cause. */
  private writeOps(t: TenantState, decide: (ctx: { now: number; seq: number; ids: IdSource }) => OpsWrite[]): number | null {
    const probe = decide({ now: this.now(), seq: 0, ids: opsIdSource(0) });
    if (probe.every((w) => w.facts.length === 0)) return null;
    return this.commit(t, 'ops', null, null, (seq) => {
      for (const w of decide({ now: this.now(), seq, ids: opsIdSource(seq) })) {
        t.ops!.cause = w.cause;
        this.storeFacts(t, w.facts, seq);
      }
      return seq;
    });
  }

  /**
   * The relay reports a delivery status change of an outgoing message. Statuses only move forward
   * and a repeated report writes no fact (no commit): the message is returned as it is.
   */
  setDeliveryStatus(messageId: string, status: DeliveryStatus, reason: string | null = null): Message {
    const t = this.ownerOfMessage(messageId);
    const m = t.messages.get(messageId)!;
    const fact = decideMessageStatus(m, null, { status, reason });
    if (!fact) return cloneValue(m);
    return this.commit(t, 'delivery', null, null, (seq) => {
      this.storeFacts(t, [fact], seq);
      return cloneValue(withStatus(m, fact, seq));
    });
  }

  /** A customer's STOP/退订 (optedOut) or START, as the server's channels record it. */
  recordOptOut(contactId: string, change: { optedOut: boolean; keyword: string; channel: string }): Contact | null {
    const t = this.ownerOf(contactId);
    const c = t.contacts.get(contactId)!;
    if (decideOptOut(c, change, { now: this.now(), seq: 0 }) === null) return null;
    return this.commit(t, 'inbound', null, null, (seq) => {
      this.storeFacts(t, [decideOptOut(c, change, { now: this.now(), seq })!], seq);
      return cloneValue(t.contacts.get(contactId)!);
    });
  }

  /** A file uploaded by an agent of the tenant (POST /api/v1/attachments), for replies and call recordings to reference. */
  addUpload(tenantId: string, a: Attachment): void {
    const t = this.tenant(tenantId);
    t.uploads.set(a.id, { id: a.id, name: a.name, mime: a.mime, size: a.size, ...(a.sha256 !== undefined ? { sha256: a.sha256 } : {}), tenantId, messageId: null });
  }

  /** Which message an upload is bound to (null while unbound, undefined when unknown). */
  uploadBinding(attachmentId: string): string | null | undefined {
    for (const t of this.tenants.values()) {
      const u = t.uploads.get(attachmentId);
      if (u) return u.messageId;
    }
    return undefined;
  }

  // ----- the API -------------------------------------------------------------------------

  /** POST /api/v1/commands. */
  push(agentId: string, commands: readonly unknown[]): CommandBatchResponse {
    const { t, agent } = this.auth(agentId);
    if (!Array.isArray(commands) || commands.length < 1 || commands.length > 100) {
      throw new ReferenceServerError(400, 'bad_request', 'commands must be an array of 1 to 100 items');
    }
    const results: CommandOutcome[] = [];
    for (const raw of commands) {
      const r = this.pushOne(t, agent, raw);
      if (r.outcome === 'applied') this.stats.applied++;
      else if (r.outcome === 'duplicate') this.stats.duplicates++;
      else this.stats.rejected[r.error.code] = (this.stats.rejected[r.error.code] ?? 0) + 1;
      results.push(r);
    }
    return { results };
  }

  /** POST /api/v1/sync/pull. */
  pull(agentId: string, request: unknown): PullResponse {
    const { t, agent } = this.auth(agentId);
    const parsed = PullRequest.safeParse(request);
    if (!parsed.success) throw new ReferenceServerError(400, 'bad_request', parsed.error.message);
    const req = parsed.data;
    const scope = this.scopeOf(t, agent);
    const reset = (req.scope !== undefined && req.scope !== scope) || req.checkpoint > t.seq;
    const from = reset ? 0 : req.checkpoint;
    this.stats.pulls++;
    if (reset) this.stats.resets++;
    const access = this.access(t, agent);

    type Row =
      | { table: 'conversations'; row: Conversation }
      | { table: 'messages'; row: Message }
      | { table: 'contacts'; row: Contact }
      | { table: 'inboxes'; row: Inbox }
      | { table: 'agents'; row: Agent }
      | { table: 'teams'; row: Team };
    const rows: Row[] = [];
    for (const r of t.teams.values()) if (r.seq > from) rows.push({ table: 'teams', row: r });
    for (const r of t.agents.values()) if (r.seq > from) rows.push({ table: 'agents', row: r });
    for (const r of t.inboxes.values()) if (r.seq > from && access.inboxes.has(r.id)) rows.push({ table: 'inboxes', row: r });
    for (const r of t.contacts.values()) if (r.seq > from && access.contacts.has(r.id)) rows.push({ table: 'contacts', row: r });
    for (const r of t.conversations.values()) if (r.seq > from && access.conversations.has(r.id)) rows.push({ table: 'conversations', row: r });
    for (const r of t.messages.values()) if (r.seq > from && access.conversations.has(r.conversationId)) rows.push({ table: 'messages', row: r });
    rows.sort((a, b) => a.row.seq - b.row.seq);

    // Take `limit` rows, then the rest of the last commit: a page never ends inside a commit.
    let n = Math.min(req.limit, this.o.maxPullRows ?? Infinity, rows.length);
    while (n > 0 && n < rows.length && rows[n]!.row.seq === rows[n - 1]!.row.seq) n++;
    const page = rows.slice(0, n);
    const hasMore = n < rows.length;
    const res: PullResponse = {
      checkpoint: hasMore ? page[page.length - 1]!.row.seq : t.seq,
      hasMore,
      scope,
      reset,
      conversations: [],
      messages: [],
      contacts: [],
      inboxes: [],
      agents: [],
      teams: [],
    };
    for (const r of page) (res[r.table] as unknown[]).push(cloneValue(r.row));
    const marks = [...t.readMarks.values()].filter((m) => m.agentId === agent.id && m.seq > from && m.seq <= res.checkpoint);
    if (marks.length) res.readMarks = marks.map((m) => ({ conversationId: m.conversationId, readUpTo: m.readUpTo, seq: m.seq }));
    return res;
  }

  /** GET /api/v1/conversations/:id/messages: pages of a conversation's messages, newest first. */
  messages(agentId: string, conversationId: string, cursor: string | null, limit: number): MessagePage {
    const { t, agent } = this.auth(agentId);
    const conv = t.conversations.get(conversationId);
    if (!conv || !this.canSeeConversation(t, agent, conv)) throw new ReferenceServerError(404, 'not_found', 'conversation not found');
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new ReferenceServerError(400, 'bad_request', 'limit must be 1..200');
    let before: { createdAt: number; id: string } | undefined;
    if (cursor !== null) {
      const m = /^(\d+)\.(.+)$/.exec(cursor);
      if (!m) throw new ReferenceServerError(400, 'bad_request', 'bad cursor');
      before = { createdAt: Number(m[1]), id: m[2]! };
    }
    const all = (t.messageOrder.get(conversationId) ?? [])
      .map((id) => t.messages.get(id)!)
      .filter((m) => before === undefined || isOlderThan(m, before))
      .sort(compareMessagesNewestFirst);
    const items = all.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map(cloneValue),
      nextCursor: all.length > limit && last ? `${last.createdAt}.${last.id}` : null,
    };
  }

  /**
   * Opens a sync socket for an authenticated agent. The server sends `ready` at once and a
   * `poke` after every commit of the tenant; binary frames relay Yjs documents.
   */
  connect(agentId: string, sink: ConnectionSink, options: { push?: boolean } = {}): ServerConnection {
    const { t, agent } = this.auth(agentId);
    const conn = new Conn(this, t, agent.id, sink);
    conn.push = options.push === true;
    t.connections.add(conn);
    sink.text(JSON.stringify({ t: 'ready', agentId: agent.id, tenantId: t.tenant.id, seq: t.seq }));
    return conn;
  }

  /** Called after every commit with the tenant and the new seq (pokes are sent already). */
  onCommit(listener: (tenantId: string, seq: number) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** Destroys the Yjs documents (their awareness timers) and forgets the connections. */
  close(): void {
    for (const t of this.tenants.values()) {
      for (const c of t.connections) c.open = false;
      t.connections.clear();
      for (const d of t.docs.values()) {
        d.awareness.destroy();
        d.doc.destroy();
      }
      t.docs.clear();
    }
  }

  // ----- inspection (tests) -----------------------------------------------------------

  seq(tenantId: string): number {
    return this.tenant(tenantId).seq;
  }

  log(tenantId: string): CommitRecord[] {
    return this.tenant(tenantId).log.map((r) => ({ ...r }));
  }

  /** Whether a command id was applied, and with which seq. */
  applied(commandId: string): { seq: number; agentId: string; type: Command['type'] } | null {
    for (const t of this.tenants.values()) {
      const c = t.commands.get(commandId);
      if (c) return { ...c };
    }
    return null;
  }

  appliedCommandIds(tenantId: string): string[] {
    return [...this.tenant(tenantId).commands.keys()];
  }

  conversation(id: string): Conversation | null {
    const t = this.owner.get(id);
    const c = t?.conversations.get(id);
    return c ? cloneValue(c) : null;
  }

  contact(id: string): Contact | null {
    const t = this.owner.get(id);
    const c = t?.contacts.get(id);
    return c ? cloneValue(c) : null;
  }

  agent(id: string): Agent | null {
    const a = this.owner.get(id)?.agents.get(id);
    return a ? cloneValue(a) : null;
  }

  message(id: string): Message | null {
    for (const t of this.tenants.values()) {
      const m = t.messages.get(id);
      if (m) return cloneValue(m);
    }
    return null;
  }

  /** Messages of a conversation in the order the server stored them (oldest first). */
  messagesOf(conversationId: string): Message[] {
    const t = this.owner.get(conversationId);
    if (!t) return [];
    return (t.messageOrder.get(conversationId) ?? []).map((id) => cloneValue(t.messages.get(id)!));
  }

  /** Every conversation of the tenant. */
  conversations(tenantId: string): Conversation[] {
    return [...this.tenant(tenantId).conversations.values()].map(cloneValue);
  }

  /** Whether a conversation was resolved or closed at some point of its life. */
  wasInactive(conversationId: string): boolean {
    return this.owner.get(conversationId)?.everInactive.has(conversationId) ?? false;
  }

  /** Everything an agent may see, as the store of a fully synced client should hold it. */
  scopeSnapshot(agentId: string): {
    scope: string;
    conversations: Conversation[];
    contacts: Contact[];
    inboxes: Inbox[];
    agents: Agent[];
    teams: Team[];
  } {
    const { t, agent } = this.auth(agentId);
    const access = this.access(t, agent);
    const byId = <R extends { id: string }>(a: R, b: R) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    return {
      scope: this.scopeOf(t, agent),
      conversations: [...t.conversations.values()].filter((c) => access.conversations.has(c.id)).sort(byId).map(cloneValue),
      contacts: [...t.contacts.values()].filter((c) => access.contacts.has(c.id)).sort(byId).map(cloneValue),
      inboxes: [...t.inboxes.values()].filter((i) => access.inboxes.has(i.id)).sort(byId).map(cloneValue),
      agents: [...t.agents.values()].sort(byId).map(cloneValue),
      teams: [...t.teams.values()].sort(byId).map(cloneValue),
    };
  }

  /** The Yjs document the server holds for a doc name (tests read drafts from it). */
  doc(tenantId: string, name: string): Y.Doc | null {
    return this.tenant(tenantId).docs.get(name)?.doc ?? null;
  }

  connectionCount(tenantId: string): number {
    return this.tenant(tenantId).connections.size;
  }

  /** The scope string of an agent (changes when the set of inboxes it may access changes). */
  scopeOfAgent(agentId: string): string {
    const { t, agent } = this.auth(agentId);
    return this.scopeOf(t, agent);
  }

  // ----- internals ----------------------------------------------------------------------

  private tenant(id: string): TenantState {
    const t = this.tenants.get(id);
    if (!t) throw new Error(`unknown tenant ${id}`);
    return t;
  }

  private ownerOf(id: string): TenantState {
    const t = this.owner.get(id);
    if (!t) throw new Error(`unknown id ${id}`);
    return t;
  }

  private ownerOfMessage(messageId: string): TenantState {
    for (const t of this.tenants.values()) if (t.messages.has(messageId)) return t;
    throw new Error(`unknown message ${messageId}`);
  }

  private tenantOfAgent(agentId: string): TenantState {
    const t = this.owner.get(agentId);
    if (!t || !t.agents.has(agentId)) throw new Error(`unknown agent ${agentId}`);
    return t;
  }

  private auth(agentId: string): { t: TenantState; agent: Agent } {
    const t = this.owner.get(agentId);
    const agent = t?.agents.get(agentId);
    if (!t || !agent || !agent.active) throw new ReferenceServerError(401, 'unauthorized', 'no valid session');
    return { t, agent };
  }

  private commit<R>(t: TenantState, kind: CommitRecord['kind'], commandId: string | null, agentId: string | null, apply: (seq: number) => R): R {
    const seq = t.seq + 1;
    // [ops] Who the commit's events are by: the agent of a command; routing's own cause for its assignments.
    if (t.ops) {
      t.ops.actorId = agentId;
      t.ops.cause = kind === 'routing' ? ROUTING_CAUSE : null;
    }
    const result = apply(seq);
    t.seq = seq;
    t.log.push({ seq, at: this.now(), kind, commandId, agentId });
    for (const c of t.conversations.values()) if (c.seq === seq && INACTIVE.includes(c.status)) t.everInactive.add(c.id);
    this.announce(t, seq);
    for (const l of [...this.commitListeners]) l(t.tenant.id, seq);
    t.ops?.drain(); // [ops] the listeners run after the commit, each in a commit of its own
    return result;
  }

  private newConversation(
    t: TenantState,
    inbox: Inbox,
    contact: Contact,
    seq: number,
    c: { id: string; status?: ConversationStatus; priority?: Priority; assigneeId?: string | null; teamId?: string | null; labels?: string[]; subject?: string | null },
  ): Conversation {
    const now = this.now();
    const row: Conversation = {
      id: c.id,
      tenantId: t.tenant.id,
      inboxId: inbox.id,
      channel: inbox.channel,
      contactId: contact.id,
      contactName: contact.name,
      teamId: c.teamId !== undefined ? c.teamId : (inbox.teamIds[0] ?? null),
      status: c.status ?? 'open',
      priority: c.priority ?? 'normal',
      assigneeId: c.assigneeId ?? null,
      labels: [...new Set(c.labels ?? [])].sort(),
      subject: c.subject ?? null,
      lastMessagePreview: '',
      lastMessageDirection: null,
      lastMessageAt: now,
      waitingSince: null,
      snoozedUntil: null,
      messageCount: 0,
      createdAt: now,
      updatedAt: now,
      seq,
    };
    t.conversations.set(row.id, row);
    this.owner.set(row.id, t);
    // The contact may now be visible to agents who could not see it before: stamp it so it
    // replicates to them (rows replicate by seq, an old seq would never reach a new scope).
    t.contacts.set(contact.id, { ...contact, seq });
    return row;
  }

  private storeMessage(t: TenantState, m: Message): void {
    t.messages.set(m.id, m);
    const order = t.messageOrder.get(m.conversationId) ?? [];
    order.push(m.id);
    t.messageOrder.set(m.conversationId, order);
  }

  /** Inbox ids, conversation ids and contact ids an agent may see. */
  private access(t: TenantState, agent: Agent): { inboxes: Set<string>; conversations: Set<string>; contacts: Set<string> } {
    const inboxes = new Set<string>();
    for (const i of t.inboxes.values()) if (canAccessInbox(agent, i)) inboxes.add(i.id);
    const conversations = new Set<string>();
    const contacts = new Set<string>();
    for (const c of t.conversations.values()) {
      if (inboxes.has(c.inboxId)) {
        conversations.add(c.id);
        contacts.add(c.contactId);
      }
    }
    if (seesAllInboxes(agent)) for (const c of t.contacts.values()) contacts.add(c.id);
    return { inboxes, conversations, contacts };
  }

  private scopeOf(t: TenantState, agent: Agent): string {
    if (seesAllInboxes(agent)) return `all:${t.tenant.id}`;
    const inboxes = [...t.inboxes.values()].filter((i) => canAccessInbox(agent, i)).map((i) => i.id).sort();
    return `inboxes:${fnv1a(`${t.tenant.id}\u0000${inboxes.join('\u0000')}`)}`;
  }

  private canSeeConversation(t: TenantState, agent: Agent, conv: Conversation): boolean {
    const inbox = t.inboxes.get(conv.inboxId);
    return inbox !== undefined && canAccessInbox(agent, inbox);
  }

  private pushOne(t: TenantState, agent: Agent, raw: unknown): CommandOutcome {
    const id = typeof (raw as { id?: unknown } | null)?.id === 'string' ? (raw as { id: string }).id : '';
    const seen = t.commands.get(id);
    if (seen) return { id, outcome: 'duplicate', seq: seen.seq };
    const parsed = Command.safeParse(raw);
    if (!parsed.success) {
      return { id, outcome: 'rejected', error: { code: 'bad_request', message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') } };
    }
    const cmd = parsed.data;
    // The same decision the real server makes, over the state loaded from the maps.
    const seq = t.seq + 1;
    const decision = decideCommand(cmd, this.loadCommandState(t, agent, cmd), { actor: agent, now: this.now(), seq, ids: this.idSource(seq) });
    if (!decision.ok) return { id, outcome: 'rejected', error: decision.rejection };
    this.commit(t, 'command', cmd.id, agent.id, (s) => {
      this.storeFacts(t, decision.facts, s);
      t.commands.set(cmd.id, { seq: s, agentId: agent.id, type: cmd.type });
    });
    // [routing] as the server's listener: a conversation handed back to nobody or reopened is routed.
    if ((cmd.type === 'assign' && cmd.assigneeId === null) || (cmd.type === 'set_status' && cmd.status === 'open')) this.routeIfRouted(t, cmd.conversationId);
    return { id, outcome: 'applied', seq };
  }

  /** Readable ids for the facts of the commit `seq` (ct-7, cv-7, in-7, ev-7). */
  private idSource(seq: number, inboundId?: string): IdSource {
    const prefix = { contact: 'ct', conversation: 'cv', inbound: 'in', event: 'ev' } as const;
    return { next: (kind) => (kind === 'inbound' && inboundId !== undefined ? inboundId : `${prefix[kind]}-${seq}`) };
  }

  /** What a command's decision needs (core's commandNeeds), read from the maps. */
  private loadCommandState(t: TenantState, actor: Agent, cmd: Command): CommandState {
    const need = commandNeeds(cmd);
    const s = emptyCommandState();
    if (need.conversationId !== null) {
      s.conversation = t.conversations.get(need.conversationId) ?? null;
      if (s.conversation) {
        s.inbox = t.inboxes.get(s.conversation.inboxId) ?? null;
        s.contact = t.contacts.get(s.conversation.contactId) ?? null;
      }
    }
    if (need.contactId !== null) {
      s.contact = t.contacts.get(need.contactId) ?? null;
      if (s.contact) {
        const inboxIds = new Set([...t.conversations.values()].filter((c) => c.contactId === need.contactId).map((c) => c.inboxId));
        s.contactInboxes = [...inboxIds].map((i) => t.inboxes.get(i)!);
      }
    }
    if (need.call !== null) {
      const inbox = t.inboxes.get(need.call.inboxId) ?? null;
      s.inbox = inbox;
      if (inbox) {
        s.contact = this.contactByIdentity(t, inbox.channel, need.call.phone.trim());
        if (s.contact) s.openConversation = this.openConversationOf(t, inbox.id, s.contact.id);
      }
    }
    if (need.relatedConversationId) {
      s.related = t.conversations.get(need.relatedConversationId) ?? null;
      if (s.related) s.relatedInbox = t.inboxes.get(s.related.inboxId) ?? null;
    }
    if (need.assigneeId !== null) s.assignee = t.agents.get(need.assigneeId) ?? null;
    if (need.teamId !== null) s.team = t.teams.get(need.teamId) ?? null;
    s.attachments = new Map(need.attachmentIds.map((id) => [id, t.uploads.get(id) ?? null]));
    if (need.messageId !== null) s.messageExists = [...this.tenants.values()].some((x) => x.messages.has(need.messageId!));
    void actor;
    return s;
  }

  private contactByIdentity(t: TenantState, channel: Channel, identifier: string): Contact | null {
    return [...t.contacts.values()].find((c) => c.identities.some((x) => x.channel === channel && x.identifier === identifier)) ?? null;
  }

  /** The contact's latest conversation in the inbox with an OPEN_STATUSES status (as the server's query orders them). */
  private openConversationOf(t: TenantState, inboxId: string, contactId: string): Conversation | null {
    return (
      [...t.conversations.values()]
        .filter((c) => c.inboxId === inboxId && c.contactId === contactId && OPEN_STATUSES.includes(c.status))
        .sort((a, b) => b.lastMessageAt - a.lastMessageAt || (a.id < b.id ? 1 : -1))[0] ?? null
    );
  }

  /** Stores exactly the facts a decision returned (the in-memory counterpart of the server's writeFacts). */
  private storeFacts(t: TenantState, facts: readonly Fact[], seq: number): void {
    const opsState = t.ops ? t.ops.eventState(facts) : null; // [ops]
    for (const f of facts) {
      switch (f.kind) {
        case 'message':
          this.storeMessage(t, cloneValue(f.message));
          break;
        case 'conversation':
          t.conversations.set(f.conversation.id, cloneValue(f.conversation));
          this.owner.set(f.conversation.id, t);
          break;
        case 'contact':
          t.contacts.set(f.contact.id, cloneValue(f.contact));
          this.owner.set(f.contact.id, t);
          break;
        case 'contact_name':
          for (const conv of t.conversations.values()) {
            if (conv.contactId === f.contactId) t.conversations.set(conv.id, { ...conv, contactName: f.name, seq: f.seq });
          }
          break;
        case 'relay_job':
          t.relayJobs.push(f.messageId);
          break;
        case 'attachment_bind': {
          const u = t.uploads.get(f.attachmentId);
          if (u && (u.messageId === null || u.messageId === f.messageId)) t.uploads.set(u.id, { ...u, messageId: f.messageId });
          break;
        }
        case 'message_status': {
          const m = t.messages.get(f.messageId)!;
          t.messages.set(m.id, { ...m, status: f.status, statusReason: f.reason, meta: cloneValue(f.meta), seq });
          break;
        }
        case 'message_transcript': {
          const m = t.messages.get(f.messageId);
          if (m) t.messages.set(m.id, { ...m, meta: cloneValue(f.meta), seq });
          break;
        }
        case 'message_move':
          for (const m of [...t.messages.values()]) {
            if (m.conversationId === f.fromConversationId) t.messages.set(m.id, { ...m, conversationId: f.toConversationId, seq });
          }
          t.messageOrder.set(f.toConversationId, [...(t.messageOrder.get(f.toConversationId) ?? []), ...(t.messageOrder.get(f.fromConversationId) ?? [])]);
          t.messageOrder.set(f.fromConversationId, []);
          break;
        case 'message_redact': {
          const m = t.messages.get(f.messageId);
          if (m) t.messages.set(m.id, { ...m, text: f.text, subject: f.subject, attachments: [], meta: cloneValue(f.meta), seq: f.seq });
          break;
        }
        case 'contact_identities_drop':
          break;
        case 'attachment_drop':
          t.uploads.delete(f.attachmentId);
          break;
        case 'audit':
          t.audit.push({ seq, agentId: f.agentId, action: f.action, target: f.target, details: cloneValue(f.details) });
          break;
        case 'agent_routing':
          t.agents.set(f.agent.id, cloneValue(f.agent));
          break;
        case 'routing_pointer':
          t.routingPointers.set(f.scope, { agentId: f.agentId, at: f.at });
          break;
        case 'read_mark': {
          const key = `${f.agentId}\u0000${f.conversationId}`;
          const prev = t.readMarks.get(key);
          if (!prev || prev.readUpTo < f.readUpTo) t.readMarks.set(key, { agentId: f.agentId, conversationId: f.conversationId, readUpTo: f.readUpTo, seq: f.seq });
          break;
        }
        case 'conversation_sla': {
          const conv = t.conversations.get(f.conversationId);
          if (conv) t.conversations.set(conv.id, { ...conv, sla: cloneValue(f.sla), seq: f.seq });
          break;
        }
        default:
          assertNever(f, 'fact');
      }
    }
    if (t.ops && opsState) t.ops.record(facts, opsState); // [ops] the facts' events, in their commit
  }

  // ----- sync socket: control frames and the Yjs relay -------------------------------------

  /** @internal */
  onSocketData(conn: Conn, data: string | Uint8Array): void {
    if (typeof data === 'string') {
      let msg: ClientControl;
      try {
        msg = ClientControl.parse(JSON.parse(data));
      } catch {
        this.kick(conn, 4400, 'bad control frame');
        return;
      }
      switch (msg.t) {
        case 'auth':
          return;
        case 'ping':
          conn.sink.text(JSON.stringify({ t: 'pong' }));
          return;
        case 'sub':
          this.subscribe(conn, msg.doc);
          return;
        case 'unsub':
          this.unsubscribe(conn, msg.doc);
          return;
        case 'ack':
          conn.acked = Math.max(conn.acked, msg.seq);
          return;
      }
    }
    let frame;
    try {
      frame = decodeFrame(data);
    } catch (e) {
      if (e instanceof FrameError) {
        this.kick(conn, 4400, e.message);
        return;
      }
      throw e;
    }
    const d = conn.tenant.docs.get(frame.doc);
    if (!d || !d.subs.has(conn)) {
      conn.sink.text(JSON.stringify({ t: 'error', code: 'not_subscribed', message: 'subscribe first', doc: frame.doc }));
      return;
    }
    const dec = decoding.createDecoder(frame.payload);
    if (frame.kind === FRAME_SYNC) {
      const enc = encoding.createEncoder();
      syncProtocol.readSyncMessage(dec, enc, d.doc, conn);
      if (encoding.length(enc) > 0) conn.sink.binary(encodeFrame(frame.doc, FRAME_SYNC, encoding.toUint8Array(enc)));
    } else if (frame.kind === FRAME_AWARENESS) {
      awarenessProtocol.applyAwarenessUpdate(d.awareness, decoding.readVarUint8Array(dec), conn);
    }
  }

  /** @internal */
  onSocketClosed(conn: Conn): void {
    conn.tenant.connections.delete(conn);
    for (const name of [...conn.controlled.keys()]) this.unsubscribe(conn, name);
    for (const d of conn.tenant.docs.values()) d.subs.delete(conn);
  }

  private kick(conn: Conn, code: number, reason: string): void {
    if (!conn.open) return;
    conn.open = false;
    this.onSocketClosed(conn);
    conn.sink.close(code, reason);
  }

  private subscribe(conn: Conn, name: string): void {
    const t = conn.tenant;
    const parsed = parseDocName(name);
    const agent = t.agents.get(conn.agentId);
    const conv = parsed ? t.conversations.get(parsed.conversationId) : undefined;
    if (!parsed || !agent || !conv || !this.canSeeConversation(t, agent, conv)) {
      conn.sink.text(JSON.stringify({ t: 'error', code: 'not_found', message: 'no such document', doc: name }));
      return;
    }
    const d = t.docs.get(name) ?? this.createDoc(t, name);
    d.subs.add(conn);
    if (!conn.controlled.has(name)) conn.controlled.set(name, new Set());
    const enc = encoding.createEncoder();
    syncProtocol.writeSyncStep1(enc, d.doc);
    conn.sink.binary(encodeFrame(name, FRAME_SYNC, encoding.toUint8Array(enc)));
    const states = [...d.awareness.getStates().keys()];
    if (states.length > 0) {
      const aw = encoding.createEncoder();
      encoding.writeVarUint8Array(aw, awarenessProtocol.encodeAwarenessUpdate(d.awareness, states));
      conn.sink.binary(encodeFrame(name, FRAME_AWARENESS, encoding.toUint8Array(aw)));
    }
  }

  private unsubscribe(conn: Conn, name: string): void {
    const d = conn.tenant.docs.get(name);
    const controlled = conn.controlled.get(name);
    conn.controlled.delete(name);
    if (!d) return;
    d.subs.delete(conn);
    if (controlled && controlled.size > 0) awarenessProtocol.removeAwarenessStates(d.awareness, [...controlled], null);
  }

  private createDoc(t: TenantState, name: string): DocState {
    const doc = new Y.Doc();
    const awareness = new awarenessProtocol.Awareness(doc);
    awareness.setLocalState(null);
    const d: DocState = { doc, awareness, subs: new Set() };
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      const enc = encoding.createEncoder();
      syncProtocol.writeUpdate(enc, update);
      const frame = encodeFrame(name, FRAME_SYNC, encoding.toUint8Array(enc));
      for (const c of d.subs) if (c !== origin) c.sink.binary(frame);
    });
    awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      const changed = [...added, ...updated, ...removed];
      if (origin instanceof Conn) {
        const set = origin.controlled.get(name);
        if (set) {
          for (const id of [...added, ...updated]) set.add(id);
          for (const id of removed) set.delete(id);
        }
      }
      const aw = encoding.createEncoder();
      encoding.writeVarUint8Array(aw, awarenessProtocol.encodeAwarenessUpdate(awareness, changed));
      const frame = encodeFrame(name, FRAME_AWARENESS, encoding.toUint8Array(aw));
      for (const c of d.subs) if (c !== origin) c.sink.binary(frame);
    });
    t.docs.set(name, d);
    return d;
  }

  // ----- [push] facts over the socket -----------------------------------------------------

  /**
   * After the commit of `seq`: sockets that asked for pushes get the commit's facts of their scope
   * (one frame per scope, as the real server serialises once per scope digest), unless core's
   * decidePushFlow moved them to poke mode (too much queued); the others get a poke.
   */
  private announce(t: TenantState, seq: number): void {
    const poke = JSON.stringify({ t: 'poke', seq });
    const frames = new Map<string, string>();
    for (const c of [...t.connections]) {
      const agent = t.agents.get(c.agentId);
      if (!c.push || !agent) {
        c.sink.text(poke);
        continue;
      }
      c.flow = decidePushFlow(c.flow, { buffered: c.sink.buffered?.() ?? 0, acked: c.acked, seq }, this.o.pushFlow ?? PUSH_FLOW);
      if (c.flow.mode === 'poke') {
        this.stats.pushPokes = (this.stats.pushPokes ?? 0) + 1;
        c.sink.text(poke);
        continue;
      }
      const scope = this.scopeOf(t, agent);
      let frame = frames.get(scope);
      if (frame === undefined) {
        frame = JSON.stringify(this.factsFrame(t, agent, scope, seq - 1, seq));
        frames.set(scope, frame);
      }
      // [search-read] The agent's own read marks of the commit join their copy of the frame (never shared).
      const marks = [...t.readMarks.values()].filter((m) => m.agentId === agent.id && m.seq > seq - 1 && m.seq <= seq);
      c.sink.text(marks.length ? `${frame.slice(0, -1)},"readMarks":${JSON.stringify(marks.map((m) => ({ conversationId: m.conversationId, readUpTo: m.readUpTo, seq: m.seq })))}}` : frame);
    }
  }

  /** The facts of one scope with `from < seq ≤ to` (the rows a pull from `from` would carry). */
  private factsFrame(t: TenantState, agent: Agent, scope: string, from: number, to: number): FactsFrame {
    const access = this.access(t, agent);
    const pick = <T extends { seq: number }>(rows: Iterable<T>, ok: (r: T) => boolean): T[] => {
      const out: T[] = [];
      for (const r of rows) if (r.seq > from && r.seq <= to && ok(r)) out.push(cloneValue(r));
      return out.sort((a, b) => a.seq - b.seq);
    };
    return {
      t: 'facts',
      from,
      to,
      scope,
      conversations: pick(t.conversations.values(), (r) => access.conversations.has(r.id)),
      messages: pick(t.messages.values(), (r) => access.conversations.has(r.conversationId)),
      contacts: pick(t.contacts.values(), (r) => access.contacts.has(r.id)),
      inboxes: pick(t.inboxes.values(), (r) => access.inboxes.has(r.id)),
      agents: pick(t.agents.values(), () => true),
      teams: pick(t.teams.values(), () => true),
    };
  }
}
