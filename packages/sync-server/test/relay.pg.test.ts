import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { silentLogger, type Agent, type Inbox } from '@goutong/core';
import { openPostgres, type Db, type Param, type Queryable } from '../src/db/db.js';
import { migrate } from '../src/db/migrations.js';
import { Workspace } from '../src/domain/workspace.js';
import { RelayWorker } from '../src/relay/worker.js';
import { ProviderRegistry, type ChannelProvider, type SendContext, type SendResult } from '../src/channels/provider.js';
import type { AttachmentStore } from '../src/attachments/store.js';
import { createInbox, createTenant } from '../src/seed.js';
import { eventually } from './support/agentClient.js';
import { createTestDatabase } from './support/pg.js';

/**
 * The relay on PostgreSQL with two "server processes": two Workspace + RelayWorker pairs, each with
 * its own connection pool on one database, and one provider fake that counts what reaches it.
 */

interface Plan {
  /** What the provider answers. */
  result: SendResult;
  /** The request reaches the provider, but the answer waits until released (a slow or dead worker). */
  hold?: boolean;
}

/** A provider that counts sends. A send whose plan answers `accepted` is delivered the moment it arrives. */
class CountingProvider {
  /** Every send request, in order: which node made it, for which message. */
  readonly attempts: { node: string; messageId: string }[] = [];
  /** Messages the provider delivered (each entry is one SMS to the customer). */
  readonly delivered: string[] = [];
  readonly reconciled: { node: string; messageId: string }[] = [];
  private plans = new Map<string, Plan[]>();
  private held = new Map<string, (() => void)[]>();
  private reconcileHolds = new Set<string>();

  plan(messageId: string, ...plans: Plan[]): void {
    this.plans.set(messageId, [...(this.plans.get(messageId) ?? []), ...plans]);
  }

  /** Holds the next reconciliation of a message by one node until released (a slow provider list). */
  holdReconcile(node: string, messageId: string): void {
    this.reconcileHolds.add(`${node}:${messageId}`);
  }

  /** Lets a held reconciliation answer. */
  releaseReconcile(node: string, messageId: string): void {
    this.release(`reconcile-${node}`, messageId);
  }

  /** Lets the held send of a message by one node answer. */
  release(node: string, messageId: string): void {
    const key = `${node}:${messageId}`;
    for (const r of this.held.get(key) ?? []) r();
    this.held.delete(key);
  }

  sends(messageId: string): number {
    return this.attempts.filter((a) => a.messageId === messageId).length;
  }

  /** The provider as one node registers it. */
  as(node: string): ChannelProvider {
    return {
      channel: 'sms',
      name: 'counting',
      configSchema: z.record(z.string(), z.unknown()),
      secretsSchema: z.record(z.string(), z.string()),
      send: async (ctx: SendContext) => {
        const id = ctx.message.id;
        this.attempts.push({ node, messageId: id });
        const plan = this.plans.get(id)?.shift() ?? { result: { kind: 'accepted', providerMessageId: `p-${node}-${id}` } };
        if (plan.result.kind === 'accepted') this.delivered.push(id);
        const key = `${node}:${id}`;
        if (plan.hold) await new Promise<void>((r) => this.held.set(key, [...(this.held.get(key) ?? []), r]));
        return plan.result;
      },
      reconcile: async (ctx: SendContext) => {
        this.reconciled.push({ node, messageId: ctx.message.id });
        const hold = `${node}:${ctx.message.id}`;
        if (this.reconcileHolds.delete(hold)) {
          const key = `reconcile-${hold}`;
          await new Promise<void>((r) => this.held.set(key, [...(this.held.get(key) ?? []), r]));
        }
        return this.delivered.includes(ctx.message.id) ? { kind: 'found', providerMessageId: `found-${ctx.message.id}` } : { kind: 'absent' };
      },
    };
  }
}

/** One server process's share of the relay: its own pool, workspace and worker. */
interface Node {
  name: string;
  db: Db;
  ws: Workspace;
  /** Facts this node announced after commit (`committed`). */
  announced: number[];
  worker(o?: { now?: () => number; leaseMs?: number; db?: Db }): RelayWorker;
}

/** A Db whose transactions fail on a chosen statement (the status write), to prove what commits together. */
function failingOn(db: Db, fails: (sql: string, params: readonly Param[]) => boolean): Db {
  const wrap = (q: Queryable): Queryable => ({
    dialect: q.dialect,
    all: (sql, params) => q.all(sql, params),
    one: (sql, params) => q.one(sql, params),
    run: (sql, params = []) => (fails(sql, params) ? Promise.reject(new Error('injected: the status write failed')) : q.run(sql, params)),
  });
  return { ...wrap(db), tx: (fn) => db.tx((q) => fn(wrap(q))), exec: (sql) => db.exec(sql), close: () => db.close() };
}

describe('relay on PostgreSQL with two server processes', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-relay-pg-'));
  const provider = new CountingProvider();
  const nodes: Node[] = [];
  let a: Node;
  let b: Node;
  let admin: Agent;
  let inbox: Inbox;
  let conversationId: string;
  let n = 0;

  const makeNode = (name: string, url: string): Node => {
    const db = openPostgres(url, { max: 4 });
    const ws = new Workspace(db, silentLogger);
    const announced: number[] = [];
    ws.committed.on((c) => announced.push(c.seq));
    const providers = new ProviderRegistry().register(provider.as(name));
    const node: Node = {
      name, db, ws, announced,
      worker: (o = {}) =>
        new RelayWorker({
          db: o.db ?? db, workspace: ws, providers, logger: silentLogger, intervalMs: 60_000, batch: 3,
          ...(o.leaseMs !== undefined ? { leaseMs: o.leaseMs } : {}),
          ...(o.now ? { now: o.now } : {}),
          deps: {
            workspace: ws, logger: silentLogger,
            // The counting provider stores no media.
            attachments: undefined as unknown as AttachmentStore,
            inboxSettings: async (id) => {
              const i = await ws.inbox(inbox.tenantId, id);
              return i ? { inbox: i, config: {}, secrets: {} } : null;
            },
          },
        }),
    };
    nodes.push(node);
    return node;
  };

  /** Queues a reply on node A (the command writes the message and its relay job in one transaction). */
  const queueReply = async (): Promise<string> => {
    const id = a.ws.ids.next();
    const r = await a.ws.applyCommand(admin, { type: 'send_reply', id, deviceTime: Date.now(), conversationId, text: `reply ${++n}` });
    expect(r.outcome).toBe('applied');
    return id;
  };
  const job = async (messageId: string) =>
    (await a.db.one<{ state: string; attempts: number; lease_owner: string | null; updated_at: number }>('SELECT state, attempts, lease_owner, updated_at FROM relay_jobs WHERE message_id = ?', [messageId]))!;
  const message = async (messageId: string) =>
    (await a.db.one<{ status: string; status_reason: string | null; provider_message_id: string | null; seq: number; meta: string }>('SELECT status, status_reason, provider_message_id, seq, meta FROM messages WHERE id = ?', [messageId]))!;
  /** A clock past any lease a worker with the real clock took (the lease of 60 s ran out). */
  const afterLease = () => Date.now() + 61_000;

  beforeAll(async () => {
    database = await createTestDatabase('gtrelay');
    a = makeNode('A', database.url);
    await migrate(a.db);
    b = makeNode('B', database.url);
    const t = await createTenant(a.ws, {
      slug: 'relay', name: 'Relay', teams: ['Support'],
      agents: [{ email: 'admin@relay.test', name: 'Admin', role: 'admin', teams: ['Support'], password: 'relay-password-1' }],
    });
    admin = t.agents['admin@relay.test']!;
    const inboxId = await createInbox(a.ws, 'relay-test-secret', { tenantId: t.tenantId, name: 'Counting SMS', channel: 'sms', provider: 'counting', teamIds: [t.teamIds.Support!] });
    inbox = (await a.ws.inbox(t.tenantId, inboxId))!;
    conversationId = (await a.ws.ingestInbound(inbox, { externalId: 'in-1', from: { identifier: '+8613900001111', name: '王芳' }, text: '在吗？' })).conversation.id;
  });

  beforeEach(() => {
    for (const node of nodes) node.announced.length = 0;
  });

  afterAll(async () => {
    for (const node of nodes) await node.db.close();
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every queued message is sent exactly once while both processes drain the queue', async () => {
    const made: string[] = [];
    for (let i = 0; i < 24; i++) made.push(await queueReply());
    const workers = [a.worker(), a.worker(), b.worker(), b.worker()];
    const ran = await Promise.all(workers.map((w) => w.pass()));
    expect(ran.reduce((x, y) => x + y, 0)).toBe(made.length);
    // The provider saw each message once.
    for (const id of made) expect(provider.sends(id), id).toBe(1);
    expect(provider.delivered.filter((id) => made.includes(id)).sort()).toEqual([...made].sort());
    for (const id of made) {
      expect((await job(id)).state).toBe('done');
      expect((await message(id)).status).toBe('accepted');
    }
    // Nothing is left to claim.
    expect(await b.worker({ now: afterLease }).pass()).toBe(0);
  });

  it('a lease that expires (its worker stopped mid-send) is taken over by the other process, which reconciles before sending', async () => {
    const id = await queueReply();
    // A's request reaches the provider, which delivers it; A never hears back (it hangs or died).
    provider.plan(id, { result: { kind: 'accepted', providerMessageId: `p-A-${id}` }, hold: true });
    const slowA = a.worker();
    const aRun = slowA.pass();
    await eventually(() => provider.sends(id) === 1, 'A sent the message');
    expect((await message(id)).status).toBe('sending');

    // B's clock is past A's lease: it takes the job over and asks the provider first.
    expect(await b.worker({ now: afterLease }).pass()).toBe(1);
    expect(provider.reconciled.filter((r) => r.messageId === id)).toEqual([{ node: 'B', messageId: id }]);
    expect(provider.sends(id)).toBe(1);
    expect(provider.delivered.filter((d) => d === id)).toHaveLength(1);
    const taken = await message(id);
    expect(taken).toMatchObject({ status: 'accepted', provider_message_id: `found-${id}` });
    expect(JSON.parse(taken.meta)).toMatchObject({ reconciled: true });
    expect(await job(id)).toMatchObject({ state: 'done', attempts: 2, lease_owner: null });

    // A's answer finally arrives: it is ignored (no second status fact, the provider id stays B's).
    const before = { job: await job(id), seq: await a.ws.currentSeq(inbox.tenantId), announcedByA: a.announced.length };
    provider.release('A', id);
    await aRun;
    expect(await message(id)).toEqual(taken);
    expect(await job(id)).toEqual(before.job);
    expect(await a.ws.currentSeq(inbox.tenantId)).toBe(before.seq);
    expect(a.announced.length).toBe(before.announcedByA);
  });

  it("a slow worker's late finish after its lease was taken over is ignored: no second status fact, no overwrite", async () => {
    const id = await queueReply();
    // A's attempt times out at the provider (not delivered), but A only hears so after B took over.
    provider.plan(id, { result: { kind: 'retry', reason: 'provider timeout' }, hold: true });
    const aRun = a.worker().pass();
    await eventually(() => provider.sends(id) === 1, 'A sent the message');

    // B takes over, reconciles (absent), sends; B's send is in flight when A's late answer lands.
    provider.plan(id, { result: { kind: 'accepted', providerMessageId: `p-B-${id}` }, hold: true });
    const bRun = b.worker({ now: afterLease }).pass();
    await eventually(() => provider.sends(id) === 2, 'B sent the message');
    expect(provider.reconciled.filter((r) => r.messageId === id)).toEqual([{ node: 'B', messageId: id }]);

    const during = { message: await message(id), job: await job(id), seq: await a.ws.currentSeq(inbox.tenantId), announcedByA: a.announced.length };
    expect(during.message.status).toBe('sending');
    expect(during.job).toMatchObject({ state: 'sending', attempts: 2 });
    // A's late "retry" lands: it must neither requeue B's job nor record a status (sending → queued).
    provider.release('A', id);
    await aRun;
    expect(await message(id)).toEqual(during.message);
    expect(await job(id)).toEqual(during.job);
    expect(await a.ws.currentSeq(inbox.tenantId)).toBe(during.seq);
    expect(a.announced.length).toBe(during.announcedByA);

    // B finishes: one delivery, B's provider id, job done.
    provider.release('B', id);
    await bRun;
    expect(await message(id)).toMatchObject({ status: 'accepted', provider_message_id: `p-B-${id}`, status_reason: null });
    expect(await job(id)).toMatchObject({ state: 'done', attempts: 2 });
    expect(provider.delivered.filter((d) => d === id)).toHaveLength(1);
    expect(provider.sends(id)).toBe(2);
  });

  it('a worker whose lease was taken over while it reconciled does not send', async () => {
    const id = await queueReply();
    // The first attempt fails (not delivered): the job waits for its retry.
    provider.plan(id, { result: { kind: 'retry', reason: 'throttled' } });
    expect(await a.worker().pass()).toBe(1);
    expect(await job(id)).toMatchObject({ state: 'queued', attempts: 1 });

    // A (its clock past the backoff) claims the retry and asks the provider, which is slow to answer.
    provider.holdReconcile('A', id);
    const aRun = a.worker({ now: afterLease }).pass();
    await eventually(() => provider.reconciled.some((r) => r.node === 'A' && r.messageId === id), 'A reconciling');
    // Meanwhile A's lease runs out and B takes the job over: it reconciles (absent) and sends.
    expect(await b.worker({ now: () => Date.now() + 200_000 }).pass()).toBe(1);
    expect(await message(id)).toMatchObject({ status: 'accepted', provider_message_id: `p-B-${id}` });
    const after = { job: await job(id), seq: await a.ws.currentSeq(inbox.tenantId) };

    // A's answer ("absent") arrives: A has lost the lease, so it neither sends nor writes anything.
    provider.releaseReconcile('A', id);
    await aRun;
    expect(provider.attempts.filter((x) => x.messageId === id).map((x) => x.node)).toEqual(['A', 'B']);
    expect(provider.delivered.filter((d) => d === id)).toHaveLength(1);
    expect(await job(id)).toEqual(after.job);
    expect(await a.ws.currentSeq(inbox.tenantId)).toBe(after.seq);
  });

  it('a job is finished and its status fact written in one transaction: a failed status write leaves the job to be retried', async () => {
    const id = await queueReply();
    let failures = 0;
    // The status write of the finish ("accepted") fails once, as a crash between two commits would.
    const flaky = failingOn(a.db, (sql, params) => {
      if (failures === 0 && sql.startsWith('UPDATE messages SET status') && params[0] === 'accepted') {
        failures++;
        return true;
      }
      return false;
    });
    // Workspace and worker both write through the flaky pool (as one process would).
    const ws = new Workspace(flaky, silentLogger);
    const providers = new ProviderRegistry().register(provider.as('A'));
    const worker = new RelayWorker({
      db: flaky, workspace: ws, providers, logger: silentLogger, intervalMs: 60_000,
      deps: { workspace: ws, logger: silentLogger, attachments: undefined as unknown as AttachmentStore, inboxSettings: async (i) => ({ inbox: (await ws.inbox(inbox.tenantId, i))!, config: {}, secrets: {} }) },
    });
    expect(await worker.pass()).toBe(1);
    expect(failures).toBe(1);
    expect(provider.sends(id)).toBe(1);
    // Neither committed: the job is not "done" with a message stuck in "sending"; it waits for a retry.
    expect((await job(id)).state).toBe('queued');
    expect((await message(id)).status).toBe('sending');

    // The retry (due later) reconciles and records the delivery; the provider saw one send.
    expect(await b.worker({ now: afterLease }).pass()).toBe(1);
    expect(await message(id)).toMatchObject({ status: 'accepted', provider_message_id: `found-${id}` });
    expect(await job(id)).toMatchObject({ state: 'done', attempts: 2 });
    expect(provider.sends(id)).toBe(1);
    expect(provider.delivered.filter((d) => d === id)).toHaveLength(1);
  });
});
