import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@goutong/core';
import { openSqlite } from '../src/db/db.js';
import { migrate } from '../src/db/migrations.js';
import { Workspace } from '../src/domain/workspace.js';
import { createTenant } from '../src/domain/tenants.js';
import { api, loginToken } from './support/agentClient.js';
import { startTestServer, type Dialect } from './support/inProcess.js';

/**
 * Audit rows are written in the same transaction as what they record: when the audit row cannot be
 * written, the change does not happen either (and the other way round). The audit table is taken
 * away under the running server to make its insert fail.
 */
describe.each([['sqlite'], ['postgres']] as [Dialect][])('audit rows commit with their change on %s', (dialect) => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  let admin: ReturnType<typeof api>;
  const auditRows = async (action: string, target: string) =>
    Number((await s.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log WHERE action = ? AND target = ?', [action, target]))!.n);
  const breakAudit = () => s.db.exec('ALTER TABLE audit_log RENAME TO audit_log_away');
  const restoreAudit = async () => {
    if (await s.db.one(dialect === 'postgres' ? "SELECT 1 AS x FROM pg_tables WHERE tablename = 'audit_log_away'" : "SELECT 1 AS x FROM sqlite_master WHERE name = 'audit_log_away'")) {
      await s.db.exec('ALTER TABLE audit_log_away RENAME TO audit_log');
    }
  };
  const canned = async () => (await admin('GET', '/api/v1/canned-responses')).body.items as { id: string; shortCode: string; title: string }[];

  beforeAll(async () => {
    s = await startTestServer(dialect);
    admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
  });
  afterEach(restoreAudit);
  afterAll(async () => s?.stopAll());

  it('creating, editing and deleting a canned response writes its audit row with it', async () => {
    const c = await admin('POST', '/api/v1/canned-responses', { shortCode: 'audited', title: 'Audited', body: 'x' });
    expect(c.status).toBe(201);
    expect(await auditRows('canned.create', c.body.id)).toBe(1);
    expect((await admin('PATCH', `/api/v1/canned-responses/${c.body.id}`, { title: 'Audited 2' })).status).toBe(200);
    expect(await auditRows('canned.update', c.body.id)).toBe(1);
    expect((await admin('DELETE', `/api/v1/canned-responses/${c.body.id}`)).status).toBe(204);
    expect(await auditRows('canned.delete', c.body.id)).toBe(1);
  });

  it('a canned response change whose audit row fails is not committed', async () => {
    const kept = await admin('POST', '/api/v1/canned-responses', { shortCode: 'kept', title: 'Kept', body: 'x' });
    expect(kept.status).toBe(201);
    await breakAudit();
    expect((await admin('POST', '/api/v1/canned-responses', { shortCode: 'unaudited', title: 'Unaudited', body: 'x' })).status).toBeGreaterThanOrEqual(500);
    expect((await admin('PATCH', `/api/v1/canned-responses/${kept.body.id}`, { title: 'Changed without audit' })).status).toBeGreaterThanOrEqual(500);
    expect((await admin('DELETE', `/api/v1/canned-responses/${kept.body.id}`)).status).toBeGreaterThanOrEqual(500);
    await restoreAudit();
    const items = await canned();
    expect(items.find((i) => i.shortCode === 'unaudited')).toBeUndefined();
    expect(items.find((i) => i.id === kept.body.id)).toMatchObject({ title: 'Kept' });
  });

  it('renaming a canned response to a taken short code is a conflict, not a server error', async () => {
    await admin('POST', '/api/v1/canned-responses', { shortCode: 'taken', title: 'Taken', body: 'x' });
    const other = await admin('POST', '/api/v1/canned-responses', { shortCode: 'other', title: 'Other', body: 'x' });
    expect((await admin('PATCH', `/api/v1/canned-responses/${other.body.id}`, { shortCode: 'taken' })).status).toBe(409);
  });
});

describe('a tenant created with an audit entry', () => {
  const db = openSqlite(':memory:');
  const ws = new Workspace(db, silentLogger);
  beforeAll(() => migrate(db));
  afterAll(() => db.close());

  it('commits the tenant and its audit row together, or neither', async () => {
    const input = (slug: string) => ({ slug, name: slug, teams: ['Support'], agents: [{ email: `a@${slug}.test`, name: 'A', role: 'admin' as const, teams: ['Support'], password: 'long-enough-password' }] });
    const t = await createTenant(ws, input('audited'), { agentId: null, action: 'tenant.create', details: { via: 'test' } });
    expect(await db.one('SELECT action FROM audit_log WHERE tenant_id = ? AND target = ?', [t.tenantId, t.tenantId])).toEqual({ action: 'tenant.create' });
    await db.exec('ALTER TABLE audit_log RENAME TO audit_log_away');
    await expect(createTenant(ws, input('unaudited'), { agentId: null, action: 'tenant.create', details: {} })).rejects.toThrow();
    expect(await db.one("SELECT id FROM tenants WHERE slug = 'unaudited'")).toBeNull();
  });
});
