/**
 * Ticket numbers on PostgreSQL with two server processes: conversations created at the same time on
 * both get sequential, unique per-tenant numbers (the counter row is taken in each conversation's
 * creating transaction), and the list finds a conversation by its ticket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ServerProcess } from './support/serverProcess.js';
import { api, loginToken } from './support/agentClient.js';
import { createTestDatabase } from './support/pg.js';

describe('ticket numbers across two server processes (PostgreSQL)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Client;
  let a: ServerProcess;
  let b: ServerProcess;
  const env = { GOUTONG_DEMO: '1', GOUTONG_SECRET: 'tickets-two-processes-secret-0123456789abcdef' };

  beforeAll(async () => {
    database = await createTestDatabase('gttickets2p');
    sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
    a = new ServerProcess({ databaseUrl: database.url, env });
    await a.start();
    b = new ServerProcess({ databaseUrl: database.url, env });
    await b.start();
  }, 90_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    a?.cleanup();
    b?.cleanup();
    await sql?.end();
    await database?.drop();
  });

  it('40 conversations created concurrently on both processes get 40 new consecutive, unique numbers', async () => {
    const clients = [api(a.url, await loginToken(a.url, 'admin@demo.goutong')), api(b.url, await loginToken(b.url, 'admin@demo.goutong'))];
    const inboxId = (await clients[0]!('GET', '/api/v1/inboxes')).body.items.find((i: { channel: string }) => i.channel === 'api').id;
    const tenant = (await sql.query('SELECT tenant_id FROM inboxes WHERE id = $1', [inboxId])).rows[0].tenant_id as string;
    const before = Number((await sql.query('SELECT COALESCE(MAX(ticket_number), 0) AS m FROM conversations WHERE tenant_id = $1', [tenant])).rows[0].m);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        clients[i % 2]!('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `ticket-${i}`, from: { identifier: `cust-${i}` }, text: `hello ${i}` }),
      ),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    const ids = results.map((r) => r.body.conversationId as string);
    const rows = (await sql.query('SELECT id, ticket_number FROM conversations WHERE id = ANY($1)', [ids])).rows as { id: string; ticket_number: string }[];
    const numbers = rows.map((r) => Number(r.ticket_number)).sort((x, y) => x - y);
    expect(numbers).toEqual(Array.from({ length: 40 }, (_, i) => before + 1 + i));
    // Searchable by ticket on either process.
    const pick = rows[7]!;
    const found = await clients[1]!('GET', `/api/v1/conversations?q=%23${pick.ticket_number}`);
    expect(found.body.items.map((c: { id: string; ticketNumber: number }) => [c.id, c.ticketNumber])).toEqual([[pick.id, Number(pick.ticket_number)]]);
  }, 60_000);
});
