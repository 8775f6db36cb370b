// The IVR's queue reaches an agent in Chromium: a real sync server (with the demo workspace), Debian's
// Kamailio with rtpengine (WebRTC <-> plain RTP), SIPp as the caller with the test's own RTP socket,
// and Alice's phone as a minimal JsSIP page in headless Chromium (fake media devices). The caller
// hears the IVR, presses 2 (Support), waits in the queue; Alice is online (her sync socket) and her
// JsSIP phone answers; audio flows both ways through the IVR's bridge; Alice hangs up; the call is
// recorded as answered by her.
import http from 'node:http';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { PROTOCOL_VERSION } from '@goutong/core';
import { CHROMIUM_ARGS } from '../../bench/lib/chromium.mjs';
import { apiAs, startTestServer, type TestServer } from './server';
import { freePort } from '../peers/peers';
import { startKamailio, startRtpengine, startSipp, missingVoicePeers } from '../../../sync-server/test/voice/sipPeers';
import { TestPhone } from '../../../sync-server/test/voice/testPhone';
import { decodeG711, rms } from '../../../sync-server/src/voice/audio';

const MEDIA_ARGS = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required'];

let server: TestServer;
let kamailio: Awaited<ReturnType<typeof startKamailio>>;
let rtpengine: Awaited<ReturnType<typeof startRtpengine>>;
let browser: Browser;
let pageServer: http.Server;
let pageUrl: string;

/** JsSIP (CommonJS) bundled for the page with the project's bundler. */
async function jssipBundle(): Promise<string> {
  const entry = createRequire(import.meta.url).resolve('jssip');
  const out = await build({
    configFile: false,
    logLevel: 'silent',
    build: { write: false, minify: false, lib: { entry, name: 'JsSIP', formats: ['iife'], fileName: 'jssip' } },
  });
  const outputs = Array.isArray(out) ? out : [out];
  const chunk = outputs.flatMap((o) => ('output' in o ? o.output : [])).find((c) => c.type === 'chunk');
  if (!chunk || chunk.type !== 'chunk') throw new Error('jssip did not bundle');
  return chunk.code;
}

/** Alice's phone: JsSIP registers as `user`, answers every call with the (fake) microphone, and keeps the state for the test. */
const PHONE_PAGE = `<!doctype html><meta charset="utf-8"><title>agent phone</title><script src="/jssip.js"></script><script>
window.phone = (wsUrl, user, syncUrl, token, protocol) => {
  window.state = { registered: false, online: false, incoming: 0, from: null, confirmed: false, ended: false, failed: null };
  // the agent's device: her sync socket makes her online for routing
  const sync = new WebSocket(syncUrl);
  sync.onopen = () => sync.send(JSON.stringify({ t: 'auth', token, v: protocol }));
  sync.onmessage = (m) => { if (typeof m.data === 'string' && JSON.parse(m.data).t === 'ready') state.online = true; };
  const ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(wsUrl)], uri: 'sip:' + user + '@lab.test', register: true, session_timers: false });
  ua.on('registered', () => { state.registered = true; });
  ua.on('newRTCSession', (e) => {
    if (e.originator !== 'remote') return;
    const s = e.session;
    window.session = s;
    state.incoming++;
    state.from = s.remote_identity.uri.user;
    s.on('confirmed', () => { state.confirmed = true; });
    s.on('ended', () => { state.ended = true; });
    s.on('failed', (x) => { state.failed = x.cause; });
    s.answer({ mediaConstraints: { audio: true, video: false } });
  });
  ua.start();
};
window.inboundBytes = async () => {
  let n = 0;
  if (!window.session || !window.session.connection) return 0;
  (await window.session.connection.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.bytesReceived || 0; });
  return n;
};
</script>`;

const missing = missingVoicePeers();
if (missing) throw new Error(missing);

beforeAll(async () => {
  const js = await jssipBundle();
  pageServer = http.createServer((req, res) => {
    if (req.url === '/jssip.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(PHONE_PAGE);
  });
  await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', () => r()));
  pageUrl = `http://127.0.0.1:${(pageServer.address() as { port: number }).port}/`;
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
  pageServer?.close();
});

describe('IVR queue to an agent in Chromium (JsSIP) through Kamailio and rtpengine', () => {
  it('the caller presses 2, waits in the Support queue, and Alice answers in the browser; both hear each other', async () => {
    const admin = await apiAs(server.url, 'admin@demo.goutong');
    const teams = await admin.call<{ items: Array<{ id: string; name: string }> }>('GET', '/api/v1/teams');
    const support = teams.items.find((t) => t.name === 'Support')!.id;
    const inbox = await admin.call<{ id: string }>('POST', '/api/v1/inboxes', {
      name: 'IVR hotline', channel: 'voice', provider: 'sip', teamIds: [support],
      config: {
        wsUrl: kamailio.wsUrl, domain: 'lab.test', auth: 'none',
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

    // Alice's phone registers over WebSocket and her device is online
    const context = await browser.newContext();
    await context.grantPermissions(['microphone'], { origin: pageUrl.replace(/\/$/, '') });
    const page: Page = await context.newPage();
    page.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
    await page.goto(pageUrl);
    const login = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'alice@demo.goutong', password: 'goutong-demo' }) });
    const { accessToken } = (await login.json()) as { accessToken: string };
    await page.evaluate(([ws, sync, token, v]) => (window as unknown as { phone: (...a: unknown[]) => void }).phone(ws, '1002', sync, token, v), [kamailio.wsUrl, `${server.url.replace('http', 'ws')}/sync`, accessToken, PROTOCOL_VERSION] as const);
    const state = () => page.evaluate(() => (window as unknown as { state: Record<string, unknown> }).state);
    await expect.poll(async () => (await state()).registered && (await state()).online, { timeout: 20_000 }).toBe(true);

    // the caller: SIPp through Kamailio, the test's RTP socket as its media
    const phone = new TestPhone();
    const rtpPort = await phone.open();
    const sipp = await startSipp(kamailio.sipPort, 'ivr-caller.xml', 'ivr', { rtp_port: String(rtpPort), caller: '13800138000' }, 120_000);
    try {
      await phone.waitPackets(20, 30_000);
      expect(rms(decodeG711('PCMU', Buffer.concat(phone.packets.map((p) => p.payload))))).toBeGreaterThan(300); // the greeting
      await phone.dtmf('2');
      await expect.poll(async () => (await state()).confirmed, { timeout: 30_000 }).toBe(true);
      expect((await state()).from).toBe('13800138000');

      // the caller's voice reaches the browser (RTP -> IVR bridge -> rtpengine -> SRTP)
      const tone = new Int16Array(8000 * 2).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / 8000)));
      await phone.talk(tone);
      await expect.poll(() => page.evaluate(() => (window as unknown as { inboundBytes: () => Promise<number> }).inboundBytes()), { timeout: 15_000 }).toBeGreaterThan(2000);
      // the browser's (fake) microphone reaches the caller
      const before = phone.packets.length;
      await expect.poll(() => phone.packets.length, { timeout: 15_000 }).toBeGreaterThan(before + 50);
      const fromAgent = decodeG711('PCMU', Buffer.concat(phone.packets.slice(before).map((p) => p.payload)));
      expect(rms(fromAgent)).toBeGreaterThan(100);

      // Alice hangs up: the IVR ends the caller's call too
      await page.evaluate(() => (window as unknown as { session: { terminate(): void } }).session.terminate());
      const res = await sipp.done;
      expect(res.code, res.output).toBe(0);
    } finally {
      phone.close();
      await sipp.stop();
      await context.close();
    }
    await expect
      .poll(async () => {
        const convs = await admin.call<{ items: Array<{ id: string; inboxId: string }> }>('GET', `/api/v1/conversations?inboxId=${inbox.id}`).catch(() => ({ items: [] }));
        for (const c of convs.items) {
          const msgs = await admin.call<{ items: Array<{ kind: string; meta: Record<string, unknown> }> }>('GET', `/api/v1/conversations/${c.id}/messages`);
          const m = msgs.items.find((x) => x.kind === 'call');
          if (m) return m.meta['call'];
        }
        return null;
      }, { timeout: 20_000 })
      .toMatchObject({ direction: 'in', outcome: 'answered' });
  }, 240_000);
});
