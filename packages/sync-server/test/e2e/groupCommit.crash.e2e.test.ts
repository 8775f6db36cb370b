import { webcrypto } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Uuidv7Generator } from '@goutong/core';
import { ServerProcess } from '../support/serverProcess.js';
import { createTestDatabase } from '../support/pg.js';
import { api, loginToken } from '../support/agentClient.js';
import { readRows } from '../support/dbRows.js';

const ENV = { GOUTONG_DEMO: '1', GOUTONG_EGRESS_ALLOW: '127.0.0.0/8,::1' };
const ids = new Uuidv7Generator(Date.now, (n) => webcrypto.getRandomValues(new Uint8Array(n)));

interface Batch {
  token: string;
  commands: { type: 'add_note'; id: string; deviceTime: number; conversationId: string; text: string }[];
}

async function post(url: string, b: Batch): Promise<{ results: { id: string; outcome: string }[] } | null> {
  try {
    const res = await fetch(`${url}/api/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${b.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ commands: b.commands }),
    });
    if (res.status !== 200) return null;
    return (await res.json()) as { results: { id: string; outcome: string }[] };
  } catch {
    return null; // the process died before it answered
  }
}

/**
 * Many devices send command batches at once, so the server commits them in groups; it SIGKILLs
 * itself after the 8th batch committed (GOUTONG_FAULT=kill-after-commit:8), while other groups are
 * gathering or committing and other answers of its own group are still being written. Every batch that was answered is in the database; every command the
 * devices send again (their outboxes retry all unanswered batches) is applied exactly once.
 */
describe.each([['sqlite'], ['postgres']] as const)('SIGKILL during group commits on %s', (dialect) => {
  let first: ServerProcess;
  let second: ServerProcess | null = null;
  let databaseUrl: string | undefined;
  let dropDb: (() => Promise<void>) | null = null;

  beforeAll(async () => {
    if (dialect === 'postgres') {
      const db = await createTestDatabase('gtgroup');
      databaseUrl = db.url;
      dropDb = db.drop;
    }
    first = new ServerProcess({ ...(databaseUrl ? { databaseUrl } : {}), env: { ...ENV, GOUTONG_FAULT: 'kill-after-commit:8' } });
    await first.start();
  });

  afterAll(async () => {
    await second?.stop();
    await first?.stop();
    first?.cleanup();
    await dropDb?.();
  });

  it('loses nothing acknowledged and applies every retried command once', async () => {
    const target = { dataDir: first.dataDir, databaseUrl };
    const adminToken = await loginToken(first.url, 'admin@demo.goutong');
    const admin = api(first.url, adminToken);
    const inbox = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API');
    const inbound = await admin('POST', `/api/v1/inboxes/${inbox.id}/inbound`, { externalId: `group-crash-${dialect}`, from: { identifier: '+8613800009999', name: '孙丽' }, text: '在吗？' });
    expect(inbound.status).toBe(201);
    const convId: string = inbound.body.conversationId;
    const tokens = [adminToken, await loginToken(first.url, 'li.wei@demo.goutong')];

    const batches: Batch[] = Array.from({ length: 60 }, (_, i) => ({
      token: tokens[i % tokens.length]!,
      commands: [0, 1].map((k) => ({ type: 'add_note' as const, id: ids.next(), deviceTime: Date.now(), conversationId: convId, text: `note ${i}.${k}` })),
    }));
    // Three batches one after the other (answered for sure), then the rest at once.
    const answers: (Awaited<ReturnType<typeof post>>)[] = [];
    for (const b of batches.slice(0, 3)) answers.push(await post(first.url, b));
    answers.push(...(await Promise.all(batches.slice(3).map((b) => post(first.url, b)))));
    expect(await first.waitForExit()).toBe('SIGKILL');

    const acknowledged = batches.filter((_, i) => answers[i] !== null).flatMap((b) => b.commands.map((c) => c.id));
    // The first three were answered; the fatal one (committed) was not.
    expect(acknowledged.length).toBeGreaterThanOrEqual(6);
    expect(acknowledged.length).toBeLessThan(120);
    for (const a of answers) if (a) expect(a.results.map((r) => r.outcome)).toEqual(['applied', 'applied']);
    const stored = new Set((await readRows<{ id: string }>(target, 'SELECT id FROM commands WHERE tenant_id = ?', [await tenantOf(target, convId)])).map((r) => r.id));
    for (const id of acknowledged) expect(stored.has(id), `acknowledged command ${id} is stored`).toBe(true);

    // The devices retry every unanswered batch against the restarted server (same data, same port).
    second = new ServerProcess({ dataDir: first.dataDir, port: first.port, ...(databaseUrl ? { databaseUrl } : {}), env: ENV });
    await second.start();
    const retried = batches.filter((_, i) => answers[i] === null);
    const again = await Promise.all(retried.map((b) => post(second!.url, b)));
    for (const [i, a] of again.entries()) {
      expect(a, `retry ${i} answered`).not.toBeNull();
      for (const r of a!.results) expect(['applied', 'duplicate']).toContain(r.outcome);
    }
    // Retried commands that the dead process had committed are recognised as such.
    const retriedIds = retried.flatMap((b) => b.commands.map((c) => c.id));
    const outcomes = new Map(again.flatMap((a) => a!.results.map((r) => [r.id, r.outcome] as const)));
    for (const id of retriedIds) expect(outcomes.get(id)).toBe(stored.has(id) ? 'duplicate' : 'applied');

    const all = batches.flatMap((b) => b.commands.map((c) => c.id));
    const ph = all.map(() => '?').join(', ');
    expect(await readRows(target, `SELECT id FROM commands WHERE id IN (${ph})`, all)).toHaveLength(120);
    expect(await readRows(target, `SELECT id FROM messages WHERE id IN (${ph})`, all)).toHaveLength(120);
  });
});

async function tenantOf(target: { dataDir: string; databaseUrl?: string | undefined }, convId: string): Promise<string> {
  return (await readRows<{ tenant_id: string }>(target, 'SELECT tenant_id FROM conversations WHERE id = ?', [convId]))[0]!.tenant_id;
}
