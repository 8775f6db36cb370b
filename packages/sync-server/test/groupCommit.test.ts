import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webcrypto } from 'node:crypto';
import { Uuidv7Generator, type Agent, type Inbox } from '@goutong/core';
import { GroupCommit } from '../src/domain/groupCommit.js';
import { api, loginToken } from './support/agentClient.js';
import { startTestServer, type Dialect } from './support/inProcess.js';

const ids = new Uuidv7Generator(Date.now, (n) => webcrypto.getRandomValues(new Uint8Array(n)));

/**
 * Group commit (domain/groupCommit.ts) on a real database: commands and inbound messages that arrive
 * together share one transaction, each under its own savepoint.
 */
describe.each([['sqlite'], ['postgres']] as [Dialect][])('group commit on %s', (dialect) => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  let admin: Agent;
  let agent: Agent;
  let inbox: Inbox;
  let convId: string;

  beforeAll(async () => {
    s = await startTestServer(dialect);
    const call = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
    const inboxId = (await call('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API').id as string;
    const agents = await s.workspace.agents((await s.workspace.inboxRow(inboxId))!.tenant_id as string);
    admin = agents.find((a) => a.email === 'admin@demo.goutong')!;
    agent = agents.find((a) => a.email === 'zhang.san@demo.goutong')!;
    inbox = (await s.workspace.inbox(admin.tenantId, inboxId))!;
    convId = (await s.workspace.ingestInbound(inbox, { externalId: `gc-${dialect}-start`, from: { identifier: '+8613800000001', name: '周' }, text: '你好' })).conversation.id;
  });
  afterAll(async () => {
    await s?.stopAll();
  });

  const count = async (sql: string, params: string[]): Promise<number> => Number((await s.db.one<{ n: number }>(sql, params))!.n);

  it('a unit that throws is rolled back alone; its neighbours commit in the same transaction', async () => {
    await s.db.exec('CREATE TABLE IF NOT EXISTS gc_probe (k TEXT PRIMARY KEY)');
    const gc = new GroupCommit(s.db);
    const results = await gc.runAll([
      (q) => q.run('INSERT INTO gc_probe (k) VALUES (?)', ['a']),
      async (q) => {
        await q.run('INSERT INTO gc_probe (k) VALUES (?)', ['b']);
        throw new Error('refused');
      },
      (q) => q.run('INSERT INTO gc_probe (k) VALUES (?)', ['a']), // a constraint error inside the group
      (q) => q.run('INSERT INTO gc_probe (k) VALUES (?)', ['c']),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('refused'));
    expect((await s.db.all<{ k: string }>('SELECT k FROM gc_probe ORDER BY k')).map((r) => r.k)).toEqual(['a', 'c']);
    expect(gc.stats).toMatchObject({ transactions: 1, units: 4, largest: 4 });
  });

  it('a unit may not submit another unit (it would wait for its own group)', async () => {
    const gc = new GroupCommit(s.db);
    await expect(gc.run(() => gc.run(async () => 1))).rejects.toThrow(/may not submit another unit/);
  });

  it('a command batch in which one command is rejected applies the others, in one transaction', async () => {
    const before = s.workspace.commits.stats.transactions;
    const a = ids.next();
    const bad = ids.next();
    const c = ids.next();
    const out = await s.workspace.applyCommands(admin, [
      { type: 'add_label', id: a, deviceTime: 1, conversationId: convId, label: 'gc-one' },
      { type: 'add_label', id: bad, deviceTime: 1, conversationId: ids.next(), label: 'nowhere' },
      { type: 'add_note', id: c, deviceTime: 1, conversationId: convId, text: 'noted in the same group' },
    ]);
    expect(out.map((o) => o.outcome)).toEqual(['applied', 'rejected', 'applied']);
    expect(out[1]).toMatchObject({ id: bad, error: { code: 'not_found' } });
    expect(s.workspace.commits.stats.transactions - before).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM commands WHERE id IN (?, ?, ?)', [a, bad, c])).toBe(2);
    expect((await s.workspace.visibleConversation(admin, convId)).labels).toContain('gc-one');
    // The applied commands' seqs are distinct and each one's facts carry it.
    const seqs = out.filter((o) => o.outcome === 'applied').map((o) => (o as { seq: number }).seq);
    expect(new Set(seqs).size).toBe(2);
    expect(await count('SELECT COUNT(*) AS n FROM audit_log WHERE details LIKE ?', [`%${bad}%`])).toBe(0);
  });

  it('concurrent callers share a commit; a command id repeated inside the group applies once', async () => {
    const before = s.workspace.commits.stats.transactions;
    const id = ids.next();
    const cmd = { type: 'add_note', id, deviceTime: 1, conversationId: convId, text: 'sent twice' } as const;
    const other = ids.next();
    const [x, y, z] = await Promise.all([
      s.workspace.applyCommands(admin, [cmd]),
      s.workspace.applyCommands(admin, [cmd]),
      s.workspace.applyCommands(agent, [{ type: 'add_label', id: other, deviceTime: 1, conversationId: convId, label: 'gc-two' }]),
    ]);
    expect([x![0]!.outcome, y![0]!.outcome].sort()).toEqual(['applied', 'duplicate']);
    expect((x![0] as { seq: number }).seq).toBe((y![0] as { seq: number }).seq);
    expect(z![0]!.outcome).toBe('applied');
    expect(s.workspace.commits.stats.transactions - before).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM commands WHERE id = ?', [id])).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM messages WHERE id = ?', [id])).toBe(1);
  });

  it('inbound messages arriving together commit together, each deduplicated by its external id', async () => {
    const before = s.workspace.commits.stats.transactions;
    const msgs = Array.from({ length: 12 }, (_, i) => ({ externalId: `gc-${dialect}-in-${i % 6}`, from: { identifier: `+86139000000${String(i % 6).padStart(2, '0')}` }, text: `消息 ${i % 6}` }));
    const res = await Promise.all(msgs.map((m) => s.workspace.ingestInbound(inbox, m)));
    expect(res.filter((r) => !r.duplicate)).toHaveLength(6);
    expect(res.filter((r) => r.duplicate)).toHaveLength(6);
    expect(s.workspace.commits.stats.transactions - before).toBe(1);
    for (let i = 0; i < 6; i++) {
      expect(await count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ? AND external_id = ?', [inbox.id, `gc-${dialect}-in-${i}`])).toBe(1);
      // The duplicate answers with the stored message.
      expect(res[i + 6]!.message.id).toBe(res[i]!.message.id);
    }
  });
});
