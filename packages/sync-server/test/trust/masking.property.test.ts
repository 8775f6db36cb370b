// Issue 13: personal data of every kind, posted in Chinese and English through the api channel's
// inbound webhook, never reaches an unprivileged agent (the demo's zhang.san, built-in role `agent`)
// in clear form by any path the server has, while the admin gets the clear values. Paths: pull,
// push (a raw socket that asks for protocol 1.1 pushed facts), the device's own store, REST
// (conversations, messages, contact, contact search, timeline, summary, suggestions, reply and
// patch answers), the history search `GET /api/v1/search` (asked for the clear value itself),
// reports (overview, live board) and exports (refused or masked). Personal data sits in message text,
// subject, contact name, identity and a contact attribute. The server sends no notification of its
// own: devices notify from what they pulled or were pushed, both checked here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import WebSocket from 'ws';
import { luhnValid, PROTOCOL_VERSION } from '@goutong/core';
import { api, connectAgent, eventually, loginToken } from '../support/agentClient.js';
import { startTestServer } from '../support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

const ID_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const cnId = (first17: string) => first17 + '10X98765432'[[...first17].reduce((s, d, i) => s + Number(d) * ID_W[i]!, 0) % 11]!;
const card = (prefix: string) => {
  for (let d = 0; d < 10; d++) if (luhnValid(prefix + d)) return prefix + d;
  throw new Error('unreachable');
};
const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((a) => a.join(''));

type Pii = { kind: string; clear: string };
const mobile = fc.tuple(fc.constantFrom('3', '5', '7', '8', '9'), digits(9)).map(([a, r]): Pii => ({ kind: 'mobile', clear: `1${a}${r}` }));
const landline = fc.tuple(fc.constantFrom('010', '021', '0755'), fc.integer({ min: 2, max: 8 }), digits(7)).map(([a, f, r]): Pii => ({ kind: 'landline', clear: `${a}-${f}${r}` }));
const intl = fc.tuple(fc.constantFrom('+44', '+49', '+1', '+33'), fc.integer({ min: 2, max: 9 }), digits(9)).map(([c, f, r]): Pii => ({ kind: 'intl', clear: `${c}${f}${r}` }));
const email = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9]{2,8}$/), fc.constantFrom('example.com', 'qq.com', 'corp.cn', '163.com')).map(([l, d]): Pii => ({ kind: 'email', clear: `${l}@${d}` }));
const id = fc.tuple(fc.integer({ min: 110000, max: 659000 }), fc.integer({ min: 1950, max: 2008 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }), digits(3))
  .map(([a, y, m, d, s]): Pii => ({ kind: 'id', clear: cnId(`${a}${y}${String(m).padStart(2, '0')}${String(d).padStart(2, '0')}${s}`) }));
const bankCard = fc.tuple(fc.constantFrom('4', '51', '622202'), fc.integer({ min: 13, max: 19 })).chain(([p, len]) => digits(len - p.length - 1).map((r): Pii => ({ kind: 'card', clear: card(p + r) })));
const anyPii = fc.oneof(mobile, landline, intl, email, id, bankCard);

const zh = ['您好，我的手机是', '，身份证号', '请打这个号码：', '银行卡', '邮箱', '谢谢！', '订单 20261124 的联系人'];
const en = ['Hi, call me on ', ' my card is ', 'email: ', ' ID ', ' thanks!', 'Order 4471, contact '];

const sample = fc.record({
  identity: fc.oneof(mobile.map((p) => ({ channelId: `+86${p.clear}`, pii: { ...p, clear: `+86${p.clear}` } })), email.map((p) => ({ channelId: p.clear, pii: p }))),
  nameIsNumber: fc.boolean(),
  parts: fc.array(fc.tuple(fc.constantFrom(...zh, ...en), anyPii), { minLength: 1, maxLength: 5 }),
  subjectPii: fc.option(anyPii, { nil: undefined }),
  attributePii: anyPii,
});

describe.each([['sqlite'], ['postgres']] as const)('personal data is masked for an agent without pii.view (%s)', (dialect) => {
  let s: Server;
  let admin: ReturnType<typeof api>;
  let zhang: ReturnType<typeof api>;
  let zhangToken: string;
  let inboxId: string;
  const socketFrames: string[] = [];
  const deviceWrites: string[] = [];
  let socket: WebSocket;
  let device: Awaited<ReturnType<typeof connectAgent>>;

  beforeAll(async () => {
    s = await startTestServer(dialect);
    admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
    zhangToken = await loginToken(s.url, 'zhang.san@demo.goutong');
    zhang = api(s.url, zhangToken);
    inboxId = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API').id;
    // A raw socket of zhang's: every frame the server pushes is kept.
    socket = new WebSocket(`${s.url.replace('http', 'ws')}/sync`);
    socket.on('message', (d) => socketFrames.push(String(d)));
    await new Promise((r) => socket.once('open', r));
    // protocol 1.1: `push: true` asks for the facts themselves on the socket (domain/push.ts)
    socket.send(JSON.stringify({ t: 'auth', token: zhangToken, v: PROTOCOL_VERSION, push: true }));
    await eventually(() => socketFrames.some((f) => f.includes('"ready"')), 'socket ready');
    // zhang's device: a real client; everything it writes into its local store is kept.
    device = await connectAgent(s.url, 'zhang.san@demo.goutong', 'goutong-demo', 'zhang-phone');
    const apply = device.store.applyFacts.bind(device.store);
    device.store.applyFacts = async (batch, checkpoint, scope) => {
      deviceWrites.push(JSON.stringify(batch));
      return apply(batch, checkpoint, scope);
    };
    const put = device.store.putMessages.bind(device.store);
    device.store.putMessages = async (messages) => {
      deviceWrites.push(JSON.stringify(messages));
      return put(messages);
    };
  });
  afterAll(async () => {
    socket?.close();
    await device?.client.stop();
    await s?.stopAll();
  });

  it('no path gives zhang.san a clear value; the admin gets every one', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(sample, async (smp) => {
        const k = ++n;
        const text = smp.parts.map(([w, p]) => `${w}${p.clear}`).join(' ');
        const subject = smp.subjectPii ? `Re: 关于 ${smp.subjectPii.clear}` : undefined;
        const name = smp.nameIsNumber ? smp.identity.pii.clear : `客户 Customer ${k}`;
        const clear: string[] = [smp.identity.pii.clear, ...smp.parts.map(([, p]) => p.clear), ...(smp.subjectPii ? [smp.subjectPii.clear] : []), smp.attributePii.clear];
        const framesBefore = socketFrames.length;
        const posted = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, {
          externalId: `pii-${dialect}-${k}-${Date.now()}`, from: { identifier: smp.identity.channelId, name }, text, ...(subject ? { subject } : {}),
        });
        expect(posted.status).toBeLessThan(300);
        const convId: string = posted.body.conversationId ?? posted.body.conversation?.id ?? posted.body.message?.conversationId;
        expect(convId).toBeTruthy();
        // A contact attribute with personal data, set by the admin (a fact pushed to zhang too).
        const contactId: string = (await admin('GET', `/api/v1/conversations/${convId}`)).body.contactId;
        const attr = await admin('POST', '/api/v1/commands', { commands: [{ type: 'update_contact', id: s.workspace.ids.next(), deviceTime: Date.now(), contactId, attributes: { [`note${k}`]: `地址/address ${smp.attributePii.clear}` } }] });
        expect(attr.status, JSON.stringify(attr.body)).toBeLessThan(300);
        expect(JSON.stringify((await admin('GET', `/api/v1/contacts/${contactId}`)).body)).toContain(smp.attributePii.clear);

        // Every path zhang.san has.
        const seen: string[] = [];
        const pull = await zhang('POST', '/api/v1/sync/pull', { checkpoint: 0, limit: 1000 });
        seen.push(JSON.stringify(pull.body));
        expect(pull.body.messages.some((m: { conversationId: string }) => m.conversationId === convId)).toBe(true);
        const list = await zhang('GET', '/api/v1/conversations?limit=200');
        seen.push(JSON.stringify(list.body));
        const conv = await zhang('GET', `/api/v1/conversations/${convId}`);
        expect(conv.status).toBe(200);
        seen.push(JSON.stringify(conv.body));
        const msgs = await zhang('GET', `/api/v1/conversations/${convId}/messages?limit=50`);
        seen.push(JSON.stringify(msgs.body));
        const contact = await zhang('GET', `/api/v1/contacts/${conv.body.contactId}`);
        expect(contact.status).toBe(200);
        seen.push(JSON.stringify(contact.body));
        // A reply's answer (the message as stored) and the patched conversation.
        const reply = await zhang('POST', `/api/v1/conversations/${convId}/messages`, { kind: 'note', text: 'checking 查一下' }, { 'idempotency-key': `note-${dialect}-${k}` });
        seen.push(JSON.stringify(reply.body));
        const patched = await zhang('PATCH', `/api/v1/conversations/${convId}`, { priority: 'high' });
        seen.push(JSON.stringify(patched.body));
        // [trust] Server search (the customer across channels), reply suggestions, and the exports an
        // agent may try: masked when answered, refused otherwise (never clear).
        // (searched by the clear name: the server finds the contact, the answer stays masked)
        const found = await zhang('GET', `/api/v1/contacts?q=${encodeURIComponent(name)}`);
        expect(found.status).toBe(200);
        seen.push(JSON.stringify(found.body));
        const suggestions = await zhang('GET', `/api/v1/conversations/${convId}/suggestions`);
        seen.push(JSON.stringify(suggestions.body));
        // The history search, asked for a clear value itself and for the name: hits are masked.
        for (const q of [smp.parts[0]![1].clear, name]) {
          const hits = await zhang('GET', `/api/v1/search?q=${encodeURIComponent(q)}`);
          expect(hits.status).toBe(200);
          seen.push(JSON.stringify(hits.body));
        }
        for (const path of [`/api/v1/contacts/${conv.body.contactId}/timeline`, `/api/v1/conversations/${convId}/summary`]) {
          const r = await zhang('GET', path);
          expect(r.status, path).toBe(200);
          seen.push(JSON.stringify(r.body));
        }
        for (const path of [`/api/v1/contacts/${conv.body.contactId}/export`, '/api/v1/reports/overview', '/api/v1/reports/live']) {
          const r = await zhang('GET', path);
          if (r.status === 200) seen.push(JSON.stringify(r.body));
          else expect(r.status, path).toBe(403);
        }
        // Search runs on the device over what it stores; what the device stores must be masked.
        await eventually(() => deviceWrites.some((w) => w.includes(convId)), 'the device pulled the conversation');
        await eventually(() => socketFrames.length > framesBefore, 'a socket push');
        await eventually(() => socketFrames.slice(framesBefore).some((f) => f.startsWith('{"t":"facts"') && f.includes(contactId)), 'pushed facts of the contact');
        seen.push(...deviceWrites, ...socketFrames);
        // Forbidden paths stay forbidden: the audit export and reveal.
        expect((await zhang('GET', '/api/v1/audit-events')).status).toBe(403);
        expect((await zhang('POST', `/api/v1/contacts/${conv.body.contactId}/reveal`, { field: 'identity:0', reason: 'customer asked' })).status).toBe(403);

        const all = seen.join('\n');
        for (const c of clear) expect(all, `clear ${c} reached zhang.san`).not.toContain(c);
        // Masked, not removed: the masked forms are there.
        expect(all).toContain('****');

        // The admin (pii.view) receives every clear value.
        const adminSeen = [
          JSON.stringify((await admin('GET', `/api/v1/conversations/${convId}/messages?limit=50`)).body),
          JSON.stringify((await admin('GET', `/api/v1/contacts/${conv.body.contactId}`)).body),
          JSON.stringify((await admin('GET', `/api/v1/conversations/${convId}`)).body),
          JSON.stringify((await admin('GET', `/api/v1/search?q=${encodeURIComponent(smp.parts[0]![1].clear)}`)).body),
        ].join('\n');
        for (const c of clear) expect(adminSeen).toContain(c);
      }),
      { numRuns: dialect === 'sqlite' ? 12 : 6 },
    );
  });
});
