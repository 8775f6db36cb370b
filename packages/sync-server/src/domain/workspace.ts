import crypto from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import {
  Command,
  type Agent,
  type CommandOutcome,
  type Contact,
  type Conversation,
  type ConversationStatus,
  type IdSource,
  type Inbox,
  type Message,
  type PullRequest,
  type PullResponse,
  type Team,
  OPEN_STATUSES as OPEN,
  canAccessInbox,
  canSeeContact,
  decideAdminOptIn,
  decideCommand,
  decideInbound,
  decideMessageStatus,
  decideOptOut,
  decideSystemReply,
  withStatus,
  Uuidv7Generator,
  Emitter,
  type Logger,
} from '@goutong/core';
import type { Db, Queryable, Row } from '../db/db.js';
import { csatReplyRouting, recordCsatAnswer } from './csat.js';
import { ApiError, notFound, badRequest } from '../errors.js';
import { nextSeq, toAgent, toContact, toConversation, toInbox, toMessage, toTeam } from './rows.js';
import { scopeOf, scopeSql, type Scope } from './scope.js';
import { insertAudit } from './audit.js';
import { maskerFor } from './masking.js';
import { contactByIdentity, contactInboxesOf, loadCommandState, openConversationOf, writeFacts } from './facts.js';
import { latestResolvedOf, lifecycleSettingsOf } from './sla.js';
import { retentionPolicy } from './retention.js';
import { readMarksOf } from './readMarks.js';
import { GroupCommit } from './groupCommit.js';

const gzipAsync = promisify(zlib.gzip);

export interface Committed {
  tenantId: string;
  seq: number;
}

/** A message that must go out through its inbox's provider (the transactional outbox row was written with it). */
export interface RelayEnqueued {
  tenantId: string;
  messageId: string;
}

export interface InboundInput {
  externalId: string;
  from: { identifier: string; name?: string | undefined };
  text: string;
  subject?: string | undefined;
  kind?: Message['kind'];
  attachments?: Message['attachments'];
  meta?: Record<string, unknown>;
  /** When the provider says the message was sent (ms). */
  sentAt?: number | undefined;
  /** Join this conversation instead of finding one (threading decided by the channel). */
  conversationId?: string | undefined;
  /** Start a new conversation even when the contact has an open one (a new email thread). */
  newConversation?: boolean | undefined;
  /** When the joined conversation (conversationId) is resolved or closed, reopen it. */
  reopen?: boolean | undefined;
  // ----- providers: attachments and side rows in the inbound's own transaction -----
  /**
   * Files whose bytes are already in the content-addressed store (AttachmentStore.stage): their
   * rows are inserted bound to the new message, in the same transaction; they become the message's
   * attachments (after `attachments`). Nothing is inserted for a duplicate delivery.
   */
  stagedAttachments?: readonly StagedAttachment[];
  /** Channel side rows (email Message-IDs, conversation links) written in the same transaction. */
  sideRows?: ((q: Queryable, stored: { conversationId: string; messageId: string }) => Promise<void>) | undefined;
}

/** An attachment whose bytes are stored but whose row is not written yet. */
export interface StagedAttachment {
  id: string;
  name: string;
  mime: string;
  size: number;
  sha256: string;
}

export interface StatusOptions {
  reason?: string | null;
  providerMessageId?: string | null;
  meta?: Record<string, unknown>;
}

export interface InboundResult {
  duplicate: boolean;
  message: Message;
  conversation: Conversation;
}

const OPEN_STATUSES: ConversationStatus[] = [...OPEN];

function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(`${createdAt}:${id}`).toString('base64url');
}
function decodeCursor(cursor: string): { at: number; id: string } {
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  const i = raw.indexOf(':');
  const at = Number(raw.slice(0, i));
  const id = raw.slice(i + 1);
  if (i < 1 || !Number.isFinite(at) || !id) throw badRequest('invalid cursor');
  return { at, id };
}

/**
 * The authoritative workspace: validates and applies commands, ingests inbound messages, serves
 * the replication log. Each change happens in one transaction with the facts it causes and bumps
 * the tenant's sequence; `committed` fires after the commit (pokes, fan-out).
 */
export class Workspace {
  readonly committed = new Emitter<Committed>();
  readonly relayEnqueued = new Emitter<RelayEnqueued>();
  /** [providers] A delivery status change committed (the extensions' `onStatus` hooks). */
  readonly statusChanged = new Emitter<Message>();
  readonly ids = new Uuidv7Generator(() => Date.now(), (n) => crypto.randomBytes(n));

  /** Signs attachment download URLs (set by the server once its attachment store exists). */
  attachmentUrl: ((attachmentId: string, tenantId: string) => string) | null = null;

  /**
   * The commit queue of commands, inbound messages and delivery statuses: those that arrive together
   * share one transaction (one fsync), each under its own savepoint (domain/groupCommit.ts).
   */
  readonly commits: GroupCommit;

  constructor(readonly db: Db, private readonly logger: Logger, private readonly now: () => number = Date.now) {
    this.commits = new GroupCommit(db);
  }

  /** Messages leave the server with signed download URLs, so `<img>`/`<audio>` load them without a token. */
  withAttachmentUrls(m: Message): Message {
    const sign = this.attachmentUrl;
    if (!sign || m.attachments.length === 0) return m;
    return { ...m, attachments: m.attachments.map((a) => ({ ...a, url: sign(a.id, m.tenantId) })) };
  }

  // ----- principals and scope --------------------------------------------------------

  async agent(id: string): Promise<Agent | null> {
    const r = await this.db.one('SELECT * FROM agents WHERE id = ?', [id]);
    return r ? toAgent(r) : null;
  }

  async inboxes(tenantId: string): Promise<Inbox[]> {
    return (await this.db.all('SELECT * FROM inboxes WHERE tenant_id = ? ORDER BY created_at, id', [tenantId])).map(toInbox);
  }

  async inbox(tenantId: string, id: string, q: Queryable = this.db): Promise<Inbox | null> {
    const r = await q.one('SELECT * FROM inboxes WHERE tenant_id = ? AND id = ?', [tenantId, id]);
    return r ? toInbox(r) : null;
  }

  async inboxRow(id: string): Promise<Row | null> {
    return this.db.one('SELECT * FROM inboxes WHERE id = ?', [id]);
  }

  async scope(agent: Agent, q: Queryable = this.db): Promise<Scope> {
    const inboxes = (await q.all('SELECT * FROM inboxes WHERE tenant_id = ?', [agent.tenantId])).map(toInbox);
    return scopeOf(agent, inboxes);
  }

  /** A conversation the agent may see, or a not_found error (never reveal other tenants' ids). */
  async visibleConversation(agent: Agent, id: string, q: Queryable = this.db): Promise<Conversation> {
    const r = await q.one('SELECT * FROM conversations WHERE id = ? AND tenant_id = ?', [id, agent.tenantId]);
    if (!r) throw notFound(`conversation ${id} not found`);
    const conv = toConversation(r);
    const inbox = (await this.inbox(agent.tenantId, conv.inboxId, q))!;
    if (!canAccessInbox(agent, inbox)) throw notFound(`conversation ${id} not found`);
    return conv;
  }

  /** A contact the agent may see (core's canSeeContact), or a not_found error. */
  async visibleContact(agent: Agent, id: string, q: Queryable = this.db): Promise<Contact> {
    const r = await q.one('SELECT * FROM contacts WHERE id = ? AND tenant_id = ?', [id, agent.tenantId]);
    const contact = r ? toContact(r) : null;
    if (!contact || !canSeeContact(agent, contact, await contactInboxesOf(q, agent.tenantId, contact.id))) throw notFound(`contact ${id} not found`);
    return contact;
  }

  async currentSeq(tenantId: string): Promise<number> {
    const r = await this.db.one<{ seq: number }>('SELECT seq FROM tenant_seq WHERE tenant_id = ?', [tenantId]);
    return r ? Number(r.seq) : 0;
  }

  // ----- commands --------------------------------------------------------------------

  /**
   * Applies commands in order, each under its own savepoint of the group commit (a rejected one
   * changes nothing and never fails its neighbours); acknowledged only after the shared commit.
   */
  async applyCommands(agent: Agent, raw: readonly unknown[], receivedAt = this.now()): Promise<CommandOutcome[]> {
    // Every command is queued in this turn, in order, so the batch joins one group (and sees itself).
    const pending = raw.map((item): Promise<CommandOutcome> => {
      const id = typeof (item as { id?: unknown })?.id === 'string' ? (item as { id: string }).id : '';
      const parsed = Command.safeParse(item);
      if (!parsed.success) {
        return Promise.resolve({ id, outcome: 'rejected', error: { code: 'bad_request', message: parsed.error.issues.map((i) => `${i.path.join('.') || 'command'}: ${i.message}`).join('; ') } });
      }
      return this.applyCommand(agent, parsed.data, receivedAt).catch((e: unknown): CommandOutcome => {
        if (e instanceof ApiError && e.status < 500) return { id, outcome: 'rejected', error: { code: e.code, message: e.message } };
        throw e;
      });
    });
    const settled = await Promise.allSettled(pending);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<CommandOutcome>).value);
  }

  /**
   * Applies one command. With an idempotency key (REST clients), a repeated key returns the first
   * command's outcome under its id, whatever the new command says.
   */
  async applyCommand(agent: Agent, command: Command, receivedAt = this.now(), idempotencyKey?: string): Promise<CommandOutcome> {
    const result = await this.commits.run(async (q) => {
      if (idempotencyKey !== undefined) {
        const k = await q.one<{ command_id: string }>('SELECT command_id FROM idempotency_keys WHERE tenant_id = ? AND agent_id = ? AND key = ?', [agent.tenantId, agent.id, idempotencyKey]);
        if (k) {
          const c = await q.one<{ seq: number }>('SELECT seq FROM commands WHERE tenant_id = ? AND id = ?', [agent.tenantId, k.command_id]);
          return { outcome: { id: k.command_id, outcome: 'duplicate', seq: Number(c?.seq ?? 0) } as CommandOutcome, relay: null };
        }
        await q.run('INSERT INTO idempotency_keys (tenant_id, agent_id, key, command_id, created_at) VALUES (?, ?, ?, ?, ?)', [agent.tenantId, agent.id, idempotencyKey, command.id, receivedAt]);
      }
      const prior = await q.one<{ seq: number }>('SELECT seq FROM commands WHERE tenant_id = ? AND id = ?', [agent.tenantId, command.id]);
      if (prior) return { outcome: { id: command.id, outcome: 'duplicate', seq: Number(prior.seq) } as CommandOutcome, relay: null };
      const seq = await nextSeq(q, agent.tenantId);
      const relay = await this.execute(q, agent, command, seq, receivedAt);
      // Every agent command is audited in its own transaction (who, when, from where: the request context).
      // [search-read] Reading a conversation is not an action on it: read marks are not audited (they would flood the trail).
      if (command.type !== 'mark_read') await insertAudit(q, { tenantId: agent.tenantId, agentId: agent.id }, { action: `command.${command.type}`, target: commandTarget(command), details: { commandId: command.id } }, receivedAt);
      await q.run('INSERT INTO commands (tenant_id, id, agent_id, type, seq, device_time, server_time) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        agent.tenantId, command.id, agent.id, command.type, seq, command.deviceTime, receivedAt,
      ]);
      return { outcome: { id: command.id, outcome: 'applied', seq } as CommandOutcome, relay };
    });
    if (result.outcome.outcome === 'applied') {
      this.committed.emit({ tenantId: agent.tenantId, seq: result.outcome.seq });
      if (result.relay) this.relayEnqueued.emit({ tenantId: agent.tenantId, messageId: result.relay });
    }
    return result.outcome;
  }

  /** Loads what the command's decision needs, decides (core's rules) and writes exactly the returned facts. Returns a message id to relay, if any. */
  private async execute(q: Queryable, agent: Agent, command: Command, seq: number, now: number): Promise<string | null> {
    const state = await loadCommandState(q, agent, command);
    const decision = decideCommand(command, state, { actor: agent, now, seq, ids: this.idSource });
    if (!decision.ok) throw new ApiError(decision.rejection.code, decision.rejection.message);
    await writeFacts(q, agent.tenantId, decision.facts, { now, newId: () => this.ids.next(), seq, actorId: agent.id });
    const relay = decision.facts.find((f) => f.kind === 'relay_job');
    return relay?.kind === 'relay_job' ? relay.messageId : null;
  }

  /** New ids for the facts a decision makes: UUIDv7 whatever their kind. */
  private readonly idSource: IdSource = { next: () => this.ids.next() };

  /**
   * The customer's STOP/退订 (optedOut) or START on a channel, as a fact on the contact (new seq).
   * Null when it already was so.
   */
  async recordOptOut(contactId: string, change: { optedOut: boolean; keyword: string; channel: string; at?: number }): Promise<Contact | null> {
    const now = change.at ?? this.now();
    const res = await this.db.tx(async (q) => {
      const r = await q.one('SELECT * FROM contacts WHERE id = ?', [contactId]);
      if (!r) return null;
      const contact = toContact(r);
      if (decideOptOut(contact, change, { now, seq: 0 }) === null) return null;
      const seq = await nextSeq(q, contact.tenantId);
      const fact = decideOptOut(contact, change, { now, seq })!;
      await writeFacts(q, contact.tenantId, [fact], { now, newId: () => this.ids.next(), seq });
      return fact.kind === 'contact' ? fact.contact : null;
    });
    if (res) this.committed.emit({ tenantId: res.tenantId, seq: res.seq });
    return res;
  }

  /**
   * An admin clears a contact's opt-out (the customer agreed again by other means); the audit row is
   * written in the same transaction. Returns the contact as it is afterwards.
   */
  async optInContact(actor: Agent, contactId: string, reason?: string): Promise<Contact> {
    const now = this.now();
    const res = await this.db.tx(async (q) => {
      const r = await q.one('SELECT * FROM contacts WHERE id = ? AND tenant_id = ?', [contactId, actor.tenantId]);
      const contact = r ? toContact(r) : null;
      const probe = decideAdminOptIn(actor, contact, contactId, { now, seq: 0 }, reason);
      if (!probe.ok) throw new ApiError(probe.rejection.code, probe.rejection.message);
      if (probe.facts.length === 0) return { contact: contact!, seq: null };
      const seq = await nextSeq(q, actor.tenantId);
      const decision = decideAdminOptIn(actor, contact, contactId, { now, seq }, reason);
      if (!decision.ok) throw new ApiError(decision.rejection.code, decision.rejection.message);
      await writeFacts(q, actor.tenantId, decision.facts, { now, newId: () => this.ids.next(), seq });
      const written = decision.facts.find((f) => f.kind === 'contact');
      return { contact: written?.kind === 'contact' ? written.contact : contact!, seq };
    });
    if (res.seq !== null) this.committed.emit({ tenantId: actor.tenantId, seq: res.seq });
    return res.contact;
  }

  /**
   * Queues an automatic outgoing message (authorType system, e.g. an auto-reply) through the relay,
   * like an agent's reply: the message, the conversation's count and the relay job in one transaction.
   */
  async enqueueSystemReply(conversationId: string, text: string, subject: string | null, meta: Record<string, unknown>): Promise<Message> {
    const now = this.now();
    const message = await this.db.tx(async (q) => {
      const r = await q.one('SELECT * FROM conversations WHERE id = ?', [conversationId]);
      if (!r) throw notFound(`conversation ${conversationId} not found`);
      const conv = toConversation(r);
      const seq = await nextSeq(q, conv.tenantId);
      const d = decideSystemReply(conv, { text, subject, meta }, { now, seq, ids: this.idSource });
      await writeFacts(q, conv.tenantId, d.facts, { now, newId: () => this.ids.next(), seq });
      return d.message;
    });
    this.committed.emit({ tenantId: message.tenantId, seq: message.seq });
    this.relayEnqueued.emit({ tenantId: message.tenantId, messageId: message.id });
    return message;
  }

  // ----- inbound -----------------------------------------------------------------------

  /**
   * Stores an inbound message: finds or creates the contact by identity and the open
   * conversation of that contact in the inbox. Idempotent on (inbox, externalId).
   */
  async ingestInbound(inbox: Inbox, raw: InboundInput): Promise<InboundResult> {
    const input = withStagedAttachments(raw); // [providers] staged files become the message's attachments
    const now = this.now();
    const res = await this.commits.run(async (q) => {
      const dup = await q.one('SELECT * FROM messages WHERE inbox_id = ? AND external_id = ?', [inbox.id, input.externalId]);
      if (dup) {
        const m = toMessage(dup);
        const c = toConversation((await q.one('SELECT * FROM conversations WHERE id = ?', [m.conversationId]))!);
        return { duplicate: true, message: m, conversation: c };
      }
      const seq = await nextSeq(q, inbox.tenantId);
      const contact = await contactByIdentity(q, inbox.tenantId, inbox.channel, input.from.identifier.trim());
      let conv: Conversation | null = null;
      if (input.conversationId) {
        const r = await q.one('SELECT * FROM conversations WHERE id = ? AND inbox_id = ?', [input.conversationId, inbox.id]);
        conv = r ? toConversation(r) : null;
      }
      // [automation] A 1-5 answer to the contact's pending SMS survey joins the surveyed conversation (which stays resolved).
      const csat = contact && inbox.channel === 'sms' && !input.conversationId ? await csatReplyRouting(q, inbox.id, contact.id, input, now) : null;
      if (csat) conv = csat.conversation;
      else if (!conv && !input.newConversation && contact) conv = await openConversationOf(q, inbox.id, contact.id);
      // [lifecycle] No open conversation: the latest resolved one reopens within the tenant's reopen window.
      let reopenWindowMs: number | null | undefined;
      if (!csat && !conv && !input.newConversation && !input.conversationId && contact) {
        conv = await latestResolvedOf(q, inbox.id, contact.id);
        const w = (await lifecycleSettingsOf(q, inbox.tenantId)).reopenWindowSeconds;
        if (conv) reopenWindowMs = w === null ? null : w * 1000;
      }
      const d = decideInbound(csat ? { ...input, meta: { ...input.meta, csatAnswer: csat.answer } } : input, { inbox, contact, conversation: conv, ...(reopenWindowMs !== undefined ? { reopenWindowMs } : {}) }, { now, seq, ids: this.idSource });
      await writeFacts(q, inbox.tenantId, d.facts, { now, newId: () => this.ids.next(), seq });
      if (csat) await recordCsatAnswer(q, csat.survey, csat.answer, { now, seq: async () => seq, write: (f) => writeFacts(q, inbox.tenantId, f, { now, newId: () => this.ids.next(), seq }) });
      await this.writeInboundSideRows(q, inbox.tenantId, input, { conversationId: d.conversation.id, messageId: d.message.id }, now); // [providers]
      return { duplicate: false, message: d.message, conversation: d.conversation };
    });
    if (!res.duplicate) this.committed.emit({ tenantId: inbox.tenantId, seq: res.message.seq });
    return res;
  }

  /**
   * Records a delivery status change of an outgoing message as a fact (statuses only move forward;
   * a repeated receipt writes nothing). Returns the message as stored, or null when nothing changed.
   */
  async setMessageStatus(messageId: string, status: Message['status'], opts: StatusOptions = {}): Promise<Message | null> {
    const res = await this.commits.run((q) => this.recordMessageStatus(q, messageId, status, opts));
    if (res) this.committed.emit({ tenantId: res.tenantId, seq: res.seq });
    if (res) this.statusChanged.emit(res); // [providers]
    return res;
  }

  /**
   * setMessageStatus inside the caller's transaction (the relay finishes its job and writes the status
   * fact in one commit). The caller emits `committed` ({tenantId, seq} of the result) after its commit.
   */
  async recordMessageStatus(q: Queryable, messageId: string, status: Message['status'], opts: StatusOptions = {}): Promise<Message | null> {
    const r = await q.one('SELECT * FROM messages WHERE id = ?', [messageId]);
    if (!r) return null;
    const m = toMessage(r);
    const fact = decideMessageStatus(m, (r.provider_message_id as string | null) ?? null, { status, reason: opts.reason, providerMessageId: opts.providerMessageId, meta: opts.meta });
    if (!fact) return null;
    const seq = await nextSeq(q, m.tenantId);
    await writeFacts(q, m.tenantId, [fact], { now: this.now(), newId: () => this.ids.next(), seq });
    return withStatus(m, fact, seq);
  }

  // ----- reads -------------------------------------------------------------------------

  /**
   * The replication log: every fact in the agent's scope with seq > checkpoint, in seq order.
   * The tenant's seq is read first: every seq up to it is committed (seq allocation holds a row lock
   * until commit), so the checkpoint never skips a row that commits later.
   */
  /**
   * The pull as JSON text, shared between identical requests: after a poke every device of a scope
   * asks for the same range, so it is read and serialised once (keyed by tenant, scope, range).
   */
  async pullJson(agent: Agent, req: PullRequest): Promise<string> {
    return (await this.pullBody(agent, req, false)) as string;
  }

  /**
   * [push] The pull as gzip (lean catch-up: compressed when the client accepts it), shared like
   * pullJson: identical requests compress once.
   */
  async pullGzip(agent: Agent, req: PullRequest): Promise<Buffer> {
    return (await this.pullBody(agent, req, true)) as Buffer;
  }

  private async pullBody(agent: Agent, req: PullRequest, gzip: boolean): Promise<string | Buffer> {
    const scope = await this.scope(agent);
    const cur = await this.currentSeq(agent.tenantId);
    const key = `${agent.tenantId}|${scope.key}|${req.scope ?? ''}|${req.checkpoint}|${req.limit}|${cur}`;
    const shared = await this.cached(key, () =>
      this.pull(agent, req, scope, cur, false).then((r) => ({ json: JSON.stringify(r), from: r.reset ? 0 : req.checkpoint, to: r.checkpoint })),
    );
    // [search-read] The agent's own read marks of the range join the shared answer (never shared).
    const marks = await readMarksOf(this.db, agent.tenantId, agent.id, shared.from, shared.to);
    if (marks.length) {
      const json = `${shared.json.slice(0, -1)},"readMarks":${JSON.stringify(marks)}}`;
      return gzip ? gzipAsync(Buffer.from(json), { level: 6 }) : json;
    }
    if (!gzip) return shared.json;
    return this.cached(`${key}|gz`, async () => gzipAsync(Buffer.from(shared.json), { level: 6 }));
  }

  private cached<T>(key: string, make: () => Promise<T>): Promise<T> {
    let hit = this.pullCache.get(key) as Promise<T> | undefined;
    if (!hit) {
      hit = make();
      this.pullCache.set(key, hit);
      hit.catch(() => this.pullCache.delete(key));
      // Entries live briefly: enough for a fan-out burst, not enough to matter for memory.
      setTimeout(() => this.pullCache.delete(key), 2000).unref();
      if (this.pullCache.size > 1000) this.pullCache.clear();
    }
    return hit;
  }

  private pullCache = new Map<string, Promise<unknown>>();

  async pull(agent: Agent, req: PullRequest, knownScope?: Scope, knownSeq?: number, withReadMarks = true): Promise<PullResponse> {
    const scope = knownScope ?? (await this.scope(agent));
    const reset = req.scope !== undefined && req.scope !== scope.key && req.checkpoint > 0;
    const from = reset ? 0 : req.checkpoint;
    const t = agent.tenantId;
    const cur = knownSeq ?? (await this.currentSeq(t));
    const tables = this.pullQueries(scope, t);
    const limit = req.limit;
    const results = await Promise.all(tables.map((tq) => this.db.all(`${tq.sql} AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`, [...tq.params, from, cur, limit])));
    const truncated = results.filter((rows) => rows.length === limit);
    let checkpoint = cur;
    let hasMore = false;
    let rowsByTable = results;
    if (truncated.length > 0) {
      hasMore = true;
      const bound = Math.min(...truncated.map((rows) => Number(rows[rows.length - 1]!.seq)));
      rowsByTable = results.map((rows) => rows.filter((r) => Number(r.seq) < bound));
      checkpoint = bound - 1;
      if (rowsByTable.every((rows) => rows.length === 0)) {
        // More than `limit` rows share one seq (a contact renamed on many conversations): send that seq whole.
        rowsByTable = await Promise.all(tables.map((tq) => this.db.all(`${tq.sql} AND seq = ? ORDER BY id`, [...tq.params, bound])));
        checkpoint = bound;
        hasMore = bound < cur;
      }
    }
    const [convs, msgs, contacts, inboxes, agents, teams] = rowsByTable as [Row[], Row[], Row[], Row[], Row[], Row[]];
    const readMarks = withReadMarks ? await readMarksOf(this.db, t, agent.id, from, Math.max(checkpoint, 0)) : []; // [search-read]
    // Personal data leaves the server masked for a principal without pii.view (the scope key says which).
    const mask = await maskerFor(this.db, agent);
    return {
      checkpoint: Math.max(checkpoint, 0),
      hasMore,
      scope: scope.key,
      reset,
      conversations: convs.map((r) => mask.conversation(toConversation(r))),
      messages: msgs.map((r) => mask.message(this.withAttachmentUrls(toMessage(r)))),
      contacts: contacts.map((r) => mask.contact(toContact(r))),
      inboxes: inboxes.map(toInbox),
      agents: agents.map(toAgent),
      teams: teams.map(toTeam),
      retention: await retentionPolicy(this.db, t),
      ...(readMarks.length ? { readMarks } : {}),
    };
  }

  private pullQueries(scope: Scope, t: string): { sql: string; params: string[] }[] {
    const s = scopeSql(scope, 'inbox_id');
    const sc = scopeSql(scope, 'c.inbox_id');
    return [
      { sql: `SELECT * FROM conversations WHERE tenant_id = ? AND ${s.sql}`, params: [t, ...s.params] },
      { sql: `SELECT * FROM messages WHERE tenant_id = ? AND ${s.sql}`, params: [t, ...s.params] },
      scope.all
        ? { sql: 'SELECT * FROM contacts WHERE tenant_id = ?', params: [t] }
        : {
            sql: `SELECT * FROM contacts WHERE tenant_id = ? AND id IN (SELECT c.contact_id FROM conversations c WHERE c.tenant_id = ? AND ${sc.sql})`,
            params: [t, t, ...sc.params],
          },
      { sql: `SELECT * FROM inboxes WHERE tenant_id = ? AND ${scopeSql(scope, 'id').sql}`, params: [t, ...scopeSql(scope, 'id').params] },
      { sql: 'SELECT * FROM agents WHERE tenant_id = ?', params: [t] },
      { sql: 'SELECT * FROM teams WHERE tenant_id = ?', params: [t] },
    ];
  }

  async listConversations(
    agent: Agent,
    f: { status?: string[]; assigneeId?: string | null; inboxId?: string; cursor?: string; q?: string; limit: number },
  ): Promise<{ items: Conversation[]; nextCursor: string | null }> {
    const scope = await this.scope(agent);
    const s = scopeSql(scope, 'inbox_id');
    const where = ['tenant_id = ?', s.sql];
    const params: (string | number)[] = [agent.tenantId, ...s.params];
    if (f.status?.length) {
      where.push(`status IN (${f.status.map(() => '?').join(', ')})`);
      params.push(...f.status);
    }
    if (f.assigneeId === null) where.push('assignee_id IS NULL');
    else if (f.assigneeId !== undefined) {
      where.push('assignee_id = ?');
      params.push(f.assigneeId);
    }
    if (f.inboxId) {
      where.push('inbox_id = ?');
      params.push(f.inboxId);
    }
    if (f.q) searchSql(f.q, where, params); // [automation]
    if (f.cursor) {
      const c = decodeCursor(f.cursor);
      where.push('(last_message_at < ? OR (last_message_at = ? AND id < ?))');
      params.push(c.at, c.at, c.id);
    }
    const rows = await this.db.all(`SELECT * FROM conversations WHERE ${where.join(' AND ')} ORDER BY last_message_at DESC, id DESC LIMIT ?`, [...params, f.limit + 1]);
    const mask = await maskerFor(this.db, agent);
    const items = rows.slice(0, f.limit).map((r) => mask.conversation(toConversation(r)));
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > f.limit && last ? encodeCursor(last.lastMessageAt, last.id) : null };
  }

  async listMessages(agent: Agent, conversationId: string, cursor: string | undefined, limit: number): Promise<{ items: Message[]; nextCursor: string | null }> {
    await this.visibleConversation(agent, conversationId);
    const params: (string | number)[] = [conversationId];
    let extra = '';
    if (cursor) {
      const c = decodeCursor(cursor);
      extra = ' AND (created_at < ? OR (created_at = ? AND id < ?))';
      params.push(c.at, c.at, c.id);
    }
    const rows = await this.db.all(`SELECT * FROM messages WHERE conversation_id = ?${extra} ORDER BY created_at DESC, id DESC LIMIT ?`, [...params, limit + 1]);
    const mask = await maskerFor(this.db, agent);
    const items = rows.slice(0, limit).map((r) => mask.message(this.withAttachmentUrls(toMessage(r))));
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }

  async teams(tenantId: string): Promise<Team[]> {
    return (await this.db.all('SELECT * FROM teams WHERE tenant_id = ? ORDER BY name', [tenantId])).map(toTeam);
  }

  async agents(tenantId: string): Promise<Agent[]> {
    return (await this.db.all('SELECT * FROM agents WHERE tenant_id = ? ORDER BY name', [tenantId])).map(toAgent);
  }

  /** Writes an audit row; pass the transaction's Queryable (`q`) to record it with what it audits. */
  async audit(tenantId: string, agentId: string | null, action: string, target: string | null, details: Record<string, unknown>, q: Queryable = this.db): Promise<void> {
    await insertAudit(q, { tenantId, agentId }, { action, target, details }, this.now());
  }

  get log(): Logger {
    return this.logger;
  }

  // ----- [providers] inbound side rows and system replies --------------------------------

  /** Rows of the staged attachments, bound to the new message, and the channel's side rows: inside the inbound's transaction. */
  private async writeInboundSideRows(q: Queryable, tenantId: string, input: InboundInput, stored: { conversationId: string; messageId: string }, now: number): Promise<void> {
    for (const a of input.stagedAttachments ?? []) {
      await q.run('INSERT INTO attachments (id, tenant_id, sha256, name, mime, size, created_by, created_at, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
        a.id, tenantId, a.sha256, a.name, a.mime, a.size, null, now, stored.messageId,
      ]);
    }
    await input.sideRows?.(q, stored);
  }


}

/** What an audited command is about: its conversation, or its contact. */
function commandTarget(c: Command): string | null {
  if ('conversationId' in c && typeof c.conversationId === 'string') return c.conversationId;
  if ('contactId' in c && typeof c.contactId === 'string') return c.contactId;
  return null;
}

/** [automation] `q=`: a ticket (`#1234`: only the ticket), a number (`1234`: the ticket or text) or a case-insensitive substring of the contact name, subject or preview. */
function searchSql(q: string, where: string[], params: (string | number)[]): void {
  const ticket = /^#?(\d{1,12})$/.exec(q.trim());
  const like = `%${q.trim().toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  const text = "(LOWER(contact_name) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(subject, '')) LIKE ? ESCAPE '\\' OR LOWER(last_message_preview) LIKE ? ESCAPE '\\')";
  if (ticket && q.trim().startsWith('#')) {
    where.push('ticket_number = ?');
    params.push(Number(ticket[1]));
  } else if (ticket) {
    where.push(`(ticket_number = ? OR ${text})`);
    params.push(Number(ticket[1]), like, like, like);
  } else {
    where.push(text);
    params.push(like, like, like);
  }
}

/** [providers] The staged attachments' metadata appended to the message's attachments. */
function withStagedAttachments(input: InboundInput): InboundInput {
  if (!input.stagedAttachments?.length) return input;
  return { ...input, attachments: [...(input.attachments ?? []), ...input.stagedAttachments.map(({ id, name, mime, size, sha256 }) => ({ id, name, mime, size, sha256 }))] };
}

export { OPEN_STATUSES };
