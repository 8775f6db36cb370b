/**
 * Convergence of the local-first client under a hostile network.
 *
 * Several devices (agents and managers) dispatch random intents and type collaborative drafts
 * (Yjs, relayed by the reference server) while a seeded network delays,
 * reorders and drops requests and responses, partitions devices, takes them offline, crashes and
 * restarts them, while customers write in, the relay reports delivery statuses and agents change
 * teams (scope resets). The server runs the service operations as the real one does (core's rules
 * on the events of its facts, timers on the fake clock) under drawn settings (opsScenario): business
 * hours with a half day, an SLA policy, automation rules (some that would loop), acknowledgements and
 * out-of-hours replies, lifecycle timers and CSAT surveys, which customers answer; the clock jumps
 * minutes to hours so warnings, breaches, snooze wake-ups and auto-resolves fire. At the end
 * everything heals and the clock runs until nothing is scheduled.
 * Then, for every device:
 *  (a) its store equals the server's state for everything in its scope;
 *  (b) the server applied every accepted command exactly once (seq monotonic, no duplicate message);
 *  (c) its outbox holds only commands the server rejected, visible as failed with a reason;
 *  (d) no command is lost: each dispatched command is applied on the server xor failed on its device;
 *  (e) the ops facts keep their promises: a warning and a breach once per clock run, one survey per
 *      conversation and its answer on the conversation, auto-replies at most once per window;
 *  and every draft document a device has open equals the server's and is stored on the device.
 *
 * Reproduce a failure with the seed and path fast-check prints (fc.assert options `seed`, `path`).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as Y from 'yjs';
import { CONVERSATION_STATUSES, PRIORITIES, conversationDocName, type CollabHandle, type Message } from '@goutong/core';
import { OPS_PICK_RANGES, TestWorld, opsFactProblems, opsScenario, seedContactCenter, type OpsPicks, type TestClient } from '@goutong/core/testing';

/** CONVERGENCE_RUNS / CONVERGENCE_SEED override the run count and fast-check seed (e.g. nightly). */
const NUM_RUNS = Number(process.env.CONVERGENCE_RUNS ?? 100);
const SEED = process.env.CONVERGENCE_SEED !== undefined ? Number(process.env.CONVERGENCE_SEED) : undefined;
/** With CONVERGENCE_SEED, replays one failing case (the `path` fast-check printed). */
const PATH = process.env.CONVERGENCE_PATH;

const DEVICES = [
  { clientId: 'alice-laptop', agentId: 'alice' }, // agent, support
  { clientId: 'alice-phone', agentId: 'alice' }, // the same agent on a second device
  { clientId: 'bob', agentId: 'bob' }, // agent, sales
  { clientId: 'erin', agentId: 'erin' }, // agent, both teams
  { clientId: 'dave', agentId: 'dave' }, // admin
] as const;
const AGENTS = ['alice', 'bob', 'erin', 'carol', 'dave'] as const;
const MOVABLE = ['alice', 'bob', 'erin'] as const;
const TEAM_SETS = [['support'], ['sales'], ['support', 'sales'], []] as const;
const LABELS = ['vip', 'billing', 'bug', 'refund'] as const;
const NAMES = ['Wang Fang', 'Li Na', 'Zhang Wei', 'Chen Jie'] as const;
const TEXTS = ['Thanks!', 'Could you send the invoice?', '我们正在处理', 'Please hold on', 'Done.'] as const;
const INBOXES = ['mail', 'sms', 'chat'] as const;
const DELIVERY = ['sending', 'accepted', 'delivered', 'failed'] as const;

type Intent =
  | { k: 'reply'; text: number }
  | { k: 'note'; text: number }
  | { k: 'status'; status: number }
  | { k: 'assign'; who: number; team: number }
  | { k: 'priority'; p: number }
  | { k: 'label'; l: number }
  | { k: 'unlabel'; l: number }
  | { k: 'contact'; name: number; tier: number };

type Action =
  | { t: 'dispatch'; d: number; conv: number; intent: Intent }
  | { t: 'inbound'; inbox: number; from: number; text: number }
  | { t: 'delivery'; pick: number; status: number }
  | { t: 'partition' | 'heal' | 'offline' | 'online' | 'restart' | 'evict' | 'expire'; d: number }
  | { t: 'teams'; agent: number; teams: number }
  | { t: 'open' | 'close'; d: number; conv: number }
  | { t: 'type'; d: number; doc: number; note: boolean; pos: number; text: number }
  | { t: 'faults'; dropRequest: number; dropResponse: number; serverError: number }
  | { t: 'tick'; ms: number }
  | { t: 'advance'; ms: number }
  | { t: 'csat'; pick: number; rating: number; words: boolean };

const nat = (n: number) => fc.nat({ max: n - 1 });
const intentArb: fc.Arbitrary<Intent> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('reply' as const), text: nat(TEXTS.length) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('note' as const), text: nat(TEXTS.length) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('status' as const), status: nat(CONVERSATION_STATUSES.length) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('assign' as const), who: nat(AGENTS.length + 2), team: nat(5) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('priority' as const), p: nat(PRIORITIES.length) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('label' as const), l: nat(LABELS.length) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unlabel' as const), l: nat(LABELS.length) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('contact' as const), name: nat(NAMES.length + 1), tier: nat(3) }) },
);
const device = nat(DEVICES.length);
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ t: fc.constant('dispatch' as const), d: device, conv: fc.nat(), intent: intentArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('inbound' as const), inbox: nat(INBOXES.length), from: nat(4), text: nat(TEXTS.length) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('delivery' as const), pick: fc.nat(), status: nat(DELIVERY.length) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom('partition' as const, 'offline' as const), d: device }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom('heal' as const, 'online' as const), d: device }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), d: device }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('expire' as const), d: device }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('evict' as const), d: device }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('teams' as const), agent: nat(MOVABLE.length), teams: nat(TEAM_SETS.length) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('open' as const), d: device, conv: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), d: device, conv: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('type' as const), d: device, doc: fc.nat(), note: fc.boolean(), pos: fc.nat(), text: nat(TEXTS.length) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('faults' as const),
      dropRequest: fc.double({ min: 0, max: 0.4, noNaN: true }),
      dropResponse: fc.double({ min: 0, max: 0.4, noNaN: true }),
      serverError: fc.double({ min: 0, max: 0.15, noNaN: true }),
    }),
  },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.oneof(fc.nat({ max: 60 }), fc.nat({ max: 3_000 }), fc.nat({ max: 40_000 })) }) },
  // [ops] Time jumps: SLA warnings and breaches, snooze wake-ups, auto-resolves, opening hours.
  { weight: 1, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(5 * 60_000, 12 * 60_000, 40 * 60_000, 2 * 3_600_000, 5 * 3_600_000) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('csat' as const), pick: fc.nat(), rating: fc.integer({ min: 1, max: 5 }), words: fc.boolean() }) },
);
const opsPicksArb: fc.Arbitrary<OpsPicks> = fc.record({
  hours: nat(OPS_PICK_RANGES.hours), sla: nat(OPS_PICK_RANGES.sla), automation: nat(OPS_PICK_RANGES.automation), autoReply: nat(OPS_PICK_RANGES.autoReply),
  csat: fc.boolean(), lifecycle: nat(OPS_PICK_RANGES.lifecycle),
});
const RATING_WORDS = ['', '一', '二', '三', '四', '五'] as const;

/** What the whole property run exercised (asserted at the end, so the generators stay meaningful). */
const coverage = { autoReplies: 0, automationRuns: 0, slaWarnings: 0, slaBreaches: 0, snoozeWakes: 0, autoResolved: 0, surveys: 0, answers: 0, routed: 0, runs: 0, dispatched: 0, expired: 0, typed: 0, docsChecked: 0, applied: 0, duplicates: 0, rejected: 0, resets: 0, droppedRequests: 0, droppedResponses: 0, restarts: 0, failedAtEnd: 0 };

async function run(seed: number, picks: OpsPicks, actions: Action[], push?: PushScenario): Promise<void> {
  const world = new TestWorld({ seed, maxPullRows: 1 + (seed % 12), faults: { dropRequest: 0.1, dropResponse: 0.1, serverError: 0.02, minDelay: 1, maxDelay: 40, ...push?.faults }, ...(push ? { pushFlow: push.flow } : {}) });
  const { server, net, clock } = world;
  if (push) net.setSlow(DEVICES[push.slowDevice % DEVICES.length]!.clientId, push.slowFactor);
  try {
    seedContactCenter(world, 6);
    // Routing (rules/routing.ts) runs on the server as on the real one: new and reopened chat
    // conversations go round robin to the agents who are online (alice and erin).
    server.setInboxRouting('chat', { strategy: 'round_robin' });
    server.setAgentPresence('alice', true);
    server.setAgentPresence('erin', true);
    // [ops] The service-operations settings of this run, through the server's admin API.
    const ops = opsScenario(picks, clock.now());
    const tenant = world.tenantId;
    server.enableOps(tenant, { lifecycle: ops.lifecycle });
    if (ops.businessHours) server.addBusinessHours(tenant, 'hours', ops.businessHours);
    const opsIds = { inboxIds: [...INBOXES], teamId: 'support', businessHoursId: ops.businessHours ? 'hours' : null };
    for (const inboxId of INBOXES) {
      server.setInboxOps(inboxId, {
        ...(ops.businessHours ? { businessHoursId: 'hours' } : {}), ...(ops.inbox.autoReply ? { autoReply: ops.inbox.autoReply } : {}), ...(ops.inbox.csat ? { csat: ops.inbox.csat } : {}),
      });
    }
    const policy = ops.slaPolicy(opsIds);
    if (policy) server.addSlaPolicy(tenant, 'sla', policy);
    ops.rules(opsIds).forEach((r, i) => server.addAutomationRule(tenant, `rule-${i}`, r));
    const devices: TestClient[] = [];
    for (const d of DEVICES) devices.push(await world.addClient(d.agentId, { clientId: d.clientId }));
    // The devices start from a first sync (the fault settings apply to it already).
    await world.settle();
    /** Conversation documents each device has open (the UI's tabs; reopened after a restart). */
    const openDocs = new Map<string, Map<string, CollabHandle>>(DEVICES.map((d) => [d.clientId, new Map()]));
    /** Agents whose teams changed: a document subscription is not re-tried after a refused one. */
    const moved = new Set<string>();
    /** Every command id a device dispatched. */
    const dispatched = new Map<string, string[]>(DEVICES.map((d) => [d.clientId, []]));
    const outbound = (): Message[] =>
      server.conversations(world.tenantId).flatMap((c) => server.messagesOf(c.id)).filter((m) => m.direction === 'out' && (m.kind === 'text' || m.kind === 'email'));

    for (const a of actions) {
      switch (a.t) {
        case 'dispatch': {
          const tc = devices[a.d]!;
          // The device acts on what it can see (its local index), like its UI would.
          const local = [...tc.store.data.conversations.values()].sort((x, y) => (x.id < y.id ? -1 : 1));
          const conv = local[a.conv % Math.max(1, local.length)];
          if (!conv) break;
          coverage.dispatched++;
          const i = a.intent;
          let id: string;
          switch (i.k) {
            case 'reply':
              id = await tc.client.dispatch({ type: 'send_reply', conversationId: conv.id, text: TEXTS[i.text]! });
              break;
            case 'note':
              id = await tc.client.dispatch({ type: 'add_note', conversationId: conv.id, text: TEXTS[i.text]! });
              break;
            case 'status': {
              const status = CONVERSATION_STATUSES[i.status]!;
              id = await tc.client.dispatch(
                status === 'snoozed'
                  ? { type: 'set_status', conversationId: conv.id, status, snoozedUntil: clock.now() + 3_600_000 }
                  : { type: 'set_status', conversationId: conv.id, status },
              );
              break;
            }
            case 'assign': {
              const who = i.who < AGENTS.length ? AGENTS[i.who]! : i.who === AGENTS.length ? tc.agentId : null;
              const team = [undefined, null, 'support', 'sales', 'nowhere'][i.team];
              id = await tc.client.dispatch({ type: 'assign', conversationId: conv.id, assigneeId: who, ...(team !== undefined ? { teamId: team } : {}) });
              break;
            }
            case 'priority':
              id = await tc.client.dispatch({ type: 'set_priority', conversationId: conv.id, priority: PRIORITIES[i.p]! });
              break;
            case 'label':
              id = await tc.client.dispatch({ type: 'add_label', conversationId: conv.id, label: LABELS[i.l]! });
              break;
            case 'unlabel':
              id = await tc.client.dispatch({ type: 'remove_label', conversationId: conv.id, label: LABELS[i.l]! });
              break;
            case 'contact':
              id = await tc.client.dispatch({
                type: 'update_contact',
                contactId: conv.contactId,
                ...(i.name < NAMES.length ? { name: NAMES[i.name]! } : {}),
                attributes: { tier: ['gold', 'silver', ''][i.tier]! },
              });
              break;
          }
          dispatched.get(tc.id)!.push(id);
          break;
        }
        case 'inbound': {
          const inboxId = INBOXES[a.inbox]!;
          const from = inboxId === 'mail' ? `customer${a.from}@example.com` : inboxId === 'sms' ? `+861380000000${a.from}` : `wf-user-${a.from}`;
          server.inbound({ inboxId, from, name: `Customer ${a.from}`, text: TEXTS[a.text]! });
          break;
        }
        case 'delivery': {
          const out = outbound();
          const m = out[a.pick % Math.max(1, out.length)];
          if (m) server.setDeliveryStatus(m.id, DELIVERY[a.status]!, DELIVERY[a.status] === 'failed' ? 'provider said no' : null);
          break;
        }
        case 'partition':
          net.partition(devices[a.d]!.id);
          break;
        case 'heal':
          net.heal(devices[a.d]!.id);
          break;
        case 'offline':
          net.goOffline(devices[a.d]!.id);
          break;
        case 'online':
          net.goOnline(devices[a.d]!.id);
          break;
        case 'restart': {
          // The user starts the app again (and logs in again if the session had expired), and
          // the app reopens the tabs it had.
          coverage.restarts++;
          const tc = devices[a.d]!;
          net.renewSession(tc.id);
          await tc.restart();
          const docs = openDocs.get(tc.id)!;
          for (const id of [...docs.keys()]) docs.set(id, tc.client.openConversationDoc(id));
          break;
        }
        case 'open': {
          const tc = devices[a.d]!;
          const local = [...tc.store.data.conversations.keys()].sort();
          const id = local[a.conv % Math.max(1, local.length)];
          const docs = openDocs.get(tc.id)!;
          if (id !== undefined && !docs.has(id)) docs.set(id, tc.client.openConversationDoc(id));
          break;
        }
        case 'close': {
          const docs = openDocs.get(devices[a.d]!.id)!;
          const id = [...docs.keys()].sort()[a.conv % Math.max(1, docs.size)];
          if (id !== undefined) {
            docs.get(id)!.release();
            docs.delete(id);
          }
          break;
        }
        case 'type': {
          const docs = openDocs.get(devices[a.d]!.id)!;
          const id = [...docs.keys()].sort()[a.doc % Math.max(1, docs.size)];
          if (id === undefined) break;
          const h = docs.get(id)!;
          await h.ready;
          const text = h.draft(a.note ? 'note' : 'reply');
          text.insert(a.pos % (text.length + 1), TEXTS[a.text]!);
          coverage.typed++;
          break;
        }
        case 'expire':
          coverage.expired++;
          net.expireSession(devices[a.d]!.id);
          break;
        case 'evict':
          await devices[a.d]!.client.evict();
          break;
        case 'teams':
          moved.add(MOVABLE[a.agent]!);
          server.updateAgent(MOVABLE[a.agent]!, { teamIds: [...TEAM_SETS[a.teams]!] });
          break;
        case 'faults':
          net.setFaults({ dropRequest: a.dropRequest, dropResponse: a.dropResponse, serverError: a.serverError });
          break;
        case 'tick':
          await clock.tick(a.ms);
          break;
        case 'advance':
          await clock.tick(a.ms);
          break;
        case 'csat': {
          // A customer answers a survey: an SMS reply ("4", "五 很好"), or the survey page of a link.
          const open = server.csatSurveys(tenant).filter((x) => x.answeredAt === null).sort((x, y) => (x.token < y.token ? -1 : 1));
          const survey = open[a.pick % Math.max(1, open.length)];
          if (!survey) break;
          if (survey.mode === 'reply') {
            const from = server.contact(survey.contactId)?.identities.find((x) => x.channel === 'sms')?.identifier;
            if (from) server.inbound({ inboxId: survey.inboxId, from, text: a.words ? `${RATING_WORDS[a.rating]!} 谢谢` : String(a.rating) });
          } else if (survey.expiresAt > clock.now()) server.answerCsat(tenant, survey.token, { rating: a.rating, comment: a.words ? 'Quick and kind / 很快' : null });
          break;
        }
      }
    }

    // Heal everything and let the system come to rest.
    net.setFaults({ dropRequest: 0, dropResponse: 0, serverError: 0 });
    net.healAll();
    await clock.tick(1_000);
    for (const tc of devices) {
      if (tc.client.connectivity.value.sessionExpired || net.isSessionExpired(tc.id)) {
        net.renewSession(tc.id);
        await tc.restart();
        const docs = openDocs.get(tc.id)!;
        for (const id of [...docs.keys()]) docs.set(id, tc.client.openConversationDoc(id));
      }
    }
    // Lifecycle timers may be days away (the default auto-resolve is a week): the clock runs to them.
    const quiet = await world.settle(30 * 86_400_000);
    expect(quiet, 'the system never became quiet').toBe(true);
    expect(net.inFlight).toBe(0);

    // (b) exactly once on the server.
    const log = server.log(world.tenantId);
    log.forEach((r, i) => expect(r.seq).toBe(i + 1));
    // Routing only ever chose an online agent of the conversation's team, once per routing commit.
    const routedEvents = server.conversations(world.tenantId).flatMap((c) => server.messagesOf(c.id).filter((m) => (m.meta as { by?: unknown }).by === 'routing').map((m) => ({ c, m })));
    for (const { c, m } of routedEvents) {
      expect(['alice', 'erin']).toContain((m.meta as { assigneeId?: unknown }).assigneeId);
      expect(c.inboxId).toBe('chat');
    }
    expect(routedEvents.length).toBe(log.filter((r) => r.kind === 'routing').length);
    coverage.routed += routedEvents.length;
    const commandIds = log.flatMap((r) => (r.commandId ? [r.commandId] : []));
    expect(new Set(commandIds).size).toBe(commandIds.length);
    expect(new Set(commandIds)).toEqual(new Set(server.appliedCommandIds(world.tenantId)));
    for (const conv of server.conversations(world.tenantId)) {
      const msgs = server.messagesOf(conv.id);
      expect(new Set(msgs.map((m) => m.id)).size).toBe(msgs.length);
      expect(conv.messageCount).toBe(msgs.filter((m) => m.kind !== 'note' && m.kind !== 'event').length);
      for (const m of msgs) {
        // Agent messages are their commands' facts; timeline events (status, assignment) come with them.
        if (m.authorType === 'agent' && m.kind !== 'event') expect(server.applied(m.id)?.type).toBe(m.kind === 'note' ? 'add_note' : 'send_reply');
      }
    }
    for (const id of commandIds) {
      const c = server.applied(id)!;
      if (c.type === 'send_reply' || c.type === 'add_note') expect(server.message(id), `message of ${id}`).not.toBeNull();
    }
    // (e) [ops] What the ops wrote keeps its promises.
    const surveys = new Map(server.csatSurveys(tenant).map((x) => [x.conversationId, x]));
    const windowMs = (ops.inbox.autoReply?.windowMinutes ?? 24 * 60) * 60_000;
    for (const conv of server.conversations(tenant)) {
      const msgs = server.messagesOf(conv.id);
      expect(opsFactProblems(conv.id, msgs, { autoReplyWindowMs: windowMs })).toEqual([]);
      const surveyMessages = msgs.filter((m) => m.meta['csatSurvey'] === true);
      const survey = surveys.get(conv.id);
      expect(surveyMessages.map((m) => m.id), `${conv.id}: the survey's message`).toEqual(survey ? [survey.messageId] : []);
      expect(conv.csat ?? null, `${conv.id}: the answer on the conversation`).toEqual(survey?.answeredAt != null ? { rating: survey.rating, comment: survey.comment } : null);
    }

    for (const tc of devices) {
      const label = `${tc.id} (${tc.agentId})`;
      const st = tc.client.connectivity.value;
      expect(st.status, label).toBe('online');
      expect(st.pending, label).toBe(0);

      // (a) the store equals the server within the device's scope.
      const snap = server.scopeSnapshot(tc.agentId);
      const sorted = <T extends { id: string }>(m: Map<string, T>) => [...m.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      expect(await tc.store.getCheckpoint(), label).toEqual({ checkpoint: server.seq(world.tenantId), scope: snap.scope });
      expect(sorted(tc.data.conversations), label).toEqual(snap.conversations);
      expect(sorted(tc.data.contacts), label).toEqual(snap.contacts);
      expect(sorted(tc.data.inboxes), label).toEqual(snap.inboxes);
      expect(sorted(tc.data.agents), label).toEqual(snap.agents);
      expect(sorted(tc.data.teams), label).toEqual(snap.teams);
      const inScope = new Set(snap.conversations.map((c) => c.id));
      const cachedBy = new Map<string, string[]>();
      for (const m of tc.data.messages.values()) {
        expect(inScope.has(m.conversationId), `${label}: message ${m.id} outside its scope`).toBe(true);
        expect(m, `${label}: message ${m.id}`).toEqual(server.message(m.id));
        cachedBy.set(m.conversationId, [...(cachedBy.get(m.conversationId) ?? []), m.id]);
      }
      for (const conv of snap.conversations) {
        const all = server.messagesOf(conv.id).map((m) => m.id);
        const cached = new Set(cachedBy.get(conv.id) ?? []);
        // The cache of a conversation is its newest messages without a hole.
        const firstCached = all.findIndex((id) => cached.has(id));
        if (firstCached >= 0) expect(all.slice(firstCached), `${label}: cached messages of ${conv.id}`).toEqual(all.filter((id) => cached.has(id)));
        // A conversation that was never resolved or closed was always in the working set.
        if (!server.wasInactive(conv.id)) expect(cached.size, `${label}: messages of ${conv.id}`).toBe(all.length);
      }
      // Nothing pending is left, so the overlaid reads are the stored facts.
      const q = { sort: 'lastActivity' as const, limit: 1000 };
      expect(await tc.client.queryConversations(q), label).toEqual(await tc.store.queryConversations(q));

      // Drafts: every open document equals the server's and is stored on the device.
      if (!moved.has(tc.agentId)) {
        for (const [id, h] of openDocs.get(tc.id)!) {
          if (!inScope.has(id)) continue;
          const name = conversationDocName(id);
          const serverDoc = server.doc(world.tenantId, name);
          expect(serverDoc, `${label}: server document ${name}`).not.toBeNull();
          expect(Y.encodeStateVector(h.doc), `${label}: ${name} state`).toEqual(Y.encodeStateVector(serverDoc!));
          for (const who of AGENTS) {
            for (const kind of ['reply', 'note'] as const) {
              expect(h.doc.getText(`${kind}:${who}`).toString(), `${label}: ${name} ${kind}:${who}`).toBe(serverDoc!.getText(`${kind}:${who}`).toString());
            }
          }
          const reloaded = new Y.Doc();
          for (const u of await tc.store.yjsLoad(name)) Y.applyUpdate(reloaded, u);
          expect(Y.encodeStateVector(reloaded), `${label}: ${name} stored`).toEqual(Y.encodeStateVector(h.doc));
          reloaded.destroy();
          coverage.docsChecked++;
        }
      }

      // (c) the outbox holds failed commands only, with their reason; memory and store agree.
      const entries = tc.client.outboxEntries();
      for (const e of entries) {
        expect(e.state, `${label}: outbox entry ${e.command.type}`).toBe('failed');
        expect(e.error?.message, label).toBeTruthy();
      }
      expect((await tc.store.outboxList()).map((e) => [e.id, e.state]), label).toEqual(entries.map((e) => [e.id, e.state]));
      coverage.failedAtEnd += entries.length;

      // (d) nothing lost: applied on the server xor failed on the device.
      const failed = new Set(entries.map((e) => e.id));
      for (const id of dispatched.get(tc.id)!) {
        const applied = server.applied(id) !== null;
        expect(applied !== failed.has(id), `${label}: command ${id} applied=${applied} failed=${failed.has(id)}`).toBe(true);
        if (applied) expect(server.applied(id)!.agentId, label).toBe(tc.agentId);
      }
    }

    coverage.runs++;
    const st = server.opsStats(tenant);
    for (const k of ['autoReplies', 'automationRuns', 'slaWarnings', 'slaBreaches', 'snoozeWakes', 'autoResolved', 'surveys', 'answers'] as const) coverage[k] += st[k];
    coverage.applied += server.stats.applied;
    coverage.duplicates += server.stats.duplicates;
    coverage.rejected += Object.values(server.stats.rejected).reduce((a, b) => a + b, 0);
    coverage.resets += server.stats.resets;
    coverage.droppedRequests += net.stats.droppedRequests;
    coverage.droppedResponses += net.stats.droppedResponses;
    if (push) {
      pushCoverage.pushes += net.stats.pushes;
      pushCoverage.dropped += net.stats.pushesDropped;
      pushCoverage.duplicated += net.stats.pushesDuplicated;
      pushCoverage.reordered += net.stats.pushesReordered;
      pushCoverage.pokedSlow += server.stats.pushPokes ?? 0;
    }
  } catch (e) {
    // Keep the last log lines of the failing run next to the assertion.
    (e as Error).message += `\n--- last log lines (seed ${seed}) ---\n${world.logger.print(process.env.CONVERGENCE_LOG ? 100_000 : 60)}`;
    throw e;
  } finally {
    await world.dispose();
  }
}

describe('convergence under a hostile network', () => {
  it('converges, applies exactly once and loses nothing', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), opsPicksArb, fc.array(actionArb, { minLength: 5, maxLength: 100, size: 'max' }), (seed, picks, actions) => run(seed, picks, actions)),
      { numRuns: NUM_RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), ...(PATH !== undefined ? { path: PATH, endOnFailure: true } : {}) },
    );
    console.info('convergence coverage', coverage);
    if (NUM_RUNS < 50) return;
    // The generators must actually exercise the hard cases.
    expect(coverage.runs).toBeGreaterThanOrEqual(NUM_RUNS);
    expect(coverage.duplicates).toBeGreaterThan(0);
    expect(coverage.rejected).toBeGreaterThan(0);
    expect(coverage.resets).toBeGreaterThan(0);
    expect(coverage.droppedResponses).toBeGreaterThan(0);
    expect(coverage.droppedRequests).toBeGreaterThan(0);
    expect(coverage.restarts).toBeGreaterThan(0);
    expect(coverage.expired).toBeGreaterThan(0);
    expect(coverage.routed).toBeGreaterThan(0);
    expect(coverage.typed).toBeGreaterThan(0);
    expect(coverage.docsChecked).toBeGreaterThan(0);
    expect(coverage.failedAtEnd).toBeGreaterThan(0);
    for (const k of ['autoReplies', 'automationRuns', 'slaWarnings', 'slaBreaches', 'snoozeWakes', 'autoResolved', 'surveys', 'answers'] as const) expect(coverage[k], k).toBeGreaterThan(0);
  });
});

// ----- [push] the push path under faults -------------------------------------------------------

/**
 * Pushed facts (every device asks for them) under push faults: frames lost with their socket (cut
 * mid-stream), duplicated, reordered and delayed, and one device behind a slow link whose socket
 * the server moves to poke-and-pull mode (small flow-control bounds). The same checks as above:
 * every device, the slow one included, ends with the server's state of its scope.
 */
interface PushScenario {
  faults: { dropPush: number; duplicatePush: number; reorderPush: number };
  flow: { highWater: number; lowWater: number };
  slowDevice: number;
  slowFactor: number;
}

const pushCoverage = { pushes: 0, dropped: 0, duplicated: 0, reordered: 0, pokedSlow: 0 };
const PUSH_RUNS = Number(process.env.CONVERGENCE_PUSH_RUNS ?? 40);
const pushScenarioArb: fc.Arbitrary<PushScenario> = fc.record({
  faults: fc.record({
    dropPush: fc.double({ min: 0, max: 0.2, noNaN: true }),
    duplicatePush: fc.double({ min: 0, max: 0.5, noNaN: true }),
    reorderPush: fc.double({ min: 0, max: 0.5, noNaN: true }),
  }),
  flow: fc.record({ highWater: fc.integer({ min: 500, max: 20_000 }), lowWater: fc.integer({ min: 0, max: 400 }) }),
  slowDevice: nat(DEVICES.length),
  slowFactor: fc.integer({ min: 1, max: 60 }),
});

describe('convergence on the push path', () => {
  it('converges with pushes dropped, duplicated, reordered, delayed and a slow socket', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), opsPicksArb, fc.array(actionArb, { minLength: 5, maxLength: 80, size: 'max' }), pushScenarioArb, (seed, picks, actions, push) => run(seed, picks, actions, push)),
      { numRuns: PUSH_RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), ...(PATH !== undefined ? { path: PATH, endOnFailure: true } : {}) },
    );
    console.info('push coverage', pushCoverage);
    if (PUSH_RUNS < 20) return;
    expect(pushCoverage.pushes).toBeGreaterThan(0);
    expect(pushCoverage.dropped).toBeGreaterThan(0);
    expect(pushCoverage.duplicated).toBeGreaterThan(0);
    expect(pushCoverage.reordered).toBeGreaterThan(0);
    expect(pushCoverage.pokedSlow).toBeGreaterThan(0);
  });
});
