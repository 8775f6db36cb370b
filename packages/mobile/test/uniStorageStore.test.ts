import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateConversations, makeConversation, makeFactBatch, makeMessage, makeOutboxEntry, makeCommand, runStorageConformance } from '@goutong/core/testing';
import { runQuery } from '@goutong/core';
import { UniStorageStore, WEIXIN_MAX_VALUE_BYTES, WEIXIN_TOTAL_BYTES } from '../src/storage/uniStorageStore';
import { createUniStorageStub, type UniStorageStub } from './uniStorageStub';

const suite = { describe, it, expect, beforeEach, afterEach };

let plain: UniStorageStub;
runStorageConformance(
  'uni storage',
  async ({ reopen }) => {
    if (!reopen) plain = createUniStorageStub();
    return UniStorageStore.open({ uni: plain });
  },
  suite,
  { persistent: true },
);

let weixin: UniStorageStub;
runStorageConformance(
  'uni storage with WeChat limits (working set, 1 MB per key, 10 MB in all)',
  async ({ reopen }) => {
    if (!reopen) weixin = createUniStorageStub({ maxValueBytes: WEIXIN_MAX_VALUE_BYTES, quotaBytes: WEIXIN_TOTAL_BYTES });
    return UniStorageStore.open({ uni: weixin, workingSet: { factBudgetBytes: 6 * 1024 * 1024, agentId: () => 'agent-1' } });
  },
  suite,
  { persistent: true },
);

describe('UniStorageStore specifics', () => {
  it('splits a value over the per-key limit into parts and reads it back', async () => {
    const uni = createUniStorageStub({ maxValueBytes: 4096 });
    const store = await UniStorageStore.open({ uni, maxValueBytes: 4096 });
    const text = '沟通'.repeat(5000) + '😀'.repeat(3000);
    await store.putMessages([makeMessage({ id: 'big', conversationId: 'c', text })]);
    const big = new Uint8Array(20_000).map((_, i) => i & 255);
    await store.yjsAppend('doc', big);
    expect([...uni.data.keys()].filter((k) => k.includes('~')).length).toBeGreaterThan(10);
    const reopened = await UniStorageStore.open({ uni, maxValueBytes: 4096 });
    expect((await reopened.getMessage('big'))?.text).toBe(text);
    expect(Array.from((await reopened.yjsLoad('doc'))[0]!)).toEqual(Array.from(big));
    // Shrinking a value removes its old parts.
    await reopened.putMessages([makeMessage({ id: 'big', conversationId: 'c', text: 'short', seq: 2 })]);
    expect([...uni.data.keys()].filter((k) => k.includes('~') && k.includes('m:big'))).toEqual([]);
  });

  it('writes a fact batch before its checkpoint (an interrupted batch is pulled again)', async () => {
    const uni = createUniStorageStub();
    const order: string[] = [];
    const set = uni.setStorageSync.bind(uni);
    uni.setStorageSync = (k, v) => {
      order.push(k);
      set(k, v);
    };
    const store = await UniStorageStore.open({ uni });
    await store.applyFacts(makeFactBatch({ conversations: generateConversations(5, { seed: 1 }), messages: [makeMessage({ id: 'm1', conversationId: 'x' })] }), 9, 's');
    expect(order[order.length - 1]).toBe('gt1:cp');
  });

  it('keeps the working set under a budget: drops messages first, then finished conversations, never pinned ones', async () => {
    const uni = createUniStorageStub({ maxValueBytes: WEIXIN_MAX_VALUE_BYTES, quotaBytes: WEIXIN_TOTAL_BYTES });
    const store = await UniStorageStore.open({ uni, workingSet: { factBudgetBytes: 200_000, agentId: () => 'me' } });
    const rows = generateConversations(200, { seed: 4 }).map((c, i) => ({
      ...c,
      assigneeId: i % 10 === 0 ? 'me' : c.assigneeId,
      status: i % 10 === 0 ? ('open' as const) : c.status,
    }));
    await store.setMeta('recentConversations', { [rows[1]!.id]: 1 });
    await store.outboxPut(makeOutboxEntry({ command: makeCommand({ conversationId: rows[2]!.id }) }));
    const messages = rows.flatMap((c) => Array.from({ length: 5 }, (_, j) => makeMessage({ conversationId: c.id, text: 'x'.repeat(400), createdAt: c.lastMessageAt + j })));
    await store.applyFacts(makeFactBatch({ conversations: rows, messages }), 1, 's');
    const info = store.workingSetInfo()!;
    expect(info.factBytes).toBeLessThanOrEqual(200_000);
    expect(info.droppedMessageSets).toBeGreaterThan(0);
    // Pinned: mine and unresolved, recently opened, referenced by the outbox: index rows and messages stay.
    const pinned = [rows[1]!.id, rows[2]!.id, ...rows.filter((c) => c.assigneeId === 'me').map((c) => c.id)];
    for (const id of pinned) {
      expect(await store.getConversation(id)).not.toBeNull();
      expect(await store.getMessages({ conversationId: id, limit: 10 })).toHaveLength(5);
    }
    // What is left answers queries exactly like core over the rows that are left.
    const left = await store.queryConversations({ sort: 'lastActivity', limit: 1000 });
    const q = { status: ['open' as const, 'pending' as const], sort: 'priority' as const, limit: 20 };
    expect(await store.queryConversations(q)).toEqual(runQuery(left, q));
    // Dropped index rows are gone from storage too, and stay gone after a reopen.
    const again = await UniStorageStore.open({ uni, workingSet: { factBudgetBytes: 200_000, agentId: () => 'me' } });
    expect(await again.countConversations({})).toBe(left.length);
    expect(uni.bytes()).toBeLessThan(WEIXIN_TOTAL_BYTES);
  });

  it('never drops outbox entries, drafts or meta, whatever the budget', async () => {
    const uni = createUniStorageStub();
    const store = await UniStorageStore.open({ uni, workingSet: { factBudgetBytes: 1 } });
    const entry = makeOutboxEntry();
    await store.outboxPut(entry);
    await store.yjsAppend('draft', new Uint8Array([1, 2, 3]));
    await store.setMeta('session', { token: 't' });
    await store.applyFacts(makeFactBatch({ conversations: [makeConversation({ id: 'c1', status: 'closed' })] }), 1, 's');
    expect(await store.outboxList()).toEqual([entry]);
    expect(await store.yjsLoad('draft')).toEqual([new Uint8Array([1, 2, 3])]);
    expect(await store.getMeta('session')).toEqual({ token: 't' });
    expect(await store.getConversation('c1')).toBeNull();
  });

  it('ignores keys of other owners and survives an empty or foreign storage', async () => {
    const uni = createUniStorageStub();
    uni.setStorageSync('uni-id-token', 'x');
    uni.setStorageSync('gt1:k:broken', '');
    const store = await UniStorageStore.open({ uni });
    expect(await store.getMeta('broken')).toBeNull();
    expect(await store.countConversations({})).toBe(0);
    await store.clearFacts();
    expect(uni.data.get('uni-id-token')).toBe('x');
  });
});
