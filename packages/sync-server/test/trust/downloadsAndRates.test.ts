// Issue 13, remaining gaps: attachment downloads announce a masked file name to roles without
// pii.view (and to signed links); API keys are rate-limited per key across server processes.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@goutong/core';
import { api, loginToken } from '../support/agentClient.js';
import { startTestServer } from '../support/inProcess.js';
import { createTestDatabase } from '../support/pg.js';
import { LocalRateLimiter, RedisRateLimiter } from '../../src/scale/rateLimit.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

let n = 0;
const cid = () => `01939a4e-0000-7000-8000-${(0xd0d000000000 + ++n).toString(16)}`;

const dispositionName = (h: string | null): string => {
  const m = /filename\*=UTF-8''([^;]+)/.exec(h ?? '');
  if (!m) throw new Error(`no filename in ${h}`);
  return decodeURIComponent(m[1]!);
};

describe.each([['sqlite'], ['postgres']] as const)('attachment downloads on %s', (dialect) => {
  let s: Server;
  beforeAll(async () => {
    s = await startTestServer(dialect);
  });
  afterAll(async () => s?.stopAll());

  it('Content-Disposition names the file masked for an agent without pii.view and for a signed link, clear for a supervisor', async () => {
    const adminToken = await loginToken(s.url, 'admin@demo.goutong');
    const admin = api(s.url, adminToken);
    const zhangToken = await loginToken(s.url, 'zhang.san@demo.goutong');
    const liweiToken = await loginToken(s.url, 'li.wei@demo.goutong');
    const demoInbox = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API').id as string;
    const posted = await admin('POST', `/api/v1/inboxes/${demoInbox}/inbound`, { externalId: `dl-${dialect}`, from: { identifier: '+8613700001111', name: 'Customer' }, text: 'hello' });
    expect(posted.status).toBe(201);
    const clearName = '合同 13812345678 wang.fang@example.com.pdf';
    const up = await fetch(`${s.url}/api/v1/attachments?name=${encodeURIComponent(clearName)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/pdf' },
      body: Buffer.from('%PDF-1.4 test'),
    });
    expect(up.status).toBe(201);
    const att = (await up.json()) as { id: string; url: string };
    const id = cid();
    const r = await admin('POST', '/api/v1/commands', { commands: [{ type: 'send_reply', id, deviceTime: 1, conversationId: posted.body.conversationId, text: '', attachments: [att] }] });
    expect(r.body.results[0].outcome).toBe('applied');

    const download = (token: string | null, path = `/api/v1/attachments/${att.id}`) =>
      fetch(`${s.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

    // zhang.san (agent, no pii.view) sees the message masked, and the download says the same name.
    const zhang = api(s.url, zhangToken);
    const seen = (await zhang('GET', `/api/v1/conversations/${posted.body.conversationId}/messages?limit=50`)).body.items.find((m: { id: string }) => m.id === id);
    const maskedName: string = seen.attachments[0].name;
    expect(maskedName).not.toContain('13812345678');
    expect(maskedName).not.toContain('wang.fang@example.com');
    expect(maskedName).toContain('138****5678');
    const z = await download(zhangToken);
    expect(z.status).toBe(200);
    const zName = dispositionName(z.headers.get('content-disposition'));
    expect(zName).toBe(maskedName);
    expect(z.headers.get('content-disposition')).not.toContain(encodeURIComponent('13812345678'));
    expect(Buffer.from(await z.arrayBuffer()).toString()).toBe('%PDF-1.4 test'); // the bytes are the file's

    // The supervisor (pii.view) gets the clear name.
    expect(dispositionName((await download(liweiToken)).headers.get('content-disposition'))).toBe(clearName);
    expect(dispositionName((await download(adminToken)).headers.get('content-disposition'))).toBe(clearName);

    // A signed link names no one: masked.
    const link = await download(null, seen.attachments[0].url as string);
    expect(link.status).toBe(200);
    expect(dispositionName(link.headers.get('content-disposition'))).toBe(maskedName);
    const inline = await download(null, `${seen.attachments[0].url as string}&inline=1`);
    expect(inline.headers.get('content-disposition')).toMatch(/^inline;/); // a PDF may show inline; its name is masked all the same
    expect(dispositionName(inline.headers.get('content-disposition'))).toBe(maskedName);
  });
});

/** Makes `n` requests with an API key; returns their statuses and the last Retry-After. */
async function burst(urls: string[], token: string, count: number): Promise<{ statuses: number[]; retryAfter: string | null }> {
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${urls[i % urls.length]}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    statuses.push(res.status);
    if (res.status === 429) retryAfter = res.headers.get('retry-after');
    await res.arrayBuffer();
  }
  return { statuses, retryAfter };
}

async function newKey(url: string, adminToken: string, rate: number): Promise<string> {
  const res = await api(url, adminToken)('POST', '/api/v1/api-keys', { name: `rate ${crypto.randomUUID()}`, permissions: { actions: [], scope: { kind: 'teams' } }, ratePerMinute: rate });
  expect(res.status).toBe(201);
  return res.body.token as string;
}

/** A burst with a fresh key (its window starts with its first request). */
async function burstInOneWindow(urls: string[], adminToken: string, rate: number, count: number) {
  return burst(urls, await newKey(urls[0]!, adminToken, rate), count);
}

describe('API key rate limits in one process (in-process window)', () => {
  let s: Server;
  beforeAll(async () => {
    s = await startTestServer('sqlite');
  });
  afterAll(async () => s?.stopAll());

  it('answers 429 with Retry-After once the key used its rate', async () => {
    const adminToken = await loginToken(s.url, 'admin@demo.goutong');
    const b = await burstInOneWindow([s.url], adminToken, 3, 5);
    expect(b.statuses).toEqual([200, 200, 200, 429, 429]);
    expect(Number(b.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(b.retryAfter)).toBeLessThanOrEqual(60);
    // Another key is counted on its own.
    const other = await burstInOneWindow([s.url], adminToken, 3, 1);
    expect(other.statuses).toEqual([200]);
  });
});

describe('API key rate limits across server processes (PostgreSQL + Redis)', () => {
  let a: Server;
  let b: Server;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase('gtrate');
    drop = db.drop;
    const env = { DATABASE_URL: db.url, REDIS_URL, GOUTONG_SECRET: 'rate-limit-scale-out-secret-0123456789abcdef' };
    a = await startTestServer('sqlite', env);
    b = await startTestServer('sqlite', env);
  });
  afterAll(async () => {
    await a?.stopAll();
    await b?.stopAll();
    await drop?.();
  });

  it('one key allows its rate in total, whichever process answers', async () => {
    const adminToken = await loginToken(a.url, 'admin@demo.goutong');
    // Alternating processes: each saw 3 requests when the 6th (the 7th in total) is refused.
    const r = await burstInOneWindow([a.url, b.url], adminToken, 6, 8);
    expect(r.statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(r.retryAfter)).toBeLessThanOrEqual(60);
  });
});

describe('RateLimiter', () => {
  it('counts one window in Redis for every limiter (Redis keeps its time), per key', async () => {
    const prefix = `goutong:rl:test:${crypto.randomUUID()}:`;
    const one = new RedisRateLimiter(REDIS_URL, silentLogger, prefix);
    const two = new RedisRateLimiter(REDIS_URL, silentLogger, prefix);
    try {
      const now = Date.now(); // not used for the window: Redis expires the counter itself
      expect(await one.hit('k', 2, 60_000, now)).toEqual({ ok: true });
      expect(await two.hit('k', 2, 60_000, now)).toEqual({ ok: true });
      const refused = await one.hit('k', 2, 60_000, now);
      expect(refused.ok).toBe(false);
      if (!refused.ok) expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      if (!refused.ok) expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
      expect(await two.hit('other', 2, 60_000, now)).toEqual({ ok: true });
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('in one process: a window from the first request, then a new one', async () => {
    const l = new LocalRateLimiter(2);
    const t = 1_800_000_000_123;
    expect(await l.hit('k', 1, 60_000, t)).toEqual({ ok: true });
    expect(await l.hit('k', 1, 60_000, t + 59_000)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(await l.hit('k', 1, 60_000, t + 60_000)).toEqual({ ok: true });
  });
});
