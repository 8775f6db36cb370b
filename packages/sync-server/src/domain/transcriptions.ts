import crypto from 'node:crypto';
import { z } from 'zod';
import { decideTranscript, transcriptAfterFailure, type Message, type MessageTranscript } from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import type { Migration } from '../db/migrations.js';
import { writeFacts } from './facts.js';
import { nextSeq, toConversation, toMessage } from './rows.js';
import type { Workspace } from './workspace.js';

/**
 * Transcription jobs of voicemail and call recordings: a durable table, claimed under a lease
 * (conditional UPDATE; `FOR UPDATE SKIP LOCKED` on PostgreSQL), retried with backoff. Every
 * change of a job writes the transcript fact on its message in the same transaction (core
 * `decideTranscript`), with a new seq so devices see pending → running → done | failed.
 */
export const TRANSCRIPTION_MIGRATION: Migration = {
  id: 240,
  name: 'voice: transcription jobs',
  sql: `
CREATE TABLE transcription_jobs (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, inbox_id TEXT NOT NULL, message_id TEXT NOT NULL UNIQUE, attachment_id TEXT NOT NULL,
  provider TEXT NOT NULL, language TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at {{bigint}} NOT NULL,
  lease_owner TEXT, lease_until {{bigint}}, last_error TEXT, created_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL);
CREATE INDEX transcription_jobs_ready ON transcription_jobs (state, next_attempt_at)
`,
};

const JobRow = z.object({
  id: z.string().min(1),
  tenant_id: z.string().min(1),
  inbox_id: z.string().min(1),
  message_id: z.string().min(1),
  attachment_id: z.string().min(1),
  provider: z.string().min(1),
  language: z.enum(['en', 'zh']),
  state: z.enum(['pending', 'running', 'done', 'failed']),
  attempts: z.coerce.number().int().min(0),
  lease_owner: z.string().nullable(),
});

export interface TranscriptionJob {
  id: string;
  tenantId: string;
  inboxId: string;
  messageId: string;
  attachmentId: string;
  provider: string;
  language: 'en' | 'zh';
  attempts: number;
  owner: string;
}

const toJob = (r: unknown): TranscriptionJob => {
  const j = JobRow.parse(r);
  return { id: j.id, tenantId: j.tenant_id, inboxId: j.inbox_id, messageId: j.message_id, attachmentId: j.attachment_id, provider: j.provider, language: j.language, attempts: j.attempts, owner: j.lease_owner ?? '' };
};

const HELD = `state = 'running' AND lease_owner = ? AND attempts = ?`;

export type TranscriptResult =
  | { ok: true; text: string; seconds: number; cost?: { amount: number; currency: string } }
  | { ok: false; error: string; retryable: boolean };

export class Transcriptions {
  constructor(
    private readonly db: Db,
    private readonly ws: Pick<Workspace, 'committed'>,
    private readonly now: () => number = Date.now,
    private readonly newId: () => string = () => crypto.randomUUID(),
  ) {}

  /** A job for a recording on a message (once per message), and its `pending` transcript fact, in one transaction. */
  async enqueue(o: { tenantId: string; inboxId: string; messageId: string; attachmentId: string; provider: string; language: 'en' | 'zh' }): Promise<boolean> {
    const now = this.now();
    const seq = await this.db.tx(async (q) => {
      const r = await q.run(
        `INSERT INTO transcription_jobs (id, tenant_id, inbox_id, message_id, attachment_id, provider, language, state, attempts, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`,
        [this.newId(), o.tenantId, o.inboxId, o.messageId, o.attachmentId, o.provider, o.language, now, now, now],
      );
      if (r.changes === 0) return null;
      const t: MessageTranscript = { state: 'pending', text: null, seconds: null, provider: o.provider, language: o.language, attempts: 0, error: null, nextAttemptAt: now, updatedAt: now };
      return this.writeTranscript(q, o.tenantId, o.messageId, t);
    });
    if (seq !== null) this.ws.committed.emit({ tenantId: o.tenantId, seq });
    return seq !== null;
  }

  /** Claims up to `limit` due jobs (pending and due, or running with an expired lease) and marks their transcripts running. */
  async claim(o: { owner: string; leaseMs: number; limit: number }): Promise<TranscriptionJob[]> {
    const now = this.now();
    const pick = `SELECT id FROM transcription_jobs WHERE (state = 'pending' AND next_attempt_at <= ?) OR (state = 'running' AND lease_until < ?) ORDER BY next_attempt_at LIMIT ?`;
    const sql = `UPDATE transcription_jobs SET state = 'running', lease_until = ?, lease_owner = ?, attempts = attempts + 1, updated_at = ?
      WHERE id IN (${this.db.dialect === 'pg' ? `${pick} FOR UPDATE SKIP LOCKED` : pick}) RETURNING *`;
    const { jobs, seqs } = await this.db.tx(async (q) => {
      const jobs = (await q.all(sql, [now + o.leaseMs, o.owner, now, now, now, o.limit])).map(toJob);
      const seqs: [string, number][] = [];
      for (const j of jobs) {
        const prev = await this.transcriptOf(q, j.messageId);
        const t: MessageTranscript = { ...(prev ?? base(j, now)), state: 'running', attempts: j.attempts, nextAttemptAt: null, updatedAt: now };
        const seq = await this.writeTranscript(q, j.tenantId, j.messageId, t);
        if (seq !== null) seqs.push([j.tenantId, seq]);
      }
      return { jobs, seqs };
    });
    for (const [tenantId, seq] of seqs) this.ws.committed.emit({ tenantId, seq });
    return jobs;
  }

  /**
   * Finishes an attempt while the lease is held: done with the text, or a failure (retried with
   * backoff until the attempts are used up, then failed). False when the lease was lost.
   */
  async finish(job: TranscriptionJob, result: TranscriptResult, jitter = Math.random()): Promise<boolean> {
    const now = this.now();
    const seq = await this.db.tx(async (q) => {
      const prev = (await this.transcriptOf(q, job.messageId)) ?? base(job, now);
      const t: MessageTranscript = result.ok
        ? { ...prev, state: 'done', text: result.text, seconds: result.seconds, error: null, nextAttemptAt: null, attempts: job.attempts, updatedAt: now, ...(result.cost ? { cost: result.cost } : {}) }
        : transcriptAfterFailure({ ...prev, attempts: job.attempts }, { error: result.error, retryable: result.retryable, now, jitter });
      const r = await q.run(
        `UPDATE transcription_jobs SET state = ?, last_error = ?, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND ${HELD}`,
        [t.state, t.error, t.nextAttemptAt ?? now, now, job.id, job.owner, job.attempts],
      );
      if (r.changes === 0) return null;
      return this.writeTranscript(q, job.tenantId, job.messageId, t);
    });
    if (seq !== null) this.ws.committed.emit({ tenantId: job.tenantId, seq });
    return seq !== null;
  }

  /** An admin's retry of a failed transcript: pending again, due now, attempts from zero. */
  async retry(tenantId: string, messageId: string): Promise<boolean> {
    const now = this.now();
    const seq = await this.db.tx(async (q) => {
      const r = await q.run(`UPDATE transcription_jobs SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ? WHERE message_id = ? AND tenant_id = ? AND state = 'failed'`, [now, now, messageId, tenantId]);
      if (r.changes === 0) return null;
      const prev = await this.transcriptOf(q, messageId);
      if (!prev) return null;
      return this.writeTranscript(q, tenantId, messageId, { ...prev, state: 'pending', attempts: 0, error: null, nextAttemptAt: now, updatedAt: now });
    });
    if (seq !== null) this.ws.committed.emit({ tenantId, seq });
    return seq !== null;
  }

  async job(messageId: string): Promise<{ state: string; attempts: number; lastError: string | null } | null> {
    const r = await this.db.one<{ state: string; attempts: number; last_error: string | null }>('SELECT state, attempts, last_error FROM transcription_jobs WHERE message_id = ?', [messageId]);
    return r ? { state: r.state, attempts: Number(r.attempts), lastError: r.last_error } : null;
  }

  private async transcriptOf(q: Queryable, messageId: string): Promise<MessageTranscript | null> {
    const r = await q.one('SELECT * FROM messages WHERE id = ?', [messageId]);
    if (!r) return null;
    const t = toMessage(r).meta['transcript'];
    return t && typeof t === 'object' ? (t as MessageTranscript) : null;
  }

  /** Writes the transcript fact(s) (core decideTranscript) with a new seq; null when the message is gone. */
  private async writeTranscript(q: Queryable, tenantId: string, messageId: string, t: MessageTranscript): Promise<number | null> {
    const r = await q.one('SELECT * FROM messages WHERE id = ? AND tenant_id = ?', [messageId, tenantId]);
    if (!r) return null;
    const message: Message = toMessage(r);
    const c = await q.one('SELECT * FROM conversations WHERE id = ?', [message.conversationId]);
    const seq = await nextSeq(q, tenantId);
    const now = this.now();
    await writeFacts(q, tenantId, decideTranscript(message, c ? toConversation(c) : null, t, { seq, now }), { now, newId: this.newId, seq });
    return seq;
  }
}

function base(j: TranscriptionJob, now: number): MessageTranscript {
  return { state: 'pending', text: null, seconds: null, provider: j.provider, language: j.language, attempts: j.attempts, error: null, nextAttemptAt: null, updatedAt: now };
}

/** The voice inboxes of every tenant (the IVR endpoints are reconciled with their config). */
export async function voiceInboxIds(db: Db): Promise<string[]> {
  return (await db.all<{ id: string }>("SELECT id FROM inboxes WHERE channel = 'voice' ORDER BY id")).map((r) => String(r.id));
}
