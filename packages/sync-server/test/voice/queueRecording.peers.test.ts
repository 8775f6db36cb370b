// Queue calls are recorded and transcribed by the server (their one writer), with real peers:
// Kamailio routes a SIPp caller to the server's IVR endpoint; the caller presses 2 and waits in the
// Support queue; the agent's phone (a SIP user agent registered with Kamailio) rings with the
// `X-Goutong-Queue` header and answers; the agent speaks (espeak-ng) and the caller plays a tone
// through the IVR's bridge; the agent hangs up. The call message carries the bridged conversation
// as a WAV recording (both directions mixed, 8 kHz mono) and its transcript (pocketsphinx), on
// SQLite and on PostgreSQL. With the inbox's recordCalls off, the call is logged without a recording.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { QUEUE_CALL_HEADER, type Message, type MessageTranscript } from '@goutong/core';
import { sipVoiceProvider } from '../../src/channels/voice/index.js';
import { createTenant } from '../../src/seed.js';
import { SipEndpoint, type SipCall } from '../../src/voice/endpoint.js';
import { readWav, rms, type Pcm } from '../../src/voice/audio.js';
import { espeakTts } from '../../src/voice/tts.js';
import { freePort } from '../peers/process.js';
import { api, loginToken, syncDevice } from '../support/agentClient.js';
import { eventually, startChannelServer, type ChannelServer, type Dialect } from '../channels/support.js';
import { missingVoicePeers, startKamailio, startSipp, type Kamailio } from './sipPeers.js';
import { TestPhone, tone } from './testPhone.js';

const missing = missingVoicePeers();
if (missing) throw new Error(missing);

const PW = 'pw-queue-rec-1';



describe.each<Dialect>(['sqlite', 'postgres'])('queue calls recorded and transcribed by the server, with Kamailio, SIPp and a SIP agent phone (%s)', (dialect) => {
  let k: Kamailio;
  let s: ChannelServer;
  let inboxId: string;
  let admin: ReturnType<typeof api>;
  let adminToken: string;
  let agentId: string;
  let agentName: string;
  let phone: { ep: SipEndpoint; calls: SipCall[] };
  let ws: WebSocket;
  const tts = espeakTts();

  beforeAll(async () => {
    k = await startKamailio();
    s = await startChannelServer({ dialect, providers: [sipVoiceProvider({ ivrReconcileMs: 200, transcriptionIntervalMs: 200 })] });
    const slug = `vr${crypto.randomBytes(3).toString('hex')}`;
    const t = await createTenant(s.server.workspace, {
      slug, name: slug, teams: ['Support'],
      agents: [
        { email: `admin@${slug}.test`, name: 'Admin', role: 'admin', teams: [], password: PW },
        { email: `a1@${slug}.test`, name: 'Agent One', role: 'agent', teams: ['Support'], password: PW },
      ],
    });
    agentId = t.agents[`a1@${slug}.test`]!.id;
    agentName = 'Agent One';
    adminToken = await loginToken(s.url, `admin@${slug}.test`, PW);
    admin = api(s.url, adminToken);
    const r = await admin('POST', '/api/v1/inboxes', {
      name: 'Hotline', channel: 'voice', provider: 'sip', teamIds: [t.teamIds.Support!],
      config: {
        wsUrl: `ws://127.0.0.1:${k.sipPort}`, domain: 'lab.test', auth: 'none', recordCalls: true,
        agents: { [agentId]: '1001' },
        ivr: {
          enabled: true, sipPort: await freePort('tcp+udp'), registrar: `127.0.0.1:${k.sipPort}`,
          inHours: { greeting: 'Welcome.', prompt: 'Press two for support.', options: { '2': { type: 'queue', teamId: t.teamIds.Support! } } },
          inputTimeoutSeconds: 8,
          queue: { maxWaitSeconds: 120, ringTimeoutSeconds: 15, announceEverySeconds: 0 },
        },
        transcription: { provider: 'pocketsphinx', language: 'en' },
      },
      secrets: {},
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    inboxId = r.body.id;
    await eventually(async () => (await admin('GET', '/api/v1/voice/ivr')).body.items.some((e: { registered: boolean }) => e.registered), 'the IVR registered', 20_000);
    const ep = new SipEndpoint({ host: '127.0.0.1', port: 0, user: '1001', registrar: { host: '127.0.0.1', port: k.sipPort, domain: 'lab.test' } });
    phone = { ep, calls: [] };
    ep.on('call', (c) => phone.calls.push(c));
    ep.on('error', () => undefined);
    await ep.start();
    await eventually(() => ep.registered, '1001 registered', 20_000);
    ws = await syncDevice(s.url, await loginToken(s.url, `a1@${slug}.test`, PW));
  }, 90_000);

  afterAll(async () => {
    ws?.close();
    await phone?.ep.stop().catch(() => undefined);
    await s?.close();
    await k?.stop();
  }, 120_000);

  const seen = new Set<string>();

  /** A caller through Kamailio who presses 2, is bridged to the agent, talks, and the agent hangs up; the call message. */
  async function queueCall(number: string, o: { agentSays: Pcm }): Promise<Message> {
    const caller = new TestPhone();
    const rtpPort = await caller.open();
    const sipp = await startSipp(k.sipPort, 'ivr-caller.xml', 'ivr', { rtp_port: String(rtpPort), caller: number }, 120_000);
    const before = phone.calls.length;
    try {
      await caller.waitPackets(20, 30_000);
      await caller.dtmf('2');
      await eventually(() => phone.calls.length === before + 1, "the agent's phone answers", 30_000);
      const leg = phone.calls[before]!;
      expect(leg.from.user).toBe(number);
      // the ACD marks its INVITE: the agent's softphone leaves this call's facts to the server
      const queueId = leg.requestHeaders.find(([n]) => n === QUEUE_CALL_HEADER.toLowerCase())?.[1];
      expect(queueId).toMatch(/^[0-9a-f-]{36}$/);
      await Promise.all([leg.rtp.play(o.agentSays), caller.talk(tone(1500, 300))]);
      await leg.hangup();
      expect((await sipp.done).code).toBe(0);
    } finally {
      caller.close();
      await sipp.stop();
    }
    return eventually(async () => {
      for (const cv of await s.conversations(inboxId)) {
        for (const m of await s.messages(cv.id)) {
          if (m.kind !== 'call' || seen.has(m.id)) continue;
          seen.add(m.id);
          return m;
        }
      }
      return null;
    }, 'the call message', 20_000);
  }

  it('the bridged conversation is the call message’s WAV recording (both directions), transcribed after the call', async () => {
    const speech = await tts.synthesize({ text: 'my order number is one two three four', language: 'en' });
    const m = await queueCall('15550201', { agentSays: speech });
    expect(m.meta['call']).toMatchObject({ direction: 'in', outcome: 'answered', agentId });
    expect(m.meta['ivr']).toMatchObject({ action: 'queue', queue: { result: 'answered', agentId } });
    // one writer: the server's call message is the only call message of the conversation
    const all = (await s.messages(m.conversationId)).filter((x) => x.kind === 'call');
    expect(all).toHaveLength(1);

    expect(m.attachments).toHaveLength(1);
    const a = m.attachments[0]!;
    expect(a.mime).toBe('audio/wav');
    expect(m.meta['recording']).toMatchObject({ by: 'server' });
    const res = await fetch(`${s.url}/api/v1/attachments/${a.id}`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(200);
    const { pcm, rate } = readWav(Buffer.from(await res.arrayBuffer()));
    expect(rate).toBe(8000);
    // the agent's ~2.5 s of speech and the caller's 1.5 s tone, mixed: non-trivial energy, a plausible length
    expect(pcm.length / rate).toBeGreaterThan(Math.max(1.5, speech.length / 8000 - 0.5));
    expect(pcm.length / rate).toBeLessThan(60);
    expect(rms(pcm)).toBeGreaterThan(500);
    // both directions are in it: the caller's 300 Hz tone and the agent's speech
    const energyAt = (from: number, to: number) => rms(pcm.subarray(Math.floor(from * rate), Math.floor(to * rate)));
    expect(energyAt(0, 1.4)).toBeGreaterThan(1000);

    // the same transcription path as voicemail and softphone recordings
    const t = await eventually(async () => {
      const x = (await s.message(m.id))!.meta['transcript'] as MessageTranscript | undefined;
      return x?.state === 'done' || x?.state === 'failed' ? x : null;
    }, 'the transcript', 150_000);
    expect(t).toMatchObject({ state: 'done', provider: 'pocketsphinx', language: 'en', attempts: 1, error: null });
    expect(t.seconds).toBeGreaterThan(1.5);
    expect(agentName).toBe('Agent One');
  }, 240_000);

  it('with recordCalls off, the queue call is logged without a recording', async () => {
    expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { config: { recordCalls: false } })).status).toBe(200);
    // the IVR reads the inbox's settings per call
    const m = await queueCall('15550202', { agentSays: tone(800, 500) });
    expect(m.meta['call']).toMatchObject({ outcome: 'answered', agentId });
    expect(m.attachments).toHaveLength(0);
    expect(m.meta['recording']).toBeUndefined();
    expect(m.meta['transcript']).toBeUndefined();
  }, 120_000);
});
