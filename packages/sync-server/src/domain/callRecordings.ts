import type { Message } from '@goutong/core';
import type { Db } from '../db/db.js';
import { toMessage } from './rows.js';

const MISSING = `SELECT m.* FROM messages m LEFT JOIN transcription_jobs j ON j.message_id = m.id
  WHERE m.kind = 'call' AND m.attachments <> '[]' AND j.id IS NULL`;

/**
 * Call messages with attachments and no transcription job yet (softphone recordings to transcribe):
 * those one commit wrote (`seq`; a message changed later carries that later commit's seq), or
 * those stored after `since` (a catch-up scan), optionally of one tenant.
 */
export async function callMessagesWithoutTranscription(db: Db, o: { tenantId: string; seq: number } | { since: number; tenantId?: string }): Promise<Array<{ message: Message; inboxId: string }>> {
  const rows =
    'seq' in o
      ? await db.all<Record<string, unknown>>(`${MISSING} AND m.tenant_id = ? AND m.seq = ?`, [o.tenantId, o.seq])
      : await db.all<Record<string, unknown>>(`${MISSING} AND m.server_time > ?${o.tenantId ? ' AND m.tenant_id = ?' : ''} ORDER BY m.server_time`, o.tenantId ? [o.since, o.tenantId] : [o.since]);
  return rows.map((r) => ({ message: toMessage(r), inboxId: String(r['inbox_id']) }));
}
