// [trust] Issue 13: click-to-call of a masked number through the real SIP peer. A real sync server,
// Debian's Kamailio with the call-intent route (sync-server/test/peers/kamailio/gtcall.cfg: the
// http_client and json modules ask the server's resolve endpoint), SIPp as the "PSTN trunk", and
// 张三 (role agent, no pii.view) in headless Chromium. He clicks to call a customer whose number he
// only holds masked: the softphone dials the one-time `gtcall-…` target; Kamailio resolves it and
// the trunk receives the INVITE for the clear number. Everything the page received (HTTP bodies,
// WebSocket frames of the sync socket and of SIP) never held the clear number; the intent and the
// dial are audited; the same target used a second time is refused (403 from Kamailio).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS } from '../../bench/lib/chromium.mjs';
import { MEDIA_ARGS } from './media';
import { apiAs, startTestServer, type TestServer } from './server';
import { newAgentPage, openConversation, screenshot, signIn } from './helpers';
import { BIN, freePort, PeerProcess, runSipp, startKamailio, type Kamailio } from '../peers/peers';
import { missingCallIntentModules, withCallIntentRoute } from '../../../sync-server/test/peers/kamailioCallIntents';

const here = path.dirname(fileURLToPath(import.meta.url));
const PHONE = '13812345678';
const MASKED = '138****5678';
const SIP_TOKEN = `sip-${crypto.randomBytes(12).toString('hex')}`;

let server: TestServer;
let kamailio: Kamailio;
let browser: Browser;
let inboxId: string;
let conversationId: string;
let trunkPort: number;

beforeAll(async () => {
  const missing = missingCallIntentModules();
  if (missing) throw new Error(missing);
  [server, browser, trunkPort] = await Promise.all([
    startTestServer(),
    chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...MEDIA_ARGS], headless: true }),
    freePort('tcp+udp'),
  ]);
  const admin = await apiAs(server.url, 'admin@demo.goutong');
  const teams = await admin.call<{ items: Array<{ id: string; name: string }> }>('GET', '/api/v1/teams');
  const support = teams.items.find((t) => t.name === 'Support')!.id;
  const created = await admin.call<{ id: string }>('POST', '/api/v1/inboxes', {
    name: 'Hotline 热线',
    channel: 'voice',
    provider: 'sip',
    config: { wsUrl: 'ws://127.0.0.1:1', domain: 'lab.test', auth: 'none', agents: { 'zhang.san@demo.goutong': '1001' } },
    secrets: { voicemailToken: SIP_TOKEN },
    teamIds: [support],
  });
  inboxId = created.id;
  kamailio = await startKamailio({ transform: (cfg) => withCallIntentRoute(cfg, { serverUrl: server.url, inboxId, sipToken: SIP_TOKEN, trunk: `127.0.0.1:${trunkPort}` }) });
  await admin.call('PATCH', `/api/v1/inboxes/${inboxId}`, { config: { wsUrl: kamailio.wsUrl } });
  // The customer left a voicemail: a contact with that number and a conversation in the inbox.
  const vm = await fetch(`${server.url}/api/v1/inboxes/${inboxId}/voicemail?from=${PHONE}&name=${encodeURIComponent('Masked customer')}&callId=vm-masked&durationSeconds=4`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SIP_TOKEN}`, 'content-type': 'audio/wav' },
    body: Buffer.concat([Buffer.from('RIFF'), crypto.randomBytes(256)]),
  });
  expect(vm.status).toBe(201);
  conversationId = ((await vm.json()) as { conversationId: string }).conversationId;
});

afterAll(async () => {
  await browser?.close();
  await kamailio?.stop();
  await server?.stop();
});

/** SIPp as the trunk: one INVITE, answered 486; resolves with the request URI it received. */
async function startTrunk(port: number): Promise<{ done: Promise<{ code: number; output: string; messages: string }>; stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-trunk-'));
  const messages = path.join(dir, 'messages.log');
  const proc = new PeerProcess(
    'sipp-trunk',
    BIN.sipp,
    ['-sf', path.join(here, '../peers/sipp/trunk-busy.xml'), '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-nostdin', '-trace_msg', '-message_file', messages, '-trace_err', '-timeout', '60s', '-timeout_error'],
    { cwd: dir },
  );
  const done = (async () => {
    const code = await proc.done(70_000);
    return { code, output: proc.output, messages: fs.existsSync(messages) ? fs.readFileSync(messages, 'utf8') : '' };
  })();
  done.catch(() => undefined);
  return {
    done,
    async stop() {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('masked click-to-call through Kamailio', () => {
  it('张三 calls a masked customer: the trunk gets the clear number, his page never does; audited; the target works once', async () => {
    const trunk = await startTrunk(trunkPort);
    const { context, page } = await newAgentPage(browser);
    const received: string[] = [];
    let dialTarget = '';
    try {
      await context.grantPermissions(['microphone'], { origin: server.url });
      page.on('response', (r) => {
        void r.text().then(
          (t) => {
            received.push(t);
            if (r.url().endsWith('/api/v1/voice/call-intents')) dialTarget = (JSON.parse(t) as { dialTarget: string }).dialTarget;
          },
          () => undefined,
        );
      });
      page.on('websocket', (ws) => ws.on('framereceived', (f) => received.push(typeof f.payload === 'string' ? f.payload : f.payload.toString('utf8'))));

      await signIn(page, server.url, 'zhang.san@demo.goutong');
      const sw = page.getByRole('switch', { name: 'Available for calls' });
      if ((await sw.getAttribute('aria-checked')) !== 'true') await sw.click();
      await expect.poll(() => page.getByRole('status', { name: 'Phone status' }).getAttribute('data-status'), { timeout: 20_000 }).toBe('registered');

      await page.getByRole('tab', { name: /All/ }).click();
      await openConversation(page, 'Masked customer');
      await page.getByRole('toolbar', { name: 'Conversation actions' }).getByRole('button', { name: `Call Masked customer (${MASKED})` }).click();
      const call = page.getByRole('dialog', { name: 'Call', exact: true });
      await call.waitFor({ timeout: 15_000 });
      await call.getByText(MASKED).first().waitFor();

      // The trunk received the INVITE for the clear number (Kamailio rewrote the request URI).
      const t = await trunk.done;
      expect(t.code, `${t.output}\n${t.messages}\n${kamailio.process.output}`).toBe(0);
      const invite = /INVITE (sip:[^ ]+) SIP\/2\.0/.exec(t.messages)?.[1];
      expect(invite?.replace(/^sip:\+?(86)?/, '').split('@')[0]).toBe(PHONE);
      await call.waitFor({ state: 'detached', timeout: 15_000 });
      await screenshot(page, 'phone-masked-call-en');

      // The softphone dialled the opaque target; nothing the page received held the clear number.
      expect(dialTarget).toMatch(/^gtcall-[0-9a-f]{40}$/);
      expect(received.length).toBeGreaterThan(10);
      const clear = received.filter((x) => x.replace(/[\s-]/g, '').includes(PHONE));
      expect(clear, clear.join('\n---\n').slice(0, 2_000)).toEqual([]);
      expect(received.some((x) => x.includes(MASKED))).toBe(true);
      expect(await page.content()).not.toContain(PHONE);

      // Both steps audited: the intent by 张三, the dial on his behalf, for this conversation.
      const admin = await apiAs(server.url, 'admin@demo.goutong');
      const me = await (await apiAs(server.url, 'zhang.san@demo.goutong')).call<{ agent: { id: string } }>('GET', '/api/v1/me');
      const audit = await admin.call<{ items: Array<{ action: string; actorId: string; details: { conversationId?: string } }> }>('GET', `/api/v1/audit-events?actorId=${me.agent.id}&action=call.*`);
      expect(audit.items.map((e) => [e.action, e.details.conversationId]).sort()).toEqual([
        ['call.dial', conversationId],
        ['call.intent', conversationId],
      ]);

      // A second INVITE to the same target (a replay) is refused by Kamailio after the server says no.
      const replay = await runSipp(kamailio, { scenario: 'uac-refused.xml', service: dialTarget, timeoutMs: 20_000 });
      expect(replay.code, replay.output).toBe(0);
      const after = await admin.call<{ items: unknown[] }>('GET', `/api/v1/audit-events?actorId=${me.agent.id}&action=call.dial`);
      expect(after.items).toHaveLength(1);
    } finally {
      await context.close();
      await trunk.stop();
    }
  });
});
