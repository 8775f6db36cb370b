// The IVR's queue reaches an agent in her workspace in Chromium: a real sync server (with the demo
// workspace), Debian's Kamailio with rtpengine (WebRTC <-> plain RTP), SIPp as the caller with the
// test's own RTP socket, and Alice signed in to the desktop app in headless Chromium (fake media
// devices), her softphone available. The caller hears the IVR, presses 2 (Support), waits in the
// queue; Alice's softphone rings and she answers; audio flows both ways through the IVR's bridge;
// Alice hangs up. The server is the one writer of a queue call (the ACD's INVITE carries
// X-Goutong-Queue): the conversation has exactly one call message, the server's, answered by Alice,
// with the server's recording of the bridged call (the inbox records calls, yet the softphone neither
// logs nor records it), and the message shows "Answered by Alice".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS } from '../../bench/lib/chromium.mjs';
import { inboundAudio, MEDIA_ARGS, TRACK_PEERS } from './media';
import { apiAs, startTestServer, type TestServer } from './server';
import { conversationList, newAgentPage, openConversation, screenshot, signIn } from './helpers';
import { freePort } from '../peers/peers';
import { startKamailio, startRtpengine, startSipp, missingVoicePeers } from '../../../sync-server/test/voice/sipPeers';
import { TestPhone } from '../../../sync-server/test/voice/testPhone';
import { decodeG711, rms } from '../../../sync-server/src/voice/audio';


let server: TestServer;
let kamailio: Awaited<ReturnType<typeof startKamailio>>;
let rtpengine: Awaited<ReturnType<typeof startRtpengine>>;
let browser: Browser;



const missing = missingVoicePeers();
if (missing) throw new Error(missing);

beforeAll(async () => {
  rtpengine = await startRtpengine();
  [server, kamailio, browser] = await Promise.all([
    startTestServer(),
    startKamailio({ rtpengineNgPort: rtpengine.ngPort }),
    chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...MEDIA_ARGS], headless: true }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await kamailio?.stop();
  await rtpengine?.stop();
});

describe('IVR queue to an agent in her workspace in Chromium (JsSIP) through Kamailio and rtpengine', () => {
  it('the caller presses 2, waits in the Support queue, and Alice answers in her softphone; both hear each other; one call message, the server’s, answered by Alice', async () => {
    const admin = await apiAs(server.url, 'admin@demo.goutong');
    const teams = await admin.call<{ items: Array<{ id: string; name: string }> }>('GET', '/api/v1/teams');
    const support = teams.items.find((t) => t.name === 'Support')!.id;
    const inbox = await admin.call<{ id: string }>('POST', '/api/v1/inboxes', {
      name: 'IVR hotline', channel: 'voice', provider: 'sip', teamIds: [support],
      config: {
        // the inbox records calls: the server records the bridged queue call, the softphone does not
        wsUrl: kamailio.wsUrl, domain: 'lab.test', auth: 'none', recordCalls: true,
        agents: { 'alice@demo.goutong': '1002' },
        ivr: {
          enabled: true, sipPort: await freePort('tcp+udp'), registrar: `127.0.0.1:${kamailio.sipPort}`,
          inHours: { greeting: 'Welcome.', prompt: 'Press two for support.', options: { '2': { type: 'queue', teamId: support } } },
          inputTimeoutSeconds: 8,
          queue: { maxWaitSeconds: 90, ringTimeoutSeconds: 20, announceEverySeconds: 0 },
        },
        transcription: { provider: 'none' },
      },
    });
    await expect.poll(async () => (await admin.call<{ items: Array<{ inboxId: string; registered: boolean }> }>('GET', '/api/v1/voice/ivr')).items.some((e) => e.inboxId === inbox.id && e.registered), { timeout: 20_000 }).toBe(true);

    // Alice signs in; her softphone registers over WebSocket; her workspace makes her online
    const { context, page } = await newAgentPage(browser);
    await context.grantPermissions(['microphone'], { origin: server.url });
    await context.addInitScript(TRACK_PEERS);
    await signIn(page, server.url, 'alice@demo.goutong');
    const sw = page.getByRole('switch', { name: 'Available for calls' });
    if ((await sw.getAttribute('aria-checked')) !== 'true') await sw.click();
    await expect.poll(() => page.getByRole('status', { name: 'Phone status' }).getAttribute('data-status'), { timeout: 20_000 }).toBe('registered');

    // the caller: SIPp through Kamailio, the test's RTP socket as its media
    const phone = new TestPhone();
    const rtpPort = await phone.open();
    const sipp = await startSipp(kamailio.sipPort, 'ivr-caller.xml', 'ivr', { rtp_port: String(rtpPort), caller: '13800138000' }, 120_000);
    try {
      await phone.waitPackets(20, 30_000);
      expect(rms(decodeG711('PCMU', Buffer.concat(phone.packets.map((p) => p.payload))))).toBeGreaterThan(300); // the greeting
      await phone.dtmf('2');
      const ringing = page.getByRole('dialog', { name: 'Incoming call', exact: true });
      await ringing.waitFor({ timeout: 30_000 });
      await ringing.getByRole('button', { name: 'Answer' }).click();
      const call = page.getByRole('dialog', { name: 'Call', exact: true });
      await expect.poll(() => call.getAttribute('data-state'), { timeout: 15_000 }).toBe('active');

      // the caller's voice reaches the browser (RTP -> IVR bridge -> rtpengine -> SRTP)
      const b0 = await inboundAudio(page);
      const tone = new Int16Array(8000 * 2).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / 8000)));
      await phone.talk(tone);
      await expect.poll(async () => (await inboundAudio(page)) - b0, { timeout: 15_000 }).toBeGreaterThan(2000);
      // the browser's (fake) microphone reaches the caller
      const before = phone.packets.length;
      await expect.poll(() => phone.packets.length, { timeout: 15_000 }).toBeGreaterThan(before + 50);
      const fromAgent = decodeG711('PCMU', Buffer.concat(phone.packets.slice(before).map((p) => p.payload)));
      expect(rms(fromAgent)).toBeGreaterThan(100);
      // a queue call: the softphone does not record it (the server does)
      await expect(call.locator('.rec').count()).resolves.toBe(0);

      // Alice hangs up: the IVR ends the caller's call too
      await call.getByRole('button', { name: 'Hang up' }).click();
      await page.getByTestId('call-summary').filter({ hasText: /answered/ }).waitFor({ timeout: 15_000 });
      const res = await sipp.done;
      expect(res.code, res.output).toBe(0);
    } finally {
      phone.close();
      await sipp.stop();
    }

    type Msg = { id: string; kind: string; attachments: Array<{ mime: string; size: number }>; meta: Record<string, unknown> };
    const callMessages = async (): Promise<{ conversationId: string; calls: Msg[] } | null> => {
      const convs = await admin.call<{ items: Array<{ id: string }> }>('GET', `/api/v1/conversations?inboxId=${inbox.id}`).catch(() => ({ items: [] }));
      for (const c of convs.items) {
        const msgs = await admin.call<{ items: Msg[] }>('GET', `/api/v1/conversations/${c.id}/messages`);
        const calls = msgs.items.filter((x) => x.kind === 'call');
        if (calls.length) return { conversationId: c.id, calls };
      }
      return null;
    };
    await expect.poll(async () => (await callMessages())?.calls.length ?? 0, { timeout: 20_000 }).toBe(1);
    // the softphone's outbox would have sent its log_call by now: still exactly one call message
    await page.waitForTimeout(3000);
    const { calls } = (await callMessages())!;
    expect(calls).toHaveLength(1);
    const alice = (await admin.call<{ items: Array<{ id: string; email: string }> }>('GET', '/api/v1/agents')).items.find((a) => a.email === 'alice@demo.goutong')!;
    expect(calls[0]!.meta['call']).toMatchObject({ direction: 'in', outcome: 'answered', agentId: alice.id });
    expect(calls[0]!.meta['ivr']).toMatchObject({ queue: { result: 'answered', agentId: alice.id } });
    expect(calls[0]!.attachments).toEqual([expect.objectContaining({ mime: 'audio/wav' })]);
    expect(calls[0]!.attachments[0]!.size).toBeGreaterThan(8000);

    // on Alice's screen: the conversation's one call message says who answered
    await page.getByRole('tab', { name: /All/ }).click();
    await conversationList(page).getByRole('option', { name: /Caller/ }).first().waitFor({ timeout: 20_000 });
    await openConversation(page, 'Caller');
    const msg = page.locator('article.msg', { hasText: /Incoming call · answered/ });
    await msg.first().waitFor({ timeout: 20_000 });
    expect(await msg.count()).toBe(1);
    await expect(msg.getByTestId('call-answered-by').textContent()).resolves.toBe('Answered by Alice Chen');
    await screenshot(page, 'ivr-queue-answered-by-en');
    await context.close();
  }, 240_000);
});
