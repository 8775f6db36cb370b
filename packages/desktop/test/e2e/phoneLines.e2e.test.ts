// The softphone's second line end to end, through Debian's Kamailio (plain proxy) with three
// agents' workspaces in headless Chromium (fake media devices): call waiting with hold and a
// conference of three mixed on the agent's client, attended transfer (REFER with Replaces), and a
// supervisor's listen/whisper on a live call.
//
// Who hears whom is checked by audio energy in RTP (inbound-rtp totalAudioEnergy): Alice (B), in
// the middle, has a silent microphone, so any sound that reaches one party from her client is the
// other party's voice she mixed in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS } from '../../bench/lib/chromium.mjs';
import { inboundAudio, MEDIA_ARGS } from './media';
import { apiAs, startTestServer, type TestServer } from './server';
import { DEMO_PASSWORD, choose, newAgentPage } from './helpers';
import { startKamailio, type Kamailio } from '../peers/peers';

let server: TestServer;
let kamailio: Kamailio;
let browser: Browser;


/** Keeps the page's peer connections (stats); `__silentMic` makes getUserMedia return silence. */
const INIT = `(() => {
  const Orig = window.RTCPeerConnection;
  if (!Orig || window.__pcs) return;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Orig { constructor(...a) { super(...a); window.__pcs.push(this); } };
  const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (c) => {
    const s = await gum(c);
    if (!window.__silentMic) return s;
    for (const t of s.getTracks()) t.stop();
    const ctx = new AudioContext();
    const dest = ctx.createMediaStreamDestination();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    gain.gain.value = 0;
    osc.connect(gain).connect(dest);
    osc.start();
    return dest.stream;
  };
})();`;

beforeAll(async () => {
  [server, kamailio, browser] = await Promise.all([
    startTestServer(),
    startKamailio(),
    chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...MEDIA_ARGS], headless: true }),
  ]);
  const admin = await apiAs(server.url, 'admin@demo.goutong');
  const teams = await admin.call<{ items: Array<{ id: string; name: string }> }>('GET', '/api/v1/teams');
  await admin.call('POST', '/api/v1/inboxes', {
    name: 'Lines 线路',
    channel: 'voice',
    provider: 'sip',
    config: { wsUrl: kamailio.wsUrl, domain: kamailio.domain, auth: 'none', agents: { 'zhang.san@demo.goutong': '1001', 'alice@demo.goutong': '1002', 'li.wei@demo.goutong': '1003' } },
    teamIds: [teams.items.find((t) => t.name === 'Support')!.id],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await kamailio?.stop();
  await server?.stop();
});

async function phonePage(email: string, o: { silent?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const { context, page } = await newAgentPage(browser);
  // Three Chromium pages on a shared machine: navigation and actions may be slow.
  page.setDefaultNavigationTimeout(120_000);
  page.setDefaultTimeout(60_000);
  await context.grantPermissions(['microphone'], { origin: server.url });
  await context.addInitScript(INIT);
  if (o.silent) await context.addInitScript('window.__silentMic = true;');
  page.on('console', (m) => {
    if (m.type() === 'error') process.stderr.write(`[console ${email}] ${m.text()}\n`);
  });
  // helpers' signIn, with room for three pages signing in at once on a busy machine
  await page.goto(`${server.url}/app/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('status', { name: 'Connectivity' }).and(page.locator('[data-status="online"]')).waitFor({ timeout: 120_000 });
  step(`${email} signed in`);
  const sw = page.getByRole('switch', { name: 'Available for calls' });
  if ((await sw.getAttribute('aria-checked')) !== 'true') await sw.click();
  await expect.poll(() => page.getByRole('status', { name: 'Phone status' }).getAttribute('data-status'), { timeout: 20_000 }).toBe('registered');
  return { context, page };
}


/** Energy of what the agent's speaker plays (the phone's audio element), over a short window. */
function playedLevel(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const el = document.getElementById('gt-phone-audio') as HTMLAudioElement | null;
    const s = el?.srcObject as MediaStream | null;
    if (!s || s.getAudioTracks().length === 0) return 0;
    const ctx = new AudioContext();
    const an = ctx.createAnalyser();
    ctx.createMediaStreamSource(s).connect(an);
    const buf = new Float32Array(an.fftSize);
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      an.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      peak = Math.max(peak, Math.sqrt(sum / buf.length));
    }
    await ctx.close();
    return peak;
  });
}

/** Progress on stderr (where a slow run is). */
const step = (what: string) => process.stderr.write(`[phoneLines] ${what}\n`);

const dialog = (page: Page, name: 'Incoming call' | 'Call') => page.getByRole('dialog', { name, exact: true });

async function call(from: Page, to: Page, number: string): Promise<void> {
  await from.getByRole('button', { name: 'Phone', exact: true }).click();
  await from.getByLabel('Number to call').fill(number);
  await from.getByRole('region', { name: 'Phone settings and dial pad' }).getByRole('button', { name: 'Call', exact: true }).click();
  await from.getByRole('button', { name: 'Phone', exact: true }).click();
  const ringing = dialog(to, 'Incoming call');
  await ringing.waitFor({ timeout: 20_000 });
  await ringing.getByRole('button', { name: 'Answer' }).click();
  await expect.poll(() => dialog(to, 'Call').getAttribute('data-state'), { timeout: 20_000 }).toBe('active');
  await expect.poll(() => dialog(from, 'Call').getAttribute('data-state'), { timeout: 20_000 }).toBe('active');
}

/** Audio RTP bytes received over the page's open peer connections grow by more than `min`. */
async function receives(page: Page, min = 2_000): Promise<void> {
  const bytes = () =>
    page.evaluate(async () => {
      let total = 0;
      for (const pc of (globalThis as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
        if (pc.connectionState === 'closed') continue;
        (await pc.getStats()).forEach((r: { type: string; kind?: string; bytesReceived?: number }) => {
          if (r.type === 'inbound-rtp' && r.kind === 'audio') total += r.bytesReceived ?? 0;
        });
      }
      return total;
    });
  const b0 = await bytes();
  await expect.poll(async () => (await bytes()) - b0, { timeout: 30_000 }).toBeGreaterThan(min);
}

/** Energy that reaches `page` grows by more than `min` (polled, no fixed wait). */
async function hears(page: Page, min = 0.01): Promise<void> {
  const e0 = await inboundAudio(page, 'totalAudioEnergy');
  await expect.poll(async () => (await inboundAudio(page, 'totalAudioEnergy')) - e0, { timeout: 20_000 }).toBeGreaterThan(min);
}

describe('softphone lines through Kamailio', () => {
  it('call waiting, hold and a conference of three: each remote hears the other through the agent’s mix', async () => {
    const [a, b, c] = await Promise.all([phonePage('zhang.san@demo.goutong'), phonePage('alice@demo.goutong', { silent: true }), phonePage('li.wei@demo.goutong')]);
    try {
      await call(a.page, b.page, '1002');
      step('A talks with B');
      // Alice's microphone is silent: Zhang San hears (next to) nothing from her.
      const callB = dialog(b.page, 'Call');
      // Li Wei calls Alice while she talks: call waiting on her other line.
      await c.page.getByRole('button', { name: 'Phone', exact: true }).click();
      await c.page.getByLabel('Number to call').fill('1002');
      await c.page.getByRole('region', { name: 'Phone settings and dial pad' }).getByRole('button', { name: 'Call', exact: true }).click();
      await c.page.getByRole('button', { name: 'Phone', exact: true }).click();
      const line2 = callB.getByRole('group', { name: 'Other line' });
      await line2.getByText(/Call waiting/).waitFor({ timeout: 20_000 });
      await line2.getByRole('button', { name: 'Hold and answer' }).click();
      step('B answered the waiting call');
      await expect.poll(() => dialog(c.page, 'Call').getAttribute('data-state'), { timeout: 20_000 }).toBe('active');
      // Zhang San waits on hold; Alice talks with Li Wei.
      await line2.getByText(/On hold/).waitFor({ timeout: 10_000 });
      await dialog(a.page, 'Call').getByTestId('remote-held').waitFor({ timeout: 10_000 });
      // Switch back and forth: the held call comes back.
      await line2.getByRole('button', { name: 'Switch' }).click();
      await dialog(c.page, 'Call').getByTestId('remote-held').waitFor({ timeout: 10_000 });
      await dialog(a.page, 'Call').getByTestId('remote-held').waitFor({ state: 'detached', timeout: 10_000 });

      // Conference: both live; Zhang San's voice reaches Li Wei and back, through Alice's silent client.
      await line2.getByRole('button', { name: 'Conference' }).click();
      step('conference');
      await line2.getByTestId('conference').waitFor();
      await dialog(c.page, 'Call').getByTestId('remote-held').waitFor({ state: 'detached', timeout: 10_000 });
      await Promise.all([hears(a.page), hears(c.page)]);
      // Alice hears both (her speaker plays the mix).
      await expect.poll(() => playedLevel(b.page), { timeout: 20_000 }).toBeGreaterThan(0.005);

      await callB.getByRole('button', { name: 'Hang up' }).click();
      await dialog(a.page, 'Call').waitFor({ state: 'detached', timeout: 15_000 });
      await dialog(c.page, 'Call').waitFor({ state: 'detached', timeout: 15_000 });
      await callB.waitFor({ state: 'detached', timeout: 15_000 });
    } finally {
      await Promise.all([a.context.close(), b.context.close(), c.context.close()]);
    }
  }, 300_000);

  it('attended transfer: Alice consults Li Wei with Zhang San on hold, then completes; Zhang San and Li Wei talk', async () => {
    const [a, b, c] = await Promise.all([phonePage('zhang.san@demo.goutong'), phonePage('alice@demo.goutong'), phonePage('li.wei@demo.goutong')]);
    try {
      await call(a.page, b.page, '1002');
      step('A talks with B');
      const callB = dialog(b.page, 'Call');
      await callB.getByRole('button', { name: 'Consult' }).click();
      await callB.getByLabel('Consult (extension or number)').fill('1003');
      await callB.getByRole('button', { name: 'Consult' }).last().click();
      const ringingC = dialog(c.page, 'Incoming call');
      await ringingC.waitFor({ timeout: 20_000 });
      await dialog(a.page, 'Call').getByTestId('remote-held').waitFor({ timeout: 10_000 });
      await ringingC.getByRole('button', { name: 'Answer' }).click();
      await expect.poll(() => dialog(c.page, 'Call').getAttribute('data-state'), { timeout: 20_000 }).toBe('active');
      const line2 = callB.getByRole('group', { name: 'Other line' });
      await line2.getByText(/waits on hold/).waitFor();
      await line2.getByRole('button', { name: 'Complete transfer' }).click();
      step('transfer completed');
      // Alice is out; Zhang San's softphone called Li Wei replacing her consultation.
      await callB.waitFor({ state: 'detached', timeout: 20_000 });
      const callA = dialog(a.page, 'Call');
      await expect.poll(() => callA.getAttribute('data-state'), { timeout: 20_000 }).toBe('active');
      await callA.getByText('1003').first().waitFor({ timeout: 20_000 });
      await dialog(c.page, 'Call').getByText('Colleague: 张三 Zhang San').waitFor({ timeout: 20_000 });
      // RTP flows both ways on the new call (received bytes grow).
      await Promise.all([receives(a.page), receives(c.page)]);
      await dialog(c.page, 'Call').getByRole('button', { name: 'Hang up' }).click();
      await callA.waitFor({ state: 'detached', timeout: 15_000 });
      // Alice's softphone logged Zhang San's call (a colleague's call is the colleague's to log), so the
      // transfer is in the log of the consultation she placed: an attended transfer to Zhang San.
      const admin = await apiAs(server.url, 'admin@demo.goutong');
      await expect
        .poll(async () => {
          const convs = await admin.call<{ items: Array<{ id: string }> }>('GET', '/api/v1/conversations?limit=100');
          for (const cv of convs.items) {
            const msgs = await admin.call<{ items: Array<{ kind: string; meta: { call?: { transferKind?: string; to?: string } } }> }>('GET', `/api/v1/conversations/${cv.id}/messages`);
            const hit = msgs.items.find((m) => m.kind === 'call' && m.meta.call?.transferKind === 'attended' && m.meta.call.to === '1003');
            if (hit) return hit.meta.call!.transferKind;
          }
          return null;
        }, { timeout: 30_000 })
        .toBe('attended');
    } finally {
      await Promise.all([a.context.close(), b.context.close(), c.context.close()]);
    }
  }, 300_000);

  it('supervisor listen and whisper: auto-answered with the server’s grant; the supervisor hears the caller, the caller never hears the supervisor', async () => {
    const [a, b, c] = await Promise.all([phonePage('zhang.san@demo.goutong'), phonePage('alice@demo.goutong', { silent: true }), phonePage('li.wei@demo.goutong')]);
    try {
      // An agent has no listen form (calls.monitor is a supervisor's permission).
      await a.page.getByRole('button', { name: 'Phone', exact: true }).click();
      await expect(a.page.getByTestId('monitor-form').count()).resolves.toBe(0);
      await a.page.getByRole('button', { name: 'Phone', exact: true }).click();
      await call(a.page, b.page, '1002');
      step('A talks with B');

      // Li Wei listens: Alice's softphone answers by itself and says so.
      await c.page.getByRole('button', { name: 'Phone', exact: true }).click();
      const form = c.page.getByTestId('monitor-form');
      await choose(form, 'Agent', 'Alice Chen');
      await form.getByRole('button', { name: 'Listen' }).click();
      step('listening');
      const callC = dialog(c.page, 'Call');
      await expect.poll(() => callC.getAttribute('data-state'), { timeout: 20_000 }).toBe('active');
      await callC.getByTestId('monitoring').filter({ hasText: 'Listening to' }).waitFor();
      const callB = dialog(b.page, 'Call');
      await callB.getByTestId('monitored').filter({ hasText: 'is listening' }).waitFor({ timeout: 20_000 });
      await expect(dialog(b.page, 'Incoming call').count()).resolves.toBe(0);
      // Zhang San's voice reaches Li Wei through Alice's (silent) client.
      await hears(c.page);
      await callC.getByRole('button', { name: 'Hang up' }).click();
      await callB.getByTestId('monitored').waitFor({ state: 'detached', timeout: 15_000 });

      // Whisper: Alice hears Li Wei; Zhang San does not (Alice is silent, so anything he got would be Li Wei).
      await c.page.getByRole('button', { name: 'Phone', exact: true }).click();
      await choose(form, 'Agent', 'Alice Chen');
      await form.getByRole('button', { name: 'Whisper' }).click();
      step('whispering');
      await callB.getByTestId('monitored').filter({ hasText: 'is whispering' }).waitFor({ timeout: 20_000 });
      await expect.poll(() => callC.getAttribute('data-state'), { timeout: 20_000 }).toBe('active');
      await expect.poll(() => playedLevel(b.page), { timeout: 20_000 }).toBeGreaterThan(0.005);
      // While Alice's mix demonstrably runs (Li Wei hears Zhang San through it), Zhang San receives silence.
      const [a0, c0] = [await inboundAudio(a.page, 'totalAudioEnergy'), await inboundAudio(c.page, 'totalAudioEnergy')];
      await expect.poll(async () => (await inboundAudio(c.page, 'totalAudioEnergy')) - c0, { timeout: 20_000 }).toBeGreaterThan(0.02);
      expect((await inboundAudio(a.page, 'totalAudioEnergy')) - a0).toBeLessThan(0.001);
      await dialog(a.page, 'Call').getByRole('button', { name: 'Hang up' }).click();
      // The agent's call ended: the supervisor's leg ends with it.
      await callC.waitFor({ state: 'detached', timeout: 15_000 });
    } finally {
      await Promise.all([a.context.close(), b.context.close(), c.context.close()]);
    }
  }, 300_000);
});
