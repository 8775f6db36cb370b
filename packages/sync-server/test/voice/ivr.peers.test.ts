// The IVR end to end with real peers: Kamailio (registrar/proxy) routes SIPp's call to the server's
// own SIP media endpoint (registered as ivr@lab.test); the test is the caller's media (RTP). It
// hears the greeting (the exact espeak-ng prompt, G.711 in 20 ms packets), presses 2 (RFC 4733),
// the IVR puts the caller in the Support queue; no agent is available, so after the queue's
// maximum wait the caller hears the busy prompt, leaves a message, and the voicemail with its
// transcript appears on the conversation. On SQLite and on PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sipVoiceProvider } from '../../src/channels/voice/index.js';
import { decodeG711, encodeG711, readWav, rms, FRAME_SAMPLES, beep } from '../../src/voice/audio.js';
import { espeakTts } from '../../src/voice/tts.js';
import path from 'node:path';
import { freePort, SHARED_PEERS } from '../peers/process.js';
import { eventually, startChannelServer, type ChannelServer, type Dialect } from '../channels/support.js';
import { missingVoicePeers, startKamailio, startSipp, type Kamailio } from './sipPeers.js';
import { TestPhone } from './testPhone.js';
import { FakeAliyunNls } from '../channels/fakes/fakeSpeech.js';

const missing = missingVoicePeers();
if (missing) throw new Error(missing);

const GREETING = 'Welcome to the help line.';
const MENU = 'Press one for sales. Press two for support. Press three to leave a message.';
const BUSY = 'All our agents are busy.';
const VM = 'Please leave a message after the tone.';
const BYE = 'Thank you for calling. Goodbye.';
const frames = (n: number) => Math.ceil(n / FRAME_SAMPLES);

describe.each<Dialect>(['sqlite', 'postgres'])('IVR media endpoint with Kamailio and SIPp (%s)', (dialect) => {
  let k: Kamailio;
  let s: ChannelServer;
  let inboxId: string;
  let salesTeam: string;
  const tts = espeakTts();

  beforeAll(async () => {
    k = await startKamailio();
    s = await startChannelServer({ dialect, providers: [sipVoiceProvider({ ivrReconcileMs: 200, transcriptionIntervalMs: 200 })] });
    salesTeam = s.supportTeam;
    const sipPort = await freePort('tcp+udp');
    inboxId = await s.createInbox({
      name: 'Hotline',
      channel: 'voice',
      provider: 'sip',
      config: {
        wsUrl: `ws://127.0.0.1:${k.sipPort}`,
        domain: 'lab.test',
        ivr: {
          enabled: true,
          sipPort,
          registrar: `127.0.0.1:${k.sipPort}`,
          inHours: { greeting: GREETING, prompt: MENU, options: { '1': { type: 'queue', teamId: salesTeam }, '2': { type: 'queue', teamId: s.supportTeam }, '3': { type: 'voicemail' } } },
          busyPrompt: BUSY,
          voicemailPrompt: VM,
          goodbye: BYE,
          inputTimeoutSeconds: 8,
          queue: { maxWaitSeconds: 5, announceEverySeconds: 0 },
        },
        transcription: { provider: 'pocketsphinx', language: 'en' },
      },
      secrets: {},
    });
    await eventually(async () => {
      const r = await s.admin('GET', '/api/v1/voice/ivr');
      expect(r.body.items).toEqual([expect.objectContaining({ inboxId, port: sipPort, registered: true })]);
      return true;
    }, 'the IVR endpoint registered with Kamailio', 20_000);
  }, 60_000);

  afterAll(async () => {
    await s?.close();
    await k?.stop();
  });

  it('greets, takes DTMF 2 (RFC 4733), branches to Support, records a voicemail and transcribes it', async () => {
    const phone = new TestPhone();
    const rtpPort = await phone.open();
    const sipp = await startSipp(k.sipPort, 'ivr-caller.xml', 'ivr', { rtp_port: String(rtpPort), caller: '15550001' });
    try {
      const greeting = await tts.synthesize({ text: GREETING, language: 'en' });
      const g = frames(greeting.length);
      await phone.waitPackets(g + 10);
      // RTP: one SSRC, PCMU, seq +1 and timestamp +160 per packet, marker on the first
      const first = phone.packets.slice(0, g);
      expect(first[0]!.marker).toBe(true);
      for (let i = 1; i < first.length; i++) {
        expect(first[i]!.ssrc).toBe(first[0]!.ssrc);
        expect(first[i]!.payloadType).toBe(0);
        expect((first[i]!.seq - first[i - 1]!.seq + 0x10000) % 0x10000).toBe(1);
        expect((first[i]!.timestamp - first[i - 1]!.timestamp + 2 ** 32) % 2 ** 32).toBe(160);
      }
      // the greeting itself, byte for byte as G.711
      const heard = Buffer.concat(first.map((p) => p.payload));
      const expected = encodeG711('PCMU', greeting);
      let same = 0;
      for (let i = 0; i < expected.length; i++) same += Number(heard[i] === expected[i]);
      expect(same / expected.length).toBeGreaterThan(0.9);
      const got = decodeG711('PCMU', heard);
      let dot = 0;
      for (let i = 0; i < greeting.length; i++) dot += (got[i] ?? 0) * greeting[i]!;
      expect(dot / (greeting.length * rms(greeting) * rms(got.subarray(0, greeting.length)))).toBeGreaterThan(0.9);
      expect(rms(got)).toBeGreaterThan(500);

      // during the menu: press 2
      await phone.waitPackets(g + 40);
      await phone.dtmf('2');
      // in the Support queue (nobody online) until the maximum wait, then voicemail
      const inQueue = () => s.count('SELECT COUNT(*) AS n FROM voice_queue WHERE inbox_id = ?', [inboxId]);
      await eventually(async () => (await inQueue()) === 1, 'the caller in the queue', 20_000);
      await eventually(async () => (await inQueue()) === 0, 'the queue overflowed', 30_000);
      const afterKey = phone.packets.length;
      const busy = await tts.synthesize({ text: BUSY, language: 'en' });
      const vm = await tts.synthesize({ text: VM, language: 'en' });
      await phone.waitPackets(afterKey + frames(busy.length) + frames(vm.length) + frames(beep().length));
      const message = await tts.synthesize({ text: 'I would like to check the status of my order', language: 'en' });
      await phone.talk(message);
      await phone.dtmf('#');
      const res = await sipp.done;
      expect(res.code, res.output).toBe(0);
    } finally {
      phone.close();
      await sipp.stop();
    }

    const conv = await eventually(async () => {
      const [c] = await s.conversations(inboxId);
      expect(c).toBeTruthy();
      return c!;
    }, 'the voicemail conversation', 20_000);
    const [vmMsg] = (await s.messages(conv.id)).filter((m) => m.kind === 'voice');
    expect(vmMsg).toBeTruthy();
    expect(vmMsg!.direction).toBe('in');
    expect(vmMsg!.meta['ivr']).toMatchObject({ variant: 'in_hours', digit: '2', action: 'queue', teamId: s.supportTeam, keys: [{ digit: '2', via: 'rfc2833' }, { digit: '#', via: 'rfc2833' }], queue: { result: 'overflow', teamId: s.supportTeam } });
    expect((vmMsg!.meta['ivr'] as { queue: { waitSeconds: number } }).queue.waitSeconds).toBeGreaterThanOrEqual(5);
    expect(vmMsg!.attachments).toHaveLength(1);
    const file = await s.server.db.one<{ id: string }>('SELECT id FROM attachments WHERE message_id = ?', [vmMsg!.id]);
    expect(file).toBeTruthy();
    const contact = await s.contact(conv.contactId);
    expect(contact!.identities).toEqual([expect.objectContaining({ channel: 'voice', identifier: '15550001' })]);

    // the transcript: pending → running → done on the message, with the seconds transcribed
    const done = await eventually(async () => {
      const m = await s.message(vmMsg!.id);
      const t = m!.meta['transcript'] as { state: string; text: string; seconds: number } | undefined;
      expect(t?.state).toBe('done');
      return { t: t!, m: m! };
    }, 'the transcript', 60_000);
    expect(done.t.seconds).toBeGreaterThan(1.5);
    expect(typeof done.t.text).toBe('string');
    expect(done.m.seq).toBeGreaterThan(vmMsg!.seq);
    const recording = await s.server.attachments.get(s.tenant.tenantId, file!.id);
    const wav = readWav(await import('node:fs').then((fs) => fs.promises.readFile(recording!.file)));
    expect(wav.rate).toBe(8000);
    expect(rms(wav.pcm)).toBeGreaterThan(300);
  }, 120_000);

  it("out of hours by the inbox's business hours (over the IVR's own): the closed menu, a key by SIP INFO to voicemail; a cloud TTS that fails leaves the call working (espeak-ng speaks)", async () => {
    // the inbox's calendar is never open; the IVR's own hours would say always open
    const bh = await s.admin('POST', '/api/v1/business-hours', { name: 'Closed', timeZone: 'Asia/Shanghai', weekly: [] });
    expect(bh.status, JSON.stringify(bh.body)).toBe(201);
    const nls = new FakeAliyunNls();
    await nls.start();
    nls.failNext = 1000; // the cloud is down for this call
    const CLOSED = 'We are closed.';
    const CLOSED_MENU = 'To leave a message press three.';
    const r = await s.admin('PATCH', `/api/v1/inboxes/${inboxId}`, {
      config: {
        wsUrl: `ws://127.0.0.1:${k.sipPort}`,
        domain: 'lab.test',
        speech: { aliyunTokenUrl: `${nls.baseUrl}/token`, aliyunTtsUrl: `${nls.baseUrl}/stream/v1/tts` },
        ivr: {
          enabled: true,
          sipPort: (await s.admin('GET', '/api/v1/voice/ivr')).body.items[0].port,
          registrar: `127.0.0.1:${k.sipPort}`,
          tts: 'aliyun',
          // always open by the IVR's own hours: the inbox's calendar wins
          hours: { timeZone: 'Asia/Shanghai', weekly: [0, 1, 2, 3, 4, 5, 6].map((day) => ({ day, open: '00:00', close: '24:00' })) },
          inHours: { greeting: GREETING, prompt: MENU, options: { '2': { type: 'queue', teamId: salesTeam } } },
          outOfHours: { greeting: CLOSED, prompt: CLOSED_MENU, options: { '3': { type: 'voicemail' } } },
          voicemailPrompt: VM,
          goodbye: BYE,
        },
        transcription: { provider: 'none' },
      },
      secrets: { aliyunAccessKeyId: nls.accessKeyId, aliyunAccessKeySecret: nls.accessKeySecret, aliyunAppKey: nls.appKey },
      businessHoursId: bh.body.id,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const phone = new TestPhone();
    const rtpPort = await phone.open();
    // SIPp: INFO Signal=3 after 2.5 s, talks 9 s, hangs up
    const sipp = await startSipp(k.sipPort, 'ivr-info.xml', 'ivr', { rtp_port: String(rtpPort), caller: '15550002', digit: '3' });
    try {
      const closed = await tts.synthesize({ text: CLOSED, language: 'en' });
      await phone.waitPackets(frames(closed.length), 30_000);
      const heard = decodeG711('PCMU', Buffer.concat(phone.packets.slice(0, frames(closed.length)).map((p) => p.payload)));
      let dot = 0;
      for (let i = 0; i < closed.length; i++) dot += heard[i]! * closed[i]!;
      expect(dot / (closed.length * rms(closed) * rms(heard.subarray(0, closed.length)))).toBeGreaterThan(0.9);
      const vm = await tts.synthesize({ text: VM, language: 'en' });
      // after the key: the voicemail prompt and the beep, then the caller talks
      await phone.waitPackets(frames(closed.length) + frames(vm.length) + frames(beep().length), 30_000);
      await phone.talk(await tts.synthesize({ text: 'Please call me back tomorrow morning', language: 'en' }));
      const res = await sipp.done;
      expect(res.code, res.output).toBe(0);
    } finally {
      phone.close();
      await sipp.stop();
      await nls.stop();
    }
    expect(nls.log.length).toBeGreaterThan(0); // the cloud was asked (and failed)
    const msg = await eventually(async () => {
      const convs = await s.conversations(inboxId);
      for (const c of convs) {
        const m = (await s.messages(c.id)).find((x) => (x.meta['ivr'] as { variant?: string } | undefined)?.variant === 'out_of_hours');
        if (m) return m;
      }
      return null;
    }, 'the out-of-hours voicemail', 20_000);
    expect(msg.meta['ivr']).toMatchObject({ variant: 'out_of_hours', digit: '3', action: 'voicemail', keys: [{ digit: '3', via: 'info' }] });
    expect(msg.meta['transcript']).toBeUndefined();
    expect(msg.text).toMatch(/^Voicemail · 0:0\d$/);
  }, 120_000);

  it('a caller who hangs up in the menu leaves a missed call on the conversation', async () => {
    // shared/peers/sipp/uac-rr.xml: INVITE, ACK, 1 s, BYE (SIPp's own media port gets the RTP)
    const sipp = await startSipp(k.sipPort, path.join(SHARED_PEERS, 'sipp/uac-rr.xml'), 'ivr', {});
    try {
      const res = await sipp.done;
      expect(res.code, res.output).toBe(0);
    } finally {
      await sipp.stop();
    }
    const call = await eventually(async () => {
      for (const c of await s.conversations(inboxId)) {
        const m = (await s.messages(c.id)).find((x) => x.kind === 'call');
        if (m) return m;
      }
      return null;
    }, 'the missed IVR call', 20_000);
    expect(call.direction).toBe('in');
    expect(call.meta['call']).toMatchObject({ direction: 'in', outcome: 'missed' });
    expect(call.meta['ivr']).toMatchObject({ action: 'hangup', digit: null, keys: [] });
  }, 60_000);
});
