// What the WeChat providers (channels/wechat, channels/wecom-kf) keep and look up: the shared access-token
// cache, the WeCom kf sync_msg cursors (durable, leased: exactly one process pulls an account at a
// time) and the user's last interaction for the reply-window rule. No SQL lives in src/channels.
import type { Db } from '../db/db.js';
import type { Migration } from '../db/migrations.js';

/** Declared by the Official Account provider (ids 210–219 belong to the WeChat providers). */
export const WECHAT_TOKEN_MIGRATION: Migration = {
  id: 210,
  name: 'wechat: access-token cache shared by server processes',
  sql: `
CREATE TABLE wechat_tokens (cache_key TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL)`,
};

/** Declared by the Official Account provider: plaintext callbacks' nonces, bound to the body they came with. */
export const WECHAT_NONCE_MIGRATION: Migration = {
  id: 212,
  name: 'wechat: nonces of plaintext callbacks',
  sql: `
CREATE TABLE wechat_nonces (nonce_key TEXT PRIMARY KEY, body_sha256 TEXT NOT NULL, seen_at {{bigint}} NOT NULL);
CREATE INDEX wechat_nonces_seen ON wechat_nonces (seen_at)`,
};

/** Declared by the WeCom customer-service provider. */
export const WECOM_KF_CURSOR_MIGRATION: Migration = {
  id: 211,
  name: 'wecom-kf: sync_msg cursors per inbox and account',
  sql: `
CREATE TABLE wecom_kf_cursors (
  inbox_id TEXT NOT NULL, open_kfid TEXT NOT NULL, next_cursor TEXT, lease_owner TEXT, lease_until {{bigint}},
  pulls {{bigint}} NOT NULL, updated_at {{bigint}} NOT NULL, PRIMARY KEY (inbox_id, open_kfid))`,
};

// ----- access tokens --------------------------------------------------------------------------

export async function cachedToken(db: Db, key: string): Promise<{ token: string; expiresAt: number } | null> {
  const r = await db.one<{ token: string; expires_at: number | string }>('SELECT token, expires_at FROM wechat_tokens WHERE cache_key = ?', [key]);
  return r ? { token: r.token, expiresAt: Number(r.expires_at) } : null;
}

/** Stores a freshly fetched token (the later expiry wins when two processes fetched at once). */
export async function storeToken(db: Db, key: string, token: string, expiresAt: number, now: number): Promise<void> {
  await db.run(
    `INSERT INTO wechat_tokens (cache_key, token, expires_at, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (cache_key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at, updated_at = excluded.updated_at
     WHERE wechat_tokens.expires_at <= excluded.expires_at`,
    [key, token, expiresAt, now],
  );
}

/** Forgets a token the platform called invalid (40001/42001), unless another process replaced it already. */
export async function dropToken(db: Db, key: string, token: string): Promise<void> {
  await db.run('DELETE FROM wechat_tokens WHERE cache_key = ? AND token = ?', [key, token]);
}

// ----- plaintext callback nonces --------------------------------------------------------------

/**
 * A plaintext callback's signature covers token, timestamp and nonce but not the body: the first body
 * seen with a (timestamp, nonce) is bound to it, a retry with the same body passes, another body with
 * the same signed parameters is a forgery (false). Rows older than `keepMs` are pruned as we go.
 */
export async function bindNonce(db: Db, key: string, bodySha256: string, now: number, keepMs: number): Promise<boolean> {
  await db.run('INSERT INTO wechat_nonces (nonce_key, body_sha256, seen_at) VALUES (?, ?, ?) ON CONFLICT (nonce_key) DO NOTHING', [key, bodySha256, now]);
  const r = await db.one<{ body_sha256: string }>('SELECT body_sha256 FROM wechat_nonces WHERE nonce_key = ?', [key]);
  if (Math.random() < 0.02) await db.run('DELETE FROM wechat_nonces WHERE seen_at < ?', [now - keepMs]);
  return r?.body_sha256 === bodySha256;
}

// ----- reply window ---------------------------------------------------------------------------

export interface LastInteraction {
  /**
   * When the user's latest inbound (message or event) in the inbox was sent, by the platform's own
   * time (CreateTime / send_time, which the platform counts its window from), else when we stored it.
   */
  at: number | null;
  /** The latest inbound is this event (`unsubscribe`…), from its meta; null for a message. */
  event: string | null;
  /** Our messages accepted by the platform since then (WeCom kf's per-interaction quota). */
  sentSince: number;
}

/** `messagesOnly`: events (WeCom's enter_session) do not open the window, only the customer's messages. */
export async function lastInteraction(db: Db, inboxId: string, contactId: string, opts: { messagesOnly?: boolean } = {}): Promise<LastInteraction> {
  const r = await db.one<{ server_time: number | string; device_time: number | string | null; kind: string; meta: string }>(
    `SELECT m.server_time, m.device_time, m.kind, m.meta FROM messages m JOIN conversations c ON c.id = m.conversation_id
     WHERE m.inbox_id = ? AND c.contact_id = ? AND m.direction = 'in'${opts.messagesOnly ? " AND m.kind <> 'event'" : ''} ORDER BY m.server_time DESC, m.id DESC LIMIT 1`,
    [inboxId, contactId],
  );
  if (!r) return { at: null, event: null, sentSince: 0 };
  const at = r.device_time !== null && r.device_time !== undefined ? Number(r.device_time) : Number(r.server_time);
  const storedAt = Number(r.server_time);
  let event: string | null = null;
  if (r.kind === 'event') {
    try {
      const meta = JSON.parse(r.meta) as { event?: unknown };
      event = typeof meta.event === 'string' ? meta.event : null;
    } catch {
      event = null;
    }
  }
  const n = await db.one<{ n: number | string }>(
    `SELECT COUNT(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id
     WHERE m.inbox_id = ? AND c.contact_id = ? AND m.direction = 'out' AND m.status IN ('accepted', 'delivered') AND m.server_time >= ?`,
    [inboxId, contactId, storedAt],
  );
  return { at, event, sentSince: Number(n?.n ?? 0) };
}

// ----- WeCom kf sync_msg cursors ----------------------------------------------------------------

/**
 * Takes the pull lease of one account (creating its row the first time): null when another process
 * (or another pull of this one) holds it. Returns the durable cursor to continue from.
 */
export async function claimKfCursor(db: Db, inboxId: string, openKfId: string, owner: string, now: number, leaseMs: number): Promise<{ cursor: string | null } | null> {
  await db.run(
    'INSERT INTO wecom_kf_cursors (inbox_id, open_kfid, next_cursor, lease_owner, lease_until, pulls, updated_at) VALUES (?, ?, NULL, NULL, NULL, 0, ?) ON CONFLICT (inbox_id, open_kfid) DO NOTHING',
    [inboxId, openKfId, now],
  );
  const r = await db.run(
    'UPDATE wecom_kf_cursors SET lease_owner = ?, lease_until = ? WHERE inbox_id = ? AND open_kfid = ? AND (lease_until IS NULL OR lease_until < ?)',
    [owner, now + leaseMs, inboxId, openKfId, now],
  );
  if (r.changes === 0) return null;
  const row = await db.one<{ next_cursor: string | null }>('SELECT next_cursor FROM wecom_kf_cursors WHERE inbox_id = ? AND open_kfid = ? AND lease_owner = ?', [inboxId, openKfId, owner]);
  return row ? { cursor: row.next_cursor } : null;
}

/** Saves the cursor after a page's messages are stored (only by the lease holder); extends the lease. */
export async function advanceKfCursor(db: Db, inboxId: string, openKfId: string, owner: string, cursor: string, now: number, leaseMs: number): Promise<boolean> {
  const r = await db.run(
    'UPDATE wecom_kf_cursors SET next_cursor = ?, pulls = pulls + 1, updated_at = ?, lease_until = ? WHERE inbox_id = ? AND open_kfid = ? AND lease_owner = ?',
    [cursor, now, now + leaseMs, inboxId, openKfId, owner],
  );
  return r.changes > 0;
}

export async function releaseKfCursor(db: Db, inboxId: string, openKfId: string, owner: string): Promise<void> {
  await db.run('UPDATE wecom_kf_cursors SET lease_owner = NULL, lease_until = NULL WHERE inbox_id = ? AND open_kfid = ? AND lease_owner = ?', [inboxId, openKfId, owner]);
}

export async function kfCursor(db: Db, inboxId: string, openKfId: string): Promise<string | null> {
  const r = await db.one<{ next_cursor: string | null }>('SELECT next_cursor FROM wecom_kf_cursors WHERE inbox_id = ? AND open_kfid = ?', [inboxId, openKfId]);
  return r?.next_cursor ?? null;
}
