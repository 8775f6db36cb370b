// The softphone end to end: a real sync server, Debian's Kamailio with SIP over WebSocket on
// loopback, two agents' workspaces in headless Chromium with fake media devices, and SIPp as a
// customer's phone. Agent A (张三, 1001) calls agent B (Alice, 1002) from a conversation through
// Kamailio; B answers; audio flows both ways; DTMF over SIP INFO reaches B and RFC 2833 tones go
// out in A's RTP; hold and resume reach B; A hangs up; the call message (outcome, duration, cost,
// recording) shows on the conversation on both screens. Then SIPp calls B and cancels while it
// rings: B's softphone logs a missed call, which shows in the inbox as a waiting conversation.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS } from '../../bench/lib/chromium.mjs';
import { inboundAudio, MEDIA_ARGS, TRACK_PEERS } from './media';
import { apiAs, startTestServer, type TestServer } from './server';
import { choose, conversationList, newAgentPage, openConversation, screenshot, signIn } from './helpers';
import { freePort, runSipp, startKamailio, type Kamailio } from '../peers/peers';

let server: TestServer;
let kamailio: Kamailio;
let browser: Browser;


beforeAll(async () => {
  [server, kamailio, browser] = await Promise.all([
    startTestServer(),
    startKamailio(),
    chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...MEDIA_ARGS], headless: true }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await kamailio?.stop();
  await server?.stop();
});


async function phonePage(origin: string): Promise<{ context: BrowserContext; page: Page }> {
  const { context, page } = await newAgentPage(browser);
  await context.grantPermissions(['microphone'], { origin });
  await context.addInitScript(TRACK_PEERS);
  page.on('console', (m) => {
    if (m.type() === 'error') process.stderr.write(`[console] ${m.text()}\n`);
  });
  return { context, page };
}


const phoneStatus = (page: Page) => page.getByRole('status', { name: 'Phone status' });
const callDialog = (page: Page, name: 'Incoming call' | 'Call') => page.getByRole('dialog', { name, exact: true });

async function goAvailable(page: Page): Promise<void> {
  const sw = page.getByRole('switch', { name: 'Available for calls' });
  if ((await sw.getAttribute('aria-checked')) !== 'true') await sw.click();
}

describe('softphone through Kamailio', () => {
  let admin: Awaited<ReturnType<typeof apiAs>>;
  let inbox: { id: string; generatedSecrets: { voicemailToken: string } };
  let conversationId: string;
  /** Nothing listens there: the SIP server is unreachable. */
  let deadUrl: string;

  beforeAll(async () => {
    deadUrl = `ws://127.0.0.1:${await freePort()}`;
    admin = await apiAs(server.url, 'admin@demo.goutong');
    const teams = await admin.call<{ items: Array<{ id: string; name: string }> }>('GET', '/api/v1/teams');
    const support = teams.items.find((t) => t.name === 'Support')!.id;
    // The voice inbox: first with a SIP server that is not there, to see the error.
    inbox = await admin.call('POST', '/api/v1/inboxes', {
      name: 'Hotline 热线',
      channel: 'voice',
      provider: 'sip',
      config: {
        wsUrl: deadUrl, domain: kamailio.domain, auth: 'none', pricePerMinute: 0.1, currency: 'CNY', recordCalls: true,
        agents: { 'zhang.san@demo.goutong': '1001', 'alice@demo.goutong': '1002', 'li.wei@demo.goutong': '1003' },
      },
      teamIds: [support],
    });
    // A conversation whose contact's phone is B's extension: a voicemail left from 1002.
    const vm = await fetch(`${server.url}/api/v1/inboxes/${inbox.id}/voicemail?from=1002&name=${encodeURIComponent('Alice desk phone')}&callId=vm-1&durationSeconds=7`, {
      method: 'POST',
      headers: { authorization: `Bearer ${inbox.generatedSecrets.voicemailToken}`, 'content-type': 'audio/wav' },
      body: Buffer.concat([Buffer.from('RIFF'), crypto.randomBytes(256)]),
    });
    expect(vm.status).toBe(201);
    conversationId = ((await vm.json()) as { conversationId: string }).conversationId;
  });

  it('A calls B from a conversation: answer, audio, DTMF, hold/resume, hang up; the call is logged once on both screens; a SIPp caller who hangs up while ringing is a missed call', async () => {
    const a = await phonePage(server.url);
    const b = await phonePage(server.url);
    try {
      await Promise.all([signIn(a.page, server.url, 'zhang.san@demo.goutong'), signIn(b.page, server.url, 'alice@demo.goutong')]);

      // Unreachable SIP server: a clear error, then the right URL and the line registers.
      await goAvailable(a.page);
      await expect.poll(() => phoneStatus(a.page).getAttribute('data-status'), { timeout: 15_000 }).toBe('unreachable');
      await a.page.getByRole('alert').filter({ hasText: `Cannot reach the SIP server ${deadUrl}` }).waitFor();
      await admin.call('PATCH', `/api/v1/inboxes/${inbox.id}`, { config: { wsUrl: kamailio.wsUrl } });
      await a.page.getByRole('switch', { name: 'Available for calls' }).click(); // away
      await goAvailable(a.page);
      await goAvailable(b.page);
      await expect.poll(() => phoneStatus(a.page).getAttribute('data-status'), { timeout: 15_000 }).toBe('registered');
      await expect.poll(() => phoneStatus(b.page).getAttribute('data-status'), { timeout: 15_000 }).toBe('registered');

      // A calls from the conversation header (click-to-call).
      await a.page.getByRole('tab', { name: /All/ }).click();
      await openConversation(a.page, 'Alice desk phone');
      await a.page.getByRole('toolbar', { name: 'Conversation actions' }).getByRole('button', { name: 'Call Alice desk phone (1002)' }).click();
      await callDialog(a.page, 'Call').waitFor();

      // B rings with the screen pop: a colleague's call about that conversation.
      const ringing = callDialog(b.page, 'Incoming call');
      await ringing.waitFor({ timeout: 15_000 });
      await ringing.getByText('Colleague: 张三 Zhang San').waitFor();
      await ringing.getByTestId('call-who').filter({ hasText: 'Alice desk phone' }).waitFor();
      await screenshot(b.page, 'phone-incoming-en');
      await ringing.getByRole('button', { name: 'Answer' }).click();
      const callA = callDialog(a.page, 'Call');
      const callB = callDialog(b.page, 'Call');
      await callA.and(a.page.locator('[data-state="active"]')).waitFor({ timeout: 15_000 });
      // A's softphone counts talk time from the answer it received.
      const answeredAt = Date.now();
      await expect.poll(() => callB.getAttribute('data-state'), { timeout: 15_000 }).toBe('active');
      // Answering opened the caller's conversation on B's screen.
      await b.page.getByRole('heading', { name: 'Alice desk phone', level: 2 }).waitFor();

      // Audio flows both ways: inbound RTP bytes grow.
      const [a0, b0] = [await inboundAudio(a.page), await inboundAudio(b.page)];
      await expect.poll(async () => (await inboundAudio(a.page)) - a0, { timeout: 10_000 }).toBeGreaterThan(2_000);
      await expect.poll(async () => (await inboundAudio(b.page)) - b0, { timeout: 10_000 }).toBeGreaterThan(2_000);

      // DTMF: SIP INFO arrives at B; RFC 2833 tones are played into A's RTP stream.
      await callA.getByRole('button', { name: 'Keypad' }).click();
      for (const k of ['1', '2', '#']) await callA.getByRole('button', { name: `Send ${k}` }).click();
      await callB.getByTestId('dtmf-received').filter({ hasText: 'Received: 12#' }).waitFor({ timeout: 10_000 });
      await a.page.evaluate(() => {
        const g = globalThis as unknown as { __pcs: RTCPeerConnection[]; __tones: string[] };
        const pc = g.__pcs.filter((p) => p.connectionState !== 'closed').at(-1)!;
        const sender = pc.getSenders().find((s) => s.track?.kind === 'audio' && s.dtmf);
        sender?.dtmf?.addEventListener('tonechange', (e) => {
          if (e.tone) g.__tones.push(e.tone);
        });
      });
      await choose(callA, 'DTMF method', 'RFC 2833 (in audio)');
      await callA.getByRole('button', { name: 'Send 5' }).click();
      await expect.poll(() => a.page.evaluate(() => (globalThis as unknown as { __tones: string[] }).__tones.join('')), { timeout: 10_000 }).toBe('5');
      await callA.getByTestId('dtmf-sent').filter({ hasText: 'Sent: 12#5' }).waitFor();

      // Hold and resume reach B.
      await callA.getByRole('button', { name: 'Hold' }).click();
      await callB.getByTestId('remote-held').waitFor({ timeout: 10_000 });
      await callA.getByRole('button', { name: 'Resume', pressed: true }).waitFor();
      await screenshot(a.page, 'phone-on-hold-en');
      await callA.getByRole('button', { name: 'Resume' }).click();
      await callB.getByTestId('remote-held').waitFor({ state: 'detached', timeout: 10_000 });
      const b1 = await inboundAudio(b.page);
      await expect.poll(async () => (await inboundAudio(b.page)) - b1, { timeout: 10_000 }).toBeGreaterThan(1_000);

      // A hangs up.
      await callA.getByRole('button', { name: 'Hang up' }).click();
      const hungUpAt = Date.now();
      const talk = Math.round((hungUpAt - answeredAt) / 1000);
      await callB.waitFor({ state: 'detached', timeout: 10_000 });
      await a.page.getByTestId('call-summary').filter({ hasText: /answered/ }).waitFor();

      // One call message, on the conversation, on both screens: outgoing, answered, the talk time.
      const durationOn = async (page: Page) => {
        const msg = page.locator('article.msg', { hasText: /Outgoing call · answered · \d+:\d\d/ });
        await msg.first().waitFor({ timeout: 30_000 });
        const text = (await msg.first().textContent()) ?? '';
        const [, m, s] = /answered · (\d+):(\d\d)/.exec(text)!;
        return { count: await msg.count(), seconds: Number(m) * 60 + Number(s) };
      };
      const [onA, onB] = await Promise.all([durationOn(a.page), durationOn(b.page)]);
      expect(onA.count).toBe(1);
      expect(onB.count).toBe(1);
      expect(onA.seconds).toBe(onB.seconds);
      expect(Math.abs(onA.seconds - talk)).toBeLessThanOrEqual(2);
      await screenshot(b.page, 'phone-call-logged-en');
      // The fact on the server: meta.call, the per-minute cost and the recording of both sides.
      const { items } = await admin.call<{ items: Array<{ kind: string; authorId: string; attachments: Array<{ name: string; mime: string; size: number }>; meta: { call?: { outcome: string; durationSeconds: number; direction: string }; cost?: { amount: number; currency: string } } }> }>(
        'GET',
        `/api/v1/conversations/${conversationId}/messages`,
      );
      const calls = items.filter((m) => m.kind === 'call');
      expect(calls).toHaveLength(1);
      expect(calls[0]!.meta.call).toMatchObject({ direction: 'out', outcome: 'answered', durationSeconds: onA.seconds });
      expect(calls[0]!.meta.cost).toMatchObject({ currency: 'CNY', amount: Math.ceil(onA.seconds / 60) * 0.1 });
      expect(calls[0]!.attachments).toEqual([expect.objectContaining({ mime: expect.stringMatching(/^audio\//), size: expect.any(Number) })]);
      expect(calls[0]!.attachments[0]!.size).toBeGreaterThan(1_000);

      // A customer (SIPp, plain SIP over UDP) calls B and hangs up while it rings.
      const caller = '+8613800138000';
      const sipp = runSipp(kamailio, { scenario: 'uac-cancel.xml', service: '1002', vars: { caller }, pauseMs: 4_000, timeoutMs: 30_000 });
      const incoming = callDialog(b.page, 'Incoming call');
      await incoming.waitFor({ timeout: 15_000 });
      // Alice (agent role, no pii.view) sees the caller's number masked, never in clear (core callerIdFor).
      await incoming.getByText('+86138****8000').waitFor();
      await expect(incoming.getByText(caller).count()).resolves.toBe(0);
      await incoming.getByText('Unknown caller').waitFor();
      const r = await sipp;
      expect(r.code, r.output).toBe(0);
      await incoming.waitFor({ state: 'detached', timeout: 10_000 });
      await b.page.getByTestId('call-summary').filter({ hasText: 'missed' }).waitFor();
      // The missed call is a waiting conversation of a new contact in B's inbox, with the call message.
      await b.page.getByRole('tab', { name: /All/ }).click();
      await conversationList(b.page).getByRole('option', { name: /Customer/ }).first().waitFor({ timeout: 20_000 });
      await openConversation(b.page, 'Customer');
      await b.page.locator('article.msg', { hasText: /Incoming call · missed/ }).waitFor({ timeout: 20_000 });
      await screenshot(b.page, 'phone-missed-call-en');
      const convs = await admin.call<{ items: Array<{ contactName: string; channel: string; waitingSince: number | null; status: string; lastMessagePreview: string }> }>('GET', `/api/v1/conversations?inboxId=${inbox.id}`);
      expect(convs.items.find((c) => c.contactName === 'Customer')).toMatchObject({ channel: 'voice', status: 'open', waitingSince: expect.any(Number), lastMessagePreview: 'Inbound call · missed' });
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });
});

describe('softphone through Kamailio: blind transfer', () => {
  it('B transfers A’s call to C (REFER): A’s softphone calls C, C answers, audio flows; A logs both legs on the conversation', async () => {
    const admin = await apiAs(server.url, 'admin@demo.goutong');
    // The line points at Kamailio (the first scenario starts from a wrong URL).
    await admin.call('PATCH', `/api/v1/inboxes/${await admin.inboxId('Hotline 热线')}`, { config: { wsUrl: kamailio.wsUrl } });
    const a = await phonePage(server.url);
    const b = await phonePage(server.url);
    const c = await phonePage(server.url);
    try {
      await Promise.all([
        signIn(a.page, server.url, 'zhang.san@demo.goutong'),
        signIn(b.page, server.url, 'alice@demo.goutong'),
        signIn(c.page, server.url, 'li.wei@demo.goutong'),
      ]);
      for (const p of [a.page, b.page, c.page]) await goAvailable(p);
      for (const p of [a.page, b.page, c.page]) await expect.poll(() => phoneStatus(p).getAttribute('data-status'), { timeout: 15_000 }).toBe('registered');
      const before = (await admin.call<{ items: Array<{ id: string; contactName: string }> }>('GET', '/api/v1/conversations?limit=50')).items.find((x) => x.contactName === 'Alice desk phone')!;
      const countCalls = async () =>
        (await admin.call<{ items: Array<{ kind: string; meta: { call?: { outcome: string; to: string } } }> }>('GET', `/api/v1/conversations/${before.id}/messages`)).items.filter((m) => m.kind === 'call');
      const callsBefore = (await countCalls()).length;

      await a.page.getByRole('tab', { name: /All/ }).click();
      await openConversation(a.page, 'Alice desk phone');
      await a.page.getByRole('toolbar', { name: 'Conversation actions' }).getByRole('button', { name: 'Call Alice desk phone (1002)' }).click();
      const ringingB = callDialog(b.page, 'Incoming call');
      await ringingB.waitFor({ timeout: 15_000 });
      await ringingB.getByRole('button', { name: 'Answer' }).click();
      const callB = callDialog(b.page, 'Call');
      await expect.poll(() => callB.getAttribute('data-state'), { timeout: 15_000 }).toBe('active');

      // B transfers to C's extension and leaves the call.
      await callB.getByRole('button', { name: 'Transfer' }).click();
      await callB.getByLabel('Transfer to (extension or number)').fill('1003');
      await callB.getByRole('button', { name: 'Transfer' }).last().click();
      const ringingC = callDialog(c.page, 'Incoming call');
      await ringingC.waitFor({ timeout: 15_000 });
      // C's screen pop: the colleague (A) and the conversation the call is about.
      await ringingC.getByText('Colleague: 张三 Zhang San').waitFor();
      await ringingC.getByTestId('call-who').filter({ hasText: 'Alice desk phone' }).waitFor();
      await callB.waitFor({ state: 'detached', timeout: 15_000 });
      await ringingC.getByRole('button', { name: 'Answer' }).click();
      const callC = callDialog(c.page, 'Call');
      const callA = callDialog(a.page, 'Call');
      await expect.poll(() => callC.getAttribute('data-state'), { timeout: 15_000 }).toBe('active');
      await expect.poll(() => callA.getAttribute('data-state'), { timeout: 15_000 }).toBe('active');
      await callA.getByText('1003').first().waitFor();
      const c0 = await inboundAudio(c.page);
      await expect.poll(async () => (await inboundAudio(c.page)) - c0, { timeout: 10_000 }).toBeGreaterThan(2_000);
      await screenshot(a.page, 'phone-transferred-en');

      await callC.getByRole('button', { name: 'Hang up' }).click();
      await callA.waitFor({ state: 'detached', timeout: 10_000 });
      // A (the caller) logged both legs: to B, then to C after the transfer; B and C log nothing (a colleague's call).
      await expect.poll(async () => (await countCalls()).length, { timeout: 30_000 }).toBe(callsBefore + 2);
      const legs = (await countCalls()).slice(0, 2).map((m) => [m.meta.call?.to, m.meta.call?.outcome]);
      expect(legs.sort()).toEqual([
        ['1002', 'answered'],
        ['1003', 'answered'],
      ]);
    } finally {
      await a.context.close();
      await b.context.close();
      await c.context.close();
    }
  });
});
