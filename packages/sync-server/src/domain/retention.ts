import { Channel, CHANNELS, NO_RETENTION, RetentionPolicy, retentionCutoff, type Agent } from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import { insertAudit } from './audit.js';
import { nextSeq } from './rows.js';
import { unreferencedBlobs } from './dataRights.js';
import { unindexMessages } from './searchIndex.js';

/**
 * [accounts] Retention: an admin's policy (purge messages and recordings older than N days,
 * optionally per channel), announced to devices in every pull and applied by the server's
 * housekeeping, exactly once across processes (a per-tenant lease, `FOR UPDATE SKIP LOCKED`).
 */
const DEFAULT_KEY = '*';

export async function retentionPolicy(q: Queryable, tenantId: string): Promise<RetentionPolicy> {
  const rows = await q.all<{ channel: string; days: number }>('SELECT channel, days FROM retention_policies WHERE tenant_id = ?', [tenantId]);
  if (rows.length === 0) return NO_RETENTION;
  const policy: RetentionPolicy = { days: null, channels: {} };
  for (const r of rows) {
    const days = Number(r.days) > 0 ? Number(r.days) : null;
    if (r.channel === DEFAULT_KEY) policy.days = days;
    else {
      const ch = Channel.safeParse(r.channel);
      if (ch.success) policy.channels[ch.data] = days;
    }
  }
  return RetentionPolicy.parse(policy);
}

/** Replaces the policy (audited); the tenant's seq moves so the next pull of every device announces it. */
export async function setRetentionPolicy(db: Db, actor: Agent, policy: RetentionPolicy, now: number): Promise<RetentionPolicy> {
  return db.tx(async (q) => {
    await q.run('DELETE FROM retention_policies WHERE tenant_id = ?', [actor.tenantId]);
    // 0 days stored for "keep forever" on a channel that overrides a default.
    if (policy.days !== null) await q.run('INSERT INTO retention_policies (tenant_id, channel, days, updated_at) VALUES (?, ?, ?, ?)', [actor.tenantId, DEFAULT_KEY, policy.days, now]);
    for (const [ch, days] of Object.entries(policy.channels)) {
      await q.run('INSERT INTO retention_policies (tenant_id, channel, days, updated_at) VALUES (?, ?, ?, ?)', [actor.tenantId, ch, days ?? 0, now]);
    }
    await nextSeq(q, actor.tenantId);
    await insertAudit(q, { tenantId: actor.tenantId, agentId: actor.id }, { action: 'settings.retention', target: actor.tenantId, details: { policy } }, now);
    return retentionPolicy(q, actor.tenantId);
  });
}

export interface RetentionRun {
  tenants: number;
  messages: number;
  blobs: string[];
}

const BATCH = 500;

/**
 * One pass over every tenant with a policy. A tenant is purged by one process at a time (a lease
 * row claimed with a conditional update); the rows of one batch are locked with SKIP LOCKED on
 * PostgreSQL, so two processes never purge (or count) the same message.
 */
export async function purgeRetention(db: Db, o: { now: number; owner: string; leaseMs: number }): Promise<RetentionRun> {
  const tenants = (await db.all<{ tenant_id: string }>('SELECT DISTINCT tenant_id FROM retention_policies')).map((r) => String(r.tenant_id));
  const out: RetentionRun = { tenants: 0, messages: 0, blobs: [] };
  for (const t of tenants) {
    await db.run('INSERT INTO retention_runs (tenant_id, lease_until, purged) VALUES (?, 0, 0) ON CONFLICT DO NOTHING', [t]);
    const claimed = await db.run('UPDATE retention_runs SET lease_until = ?, lease_owner = ? WHERE tenant_id = ? AND lease_until < ?', [o.now + o.leaseMs, o.owner, t, o.now]);
    if (claimed.changes === 0) continue;
    out.tenants++;
    try {
      const policy = await retentionPolicy(db, t);
      for (const ch of CHANNELS) {
        const cutoff = retentionCutoff(policy, ch, o.now);
        if (cutoff === null) continue;
        for (;;) {
          const r = await purgeBatch(db, t, ch, cutoff, o);
          out.messages += r.messages;
          out.blobs.push(...r.blobs);
          if (r.messages < BATCH) break;
        }
      }
    } finally {
      await db.run('UPDATE retention_runs SET lease_until = ?, last_run_at = ? WHERE tenant_id = ? AND lease_owner = ?', [o.now, o.now, t, o.owner]);
    }
  }
  return out;
}

async function purgeBatch(db: Db, tenantId: string, channel: string, cutoff: number, o: { now: number; owner: string }): Promise<{ messages: number; blobs: string[] }> {
  return db.tx(async (q) => {
    const lock = q.dialect === 'pg' ? ' FOR UPDATE OF m SKIP LOCKED' : '';
    const ids = (
      await q.all<{ id: string }>(
        `SELECT m.id FROM messages m JOIN inboxes i ON i.id = m.inbox_id WHERE m.tenant_id = ? AND i.channel = ? AND m.created_at < ? ORDER BY m.created_at, m.id LIMIT ${BATCH}${lock}`,
        [tenantId, channel, cutoff],
      )
    ).map((r) => String(r.id));
    if (ids.length === 0) return { messages: 0, blobs: [] };
    const marks = ids.map(() => '?').join(', ');
    const shas = (await q.all<{ sha256: string }>(`SELECT sha256 FROM attachments WHERE message_id IN (${marks})`, ids)).map((r) => String(r.sha256));
    await q.run(`DELETE FROM attachments WHERE message_id IN (${marks})`, ids);
    await q.run(`DELETE FROM relay_jobs WHERE message_id IN (${marks})`, ids);
    await q.run(`DELETE FROM email_message_ids WHERE message_id IN (${marks})`, ids);
    await unindexMessages(q, ids); // [search] purged history leaves the index
    const deleted = await q.run(`DELETE FROM messages WHERE id IN (${marks})`, ids);
    await q.run('UPDATE retention_runs SET purged = purged + ? WHERE tenant_id = ?', [deleted.changes, tenantId]);
    await insertAudit(q, { tenantId, agentId: null }, { action: 'retention.purge', target: channel, details: { messages: deleted.changes, before: cutoff, by: o.owner } }, o.now);
    return { messages: deleted.changes, blobs: await unreferencedBlobs(q, shas) };
  });
}

/** Runs purgeRetention now and then on an unref'd timer, alongside the other housekeeping. */
export class RetentionJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RetentionRun | null> | null = null;

  constructor(
    private readonly db: Db,
    private readonly o: { intervalMs: number; owner: string; leaseMs?: number; removeBlobs: (shas: readonly string[]) => void; onError: (e: unknown) => void; now?: () => number },
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.o.intervalMs);
    this.timer.unref();
  }

  runOnce(): Promise<RetentionRun | null> {
    this.running ??= purgeRetention(this.db, { now: (this.o.now ?? Date.now)(), owner: this.o.owner, leaseMs: this.o.leaseMs ?? 10 * 60_000 })
      .then((r) => {
        if (r.blobs.length) this.o.removeBlobs(r.blobs);
        return r;
      })
      .catch((e: unknown) => {
        this.o.onError(e);
        return null;
      })
      .finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
