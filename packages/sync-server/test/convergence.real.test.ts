/**
 * Convergence against the REAL server: a smaller run of core's convergence property test
 * (packages/core/test/convergence.property.test.ts) over real HTTP and WebSocket against a real
 * server process (built dist), on SQLite and on PostgreSQL.
 *
 * Devices are real GoutongClients (HttpTransport, core's MemoryStore) of several agents, two of them
 * the same agent on two devices. fast-check (seeded) interleaves their commands (reply, note, status,
 * assign, priority, labels, contact update) with lost answers (the server committed a batch, the
 * device never got the answer), dropped sockets, devices going offline, team changes of inboxes
 * (scope resets), inbound messages through the api channel's signed webhook (and a provider's
 * re-delivery of one), and once per run a SIGKILL of the server and a start on the same database.
 * The server runs its service operations under drawn settings (core's opsScenario, the same as the
 * property test's, set through the admin API): business hours with a half day, an SLA policy,
 * automation rules (some that would loop), acknowledgements and out-of-hours replies, lifecycle
 * timers and CSAT surveys customers answer on the survey page; the shared test clock jumps minutes to
 * hours (GOUTONG_TEST_CLOCK), so warnings, breaches, snooze wake-ups and auto-resolves happen.
 * Then everything heals and, for every device:
 *  (a) its store equals what the server's pull returns for its scope (checkpoint, scope digest,
 *      conversations, contacts, inboxes, agents, teams; every cached message, cached without a hole),
 *      and the REST list of its agent's conversations;
 *  (b) every command it dispatched is applied exactly once on the server (the commands table, by the
 *      dispatching agent) or failed visibly on the device (outbox state failed, with a reason);
 *  (c) the seqs it saw are monotonic: every pull answers rows above the asked checkpoint and at most
 *      its new checkpoint, and the commands of one lane were applied in the order it dispatched them;
 * and on the server: no duplicate message ids in the pulled log, each applied reply or note is one
 * message with the command's id, and every command seq is distinct; at the provider (the api
 * channel's webhook, a counting fake): every applied reply and every automatic message (auto-reply,
 * survey, automation template) arrived under its own idempotency key, and nothing else went out; and
 * the ops facts keep their promises (core's opsFactProblems: a warning and a breach once per clock
 * run, one survey per conversation, one auto-reply per window), each answered survey on its conversation.
 *
 * CONVERGENCE_REAL_RUNS / CONVERGENCE_REAL_SEED override the run count (default 8 per database) and
 * the fast-check seed; a failure prints the seed and path to replay (CONVERGENCE_REAL_PATH).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import fc from 'fast-check';
import { CONVERSATION_STATUSES, Conversation, PRIORITIES, PullResponse, type Intent } from '@goutong/core';
import { OPS_PICK_RANGES, opsFactProblems, opsScenario, type OpsPicks } from '@goutong/core/testing';
import { ServerProcess } from './support/serverProcess.js';
import { createTestDatabase } from './support/pg.js';
import { api, eventually, loginToken } from './support/agentClient.js';
import { Device } from './support/device.js';
import { readRows } from './support/dbRows.js';
import { FakeWebhook } from './channels/fakes/fakeWebhook.js';

const NUM_RUNS = Number(process.env.CONVERGENCE_REAL_RUNS ?? 8);
const SEED = Number(process.env.CONVERGENCE_REAL_SEED ?? 20_261_203);
const PATH = process.env.CONVERGENCE_REAL_PATH;

const SECRET = 'convergence-webhook-secret-0123456789';
const ENV = { GOUTONG_DEMO: '1', GOUTONG_RELAY_LEASE_MS: '2000', GOUTONG_EGRESS_ALLOW: '127.0.0.0/8,::1', GOUTONG_OPS_INTERVAL_MS: '100' };

const DEVICES = [
  { email: 'zhang.san@demo.goutong', name: 'zhang-desktop' }, // agent, Support
  { email: 'zhang.san@demo.goutong', name: 'zhang-phone' }, // the same agent on a second device
  { email: 'alice@demo.goutong', name: 'alice' }, // agent, Support
  { email: 'bob@demo.goutong', name: 'bob' }, // agent, Sales
  { email: 'li.wei@demo.goutong', name: 'li.wei' }, // supervisor
] as const;
const ASSIGNEES = ['zhang.san@demo.goutong', 'alice@demo.goutong', 'bob@demo.goutong', 'li.wei@demo.goutong', 'admin@demo.goutong'] as const;
/** Team sets an inbox can be moved to (never none: that case belongs to the "inbox without teams" rule). */
const TEAM_SETS = [['Support'], ['Sales'], ['Support', 'Sales']] as const;
const LABELS = ['vip', 'billing', 'bug', 'refund'] as const;
const NAMES = ['Wang Fang', 'Li Na', 'Zhang Wei', 'Chen Jie'] as const;
const TEXTS = ['Thanks!', 'Could you send the invoice?', '我们正在处理', 'Please hold on', 'Done.'] as const;

type IntentPick =
  | { k: 'reply'; text: number }
  | { k: 'note'; text: number }
  | { k: 'status'; status: number }
  | { k: 'assign'; who: number; team: number }
  | { k: 'priority'; p: number }
  | { k: 'label'; l: number }
  | { k: 'unlabel'; l: number }
  | { k: 'contact'; name: number; tier: number };

type Action =
  | { t: 'dispatch'; d: number; conv: number; intent: IntentPick }
  | { t: 'lose' | 'drop' | 'offline' | 'online'; d: number }
  | { t: 'inbound'; inbox: number; from: number; text: number }
  | { t: 'redeliver'; pick: number }
  | { t: 'teams'; inbox: number; teams: number }
  | { t: 'wait'; ms: number }
  | { t: 'advance'; ms: number }
  | { t: 'csat'; pick: number; rating: number };

const nat = (n: number) => fc.nat({ max: n - 1 });
const intentArb: fc.Arbitrary<IntentPick> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('reply' as const), text: nat(TEXTS.length) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('note' as const), text: nat(TEXTS.length) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('status' as const), status: nat(CONVERSATION_STATUSES.length) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('assign' as const), who: nat(ASSIGNEES.length + 2), team: nat(4) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('priority' as const), p: nat(PRIORITIES.length) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('label' as const), l: nat(LABELS.length) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unlabel' as const), l: nat(LABELS.length) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('contact' as const), name: nat(NAMES.length + 1), tier: nat(3) }) },
);
const device = nat(DEVICES.length);
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ t: fc.constant('dispatch' as const), d: device, conv: fc.nat(), intent: intentArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('lose' as const), d: device }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('drop' as const), d: device }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constantFrom('offline' as const, 'online' as const), d: device }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('inbound' as const), inbox: nat(2), from: nat(4), text: nat(TEXTS.length) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('redeliver' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('teams' as const), inbox: nat(2), teams: nat(TEAM_SETS.length) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('wait' as const), ms: fc.nat({ max: 400 }) }) },
  // [ops] The shared test clock jumps (every server process reads it): SLA, lifecycle timers, opening hours.
  { weight: 2, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(5 * 60_000, 12 * 60_000, 40 * 60_000, 2 * 3_600_000, 9 * 3_600_000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('csat' as const), pick: fc.nat(), rating: fc.integer({ min: 1, max: 5 }) }) },
);
/** A few runs only: each has an SLA policy, auto-replies and surveys (the property test also draws them off). */
const opsPicksArb: fc.Arbitrary<OpsPicks> = fc.record({
  hours: nat(OPS_PICK_RANGES.hours), sla: fc.integer({ min: 1, max: OPS_PICK_RANGES.sla - 1 }), automation: nat(OPS_PICK_RANGES.automation),
  autoReply: fc.integer({ min: 1, max: OPS_PICK_RANGES.autoReply - 1 }), csat: fc.constant(true), lifecycle: nat(OPS_PICK_RANGES.lifecycle),
});

/** What the runs exercised (printed, and asserted so the generators stay meaningful). */
const coverage = { opsMessages: 0, slaEvents: 0, surveys: 0, answers: 0, advanced: 0, runs: 0, dispatched: 0, applied: 0, rejected: 0, lostAnswers: 0, duplicatesAfterLoss: 0, droppedSockets: 0, resets: 0, inbound: 0, redelivered: 0, restarts: 0, failedAtEnd: 0, providerSends: 0 };

/** The token of a survey link in a survey message, and the comment customers leave. */
const SURVEY_LINK = /\/csat\/([A-Za-z0-9_-]+)/;
const SURVEY_COMMENT = 'Quick and kind / 很快';

const byId = <T extends { id: string }>(rows: Iterable<T>): T[] => [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** Everything the server returns to this token from checkpoint 0 (all pages). */
async function fullPull(baseUrl: string, token: string): Promise<PullResponse> {
  let checkpoint = 0;
  const all: PullResponse = { checkpoint: 0, hasMore: false, scope: '', reset: false, conversations: [], messages: [], contacts: [], inboxes: [], agents: [], teams: [] };
  for (;;) {
    const res = await fetch(`${baseUrl}/api/v1/sync/pull`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ checkpoint, limit: 2000 }),
    });
    if (!res.ok) throw new Error(`pull: ${res.status} ${await res.text()}`);
    const page = PullResponse.parse(await res.json());
    for (const k of ['conversations', 'messages', 'contacts', 'inboxes', 'agents', 'teams'] as const) (all[k] as unknown[]).push(...page[k]);
    all.checkpoint = page.checkpoint;
    all.scope = page.scope;
    checkpoint = page.checkpoint;
    if (!page.hasMore) return all;
  }
}

function sign(body: string): Record<string, string> {
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = `sha256=${crypto.createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`;
  return { 'content-type': 'application/json', 'x-goutong-timestamp': ts, 'x-goutong-signature': sig };
}

/** The lane a command waits in on its device (the outbox keeps each lane in order). */
const laneOf = (c: Intent): string => ('conversationId' in c && c.conversationId ? c.conversationId : 'contactId' in c ? c.contactId : '');

async function run(dialect: 'sqlite' | 'postgres', picks: OpsPicks, actions: Action[], restartAt: number): Promise<void> {
  const db = dialect === 'postgres' ? await createTestDatabase('gtconv') : null;
  // [ops] The shared test clock: an offset over real time that 'advance' moves (POST /api/v1/test/clock).
  const clockDir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-convclock-'));
  const server = new ServerProcess({ ...(db ? { databaseUrl: db.url } : {}), env: { ...ENV, GOUTONG_TEST_CLOCK: path.join(clockDir, 'offset') } });
  let offset = 0;
  /** Survey tokens answered, with the rating given. */
  const answered = new Map<string, number>();
  const devices: Device[] = [];
  const hook = new FakeWebhook();
  try {
    await hook.start();
    await server.start();
    const admin = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
    const teams = Object.fromEntries(((await admin('GET', '/api/v1/teams')).body.items as { id: string; name: string }[]).map((t) => [t.name, t.id]));
    const agentIds = Object.fromEntries(((await admin('GET', '/api/v1/agents')).body.items as { id: string; email: string }[]).map((a) => [a.email, a.id]));
    const tenantId: string = (await admin('GET', '/api/v1/me')).body.agent.tenantId;
    const demo = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API');
    // Both api inboxes sign with a known secret and send their replies to the counting provider.
    expect((await admin('PATCH', `/api/v1/inboxes/${demo.id}`, { secrets: { secret: SECRET }, config: { webhookUrl: hook.url } })).status).toBe(200);
    const sales = await admin('POST', '/api/v1/inboxes', { name: 'Sales API', channel: 'api', config: { webhookUrl: hook.url }, secrets: { secret: SECRET }, teamIds: [teams.Sales] });
    expect(sales.status).toBe(201);
    const inboxIds: string[] = [demo.id, sales.body.id];

    // [ops] This run's service-operations settings, through the admin API (a 400 fails here).
    const ops = opsScenario(picks, Date.now());
    const created = (res: { status: number; body: { id?: string } }, what: string): string => {
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(201);
      return res.body.id!;
    };
    const businessHoursId = ops.businessHours ? created(await admin('POST', '/api/v1/business-hours', ops.businessHours), 'business hours') : null;
    expect((await admin('PATCH', '/api/v1/lifecycle-settings', ops.lifecycle)).status, 'lifecycle settings').toBe(200);
    for (const id of inboxIds) {
      const patch = { ...(businessHoursId ? { businessHoursId } : {}), ...(ops.inbox.autoReply ? { autoReply: ops.inbox.autoReply } : {}), ...(ops.inbox.csat ? { csat: ops.inbox.csat } : {}) };
      if (Object.keys(patch).length) expect((await admin('PATCH', `/api/v1/inboxes/${id}`, patch)).status, 'inbox ops').toBe(200);
    }
    const opsIds = { inboxIds, teamId: teams.Support!, businessHoursId };
    const policy = ops.slaPolicy(opsIds);
    if (policy) created(await admin('POST', '/api/v1/sla-policies', policy), 'SLA policy');
    for (const rule of ops.rules(opsIds)) created(await admin('POST', '/api/v1/automation-rules', rule), `rule ${rule.name}`);

    for (const d of DEVICES) devices.push(await new Device(server.url, d.email, d.name).open());
    for (const dev of devices) await eventually(async () => dev.client.connectivity.value.status === 'online' && (await dev.store.getCheckpoint()).checkpoint > 0, `${dev.name} first sync`, 30_000);

    const dispatched = new Map<Device, { id: string; lane: string }[]>(devices.map((d) => [d, []]));
    /** Every signed inbound request sent, to deliver again. */
    const delivered: { inboxId: string; body: string; headers: Record<string, string>; times: number }[] = [];
    let n = 0;
    const post = async (inboxId: string, body: string, headers: Record<string, string>) => {
      const res = await fetch(`${server.url}/api/v1/inboxes/${inboxId}/inbound`, { method: 'POST', headers, body });
      return { status: res.status, body: (await res.json()) as { duplicate?: boolean } };
    };

    for (const [i, a] of actions.entries()) {
      if (i === restartAt % actions.length) {
        // The server dies without warning in the middle of it all and starts again on the same database.
        coverage.restarts++;
        await server.kill();
        await server.start();
      }
      switch (a.t) {
        case 'dispatch': {
          const dev = devices[a.d]!;
          // The device acts on what it sees (its local index), like its UI would.
          const local = byId(dev.store.data.conversations.values());
          const conv = local[a.conv % Math.max(1, local.length)];
          if (!conv) break;
          const p = a.intent;
          let intent: Intent;
          switch (p.k) {
            case 'reply':
              intent = { type: 'send_reply', conversationId: conv.id, text: TEXTS[p.text]! };
              break;
            case 'note':
              intent = { type: 'add_note', conversationId: conv.id, text: TEXTS[p.text]! };
              break;
            case 'status': {
              const status = CONVERSATION_STATUSES[p.status]!;
              // An hour from now on the server's (test) clock.
              intent = status === 'snoozed' ? { type: 'set_status', conversationId: conv.id, status, snoozedUntil: Date.now() + offset + 3_600_000 } : { type: 'set_status', conversationId: conv.id, status };
              break;
            }
            case 'assign': {
              const who = p.who < ASSIGNEES.length ? agentIds[ASSIGNEES[p.who]!]! : p.who === ASSIGNEES.length ? dev.agent.id : null;
              const team = [undefined, null, teams.Support, teams.Sales][p.team];
              intent = { type: 'assign', conversationId: conv.id, assigneeId: who, ...(team !== undefined ? { teamId: team } : {}) };
              break;
            }
            case 'priority':
              intent = { type: 'set_priority', conversationId: conv.id, priority: PRIORITIES[p.p]! };
              break;
            case 'label':
              intent = { type: 'add_label', conversationId: conv.id, label: LABELS[p.l]! };
              break;
            case 'unlabel':
              intent = { type: 'remove_label', conversationId: conv.id, label: LABELS[p.l]! };
              break;
            case 'contact':
              intent = { type: 'update_contact', contactId: conv.contactId, ...(p.name < NAMES.length ? { name: NAMES[p.name]! } : {}), attributes: { tier: ['gold', 'silver', ''][p.tier]! } };
              break;
          }
          const id = await dev.client.dispatch(intent);
          dispatched.get(dev)!.push({ id, lane: laneOf(intent) });
          coverage.dispatched++;
          break;
        }
        case 'lose':
          devices[a.d]!.loseNextCommandAnswer();
          break;
        case 'drop':
          if (devices[a.d]!.dropSocket()) coverage.droppedSockets++;
          break;
        case 'offline':
          devices[a.d]!.net.set(false);
          break;
        case 'online':
          devices[a.d]!.net.set(true);
          break;
        case 'inbound': {
          const body = JSON.stringify({ externalId: `conv-${++n}`, from: { identifier: `+86138000000${a.from}`, name: `Customer ${a.from}` }, text: TEXTS[a.text]! });
          const headers = sign(body);
          const r = await post(inboxIds[a.inbox]!, body, headers);
          expect(r.status, 'signed inbound').toBe(201);
          delivered.push({ inboxId: inboxIds[a.inbox]!, body, headers, times: 1 });
          coverage.inbound++;
          break;
        }
        case 'redeliver': {
          const pick = delivered[a.pick % Math.max(1, delivered.length)];
          if (!pick) break;
          // The very same signed request again is a replay: refused.
          expect((await post(pick.inboxId, pick.body, pick.headers)).status, 'a replayed signed request').toBe(409);
          // The provider delivers the message again (signed anew, serialised its own way): stored once.
          const again = JSON.stringify(JSON.parse(pick.body), null, pick.times++);
          const r = await post(pick.inboxId, again, sign(again));
          expect([r.status, r.body.duplicate], 'a re-delivered inbound message').toEqual([200, true]);
          coverage.redelivered++;
          break;
        }
        case 'teams': {
          const set = TEAM_SETS[a.teams]!.map((t) => teams[t]!);
          expect((await admin('PATCH', `/api/v1/inboxes/${inboxIds[a.inbox]!}`, { teamIds: set })).status).toBe(200);
          break;
        }
        case 'wait':
          await new Promise((r) => setTimeout(r, a.ms));
          break;
        case 'advance': {
          expect((await admin('POST', '/api/v1/test/clock', { advanceMs: a.ms })).status, 'advance the test clock').toBe(200);
          offset += a.ms;
          coverage.advanced++;
          break;
        }
        case 'csat': {
          // A customer answers a survey on its page (the api channel's surveys are links).
          const tokens = (await fullPull(server.url, await loginToken(server.url, 'admin@demo.goutong'))).messages
            .filter((m) => m.meta['csatSurvey'] === true)
            .map((m) => SURVEY_LINK.exec(m.text)?.[1])
            .filter((x): x is string => x !== undefined)
            .sort();
          const token = tokens[a.pick % Math.max(1, tokens.length)];
          if (!token) break;
          const res = await fetch(`${server.url}/csat/${token}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ rating: a.rating, comment: SURVEY_COMMENT }) });
          // Answered once: a second answer is refused (409) and changes nothing.
          expect(res.status, `survey answer ${token}`).toBe(answered.has(token) ? 409 : 200);
          if (!answered.has(token)) answered.set(token, a.rating);
          break;
        }
      }
    }

    // Heal everything; the devices drain their outboxes and catch up.
    for (const dev of devices) dev.heal();
    for (const dev of devices) {
      await eventually(() => dev.client.connectivity.value.status === 'online' && dev.client.connectivity.value.pending === 0, `${dev.name} online with an empty outbox`, 90_000);
    }

    // The relay hands every applied reply to the provider (its status facts are part of what the
    // devices must converge to): wait until each is accepted.
    const dbTarget = { dataDir: server.dataDir, databaseUrl: db?.url };
    const commands = new Map(
      (await readRows<{ id: string; agent_id: string; type: string; seq: number | string }>(dbTarget, 'SELECT id, agent_id, type, seq FROM commands WHERE tenant_id = ?', [tenantId])).map((r) => [r.id, { ...r, seq: Number(r.seq) }]),
    );
    const replies = [...commands].filter(([, c]) => c.type === 'send_reply').map(([id]) => id);
    const adminToken = await loginToken(server.url, 'admin@demo.goutong');
    // [ops] The ops bus comes to rest: the tenant's facts stop moving for a second.
    let lastSeq = -1;
    await eventually(async () => {
      const seq = (await fullPull(server.url, adminToken)).checkpoint;
      const quiet = seq === lastSeq;
      lastSeq = seq;
      if (!quiet) await new Promise((r) => setTimeout(r, 1000));
      return quiet;
    }, 'the ops bus at rest', 60_000);
    /** Automatic messages the ops wrote (auto-replies, surveys, automation templates) go out too. */
    const automatic = (await fullPull(server.url, adminToken)).messages.filter((m) => m.authorType === 'system' && m.direction === 'out' && m.kind !== 'event').map((m) => m.id);
    await eventually(async () => {
      const status = new Map((await fullPull(server.url, adminToken)).messages.map((m) => [m.id, m.status]));
      return [...replies, ...automatic].every((id) => status.get(id) === 'accepted');
    }, 'every applied reply and automatic message accepted by the provider', 60_000).catch(async (e: Error) => {
      const jobs = await readRows(dbTarget, "SELECT j.message_id, j.state, j.attempts, j.next_attempt_at, j.lease_until, j.lease_owner, j.last_error, m.status FROM relay_jobs j JOIN messages m ON m.id = j.message_id WHERE m.status <> 'accepted'");
      e.message += `\nnow ${Date.now()}; relay jobs not accepted: ${JSON.stringify(jobs)}\nprovider got: ${JSON.stringify(hook.sent.map((x) => x.messageId))}\nserver log (relay, errors): ${server.output.split('\n').filter((l) => /relay|error|running on/i.test(l)).slice(-40).join('\n')}`;
      throw e;
    });
    // The provider got every applied reply, under its one idempotency key (a crash between the
    // provider's answer and its record may repeat a send, never under another key), and nothing else:
    // no note, no rejected reply.
    for (const id of [...replies, ...automatic]) {
      expect(hook.sendsOf(id), `sends of message ${id}`).toBeGreaterThanOrEqual(1);
      expect([...new Set(hook.sent.filter((x) => x.messageId === id).map((x) => x.idempotencyKey))], `idempotency keys of ${id}`).toEqual([id]);
    }
    const automaticIds = new Set(automatic);
    const isReply = (id: string) => commands.get(id)?.type === 'send_reply';
    expect(hook.sent.filter((x) => !automaticIds.has(x.messageId) && !isReply(x.messageId)), 'sent but neither an applied reply nor an automatic message').toEqual([]);
    coverage.opsMessages += automatic.length;
    coverage.providerSends += hook.sent.length;

    // (a) every device's store equals the server's answer for its scope. Facts may still arrive for
    // a moment (pokes, pulls), so wait until a device and its pull agree (the condition itself).
    const compare = async (dev: Device, check: boolean): Promise<boolean> => {
      const view = await fullPull(server.url, await dev.transport.freshToken());
      const label = `${dev.name} (${dev.email})`;
      const got = {
        checkpoint: await dev.store.getCheckpoint(),
        conversations: byId(dev.store.data.conversations.values()),
        contacts: byId(dev.store.data.contacts.values()),
        inboxes: byId(dev.store.data.inboxes.values()),
        agents: byId(dev.store.data.agents.values()),
        teams: byId(dev.store.data.teams.values()),
      };
      const want = {
        checkpoint: { checkpoint: view.checkpoint, scope: view.scope },
        conversations: byId(view.conversations),
        contacts: byId(view.contacts),
        inboxes: byId(view.inboxes),
        agents: byId(view.agents),
        teams: byId(view.teams),
      };
      const messages = new Map(view.messages.map((m) => [m.id, m]));
      const cached = [...dev.store.data.messages.values()];
      if (!check) return JSON.stringify(got) === JSON.stringify(want) && cached.every((m) => JSON.stringify(m) === JSON.stringify(messages.get(m.id)));
      expect(got, label).toEqual(want);
      // The REST list of the agent's conversations says the same.
      const rest = (await api(server.url, await dev.transport.freshToken())('GET', '/api/v1/conversations?limit=200')).body as { items: unknown[]; nextCursor: string | null };
      expect(rest.nextCursor, `${label}: one REST page`).toBeNull();
      expect(byId(rest.items.map((c) => Conversation.parse(c))), `${label}: REST conversations`).toEqual(want.conversations);
      expect(view.messages.length, `${label}: duplicate message ids in the pull`).toBe(messages.size);
      for (const m of cached) expect(m, `${label}: cached message ${m.id}`).toEqual(messages.get(m.id));
      // The cache of a conversation is its newest messages without a hole.
      for (const conv of want.conversations) {
        const all = view.messages.filter((m) => m.conversationId === conv.id).sort((x, y) => x.createdAt - y.createdAt || (x.id < y.id ? -1 : 1)).map((m) => m.id);
        const mine = new Set(cached.filter((m) => m.conversationId === conv.id).map((m) => m.id));
        const first = all.findIndex((id) => mine.has(id));
        if (first >= 0) expect(all.slice(first), `${label}: cached messages of ${conv.id}`).toEqual(all.filter((id) => mine.has(id)));
      }
      return true;
    };
    await eventually(async () => {
      for (const dev of devices) if (!(await compare(dev, false))) return false;
      return true;
    }, 'every device equals the server', 60_000).catch(() => undefined);
    for (const dev of devices) await compare(dev, true);

    // (b) exactly once, or failed visibly.
    expect(new Set([...commands.values()].map((c) => c.seq)).size, 'command seqs are distinct').toBe(commands.size);
    const everything = await fullPull(server.url, adminToken);
    const messages = new Map<string, number>();
    for (const m of everything.messages) messages.set(m.id, (messages.get(m.id) ?? 0) + 1);
    expect([...messages.values()].every((x) => x === 1), 'no duplicate message ids').toBe(true);
    for (const [id, c] of commands) {
      if (c.type === 'send_reply' || c.type === 'add_note') expect(messages.get(id), `the message of ${c.type} ${id}`).toBe(1);
    }
    // (e) [ops] The ops facts keep their promises; an answered survey is on its conversation.
    const windowMs = (ops.inbox.autoReply?.windowMinutes ?? 24 * 60) * 60_000;
    for (const conv of everything.conversations) {
      const msgs = everything.messages.filter((m) => m.conversationId === conv.id);
      expect(opsFactProblems(conv.id, msgs, { autoReplyWindowMs: windowMs })).toEqual([]);
      coverage.slaEvents += msgs.filter((m) => m.kind === 'event' && m.meta['action'] === 'sla').length;
      const survey = msgs.find((m) => m.meta['csatSurvey'] === true);
      if (survey) coverage.surveys++;
      const token = survey ? SURVEY_LINK.exec(survey.text)?.[1] : undefined;
      const rating = token !== undefined ? answered.get(token) : undefined;
      expect(conv.csat ?? null, `${conv.id}: its survey's answer`).toEqual(rating !== undefined ? { rating, comment: SURVEY_COMMENT } : null);
    }
    coverage.answers += answered.size;
    for (const dev of devices) {
      const label = `${dev.name} (${dev.email})`;
      const entries = dev.client.outboxEntries();
      for (const e of entries) {
        expect(e.state, `${label}: outbox entry ${e.command.type}`).toBe('failed');
        expect(e.error?.message, `${label}: the reason of ${e.command.type}`).toBeTruthy();
      }
      coverage.failedAtEnd += entries.length;
      const failed = new Set(entries.map((e) => e.id));
      const lanes = new Map<string, number>();
      for (const { id, lane } of dispatched.get(dev)!) {
        const applied = commands.get(id);
        expect(Boolean(applied) !== failed.has(id), `${label}: command ${id} applied=${Boolean(applied)} failed=${failed.has(id)}`).toBe(true);
        if (!applied) continue;
        expect(applied.agent_id, label).toBe(dev.agent.id);
        // (c) one lane is applied in the order the device dispatched it.
        expect(applied.seq, `${label}: seq of ${id} in lane ${lane}`).toBeGreaterThan(lanes.get(lane) ?? 0);
        lanes.set(lane, applied.seq);
      }
      // (c) every pull answered rows above the asked checkpoint, up to the new one.
      for (const p of dev.pulls) {
        const a = p.answer!;
        expect(a, `${label}: a pull answer`).not.toBeNull();
        if (a.reset) coverage.resets++;
        const from = a.reset ? 0 : p.from;
        expect(a.checkpoint, `${label}: checkpoint after ${p.from}`).toBeGreaterThanOrEqual(from);
        for (const k of ['conversations', 'messages', 'contacts', 'inboxes', 'agents', 'teams'] as const) {
          for (const row of a[k]) {
            expect(row.seq, `${label}: ${k} ${row.id} pulled from ${from}`).toBeGreaterThan(from);
            expect(row.seq, `${label}: ${k} ${row.id} pulled up to ${a.checkpoint}`).toBeLessThanOrEqual(a.checkpoint);
          }
        }
      }
      for (const b of dev.batches) {
        for (const r of b.results ?? []) {
          if (r.outcome === 'applied') coverage.applied++;
          else if (r.outcome === 'rejected') coverage.rejected++;
        }
        if (!b.lost) continue;
        coverage.lostAnswers++;
        // The commands of a lost answer were committed; the retry is told so.
        for (const r of b.results ?? []) if (r.outcome !== 'rejected') expect(commands.has(r.id), `${label}: lost-answer command ${r.id}`).toBe(true);
        const later = dev.batches.slice(dev.batches.indexOf(b) + 1).flatMap((x) => x.results ?? []);
        coverage.duplicatesAfterLoss += later.filter((r) => r.outcome === 'duplicate' && b.ids.includes(r.id)).length;
      }
    }
    coverage.runs++;
  } catch (e) {
    (e as Error).message += `\n--- server output (last lines) ---\n${server.output.slice(-3000)}`;
    throw e;
  } finally {
    for (const dev of devices) await dev.close().catch(() => undefined);
    await server.stop();
    server.cleanup();
    await db?.drop();
    await hook.stop();
    fs.rmSync(clockDir, { recursive: true, force: true });
  }
}

describe.each([['sqlite'], ['postgres']] as const)('convergence against a real server process on %s', (dialect) => {
  it('every device converges to the server, every command applies once or fails visibly', { timeout: 900_000 }, async () => {
    const before = { ...coverage };
    onTestFinished(() => {
      const delta = Object.fromEntries(Object.entries(coverage).map(([k, v]) => [k, v - before[k as keyof typeof coverage]]));
      console.info(`convergence (real server, ${dialect}) coverage`, delta);
    });
    await fc.assert(
      fc.asyncProperty(opsPicksArb, fc.array(actionArb, { minLength: 15, maxLength: 40, size: 'max' }), fc.nat(), (picks, actions, restartAt) => run(dialect, picks, actions, restartAt)),
      { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true, ...(PATH !== undefined ? { path: PATH } : {}) },
    );
    // The generators must really reach the hard cases, on this database.
    expect(coverage.runs - before.runs).toBe(NUM_RUNS);
    expect(coverage.restarts - before.restarts).toBe(NUM_RUNS);
    expect(coverage.lostAnswers - before.lostAnswers).toBeGreaterThan(0);
    expect(coverage.duplicatesAfterLoss - before.duplicatesAfterLoss).toBeGreaterThan(0);
    expect(coverage.rejected - before.rejected).toBeGreaterThan(0);
    expect(coverage.resets - before.resets).toBeGreaterThan(0);
    expect(coverage.inbound - before.inbound).toBeGreaterThan(0);
    expect(coverage.providerSends - before.providerSends).toBeGreaterThan(0);
    for (const k of ['opsMessages', 'slaEvents', 'surveys', 'advanced'] as const) expect(coverage[k] - before[k], k).toBeGreaterThan(0);
  });
});
