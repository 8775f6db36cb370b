import { describe, expect, it } from 'vitest';
import { Outbox, outcomeOf, type KeyValue, type SendOutcome } from '../src/outbox.js';
import { localeOf, translator } from '../src/i18n.js';
import { BUDGET, sizes } from '../scripts/budget.mjs';
import { fileURLToPath } from 'node:url';

class MemoryKv implements KeyValue {
  m = new Map<string, string>();
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
}

const item = (clientId: string, text = clientId) => ({ clientId, text, deviceTime: 1, attachments: [], files: [] });

describe('the visitor outbox', () => {
  it('persists a message before sending and drops it only on the acknowledgement', async () => {
    const kv = new MemoryKv();
    let now = 1000;
    const box = new Outbox(kv, 'ob', () => now, () => 0.5);
    box.add(item('a'));
    // Another Outbox over the same storage (a reload) sees it.
    expect(new Outbox(kv, 'ob').items().map((i) => i.clientId)).toEqual(['a']);
    const seen: string[] = [];
    let answer: SendOutcome = { kind: 'retry', reason: 'offline' };
    await box.flush(async (i) => {
      seen.push(i.clientId);
      return answer;
    });
    expect(box.items()[0]).toMatchObject({ state: 'pending', attempts: 1, nextAt: 2000 });
    // Not due yet: nothing is sent.
    await box.flush(async (i) => (seen.push(i.clientId), answer));
    expect(seen).toEqual(['a']);
    now = 2000;
    answer = { kind: 'acked', body: { ok: true } };
    const acked: unknown[] = [];
    await box.flush(async (i) => (seen.push(i.clientId), answer), (_i, b) => acked.push(b));
    expect(seen).toEqual(['a', 'a']);
    expect(acked).toEqual([{ ok: true }]);
    expect(box.items()).toEqual([]);
  });

  it('keeps the order, backs off exponentially, wakes up when the connection returns, and shows refusals', async () => {
    const kv = new MemoryKv();
    let now = 0;
    const box = new Outbox(kv, 'ob', () => now, () => 0.5);
    box.add(item('a'));
    box.add(item('b'));
    const seen: string[] = [];
    const fail = async (i: { clientId: string }): Promise<SendOutcome> => (seen.push(i.clientId), { kind: 'retry', reason: 'down' });
    await box.flush(fail);
    now = 1000;
    await box.flush(fail);
    expect(box.items()[0]).toMatchObject({ attempts: 2, nextAt: 3000 });
    expect(seen).toEqual(['a', 'a']); // b waits behind a
    box.wake();
    expect(box.nextDueIn()).toBe(0);
    await box.flush(async (i) => (i.clientId === 'a' ? { kind: 'refused', reason: 'invalid message' } : { kind: 'acked', body: null }));
    expect(box.items()).toMatchObject([{ clientId: 'a', state: 'failed', error: 'invalid message' }]);
    box.retry('a');
    expect(box.items()[0]).toMatchObject({ state: 'pending', attempts: 0 });
  });

  it('maps answers: 2xx acknowledged, 429/5xx retried (Retry-After honoured), other 4xx refused with the reason', () => {
    expect(outcomeOf(201, { x: 1 }, null)).toEqual({ kind: 'acked', body: { x: 1 } });
    expect(outcomeOf(200, null, null).kind).toBe('acked');
    expect(outcomeOf(429, { error: { message: 'slow down' } }, '7')).toEqual({ kind: 'retry', reason: 'slow down', retryAfterMs: 7000 });
    expect(outcomeOf(503, null, null)).toEqual({ kind: 'retry', reason: 'HTTP 503' });
    expect(outcomeOf(400, { error: { message: 'invalid message: text' } }, null)).toEqual({ kind: 'refused', reason: 'invalid message: text' });
  });

  it('speaks zh-CN on Chinese pages and English elsewhere', () => {
    expect(localeOf('zh-CN')).toBe('zh-CN');
    expect(localeOf('zh-Hans')).toBe('zh-CN');
    expect(localeOf('zh')).toBe('zh-CN');
    expect(localeOf('en-US')).toBe('en');
    expect(localeOf('')).toBe('en');
    expect(translator('zh-CN')('typing', { name: '小王' })).toBe('小王 正在输入…');
    expect(translator('en')('typing', { name: 'Ann' })).toBe('Ann is typing…');
  });

  it('the built loader and chat UI stay within their gzip budget', () => {
    const s = sizes(fileURLToPath(new URL('../dist', import.meta.url)));
    expect(s.loader).toBeLessThanOrEqual(BUDGET.loader);
    expect(s.chat).toBeLessThanOrEqual(BUDGET.chat);
    expect(s.manifest.chat).toMatch(/^chat-[A-Za-z0-9_-]{10}\.js$/);
  });
});
