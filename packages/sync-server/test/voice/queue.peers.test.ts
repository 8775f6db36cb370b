// Voice queues (ACD) end to end with real peers: Kamailio routes SIPp callers to the server's IVR
// endpoint; each caller presses 2 (Support) and waits in the queue, hearing the position prompt.
// Two agents' phones are real SIP user agents registered with Kamailio (the endpoint class as a
// test phone). Three callers, two agents: the first two callers (in order of entry) are answered
// first, the third waits until an agent is free; the agent's phone and the caller hear each other
// through the IVR's bridge. Then: the callback key leaves a callback request on the conversation;
// on SQLite and on PostgreSQL.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sipVoiceProvider } from '../../src/channels/voice/index.js';
import { createTenant } from '../../src/seed.js';
import { SipEndpoint, type SipCall } from '../../src/voice/endpoint.js';
import { decodeG711, rms, FRAME_SAMPLES } from '../../src/voice/audio.js';
import { espeakTts } from '../../src/voice/tts.js';
import { freePort } from '../peers/process.js';
import { api, loginToken, syncDevice } from '../support/agentClient.js';
import { eventually, startChannelServer, type ChannelServer, type Dialect } from '../channels/support.js';
import { missingVoicePeers, startKamailio, startSipp, type Kamailio } from './sipPeers.js';
import { TestPhone, tone } from './testPhone.js';
import { RingingPhone } from './ringingPhone.js';

const missing = missingVoicePeers();
if (missing) throw new Error(missing);

const GREETING = 'Welcome.';
const MENU = 'Press two for support.';
const PW = 'pw-queue-test-1';



/** An agent's phone: a SIP user agent registered with Kamailio as `user`@lab.test that answers every call. */
async function agentPhone(user: string, kamailioPort: number): Promise<{ ep: SipEndpoint; calls: SipCall[] }> {
  const ep = new SipEndpoint({ host: '127.0.0.1', port: 0, user, registrar: { host: '127.0.0.1', port: kamailioPort, domain: 'lab.test' } });
  const calls: SipCall[] = [];
  ep.on('call', (c) => calls.push(c));
  ep.on('error', () => undefined);
  await ep.start();
  await eventually(() => ep.registered, `${user} registered`, 20_000);
  return { ep, calls };
}

describe.each<Dialect>(['sqlite', 'postgres'])('voice queues (ACD) with Kamailio, SIPp callers and SIP agent phones (%s)', (dialect) => {
  let k: Kamailio;
  let s: ChannelServer;
  let inboxId: string;
  let admin: ReturnType<typeof api>;
  let url: string;
  let tokens: { a1: string; a2: string };
  let agentIds: { a1: string; a2: string };
  let tenantId: string;
  const sockets: WebSocket[] = [];
  const phones: SipEndpoint[] = [];
  let phoneB: { ep: SipEndpoint; calls: SipCall[] } | null = null;
  let ringing: RingingPhone | null = null;
  const tts = espeakTts();

  beforeAll(async () => {
    k = await startKamailio();
    s = await startChannelServer({ dialect, providers: [sipVoiceProvider({ ivrReconcileMs: 200, transcriptionIntervalMs: 200 })] });
    url = s.url;
    const slug = `vq${crypto.randomBytes(3).toString('hex')}`;
    const t = await createTenant(s.server.workspace, {
      slug, name: slug, teams: ['Support'],
      agents: [
        { email: `admin@${slug}.test`, name: 'Admin', role: 'admin', teams: [], password: PW },
        { email: `a1@${slug}.test`, name: 'Agent One', role: 'agent', teams: ['Support'], password: PW },
        { email: `a2@${slug}.test`, name: 'Agent Two', role: 'agent', teams: ['Support'], password: PW },
      ],
    });
    tenantId = t.tenantId;
    agentIds = { a1: t.agents[`a1@${slug}.test`]!.id, a2: t.agents[`a2@${slug}.test`]!.id };
    admin = api(url, await loginToken(url, `admin@${slug}.test`, PW));
    tokens = { a1: await loginToken(url, `a1@${slug}.test`, PW), a2: await loginToken(url, `a2@${slug}.test`, PW) };
    const sipPort = await freePort('tcp+udp');
    const r = await admin('POST', '/api/v1/inboxes', {
      name: 'Hotline', channel: 'voice', provider: 'sip', teamIds: [t.teamIds.Support!],
      config: {
        wsUrl: `ws://127.0.0.1:${k.sipPort}`, domain: 'lab.test', auth: 'none',
        agents: { [agentIds.a1]: '1001', [`a2@${slug}.test`]: '1002' },
        ivr: {
          enabled: true, sipPort, registrar: `127.0.0.1:${k.sipPort}`,
          inHours: { greeting: GREETING, prompt: MENU, options: { '2': { type: 'queue', teamId: t.teamIds.Support! } } },
          inputTimeoutSeconds: 8,
          queue: { maxWaitSeconds: 120, ringTimeoutSeconds: 10, announceEverySeconds: 4, callbackKey: '5' },
        },
        transcription: { provider: 'none' },
      },
      secrets: {},
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    inboxId = r.body.id;
    await eventually(async () => (await admin('GET', '/api/v1/voice/ivr')).body.items.some((e: { registered: boolean }) => e.registered), 'the IVR registered', 20_000);
  }, 90_000);

  afterAll(async () => {
    for (const ws of sockets) ws.close();
    for (const p of phones) await p.stop().catch(() => undefined);
    await ringing?.stop();
    await s?.close();
    await k?.stop();
  }, 120_000);

  const queueRows = () => s.server.db.all<{ caller: string; state: string; agent_id: string | null }>('SELECT caller, state, agent_id FROM voice_queue WHERE tenant_id = ? ORDER BY entered_at', [tenantId]);

  /** A caller: SIPp through Kamailio (waits for the IVR's BYE) with the test's RTP socket; presses 2 after the greeting. */
  async function caller(number: string) {
    const phone = new TestPhone();
    const rtpPort = await phone.open();
    const sipp = await startSipp(k.sipPort, 'ivr-caller.xml', 'ivr', { rtp_port: String(rtpPort), caller: number }, 120_000);
    await phone.waitPackets(20, 30_000);
    await phone.dtmf('2');
    await eventually(async () => (await queueRows()).some((q) => q.caller === number), `${number} in the queue`, 30_000);
    return { phone, sipp, number };
  }

  it('three callers, two agents: first come, first served; the agent and the caller hear each other; queue length is live', async () => {
    const c1 = await caller('15550101');
    const c2 = await caller('15550102');
    const c3 = await caller('15550103');
    const callers = [c1, c2, c3];
    try {
      // nobody online: all three wait, in order of entry; the supervisors see the queue
      expect((await queueRows()).map((q) => [q.caller, q.state])).toEqual([['15550101', 'waiting'], ['15550102', 'waiting'], ['15550103', 'waiting']]);
      const q = await admin('GET', '/api/v1/voice/queues');
      expect(q.status).toBe(200);
      expect(q.body.items).toEqual([expect.objectContaining({ inboxId, waiting: 3, connected: 0 })]);
      expect(q.body.items[0].longestWaitMs).toBeGreaterThan(0);
      const all = await admin('GET', '/api/v1/queues');
      expect(all.body.calls).toEqual([expect.objectContaining({ inboxId, waiting: 3, connected: 0 })]);
      // the waiting callers hear the position prompt (the exact espeak-ng audio arrives over RTP)
      const third = await tts.synthesize({ text: 'You are number 3 in the queue. Please hold. To be called back, press 5.', language: 'en' });
      await eventually(() => c3.phone.packets.length > 20 + Math.ceil(third.length / FRAME_SAMPLES), 'the third caller heard the position', 30_000);
      const heard = decodeG711('PCMU', Buffer.concat(c3.phone.packets.map((p) => p.payload)));
      expect(rms(heard)).toBeGreaterThan(300);

      // the agents' phones register and the agents come online
      const p1 = await agentPhone('1001', k.sipPort);
      const p2 = await agentPhone('1002', k.sipPort);
      phones.push(p1.ep, p2.ep);
      phoneB = p2;
      sockets.push(await syncDevice(url, tokens.a1), await syncDevice(url, tokens.a2));
      await eventually(() => p1.calls.length + p2.calls.length === 2, 'two agents ringing and answered', 30_000);
      const first = [...p1.calls, ...p2.calls];
      expect(first.map((c) => c.from.user).sort()).toEqual(['15550101', '15550102']);
      await eventually(async () => (await queueRows()).filter((r) => r.state === 'connected').length === 2, 'two calls connected', 10_000);
      expect((await queueRows()).find((r) => r.caller === '15550103')?.state).toBe('waiting');
      expect((await admin('GET', '/api/v1/voice/queues')).body.items).toEqual([expect.objectContaining({ waiting: 1, connected: 2 })]);

      // the bridge: agent 1's voice reaches their caller, the caller's voice reaches agent 1
      const leg1 = p1.calls[0]!;
      const c = callers.find((x) => x.number === leg1.from.user)!;
      const before = c.phone.packets.length;
      await leg1.rtp.play(tone(600));
      await eventually(() => c.phone.packets.length > before + 20, 'the caller hears the agent', 10_000);
      const fromAgent = decodeG711('PCMU', Buffer.concat(c.phone.packets.slice(before).map((p) => p.payload)));
      expect(rms(fromAgent)).toBeGreaterThan(2000);
      const got = leg1.rtp.received;
      await c.phone.talk(tone(400, 300));
      await eventually(() => leg1.rtp.received >= got + 15, 'the agent hears the caller', 10_000);

      // agent 1 hangs up: their caller's call ends, and the third caller rings agent 1 (the free one)
      await leg1.hangup();
      expect((await c.sipp.done).code).toBe(0);
      await eventually(() => p1.calls.length === 2, 'the third caller rings agent 1', 30_000);
      expect(p1.calls[1]!.from.user).toBe('15550103');
      expect(p2.calls).toHaveLength(1);

      // everyone hangs up; each call is recorded as answered by its agent
      for (const leg of [...p1.calls, ...p2.calls]) await leg.hangup();
      for (const x of callers) expect((await x.sipp.done).code).toBe(0);
      await eventually(async () => (await queueRows()).length === 0, 'the queue is empty', 10_000);
      const calls = await eventually(async () => {
        const found = [];
        for (const cv of await s.conversations(inboxId)) for (const m of await s.messages(cv.id)) if (m.kind === 'call') found.push(m);
        return found.length === 3 ? found : null;
      }, 'three call messages', 20_000);
      const byAgent = Object.fromEntries(calls.map((m) => [String((m.meta['ivr'] as { queue: { agentId: string } }).queue.agentId), m.meta['call']]));
      expect(Object.keys(byAgent).sort()).toEqual([agentIds.a1, agentIds.a2].sort());
      for (const m of calls) {
        expect(m.meta['call']).toMatchObject({ direction: 'in', outcome: 'answered' });
        expect(m.meta['ivr']).toMatchObject({ action: 'queue', queue: { result: 'answered' } });
      }
    } finally {
      for (const x of callers) {
        x.phone.close();
        await x.sipp.stop();
      }
    }
  }, 240_000);

  it('the callback key leaves a callback request the agents see', async () => {
    // agents offline: the caller waits and asks for a call back
    for (const ws of sockets.splice(0)) ws.close();
    await eventually(async () => (await s.server.db.all("SELECT id FROM agents WHERE tenant_id = ? AND availability = 'online'", [tenantId])).length === 0, 'agents offline', 15_000);
    const c = await caller('15550104');
    try {
      await c.phone.waitPackets(c.phone.packets.length + 50, 30_000);
      await c.phone.dtmf('5');
      expect((await c.sipp.done).code).toBe(0);
    } finally {
      c.phone.close();
      await c.sipp.stop();
    }
    const msg = await eventually(async () => {
      for (const cv of await s.conversations(inboxId)) for (const m of await s.messages(cv.id)) if (m.meta['callback']) return { m, cv };
      return null;
    }, 'the callback request', 20_000);
    expect(msg.m.kind).toBe('call');
    expect(msg.m.direction).toBe('in');
    expect(msg.m.meta['callback']).toMatchObject({ number: '15550104' });
    const conv = await s.conversation(msg.cv.id);
    expect(conv!.waitingSince).not.toBeNull();
  }, 120_000);

  it('an agent who does not pick up: the ring times out (CANCEL) and the call is offered to the next agent', async () => {
    // agent 1's phone now rings without an answer; only agent 1 is online when the caller queues
    await phones[0]!.stop();
    ringing = new RingingPhone('1001', { host: '127.0.0.1', port: k.sipPort });
    await ringing.start();
    sockets.push(await syncDevice(url, tokens.a1));
    const c = await caller('15550105');
    try {
      await eventually(() => ringing!.invites.length === 1, "agent 1's phone rings", 30_000);
      expect((await queueRows()).map((r) => [r.caller, r.state, r.agent_id])).toEqual([['15550105', 'ringing', agentIds.a1]]);
      // agent 2 comes online while it rings; after the ring timeout the call goes to them
      sockets.push(await syncDevice(url, tokens.a2));
      const before = phoneB!.calls.length;
      await eventually(() => phoneB!.calls.length === before + 1, "agent 2's phone answers", 40_000);
      expect(ringing.cancels).toBe(1);
      expect(phoneB!.calls[before]!.from.user).toBe('15550105');
      await phoneB!.calls[before]!.hangup();
      expect((await c.sipp.done).code).toBe(0);
    } finally {
      c.phone.close();
      await c.sipp.stop();
    }
    const m = await eventually(async () => {
      for (const cv of await s.conversations(inboxId)) for (const x of await s.messages(cv.id)) if (x.kind === 'call' && (x.meta['ivr'] as { queue?: { rangOut?: string[] } } | undefined)?.queue?.rangOut?.length) return x;
      return null;
    }, 'the call record', 20_000);
    expect(m.meta['ivr']).toMatchObject({ queue: { result: 'answered', agentId: agentIds.a2, rangOut: [agentIds.a1] } });
    expect(m.meta['call']).toMatchObject({ outcome: 'answered', agentId: agentIds.a2 });
  }, 120_000);
});
