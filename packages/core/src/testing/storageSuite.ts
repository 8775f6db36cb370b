// The conformance suite every LocalStore adapter runs. The test functions come in as arguments so
// that core does not depend on a test runner; vitest's describe/it/expect/beforeEach/afterEach fit.
import type { Conversation, Message } from '../domain/model.js';
import { matchesQuery, runQuery } from '../domain/query.js';
import { CONVERSATION_SORTS, type ConversationQuery, type LocalStore } from '../ports/storage.js';
import {
  FIXTURE_TIME,
  generateConversations,
  makeAgent,
  makeCommand,
  makeContact,
  makeConversation,
  makeFactBatch,
  makeInbox,
  makeMessage,
  makeOutboxEntry,
  makeTeam,
  resetFixtureIds,
} from './fixtures.js';

/** The subset of a test runner's assertions the suite uses (vitest's `expect` fits). */
export interface SuiteAssertion {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toBeNull(): void;
  toHaveLength(length: number): void;
  toBeGreaterThan(n: number): void;
  toBeInstanceOf(ctor: abstract new (...args: never[]) => unknown): void;
  readonly not: SuiteAssertion;
}

type Body = () => unknown;

/** The subset of a test runner the suite uses (vitest's functions fit). */
export interface SuiteTestApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: Body, timeout?: number): void;
  expect(actual: unknown, message?: string): SuiteAssertion;
  beforeEach(fn: Body): void;
  afterEach(fn: Body): void;
}

export interface OpenContext {
  /**
   * false: the first open of a test, which must give an empty store (a fresh database);
   * true: the same test reopens the database it had, after closing it (persistence check).
   */
  reopen: boolean;
}

export interface StorageConformanceOptions {
  /** Whether data survives close() and a reopen; enables the persistence tests. */
  persistent: boolean;
  /** Timeout of each test in ms (slow adapters, e.g. IndexedDB emulated in Node). */
  timeout?: number;
}

const ids = (rows: readonly { id: string }[]): string[] => rows.map((r) => r.id);
const sorted = (xs: readonly string[]): string[] => [...xs].sort();

/** A hand-made index where each filter has an obvious answer. */
function filterFixture(): Conversation[] {
  const t = FIXTURE_TIME;
  return [
    makeConversation({ id: 'f01', status: 'open', assigneeId: 'agent-1', inboxId: 'inbox-email', channel: 'email', teamId: 'team-a', priority: 'urgent', labels: ['vip'], contactName: 'ACME Corp', lastMessageAt: t + 10, waitingSince: t + 5 }),
    makeConversation({ id: 'f02', status: 'open', assigneeId: null, inboxId: 'inbox-sms', channel: 'sms', teamId: null, priority: 'high', labels: [], contactName: '张伟', subject: '退款申请', lastMessageAt: t + 20, waitingSince: t + 1, ticketNumber: 12 }),
    makeConversation({ id: 'f03', status: 'pending', assigneeId: 'agent-2', inboxId: 'inbox-im', channel: 'im', teamId: 'team-b', priority: 'normal', labels: ['billing', 'vip'], lastMessagePreview: 'Invoice is wrong', lastMessageAt: t + 30, waitingSince: null, ticketNumber: 1234 }),
    makeConversation({ id: 'f04', status: 'resolved', assigneeId: 'agent-1', inboxId: 'inbox-email', channel: 'email', teamId: 'team-a', priority: 'low', labels: ['投诉'], lastMessagePreview: '我要投诉快递 1234', lastMessageAt: t + 40, waitingSince: null }),
    makeConversation({ id: 'f05', status: 'snoozed', assigneeId: 'agent-3', inboxId: 'inbox-voice', channel: 'voice', teamId: 'team-b', priority: 'urgent', labels: [], subject: 'Call back: acme', lastMessageAt: t + 50, waitingSince: t + 50, snoozedUntil: t + 1000 }),
    makeConversation({ id: 'f06', status: 'closed', assigneeId: null, inboxId: 'inbox-api', channel: 'api', teamId: null, priority: 'normal', labels: ['bug'], lastMessageAt: t + 60, waitingSince: null }),
    makeConversation({ id: 'f07', status: 'open', assigneeId: 'agent-2', inboxId: 'inbox-sms', channel: 'sms', teamId: 'team-a', priority: 'low', labels: ['vip', 'refund'], contactName: 'Émile', lastMessageAt: t + 20, waitingSince: t + 1 }),
    makeConversation({ id: 'f08', status: 'open', assigneeId: 'agent-1', inboxId: 'inbox-im', channel: 'im', teamId: 'team-b', priority: 'urgent', labels: [], lastMessageAt: t + 20, waitingSince: null }),
  ];
}

/** Queries checked against runQuery on the generated index (filters, sorts, windows). */
function generatedQueries(): ConversationQuery[] {
  const filters: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>[] = [
    {},
    { status: ['open'] },
    { status: ['open', 'pending'] },
    { status: ['open'], assigneeId: 'agent-1' },
    { status: ['open'], assigneeId: null },
    { assigneeId: 'agent-2' },
    { assigneeId: null },
    { status: ['pending', 'snoozed'], assigneeId: 'agent-3', channels: ['email', 'sms'] },
    { inboxIds: ['inbox-email', 'inbox-im'] },
    { teamId: 'team-a', status: ['open'] },
    { teamId: null },
    { priorities: ['urgent', 'high'], status: ['open'] },
    { label: 'vip' },
    { label: '投诉', status: ['open', 'pending', 'snoozed'] },
    { text: 'acme' },
    { text: '订单' },
    { text: '  REFUND ' },
    { text: '   ' },
    { status: [] },
    { status: ['open'], assigneeId: 'agent-1', inboxIds: ['inbox-email', 'inbox-sms', 'inbox-voice'], teamId: 'team-b', text: 'a' },
  ];
  const windows = [
    { limit: 50 },
    { limit: 7, offset: 0 },
    { limit: 7, offset: 7 },
    { limit: 25, offset: 40 },
    { limit: 1000 },
    { limit: 0 },
    { limit: 10, offset: 5000 },
  ];
  const out: ConversationQuery[] = [];
  let i = 0;
  for (const f of filters) {
    for (const sort of CONVERSATION_SORTS) {
      // Every filter with every sort; windows rotate so each filter sees several of them.
      const w1 = windows[i % windows.length]!;
      const w2 = windows[(i + 3) % windows.length]!;
      out.push({ ...f, sort, ...w1 }, { ...f, sort, ...w2 });
      i++;
    }
  }
  return out;
}

/** Messages of one conversation with ties on createdAt (broken by id) and another conversation. */
function messageFixture(): Message[] {
  const t = FIXTURE_TIME;
  return [
    makeMessage({ id: 'm01', conversationId: 'conv-a', createdAt: t + 1 }),
    makeMessage({ id: 'm02', conversationId: 'conv-a', createdAt: t + 2 }),
    makeMessage({ id: 'm03', conversationId: 'conv-a', createdAt: t + 2 }),
    makeMessage({ id: 'm04', conversationId: 'conv-a', createdAt: t + 2 }),
    makeMessage({ id: 'm05', conversationId: 'conv-a', createdAt: t + 3, text: '你好，世界', meta: { headers: { 'Message-ID': '<x@y>' }, n: 1, ok: true } }),
    makeMessage({ id: 'm06', conversationId: 'conv-a', createdAt: t + 5 }),
    makeMessage({ id: 'm07', conversationId: 'conv-a', createdAt: t + 4 }),
    makeMessage({ id: 'x01', conversationId: 'conv-b', createdAt: t + 100 }),
    makeMessage({ id: 'x02', conversationId: 'conv-b', createdAt: t + 0 }),
  ];
}

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 17) & 0xff;
  return out;
}

export function runStorageConformance(
  name: string,
  open: (context: OpenContext) => Promise<LocalStore>,
  t: SuiteTestApi,
  options: StorageConformanceOptions = { persistent: false },
): void {
  const { describe, expect, beforeEach, afterEach } = t;
  const it = (title: string, fn: () => Promise<void>) => t.it(title, fn, options.timeout);

  describe(`LocalStore conformance: ${name}`, () => {
    let store: LocalStore;
    let open_ = false;

    const reopen = async (): Promise<LocalStore> => {
      await store.close();
      open_ = false;
      store = await open({ reopen: true });
      open_ = true;
      return store;
    };

    beforeEach(async () => {
      resetFixtureIds();
      store = await open({ reopen: false });
      open_ = true;
    });

    afterEach(async () => {
      if (open_) await store.close();
      open_ = false;
    });

    describe('empty store', () => {
      it('answers every read with nothing', async () => {
        expect(await store.getCheckpoint()).toEqual({ checkpoint: 0, scope: null });
        expect(await store.getConversation('nope')).toBeNull();
        expect(await store.queryConversations({ sort: 'lastActivity', limit: 10 })).toEqual([]);
        expect(await store.countConversations({})).toBe(0);
        expect(await store.getMessages({ conversationId: 'nope', limit: 10 })).toEqual([]);
        expect(await store.getMessage('nope')).toBeNull();
        expect(await store.conversationsWithMessages()).toEqual([]);
        expect(await store.getContact('nope')).toBeNull();
        expect(await store.listInboxes()).toEqual([]);
        expect(await store.listAgents()).toEqual([]);
        expect(await store.listTeams()).toEqual([]);
        expect(await store.getMeta('nope')).toBeNull();
        expect(await store.outboxList()).toEqual([]);
        expect(await store.yjsLoad('nope')).toEqual([]);
      });
    });

    describe('applyFacts', () => {
      it('stores every kind of fact together with the checkpoint and scope', async () => {
        const conv = makeConversation({ id: 'conv-1', labels: ['vip', '投诉'], subject: '退款' });
        const msg = makeMessage({ id: 'msg-1', conversationId: 'conv-1', attachments: [{ id: 'att-1', name: 'a.pdf', mime: 'application/pdf', size: 12 }], meta: { provider: { id: 'p-1' }, list: [1, 'two', null] } });
        const contact = makeContact({ id: 'contact-1', attributes: { city: '上海' } });
        const inbox = makeInbox({ id: 'inbox-1', teamIds: ['team-1'] });
        const agent = makeAgent({ id: 'agent-1', teamIds: ['team-1'] });
        const team = makeTeam({ id: 'team-1' });
        await store.applyFacts(makeFactBatch({ conversations: [conv], messages: [msg], contacts: [contact], inboxes: [inbox], agents: [agent], teams: [team] }), 42, 'scope-a');
        expect(await store.getCheckpoint()).toEqual({ checkpoint: 42, scope: 'scope-a' });
        expect(await store.getConversation('conv-1')).toEqual(conv);
        expect(await store.getMessage('msg-1')).toEqual(msg);
        expect(await store.getContact('contact-1')).toEqual(contact);
        expect(await store.listInboxes()).toEqual([inbox]);
        expect(await store.listAgents()).toEqual([agent]);
        expect(await store.listTeams()).toEqual([team]);
      });

      it('moves the checkpoint and scope with an empty batch', async () => {
        await store.applyFacts(makeFactBatch(), 7, 'scope-a');
        await store.applyFacts(makeFactBatch(), 9, 'scope-b');
        expect(await store.getCheckpoint()).toEqual({ checkpoint: 9, scope: 'scope-b' });
      });

      it('never shows the new checkpoint before the facts of its batch', async () => {
        const rows = generateConversations(300, { seed: 7 });
        let done = false;
        const writing = store.applyFacts(makeFactBatch({ conversations: rows }), 5, 'scope-a').then(() => {
          done = true;
        });
        let sawCheckpointEarly = false;
        while (!done) {
          const cp = await store.getCheckpoint();
          if (cp.checkpoint === 5) {
            const n = await store.countConversations({});
            if (n !== rows.length) sawCheckpointEarly = true;
          }
          await new Promise<void>((r) => setTimeoutShim(r));
        }
        await writing;
        expect(sawCheckpointEarly).toBe(false);
        expect(await store.countConversations({})).toBe(rows.length);
      });

      it('upserts a fact only when its seq is >= the stored one', async () => {
        const v = (seq: number, tag: string) => ({
          conversations: [makeConversation({ id: 'c', seq, subject: tag })],
          messages: [makeMessage({ id: 'm', conversationId: 'c', seq, text: tag })],
          contacts: [makeContact({ id: 'p', seq, name: tag })],
          inboxes: [makeInbox({ id: 'i', seq, name: tag })],
          agents: [makeAgent({ id: 'a', seq, name: tag })],
          teams: [makeTeam({ id: 't', seq, name: tag })],
        });
        const read = async () => [
          (await store.getConversation('c'))?.subject,
          (await store.getMessage('m'))?.text,
          (await store.getContact('p'))?.name,
          (await store.listInboxes())[0]?.name,
          (await store.listAgents())[0]?.name,
          (await store.listTeams())[0]?.name,
        ];
        await store.applyFacts(makeFactBatch(v(5, 'five')), 1, 's');
        await store.applyFacts(makeFactBatch(v(4, 'four')), 2, 's');
        expect(await read()).toEqual(Array(6).fill('five'));
        await store.applyFacts(makeFactBatch(v(5, 'five again')), 3, 's');
        expect(await read()).toEqual(Array(6).fill('five again'));
        await store.applyFacts(makeFactBatch(v(9, 'nine')), 4, 's');
        expect(await read()).toEqual(Array(6).fill('nine'));
        // The checkpoint moves even when every row was older.
        expect(await store.getCheckpoint()).toEqual({ checkpoint: 4, scope: 's' });
      });

      it('keeps the highest seq when one batch holds several versions of a row', async () => {
        const a = makeConversation({ id: 'c1', seq: 3, subject: 'three' });
        const b = makeConversation({ id: 'c1', seq: 8, subject: 'eight' });
        const c = makeConversation({ id: 'c2', seq: 8, subject: 'eight' });
        const d = makeConversation({ id: 'c2', seq: 3, subject: 'three' });
        await store.applyFacts(makeFactBatch({ conversations: [a, b, c, d] }), 1, 's');
        expect((await store.getConversation('c1'))?.subject).toBe('eight');
        expect((await store.getConversation('c2'))?.subject).toBe('eight');
      });

      it('loses nothing when batches are applied concurrently', async () => {
        const rows = generateConversations(60, { seed: 3 });
        const older = rows.map((r) => ({ ...r, seq: r.seq - 1 + 1000, subject: 'older' }));
        const newer = rows.map((r) => ({ ...r, seq: r.seq + 2000, subject: 'newer' }));
        await Promise.all([
          store.applyFacts(makeFactBatch({ conversations: newer.slice(0, 30) }), 1, 's'),
          store.applyFacts(makeFactBatch({ conversations: older }), 1, 's'),
          store.applyFacts(makeFactBatch({ conversations: newer.slice(30) }), 1, 's'),
        ]);
        expect(await store.countConversations({})).toBe(60);
        const all = await store.queryConversations({ sort: 'lastActivity', limit: 100 });
        expect(all.every((c) => c.subject === 'newer')).toBe(true);
      });

      it('gives copies: changing an input or a result never changes the store', async () => {
        const conv = makeConversation({ id: 'c1', labels: ['vip'] });
        await store.applyFacts(makeFactBatch({ conversations: [conv] }), 1, 's');
        conv.labels.push('mutated-input');
        const got = await store.getConversation('c1');
        got!.labels.push('mutated-output');
        const listed = await store.queryConversations({ sort: 'lastActivity', limit: 1 });
        listed[0]!.subject = 'mutated';
        expect(await store.getConversation('c1')).toEqual(makeConversation({ id: 'c1', labels: ['vip'] }));
      });
    });

    describe('queryConversations and countConversations', () => {
      const q = (query: Omit<ConversationQuery, 'sort' | 'limit'> & Partial<Pick<ConversationQuery, 'sort' | 'limit'>>): ConversationQuery => ({ sort: 'lastActivity', limit: 100, ...query });
      const load = async () => store.applyFacts(makeFactBatch({ conversations: filterFixture() }), 1, 's');

      it('filters by a status list', async () => {
        await load();
        expect(ids(await store.queryConversations(q({ status: ['open'] })))).toEqual(['f08', 'f07', 'f02', 'f01']);
        expect(sorted(ids(await store.queryConversations(q({ status: ['pending', 'snoozed', 'closed'] }))))).toEqual(['f03', 'f05', 'f06']);
        expect(await store.queryConversations(q({ status: [] }))).toEqual([]);
        expect(await store.countConversations({ status: ['open', 'resolved'] })).toBe(5);
      });

      it('filters by assignee: an id, null for unassigned, absent for anyone', async () => {
        await load();
        expect(ids(await store.queryConversations(q({ assigneeId: 'agent-1' })))).toEqual(['f04', 'f08', 'f01']);
        expect(ids(await store.queryConversations(q({ assigneeId: null })))).toEqual(['f06', 'f02']);
        expect(await store.countConversations({})).toBe(8);
        expect(await store.countConversations({ assigneeId: null })).toBe(2);
        expect(ids(await store.queryConversations(q({ status: ['open'], assigneeId: null })))).toEqual(['f02']);
        expect(ids(await store.queryConversations(q({ status: ['open'], assigneeId: 'agent-1' })))).toEqual(['f08', 'f01']);
        expect(await store.countConversations({ status: ['open'], assigneeId: 'agent-1' })).toBe(2);
        expect(await store.countConversations({ status: ['open'], assigneeId: 'agent-9' })).toBe(0);
      });

      it('filters by inboxes, team (id or null), channels and priorities', async () => {
        await load();
        expect(sorted(ids(await store.queryConversations(q({ inboxIds: ['inbox-email', 'inbox-api'] }))))).toEqual(['f01', 'f04', 'f06']);
        expect(await store.queryConversations(q({ inboxIds: [] }))).toEqual([]);
        expect(sorted(ids(await store.queryConversations(q({ teamId: 'team-a' }))))).toEqual(['f01', 'f04', 'f07']);
        expect(sorted(ids(await store.queryConversations(q({ teamId: null }))))).toEqual(['f02', 'f06']);
        expect(sorted(ids(await store.queryConversations(q({ channels: ['sms', 'voice'] }))))).toEqual(['f02', 'f05', 'f07']);
        expect(sorted(ids(await store.queryConversations(q({ priorities: ['urgent'] }))))).toEqual(['f01', 'f05', 'f08']);
        expect(await store.countConversations({ channels: ['im'], priorities: ['urgent', 'normal'] })).toBe(2);
      });

      it('filters by label', async () => {
        await load();
        expect(sorted(ids(await store.queryConversations(q({ label: 'vip' }))))).toEqual(['f01', 'f03', 'f07']);
        expect(ids(await store.queryConversations(q({ label: '投诉' })))).toEqual(['f04']);
        expect(await store.queryConversations(q({ label: 'vi' }))).toEqual([]);
        expect(await store.countConversations({ label: 'vip', status: ['open'] })).toBe(2);
      });

      it('filters by SLA state at a time: due soon (warning) or breached', async () => {
        const t = FIXTURE_TIME;
        const sla = (over: Partial<NonNullable<Conversation['sla']>>): NonNullable<Conversation['sla']> => ({
          policyId: 'p1', firstResponseDueAt: null, nextResponseDueAt: null, resolutionDueAt: null, breached: [], warnAt: {}, warned: [], fired: [], pausedAt: null, firstResponseAt: null, firstResponseDeviceTime: null, stoppedAt: null, ...over,
        });
        await store.applyFacts(
          makeFactBatch({
            conversations: [
              ...filterFixture(),
              // Due at t+1000, warned from t+800.
              makeConversation({ id: 's1', status: 'open', assigneeId: 'agent-1', lastMessageAt: t + 70, sla: sla({ firstResponseDueAt: t + 1000, warnAt: { first_response: t + 800 } }) }),
              // Past due at t+500.
              makeConversation({ id: 's2', status: 'open', assigneeId: 'agent-1', lastMessageAt: t + 80, sla: sla({ resolutionDueAt: t + 500, warnAt: { resolution: t + 400 } }) }),
              // Paused while pending: neither.
              makeConversation({ id: 's3', status: 'pending', assigneeId: 'agent-2', lastMessageAt: t + 90, sla: sla({ firstResponseDueAt: t + 100, pausedAt: t + 50 }) }),
            ],
          }),
          1,
          's',
        );
        expect(ids(await store.queryConversations(q({ sla: { state: 'due', now: t + 900 } })))).toEqual(['s1']);
        expect(ids(await store.queryConversations(q({ sla: { state: 'breached', now: t + 900 } })))).toEqual(['s2']);
        expect(ids(await store.queryConversations(q({ sla: { state: 'breached', now: t + 1100 } })))).toEqual(['s2', 's1']);
        expect(await store.queryConversations(q({ sla: { state: 'due', now: t + 100 } }))).toEqual([]);
        expect(await store.countConversations({ sla: { state: 'breached', now: t + 1100 }, status: ['open'] })).toBe(2);
        expect(await store.countConversations({ sla: { state: 'due', now: t + 900 }, assigneeId: 'agent-1' })).toBe(1);
      });

      it('searches text case-insensitively over name, subject, preview and labels, Chinese included', async () => {
        await load();
        expect(sorted(ids(await store.queryConversations(q({ text: 'acme' }))))).toEqual(['f01', 'f05']);
        expect(sorted(ids(await store.queryConversations(q({ text: '  ACME ' }))))).toEqual(['f01', 'f05']);
        expect(ids(await store.queryConversations(q({ text: '退款' })))).toEqual(['f02']);
        expect(ids(await store.queryConversations(q({ text: '张' })))).toEqual(['f02']);
        expect(ids(await store.queryConversations(q({ text: '投诉' })))).toEqual(['f04']);
        expect(ids(await store.queryConversations(q({ text: 'invoice IS' })))).toEqual(['f03']);
        expect(ids(await store.queryConversations(q({ text: 'refund' })))).toEqual(['f07']);
        expect(ids(await store.queryConversations(q({ text: 'émile' })))).toEqual(['f07']);
        expect(await store.queryConversations(q({ text: 'nothing like this' }))).toEqual([]);
        expect(await store.countConversations({ text: '   ' })).toBe(8);
        expect(await store.countConversations({ text: 'ACME', status: ['snoozed'] })).toBe(1);
      });

      it('finds a ticket: `#1234` only its number, `1234` its number or the text', async () => {
        await load();
        expect(ids(await store.queryConversations(q({ text: '#1234' })))).toEqual(['f03']);
        expect(ids(await store.queryConversations(q({ text: ' #12 ' })))).toEqual(['f02']);
        expect(sorted(ids(await store.queryConversations(q({ text: '1234' }))))).toEqual(['f03', 'f04']);
        expect(await store.countConversations({ text: '#99' })).toBe(0);
      });

      it('sorts by last activity, most recent first, ties by id descending', async () => {
        await load();
        expect(ids(await store.queryConversations(q({ sort: 'lastActivity' })))).toEqual(['f06', 'f05', 'f04', 'f03', 'f08', 'f07', 'f02', 'f01']);
      });

      it('sorts by longest waiting, not waiting last, ties by activity then id', async () => {
        await load();
        expect(ids(await store.queryConversations(q({ sort: 'waitingLongest' })))).toEqual(['f07', 'f02', 'f01', 'f05', 'f06', 'f04', 'f03', 'f08']);
      });

      it('sorts by priority, then activity, then id', async () => {
        await load();
        expect(ids(await store.queryConversations(q({ sort: 'priority' })))).toEqual(['f05', 'f08', 'f01', 'f02', 'f06', 'f03', 'f04', 'f07']);
      });

      it('applies offset and limit windows', async () => {
        await load();
        expect(ids(await store.queryConversations(q({ limit: 3 })))).toEqual(['f06', 'f05', 'f04']);
        expect(ids(await store.queryConversations(q({ limit: 3, offset: 3 })))).toEqual(['f03', 'f08', 'f07']);
        expect(ids(await store.queryConversations(q({ limit: 3, offset: 6 })))).toEqual(['f02', 'f01']);
        expect(await store.queryConversations(q({ limit: 3, offset: 8 }))).toEqual([]);
        expect(await store.queryConversations(q({ limit: 0 }))).toEqual([]);
        expect(ids(await store.queryConversations(q({ status: ['open'], sort: 'priority', limit: 2, offset: 1 })))).toEqual(['f01', 'f02']);
      });

      it('returns whole rows equal to the stored ones', async () => {
        await load();
        const rows = filterFixture();
        expect(await store.queryConversations(q({ sort: 'priority' }))).toEqual(runQuery(rows, q({ sort: 'priority' })));
      });

      it('follows updates: a row that changes status or assignee moves between queries', async () => {
        await load();
        const f02 = filterFixture()[1]!;
        await store.applyFacts(makeFactBatch({ conversations: [{ ...f02, status: 'resolved', assigneeId: 'agent-1', lastMessageAt: FIXTURE_TIME + 99, seq: 2 }] }), 2, 's');
        expect(ids(await store.queryConversations(q({ status: ['open'], assigneeId: null })))).toEqual([]);
        expect(ids(await store.queryConversations(q({ assigneeId: 'agent-1' })))).toEqual(['f02', 'f04', 'f08', 'f01']);
        expect(await store.countConversations({ status: ['resolved'] })).toBe(2);
        expect(await store.countConversations({ status: ['open'] })).toBe(3);
      });

      it('answers exactly like runQuery on a generated index with many ties', async () => {
        const rows = generateConversations(400, { seed: 11, timeSpreadMinutes: 60 });
        await store.applyFacts(makeFactBatch({ conversations: rows }), 1, 's');
        for (const query of generatedQueries()) {
          const label = JSON.stringify(query);
          expect(ids(await store.queryConversations(query)), label).toEqual(ids(runQuery(rows, query)));
          const { sort: _s, limit: _l, offset: _o, ...filter } = query;
          expect(await store.countConversations(filter), label).toBe(rows.filter((c) => matchesQuery(c, filter)).length);
        }
      });
    });

    describe('messages', () => {
      it('pages newest first with a before cursor, ties on createdAt broken by id', async () => {
        await store.applyFacts(makeFactBatch({ messages: messageFixture() }), 1, 's');
        const page1 = await store.getMessages({ conversationId: 'conv-a', limit: 3 });
        expect(ids(page1)).toEqual(['m06', 'm07', 'm05']);
        const last1 = page1[page1.length - 1]!;
        const page2 = await store.getMessages({ conversationId: 'conv-a', limit: 3, before: { createdAt: last1.createdAt, id: last1.id } });
        expect(ids(page2)).toEqual(['m04', 'm03', 'm02']);
        const last2 = page2[page2.length - 1]!;
        const page3 = await store.getMessages({ conversationId: 'conv-a', limit: 3, before: { createdAt: last2.createdAt, id: last2.id } });
        expect(ids(page3)).toEqual(['m01']);
        expect(await store.getMessages({ conversationId: 'conv-a', limit: 3, before: { createdAt: FIXTURE_TIME + 1, id: 'm01' } })).toEqual([]);
        // A cursor that is not a stored message.
        expect(ids(await store.getMessages({ conversationId: 'conv-a', limit: 10, before: { createdAt: FIXTURE_TIME + 2, id: 'm03z' } }))).toEqual(['m03', 'm02', 'm01']);
        expect(ids(await store.getMessages({ conversationId: 'conv-a', limit: 10, before: { createdAt: FIXTURE_TIME + 4, id: '' } }))).toEqual(['m05', 'm04', 'm03', 'm02', 'm01']);
        expect(ids(await store.getMessages({ conversationId: 'conv-b', limit: 10 }))).toEqual(['x01', 'x02']);
        expect(await store.getMessages({ conversationId: 'conv-a', limit: 0 })).toEqual([]);
        expect(await store.getMessage('m05')).toEqual(messageFixture()[4]);
      });

      it('stores loaded pages with putMessages, seq rule included, without moving the checkpoint', async () => {
        await store.applyFacts(makeFactBatch(), 3, 's');
        await store.putMessages(messageFixture());
        expect(await store.getCheckpoint()).toEqual({ checkpoint: 3, scope: 's' });
        expect(ids(await store.getMessages({ conversationId: 'conv-b', limit: 10 }))).toEqual(['x01', 'x02']);
        await store.putMessages([makeMessage({ id: 'x01', conversationId: 'conv-b', createdAt: FIXTURE_TIME + 100, seq: 5, status: 'delivered', direction: 'out' })]);
        await store.putMessages([makeMessage({ id: 'x01', conversationId: 'conv-b', createdAt: FIXTURE_TIME + 100, seq: 4, status: 'sending', direction: 'out' })]);
        expect((await store.getMessage('x01'))?.status).toBe('delivered');
        await store.putMessages([]);
        expect(await store.conversationsWithMessages().then(sorted)).toEqual(['conv-a', 'conv-b']);
      });

      it('evicts the cached messages of some conversations and keeps their index rows', async () => {
        await store.applyFacts(
          makeFactBatch({
            conversations: [makeConversation({ id: 'conv-a' }), makeConversation({ id: 'conv-b' }), makeConversation({ id: 'conv-c' })],
            messages: [...messageFixture(), makeMessage({ id: 'y01', conversationId: 'conv-c' })],
          }),
          1,
          's',
        );
        expect(sorted(await store.conversationsWithMessages())).toEqual(['conv-a', 'conv-b', 'conv-c']);
        await store.evictMessages(['conv-a', 'conv-c', 'conv-unknown']);
        expect(await store.conversationsWithMessages()).toEqual(['conv-b']);
        expect(await store.getMessages({ conversationId: 'conv-a', limit: 10 })).toEqual([]);
        expect(await store.getMessage('m01')).toBeNull();
        expect(ids(await store.getMessages({ conversationId: 'conv-b', limit: 10 }))).toEqual(['x01', 'x02']);
        expect(await store.getConversation('conv-a')).not.toBeNull();
        expect(await store.countConversations({})).toBe(3);
        await store.evictMessages([]);
        expect(await store.conversationsWithMessages()).toEqual(['conv-b']);
        // Evicted messages can be loaded again.
        await store.putMessages(messageFixture().slice(0, 2));
        expect(ids(await store.getMessages({ conversationId: 'conv-a', limit: 10 }))).toEqual(['m02', 'm01']);
      });
    });

    describe('contacts and directory', () => {
      it('gets contacts by id and lists inboxes, agents and teams', async () => {
        const contacts = [makeContact({ id: 'p2', name: '王芳' }), makeContact({ id: 'p1' })];
        const inboxes = [makeInbox({ id: 'inbox-b', channel: 'sms', provider: null }), makeInbox({ id: 'inbox-a' })];
        const agents = [makeAgent({ id: 'agent-2', role: 'supervisor' }), makeAgent({ id: 'agent-1', active: false })];
        const teams = [makeTeam({ id: 'team-b' }), makeTeam({ id: 'team-a', name: '售后' })];
        await store.applyFacts(makeFactBatch({ contacts, inboxes, agents, teams }), 1, 's');
        expect(await store.getContact('p2')).toEqual(contacts[0]);
        expect(await store.getContact('p1')).toEqual(contacts[1]);
        const byId = <T extends { id: string }>(xs: T[]) => [...xs].sort((a, b) => (a.id < b.id ? -1 : 1));
        expect(byId(await store.listInboxes())).toEqual(byId(inboxes));
        expect(byId(await store.listAgents())).toEqual(byId(agents));
        expect(byId(await store.listTeams())).toEqual(byId(teams));
        // Ids are per kind: an agent and a team may share one.
        await store.applyFacts(makeFactBatch({ teams: [makeTeam({ id: 'agent-1', name: 'same id as an agent' })] }), 2, 's');
        expect(await store.listAgents()).toHaveLength(2);
        expect(await store.listTeams()).toHaveLength(3);
      });
    });

    describe('[search] device search through the port', () => {
      it("finds a customer's first message, the agent's reply, a contact's email and phone, in Chinese and English", async () => {
        const conv = makeConversation({ id: 'conv-s', contactId: 'ct-s', contactName: '林梅 Mei', lastMessagePreview: 'thanks', lastMessageAt: FIXTURE_TIME + 3 });
        await store.applyFacts(
          makeFactBatch({
            conversations: [conv],
            contacts: [makeContact({ id: 'ct-s', name: '林梅 Mei', identities: [{ channel: 'email', identifier: 'mei@example.net' }, { channel: 'sms', identifier: '+8613712345678' }] })],
            messages: [
              makeMessage({ id: 's1', conversationId: 'conv-s', text: '包裹被退回了', createdAt: FIXTURE_TIME + 1 }),
              makeMessage({ id: 's2', conversationId: 'conv-s', direction: 'out', authorType: 'agent', text: 'We re-shipped the parcel', createdAt: FIXTURE_TIME + 2 }),
              makeMessage({ id: 's3', conversationId: 'conv-s', text: 'thanks', createdAt: FIXTURE_TIME + 3 }),
            ],
          }),
          1,
          's',
        );
        const { searchLocal } = await import('../domain/search.js');
        expect((await searchLocal(store, '退回')).map((h) => h.messageId)).toEqual(['s1']);
        expect((await searchLocal(store, 'RE-SHIPPED')).map((h) => h.messageId)).toEqual(['s2']);
        expect((await searchLocal(store, 'mei@example.net')).map((h) => [h.conversationId, h.field])).toEqual([['conv-s', 'contact']]);
        expect((await searchLocal(store, '137 1234 5678')).map((h) => h.field)).toEqual(['contact']);
        expect(await searchLocal(store, 'nothing like this')).toEqual([]);
      });
    });

    describe('meta', () => {
      it('stores JSON values by key and returns copies', async () => {
        const values: [string, unknown][] = [
          ['object', { session: { agentId: 'agent-1', token: null }, recent: ['c1', 'c2'], n: 1.5, ok: false, name: '沟通' }],
          ['array', [1, [2, [3]], { a: 'b' }]],
          ['string', 'hello'],
          ['empty', ''],
          ['number', 0],
          ['bool', true],
        ];
        for (const [k, v] of values) await store.setMeta(k, v);
        for (const [k, v] of values) expect(await store.getMeta(k)).toEqual(v);
        const got = await store.getMeta<{ recent: string[] }>('object');
        got!.recent.push('mutated');
        expect(await store.getMeta('object')).toEqual(values[0]![1]);
        await store.setMeta('string', { replaced: true });
        expect(await store.getMeta('string')).toEqual({ replaced: true });
        await store.setMeta('string', null);
        expect(await store.getMeta('string')).toBeNull();
        expect(await store.getMeta('missing')).toBeNull();
      });
    });

    describe('outbox', () => {
      it('puts, lists by order, updates in place and deletes', async () => {
        const a = makeOutboxEntry({ order: 3 });
        const b = makeOutboxEntry({ order: 1, command: makeCommand({ text: '带附件', attachments: [{ id: 'att-1', name: '合同.pdf', mime: 'application/pdf', size: 1024 }] }) });
        const c = makeOutboxEntry({
          order: 2,
          command: { id: makeCommand().id, deviceTime: FIXTURE_TIME, type: 'update_contact', contactId: 'p1', attributes: { city: '北京', vip: '' } },
          lane: 'contact:p1',
        });
        await store.outboxPut(a);
        await store.outboxPut(b);
        await store.outboxPut(c);
        expect(await store.outboxList()).toEqual([b, c, a]);
        const failed = { ...b, state: 'failed' as const, attempts: 3, error: { code: 'forbidden', message: '无权限' }, nextAttemptAt: FIXTURE_TIME + 5000 };
        await store.outboxPut(failed);
        const acked = { ...a, state: 'acked' as const, ackSeq: 77 };
        await store.outboxPut(acked);
        expect(await store.outboxList()).toEqual([failed, c, acked]);
        await store.outboxDelete(c.id);
        await store.outboxDelete('missing');
        expect(await store.outboxList()).toEqual([failed, acked]);
      });
    });

    describe('yjs updates', () => {
      it('appends, loads byte for byte in order, and replaces', async () => {
        const all = new Uint8Array(256).map((_, i) => i);
        const big = bytes(100_000, 3);
        const updates = [all, bytes(1, 1), new Uint8Array(0), big, bytes(33, 2)];
        for (const u of updates) await store.yjsAppend('doc-1', u);
        await store.yjsAppend('doc-2', bytes(5, 9));
        const loaded = await store.yjsLoad('doc-1');
        expect(loaded).toHaveLength(updates.length);
        loaded.forEach((u, i) => {
          expect(u).toBeInstanceOf(Uint8Array);
          expect(Array.from(u)).toEqual(Array.from(updates[i]!));
        });
        // The store keeps its own copy.
        updates[0]![0] = 99;
        expect((await store.yjsLoad('doc-1'))[0]![0]).toBe(0);
        await store.yjsReplace('doc-1', bytes(10, 4));
        const replaced = await store.yjsLoad('doc-1');
        expect(replaced.map((u) => Array.from(u))).toEqual([Array.from(bytes(10, 4))]);
        await store.yjsAppend('doc-1', bytes(2, 5));
        expect((await store.yjsLoad('doc-1')).map((u) => Array.from(u))).toEqual([Array.from(bytes(10, 4)), Array.from(bytes(2, 5))]);
        expect((await store.yjsLoad('doc-2')).map((u) => Array.from(u))).toEqual([Array.from(bytes(5, 9))]);
        await store.yjsReplace('doc-3', bytes(3, 3));
        expect(await store.yjsLoad('doc-3').then((xs) => xs.map((u) => Array.from(u)))).toEqual([Array.from(bytes(3, 3))]);
      });

      it('keeps the append order of concurrent appends', async () => {
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.yjsAppend('doc', bytes(4, i))));
        expect((await store.yjsLoad('doc')).map((u) => Array.from(u))).toEqual(Array.from({ length: 20 }, (_, i) => Array.from(bytes(4, i))));
      });
    });

    describe('clearFacts', () => {
      it('drops every fact and the checkpoint, keeps outbox, Yjs updates and meta', async () => {
        await store.applyFacts(
          makeFactBatch({
            conversations: [makeConversation({ id: 'c1', seq: 50 })],
            messages: [makeMessage({ id: 'm1', conversationId: 'c1' })],
            contacts: [makeContact({ id: 'p1' })],
            inboxes: [makeInbox({ id: 'i1' })],
            agents: [makeAgent({ id: 'a1' })],
            teams: [makeTeam({ id: 't1' })],
          }),
          10,
          'scope-a',
        );
        const entry = makeOutboxEntry();
        await store.outboxPut(entry);
        await store.yjsAppend('doc', bytes(8, 1));
        await store.setMeta('k', { v: 1 });
        await store.clearFacts();
        expect(await store.getCheckpoint()).toEqual({ checkpoint: 0, scope: null });
        expect(await store.getConversation('c1')).toBeNull();
        expect(await store.countConversations({})).toBe(0);
        expect(await store.queryConversations({ sort: 'priority', limit: 10 })).toEqual([]);
        expect(await store.getMessage('m1')).toBeNull();
        expect(await store.conversationsWithMessages()).toEqual([]);
        expect(await store.getContact('p1')).toBeNull();
        expect(await store.listInboxes()).toEqual([]);
        expect(await store.listAgents()).toEqual([]);
        expect(await store.listTeams()).toEqual([]);
        expect(await store.outboxList()).toEqual([entry]);
        expect((await store.yjsLoad('doc')).map((u) => Array.from(u))).toEqual([Array.from(bytes(8, 1))]);
        expect(await store.getMeta('k')).toEqual({ v: 1 });
        // A new scope starts from scratch: lower seqs are accepted again.
        await store.applyFacts(makeFactBatch({ conversations: [makeConversation({ id: 'c1', seq: 2, subject: 'new scope' })] }), 3, 'scope-b');
        expect((await store.getConversation('c1'))?.subject).toBe('new scope');
        expect(await store.getCheckpoint()).toEqual({ checkpoint: 3, scope: 'scope-b' });
      });
    });

    if (options.persistent) {
      describe('persistence', () => {
        it('keeps everything across close and reopen', async () => {
          const rows = generateConversations(50, { seed: 5 });
          const contact = makeContact({ id: 'p1' });
          await store.applyFacts(makeFactBatch({ conversations: rows, messages: messageFixture(), contacts: [contact], inboxes: [makeInbox({ id: 'i1' })], agents: [makeAgent({ id: 'a1' })], teams: [makeTeam({ id: 't1' })] }), 12, 'scope-p');
          const entries = [makeOutboxEntry({ order: 2 }), makeOutboxEntry({ order: 1 })];
          for (const e of entries) await store.outboxPut(e);
          await store.yjsAppend('doc', bytes(300, 7));
          await store.yjsAppend('doc', bytes(3, 8));
          await store.setMeta('recent', ['c1', '会话']);
          const query: ConversationQuery = { status: ['open', 'pending'], sort: 'waitingLongest', limit: 20 };

          const s = await reopen();
          expect(await s.getCheckpoint()).toEqual({ checkpoint: 12, scope: 'scope-p' });
          expect(await s.queryConversations(query)).toEqual(runQuery(rows, query));
          expect(await s.countConversations({})).toBe(50);
          expect(ids(await s.getMessages({ conversationId: 'conv-a', limit: 3 }))).toEqual(['m06', 'm07', 'm05']);
          expect(await s.getContact('p1')).toEqual(contact);
          expect(await s.listInboxes()).toHaveLength(1);
          expect(await s.listAgents()).toHaveLength(1);
          expect(await s.listTeams()).toHaveLength(1);
          expect(await s.outboxList()).toEqual([entries[1], entries[0]]);
          expect((await s.yjsLoad('doc')).map((u) => Array.from(u))).toEqual([Array.from(bytes(300, 7)), Array.from(bytes(3, 8))]);
          expect(await s.getMeta('recent')).toEqual(['c1', '会话']);
          // The reopened store keeps working: seq rule against persisted rows, appends after persisted ones.
          const first = rows[0]!;
          await s.applyFacts(makeFactBatch({ conversations: [{ ...first, seq: first.seq - 1, subject: 'stale' }] }), 13, 'scope-p');
          expect((await s.getConversation(first.id))?.subject).toBe(first.subject);
          await s.yjsAppend('doc', bytes(1, 9));
          expect(await s.yjsLoad('doc')).toHaveLength(3);
        });
      });
    }
  });
}

/** A macrotask yield without depending on platform timer types (core has no DOM or node types). */
function setTimeoutShim(fn: () => void): void {
  const g = globalThis as unknown as { setTimeout?: (fn: () => void, ms: number) => unknown };
  if (g.setTimeout) g.setTimeout(fn, 0);
  else void Promise.resolve().then(fn);
}
