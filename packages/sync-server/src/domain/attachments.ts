import type { Queryable } from '../db/db.js';

export interface AttachmentRow {
  id: string;
  tenant_id: string;
  sha256: string;
  name: string;
  mime: string;
  size: number;
  message_id: string | null;
  created_by: string | null;
}

export async function insertAttachment(
  db: Queryable,
  a: { id: string; tenantId: string; sha256: string; name: string; mime: string; size: number; createdBy: string | null; messageId?: string | null; createdAt: number },
): Promise<void> {
  await db.run('INSERT INTO attachments (id, tenant_id, sha256, name, mime, size, message_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
    a.id, a.tenantId, a.sha256, a.name, a.mime, a.size, a.messageId ?? null, a.createdBy, a.createdAt,
  ]);
}

export async function attachmentRow(db: Queryable, id: string): Promise<AttachmentRow | null> {
  const r = await db.one<AttachmentRow & Record<string, unknown>>('SELECT id, tenant_id, sha256, name, mime, size, message_id, created_by FROM attachments WHERE id = ?', [id]);
  return r ? { ...r, size: Number(r.size) } : null;
}

/** Binds an attachment to the message that carries it (once; a bound attachment stays with its message). */
export async function bindAttachment(db: Queryable, tenantId: string, id: string, messageId: string): Promise<boolean> {
  return (await db.run('UPDATE attachments SET message_id = ? WHERE id = ? AND tenant_id = ? AND (message_id IS NULL OR message_id = ?)', [messageId, id, tenantId, messageId])).changes > 0;
}

/** The conversation of the message an attachment is bound to (null when unbound or the message is gone). */
export async function attachmentConversation(db: Queryable, tenantId: string, id: string): Promise<string | null> {
  const r = await db.one<{ conversation_id: string }>(
    'SELECT m.conversation_id FROM attachments a JOIN messages m ON m.id = a.message_id AND m.tenant_id = a.tenant_id WHERE a.id = ? AND a.tenant_id = ?',
    [id, tenantId],
  );
  return r?.conversation_id ?? null;
}
