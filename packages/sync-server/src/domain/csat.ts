import crypto from 'node:crypto';
import { csatReport, parseCsatReply, withCsatAnswer, CSAT_REPLY_WINDOW_MS, type Conversation, type CsatAnswer, type CsatReport, type InboundEvent } from '@goutong/core';
import type { Queryable, Row } from '../db/db.js';
import { ApiError, notFound } from '../errors.js';
import { writeFacts } from './facts.js';
import type { Workspace } from './workspace.js';
import { nextSeq, toConversation } from './rows.js';

export interface CsatSurveyRow {
  token: string;
  tenantId: string;
  conversationId: string;
  inboxId: string;
  contactId: string;
  /** The assignee at resolution: the answer counts for them. */
  agentId: string | null;
  channel: string;
  mode: 'reply' | 'link';
  messageId: string | null;
  sentAt: number;
  expiresAt: number;
  rating: number | null;
  comment: string | null;
  answeredAt: number | null;
}

const toSurvey = (r: Row): CsatSurveyRow => ({
  token: String(r.token), tenantId: String(r.tenant_id), conversationId: String(r.conversation_id), inboxId: String(r.inbox_id), contactId: String(r.contact_id),
  agentId: (r.agent_id as string | null) ?? null, channel: String(r.channel), mode: r.mode === 'reply' ? 'reply' : 'link', messageId: (r.message_id as string | null) ?? null,
  sentAt: Number(r.sent_at), expiresAt: Number(r.expires_at), rating: r.rating === null || r.rating === undefined ? null : Number(r.rating),
  comment: (r.comment as string | null) ?? null, answeredAt: r.answered_at === null || r.answered_at === undefined ? null : Number(r.answered_at),
});

/** A survey link token: 128 random bits (unguessable; the page needs nothing else). */
export function newSurveyToken(): string {
  return crypto.randomBytes(16).toString('base64url');
}

export async function surveyOfConversation(q: Queryable, conversationId: string): Promise<CsatSurveyRow | null> {
  const r = await q.one('SELECT * FROM csat_surveys WHERE conversation_id = ?', [conversationId]);
  return r ? toSurvey(r) : null;
}

export async function surveyByToken(q: Queryable, token: string): Promise<CsatSurveyRow | null> {
  const r = await q.one('SELECT * FROM csat_surveys WHERE token = ?', [token]);
  return r ? toSurvey(r) : null;
}

/** Records that a survey went out (once per conversation: the unique conversation id refuses a second). */
export async function insertSurvey(q: Queryable, s: Omit<CsatSurveyRow, 'rating' | 'comment' | 'answeredAt'>): Promise<boolean> {
  const r = await q.run(
    'INSERT INTO csat_surveys (token, tenant_id, conversation_id, inbox_id, contact_id, agent_id, channel, mode, message_id, sent_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    [s.token, s.tenantId, s.conversationId, s.inboxId, s.contactId, s.agentId, s.channel, s.mode, s.messageId, s.sentAt, s.expiresAt],
  );
  return r.changes > 0;
}

/** The contact's latest unanswered reply-mode (SMS) survey in the inbox, still within its window. */
export async function pendingReplySurvey(q: Queryable, inboxId: string, contactId: string, now: number): Promise<CsatSurveyRow | null> {
  const r = await q.one(
    "SELECT * FROM csat_surveys WHERE inbox_id = ? AND contact_id = ? AND mode = 'reply' AND answered_at IS NULL AND expires_at > ? ORDER BY sent_at DESC LIMIT 1",
    [inboxId, contactId, now],
  );
  return r ? toSurvey(r) : null;
}

/**
 * Stores an answer once (a conditional update: a second answer, or a race with another process,
 * changes nothing) and the conversation's `csat` fact. Returns the conversation as written, or null.
 */
export async function recordCsatAnswer(
  q: Queryable, survey: CsatSurveyRow, answer: CsatAnswer, ctx: { now: number; seq: () => Promise<number>; write: (facts: ReturnType<typeof withCsatAnswer>[]) => Promise<void> },
): Promise<Conversation | null> {
  const r = await q.run('UPDATE csat_surveys SET rating = ?, comment = ?, answered_at = ? WHERE token = ? AND answered_at IS NULL', [answer.rating, answer.comment, ctx.now, survey.token]);
  if (r.changes === 0) return null;
  const row = await q.one('SELECT * FROM conversations WHERE id = ?', [survey.conversationId]);
  if (!row) return null;
  const seq = await ctx.seq();
  const fact = withCsatAnswer(toConversation(row), answer, { now: ctx.now, seq });
  await ctx.write([fact]);
  return fact.kind === 'conversation' ? fact.conversation : null;
}

/**
 * Inbound side of an SMS survey: a message that is a 1-5 answer ("5", "五", "5 very good") from a
 * contact with a pending survey joins the surveyed conversation (which stays resolved) marked as
 * the answer, instead of opening a new conversation. Returns what ingest should use, or null.
 */
export async function csatReplyRouting(q: Queryable, inboxId: string, contactId: string, input: InboundEvent, now: number): Promise<{ survey: CsatSurveyRow; answer: CsatAnswer; conversation: Conversation } | null> {
  const answer = parseCsatReply(input.text);
  if (!answer) return null;
  const survey = await pendingReplySurvey(q, inboxId, contactId, now);
  if (!survey) return null;
  const row = await q.one('SELECT * FROM conversations WHERE id = ?', [survey.conversationId]);
  return row ? { survey, answer, conversation: toConversation(row) } : null;
}

export { CSAT_REPLY_WINDOW_MS };

/** A tenant's answers (newest first), for reports: rating, comment, conversation and the agent it counts for. */
export async function csatAnswers(q: Queryable, tenantId: string, limit = 200): Promise<Record<string, unknown>[]> {
  return (await q.all('SELECT * FROM csat_surveys WHERE tenant_id = ? AND answered_at IS NOT NULL ORDER BY answered_at DESC LIMIT ?', [tenantId, limit])).map((r) => {
    const s = toSurvey(r);
    return { conversationId: s.conversationId, agentId: s.agentId, channel: s.channel, rating: s.rating, comment: s.comment, answeredAt: s.answeredAt };
  });
}

/**
 * The survey page's answer: stored once with the conversation's `csat` fact in one transaction (the
 * seq announced after the commit). Null when it was answered already.
 */
export async function answerSurvey(ws: Workspace, token: string, answer: CsatAnswer, now: number): Promise<{ tenantId: string; seq: number } | null> {
  const written = await ws.db.tx(async (q) => {
    const survey = await surveyByToken(q, token);
    if (!survey) throw notFound('this survey link is not valid');
    if (survey.expiresAt <= now) throw new ApiError('conflict', 'this survey has expired');
    let seq: number | null = null;
    const conv = await recordCsatAnswer(q, survey, answer, {
      now,
      seq: async () => (seq ??= await nextSeq(q, survey.tenantId)),
      write: (facts) => writeFacts(q, survey.tenantId, facts, { now, newId: () => ws.ids.next(), seq: seq! }),
    });
    return conv ? { tenantId: survey.tenantId, seq: conv.seq } : null;
  });
  if (written) ws.committed.emit(written);
  return written;
}

/**
 * An answer given in place (the website chat's rating at the end of the chat): the conversation's
 * survey row (made now when none went out) and its `csat` fact, once, in one transaction.
 */
export async function answerInPlace(ws: Workspace, conversationId: string, answer: CsatAnswer, now: number): Promise<{ conversation: Conversation | null; duplicate: boolean }> {
  let announce: { tenantId: string; seq: number } | null = null;
  const res = await ws.db.tx(async (q) => {
    const row = await q.one('SELECT * FROM conversations WHERE id = ?', [conversationId]);
    if (!row) throw notFound(`conversation ${conversationId} not found`);
    const conv = toConversation(row);
    await insertSurvey(q, {
      token: newSurveyToken(), tenantId: conv.tenantId, conversationId: conv.id, inboxId: conv.inboxId, contactId: conv.contactId, agentId: conv.assigneeId,
      channel: conv.channel, mode: 'link', messageId: null, sentAt: now, expiresAt: now + CSAT_REPLY_WINDOW_MS,
    });
    const survey = await surveyOfConversation(q, conv.id);
    if (!survey || survey.answeredAt !== null) return { conversation: conv, duplicate: true };
    let seq: number | null = null;
    const written = await recordCsatAnswer(q, survey, answer, {
      now,
      seq: async () => (seq ??= await nextSeq(q, conv.tenantId)),
      write: (facts) => writeFacts(q, conv.tenantId, facts, { now, newId: () => ws.ids.next(), seq: seq! }),
    });
    if (written) announce = { tenantId: conv.tenantId, seq: written.seq };
    return { conversation: written, duplicate: written === null };
  });
  if (announce) ws.committed.emit(announce);
  return res;
}

/** Answers given in [from, to) (filtered like a report), for the reports: how many and their average. */
export async function csatSummary(
  q: Queryable,
  tenantId: string,
  rq: { from: number; to: number; inboxId?: string | undefined; teamId?: string | undefined; agentId?: string | undefined; channel?: string | undefined },
): Promise<{ responses: number; average: number | null } | null> {
  const w = csatWhere(tenantId, rq, 'answered_at', rq.from, rq.to);
  const r = await q.one<{ n: number; total: number | null }>(
    `SELECT COUNT(*) AS n, SUM(s.rating) AS total FROM csat_surveys s JOIN conversations c ON c.id = s.conversation_id WHERE ${w.sql}`,
    w.params,
  );
  const n = Number(r?.n ?? 0);
  if (n === 0) return null;
  return { responses: n, average: Math.round((Number(r?.total ?? 0) / n) * 100) / 100 };
}

/** A report's filters as csat_surveys and its conversation know them. */
function csatWhere(tenantId: string, rq: { inboxId?: string | undefined; teamId?: string | undefined; agentId?: string | undefined; channel?: string | undefined }, column: 'answered_at' | 'sent_at', from: number, to: number) {
  const where = ['s.tenant_id = ?', `s.${column} >= ?`, `s.${column} < ?`];
  const params: (string | number)[] = [tenantId, from, to];
  const add = (clause: string, v: string | undefined) => {
    if (!v) return;
    where.push(clause);
    params.push(v);
  };
  add('s.inbox_id = ?', rq.inboxId);
  add('s.agent_id = ?', rq.agentId);
  add('s.channel = ?', rq.channel);
  add('c.team_id = ?', rq.teamId);
  return { sql: where.join(' AND '), params };
}

/**
 * [insight] The CSAT dashboard (core csatReport over answer counts grouped by agent and rating, and
 * the surveys sent in the period) and the latest comments.
 */
export async function csatReportOf(
  q: Queryable,
  tenantId: string,
  rq: { from: number; to: number; inboxId?: string | undefined; teamId?: string | undefined; agentId?: string | undefined; channel?: string | undefined },
  commentsLimit = 20,
): Promise<CsatReport & { comments: Array<{ conversationId: string; agentId: string | null; rating: number; comment: string; answeredAt: number }> }> {
  const answered = csatWhere(tenantId, rq, 'answered_at', rq.from, rq.to);
  const counts = await q.all<{ agent_id: string | null; rating: number; n: number }>(
    `SELECT s.agent_id, s.rating, COUNT(*) AS n FROM csat_surveys s JOIN conversations c ON c.id = s.conversation_id
     WHERE ${answered.sql} AND s.answered_at IS NOT NULL AND s.rating IS NOT NULL GROUP BY s.agent_id, s.rating`,
    answered.params,
  );
  const sentW = csatWhere(tenantId, rq, 'sent_at', rq.from, rq.to);
  const sent = await q.one<{ n: number }>(`SELECT COUNT(*) AS n FROM csat_surveys s JOIN conversations c ON c.id = s.conversation_id WHERE ${sentW.sql}`, sentW.params);
  const agentIds = [...new Set(counts.map((c) => c.agent_id).filter((x): x is string => typeof x === 'string'))];
  const names = new Map<string, string>();
  if (agentIds.length) {
    for (const r of await q.all<{ id: string; name: string }>(`SELECT id, name FROM agents WHERE tenant_id = ? AND id IN (${agentIds.map(() => '?').join(', ')})`, [tenantId, ...agentIds])) names.set(String(r.id), String(r.name));
  }
  const report = csatReport(counts.map((c) => ({ agentId: c.agent_id === null ? null : String(c.agent_id), rating: Number(c.rating), n: Number(c.n) })), Number(sent?.n ?? 0), (id) => names.get(id) ?? null);
  const comments = await q.all(
    `SELECT s.conversation_id, s.agent_id, s.rating, s.comment, s.answered_at FROM csat_surveys s JOIN conversations c ON c.id = s.conversation_id
     WHERE ${answered.sql} AND s.answered_at IS NOT NULL AND s.comment IS NOT NULL AND s.comment <> '' ORDER BY s.answered_at DESC LIMIT ?`,
    [...answered.params, commentsLimit],
  );
  return {
    ...report,
    comments: comments.map((r) => ({ conversationId: String(r.conversation_id), agentId: (r.agent_id as string | null) ?? null, rating: Number(r.rating), comment: String(r.comment), answeredAt: Number(r.answered_at) })),
  };
}
