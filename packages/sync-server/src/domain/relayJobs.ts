import { z } from 'zod';
import type { Contact, Conversation, Message } from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import { toContact, toConversation, toMessage } from './rows.js';
import type { StatusOptions, Workspace } from './workspace.js';

/** A claimed relay job (a row of the transactional outbox), parsed at the database boundary. */
const RelayJobRow = z.object({
  id: z.string().min(1),
  tenant_id: z.string().min(1),
  message_id: z.string().min(1),
  inbox_id: z.string().min(1),
  attempts: z.coerce.number().int().min(0),
  created_at: z.coerce.number(),
});

export interface RelayJob {
  id: string;
  tenantId: string;
  messageId: string;
  inboxId: string;
  /** Attempts including this claim: together with the owner it names the lease (a later claim has a higher count). */
  attempts: number;
  createdAt: number;
}

/** Who holds a job: a worker's owner id and the attempt it claimed. Only the holder may touch the job. */
export interface RelayLease {
  jobId: string;
  owner: string;
  attempts: number;
}

export type RelayJobState = 'done' | 'failed' | 'queued';

export interface RelayFinish {
  state: RelayJobState;
  error?: string | null;
  nextAttemptAt?: number;
}

/** The status fact a finish records with it (same transaction). */
export interface RelayStatus extends StatusOptions {
  status: NonNullable<Message['status']>;
}

/** What the relay needs of the workspace: the status fact writer and the commit announcements. */
export type StatusWriter = Pick<Workspace, 'recordMessageStatus' | 'committed' | 'statusChanged'>;

export interface SendTarget {
  message: Message;
  conversation: Conversation;
  contact: Contact;
}

/** The job is still held by this lease (a takeover raised `attempts` and replaced `lease_owner`). */
const HELD = `state = 'sending' AND lease_owner = ? AND attempts = ?`;

const toJob = (r: unknown): RelayJob => {
  const j = RelayJobRow.parse(r);
  return { id: j.id, tenantId: j.tenant_id, messageId: j.message_id, inboxId: j.inbox_id, attempts: j.attempts, createdAt: j.created_at };
};

/**
 * The relay's facts: claiming jobs under a lease and finishing them. A finish and the message's
 * status fact commit in ONE transaction, and only while the caller still holds the lease: a slow
 * worker whose lease was taken over changes nothing (no second status fact, no overwrite).
 */
export class RelayJobs {
  constructor(
    private readonly db: Db,
    /** Writes the status fact (inside our transaction) and announces commits (`committed`: pokes, fan-out). */
    private readonly ws: StatusWriter,
  ) {}

  /** Claims up to `limit` ready jobs (queued and due, or sending with an expired lease) for `owner`. */
  async claim(o: { owner: string; now: number; leaseMs: number; limit: number }): Promise<RelayJob[]> {
    const pick = `SELECT id FROM relay_jobs WHERE (state = 'queued' AND next_attempt_at <= ?) OR (state = 'sending' AND lease_until < ?) ORDER BY next_attempt_at LIMIT ?`;
    const sql = `UPDATE relay_jobs SET state = 'sending', lease_until = ?, lease_owner = ?, attempts = attempts + 1, updated_at = ?
      WHERE id IN (${this.db.dialect === 'pg' ? `${pick} FOR UPDATE SKIP LOCKED` : pick}) RETURNING *`;
    const rows = await this.db.tx((q) => q.all(sql, [o.now + o.leaseMs, o.owner, o.now, o.now, o.now, o.limit]));
    return rows.map(toJob);
  }

  /** The message to send with its conversation and contact; null when the message vanished. */
  async target(messageId: string): Promise<SendTarget | null> {
    const m = await this.db.one('SELECT * FROM messages WHERE id = ?', [messageId]);
    if (!m) return null;
    const message = toMessage(m);
    const c = await this.db.one('SELECT * FROM conversations WHERE id = ?', [message.conversationId]);
    if (!c) return null;
    const conversation = toConversation(c);
    const k = await this.db.one('SELECT * FROM contacts WHERE id = ?', [conversation.contactId]);
    if (!k) return null;
    return { message, conversation, contact: toContact(k) };
  }

  /**
   * Records `sending` on the message while the lease is held (before the provider is called).
   * Returns false when the lease was lost: the caller must not send.
   */
  async markSending(lease: RelayLease, messageId: string, now: number): Promise<boolean> {
    const res = await this.db.tx(async (q) => {
      if (!(await this.touch(q, lease, now))) return { held: false, message: null };
      return { held: true, message: await this.ws.recordMessageStatus(q, messageId, 'sending') };
    });
    this.announce(res.message);
    return res.held;
  }

  /**
   * Finishes a job and records its message's status fact in one transaction, only while `lease`
   * is held. Returns whether the job was finished (false: the lease was lost, nothing was written).
   */
  async finish(lease: RelayLease, messageId: string, finish: RelayFinish, status: RelayStatus | null, now: number): Promise<boolean> {
    const res = await this.db.tx((q) => finishRelayJob(q, this.ws, lease, messageId, finish, status, now));
    this.announce(res.message);
    return res.finished;
  }

  /** Locks the job row and checks the lease (the row lock makes a concurrent takeover wait for this transaction). */
  private async touch(q: Queryable, lease: RelayLease, now: number): Promise<boolean> {
    const r = await q.run(`UPDATE relay_jobs SET updated_at = ? WHERE id = ? AND ${HELD}`, [now, lease.jobId, lease.owner, lease.attempts]);
    return r.changes > 0;
  }

  /** After the commit: pokes, and the extensions' onStatus hooks. */
  private announce(m: Message | null): void {
    if (!m) return;
    this.ws.committed.emit({ tenantId: m.tenantId, seq: m.seq });
    this.ws.statusChanged.emit(m);
  }
}

/**
 * Inside the caller's transaction: finishes the job if `lease` still holds it and records the
 * message's status fact with it. Nothing is written when the lease was lost. The caller announces
 * the returned message (its seq) after the commit.
 */
export async function finishRelayJob(
  q: Queryable,
  ws: Pick<Workspace, 'recordMessageStatus'>,
  lease: RelayLease,
  messageId: string,
  finish: RelayFinish,
  status: RelayStatus | null,
  now: number,
): Promise<{ finished: boolean; message: Message | null }> {
  const r = await q.run(
    `UPDATE relay_jobs SET state = ?, last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at), lease_until = NULL, lease_owner = NULL, updated_at = ?
     WHERE id = ? AND ${HELD}`,
    [finish.state, finish.error ?? null, finish.nextAttemptAt ?? null, now, lease.jobId, lease.owner, lease.attempts],
  );
  if (r.changes === 0) return { finished: false, message: null };
  if (!status) return { finished: true, message: null };
  const { status: s, ...opts } = status;
  return { finished: true, message: await ws.recordMessageStatus(q, messageId, s, opts) };
}
