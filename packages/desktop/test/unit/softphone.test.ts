// @vitest-environment happy-dom
// The softphone store over a JsSIP test double (SipPhone/SipCall), fake media and a fake server:
// registration and its errors, the screen pop, every call control, and how each ending becomes a
// log_call command in core's outbox (exactly once, the recording uploaded first).
import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { TransportError, type Command } from '@goutong/core';
import { FakeClock, makeContact, makeConversation, makeInbox } from '@goutong/core/testing';
import { useSessionStore } from '../../src/renderer/stores/session';
import { useDirectoryStore } from '../../src/renderer/stores/directory';
import { setPhonePlatform, useSoftphoneStore } from '../../src/renderer/softphone/store';
import { logCallIntent, outcomeOf, phoneOf, samePhone } from '../../src/renderer/softphone/callLog';
import type { CallEvent, DtmfTransport, PendingRecording, PhoneEvent, PhonePlatform, SipAccount, SipCall, SipPhone } from '../../src/renderer/softphone/types';
import { mixPlan, type MixPlan } from '../../src/renderer/softphone/mixPlan';
import { wavBlob } from '../../src/renderer/softphone/browserPlatform';
import { ME, OTHER, flush, offlineServices, useTestApp } from './testServices';

// ----- the JsSIP test double ------------------------------------------------------------------

class FakeCall implements SipCall {
  readonly calls: Array<[string, ...unknown[]]> = [];
  private listeners = new Set<(e: CallEvent) => void>();
  referResult: { ok: boolean; reason?: string } = { ok: true };
  referOpts: Array<{ replaces?: SipCall } | undefined> = [];
  peerConnection = null;
  get remoteUri() {
    return `sip:${this.remoteUser}@lab.test`;
  }
  constructor(
    readonly id: string,
    readonly direction: 'in' | 'out',
    readonly remoteUser: string,
    readonly remoteName: string | null = null,
    private readonly headers: Record<string, string> = {},
  ) {}
  header(name: string) {
    return this.headers[name];
  }
  answer(o: { stream: MediaStream }) {
    this.calls.push(['answer', o.stream]);
  }
  terminate(o?: { status?: number }) {
    this.calls.push(['terminate', o?.status]);
  }
  hold() {
    this.calls.push(['hold']);
  }
  unhold() {
    this.calls.push(['unhold']);
  }
  mute() {
    this.calls.push(['mute']);
  }
  unmute() {
    this.calls.push(['unmute']);
  }
  sendDTMF(tones: string, transport: DtmfTransport) {
    this.calls.push(['dtmf', tones, transport]);
  }
  async refer(target: string, opts?: { replaces?: SipCall }) {
    this.calls.push(['refer', target]);
    this.referOpts.push(opts);
    return this.referResult;
  }
  on(l: (e: CallEvent) => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  emit(e: CallEvent) {
    for (const l of [...this.listeners]) l(e);
  }
  did(name: string) {
    return this.calls.filter((c) => c[0] === name);
  }
}

class FakePhone implements SipPhone {
  started = 0;
  stopped = 0;
  placed: Array<{ target: string; headers: string[]; call: FakeCall }> = [];
  private listeners = new Set<(e: PhoneEvent) => void>();
  start() {
    this.started++;
  }
  stop() {
    this.stopped++;
  }
  call(target: string, o: { extraHeaders?: string[] }) {
    const c = new FakeCall(`out-${this.placed.length + 1}`, 'out', target);
    this.placed.push({ target, headers: o.extraHeaders ?? [], call: c });
    return c;
  }
  on(l: (e: PhoneEvent) => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  emit(e: PhoneEvent) {
    for (const l of [...this.listeners]) l(e);
  }
}

const stream = () => {
  const track = { kind: 'audio', enabled: true, stopped: false, stop() { this.stopped = true; } };
  return { id: `s${Math.random()}`, getTracks: () => [track], getAudioTracks: () => [track], track } as unknown as MediaStream & { track: typeof track };
};

const ACCOUNT: SipAccount = {
  inboxId: 'voice-1', inboxName: 'Hotline', wsUrl: 'ws://127.0.0.1:18088', domain: 'lab.test', uri: 'sip:1001@lab.test', user: '1001', authorizationUser: '1001',
  password: 'pw', displayName: 'Me 我', expiresAt: null, recordCalls: false, pricePerMinute: 0.1, currency: 'CNY', iceServers: [],
};

function fakePlatform(o: { accounts?: SipAccount[]; credentialsError?: Error; micError?: Error } = {}) {
  const phones: FakePhone[] = [];
  const legacy = new Map<string, PendingRecording>();
  const uploads: string[] = [];
  const intents: Array<{ conversationId: string; identity: number | undefined }> = [];
  const state = { online: true, ring: [] as boolean[], played: [] as Array<MediaStream | null>, recorders: 0, uploadError: null as Error | null, mixes: [] as Array<{ legs: string[]; plan: MixPlan }>, mixerStopped: 0, grants: [] as string[], verify: null as null | { supervisorId: string; supervisorName: string; mode: 'listen' | 'whisper' } };
  const p: PhonePlatform = {
    createPhone: async () => {
      const ph = new FakePhone();
      phones.push(ph);
      return ph;
    },
    media: {
      permission: async () => 'granted',
      requestPermission: async () => 'granted',
      devices: async () => ({ inputs: [{ deviceId: 'mic-1', label: 'Headset mic' }], outputs: [{ deviceId: 'spk-1', label: 'Headset' }] }),
      onDevicesChanged: () => () => {},
      microphone: async () => {
        if (o.micError) throw o.micError;
        return stream();
      },
      play: (s) => void state.played.push(s),
      record: () => {
        state.recorders++;
        return { stop: async () => new Blob(['opus bytes'], { type: 'audio/webm' }) };
      },
      ring: (on) => void state.ring.push(on),
      mixer: async () => ({
        apply: (_mic, legs, plan) => void state.mixes.push({ legs: legs.map((l) => l.id), plan }),
        stop: () => void state.mixerStopped++,
      }),
    },
    api: {
      credentials: async () => {
        if (o.credentialsError) throw o.credentialsError;
        return o.accounts ?? [ACCOUNT];
      },
      // [trust] The server's call intent for a masked number (the fake knows no clear number either).
      callIntent: async (conversationId, identity) => {
        intents.push({ conversationId, identity });
        return { dialTarget: `gtcall-${'ab'.repeat(20)}`, display: '138****8000', expiresAt: Date.now() + 120_000, inboxId: 'voice-1' };
      },
      monitorGrant: async (agentId, mode) => {
        state.grants.push(`${agentId}:${mode}`);
        return { token: `grant-for-${agentId}-${mode}`, target: '1002', mode };
      },
      verifyMonitor: async (token) => {
        if (!state.verify || !token.startsWith('grant-')) throw new Error('403 not a monitor grant for you');
        return state.verify;
      },
    },
    legacyRecordings: {
      list: async () => [...legacy.values()],
      delete: async (id) => void legacy.delete(id),
    },
  };
  /** The workspace's upload (core's upload queue goes through it). */
  const uploadAttachment = async (blob: Blob, name: string, mime: string) => {
    if (!state.online) throw new TransportError('network', 'cannot reach the server: offline');
    if (state.uploadError) throw state.uploadError;
    uploads.push(name);
    return { id: `0190aaaa-0000-7000-8000-00000000000${uploads.length}`, name, mime, size: blob.size, sha256: 'c'.repeat(64), url: '/a' };
  };
  return { p, phones, legacy, uploads, intents, uploadAttachment, state, phone: () => phones[phones.length - 1]! };
}

const VOICE_INBOX = makeInbox({ id: 'voice-1', tenantId: 'tenant-1', channel: 'voice', provider: 'sip', teamIds: ['team-a'] });
const WANG = makeContact({ id: 'ct-wang', tenantId: 'tenant-1', name: '王芳', identities: [{ channel: 'voice', identifier: '+8613800138000' }] });
const WANG_CONV = makeConversation({ id: 'cv-wang', tenantId: 'tenant-1', inboxId: 'voice-1', channel: 'voice', contactId: 'ct-wang', contactName: '王芳', status: 'open', seq: 2 });

async function setUp(o: Parameters<typeof fakePlatform>[0] = {}) {
  const f = fakePlatform(o);
  const clock = new FakeClock({ start: Date.now() });
  const services = await offlineServices(
    { inboxes: [makeInbox({ id: 'inbox-1', tenantId: 'tenant-1', teamIds: ['team-a'] }), VOICE_INBOX], contacts: [WANG], conversations: [WANG_CONV] },
    { api: () => ({ uploadAttachment: f.uploadAttachment }), isOnline: () => f.state.online, clock },
  );
  const host = useTestApp(services);
  await useSessionStore().login('http://127.0.0.1:8787', 'me@example.com', 'pw');
  await useDirectoryStore().bind();
  setPhonePlatform(f.p);
  const phone = useSoftphoneStore();
  const commands = () => services.client.outboxEntries().map((e) => e.command as Extract<Command, { type: 'log_call' }>);
  return { services, host, f, phone, commands, clock };
}

async function registered(o: Parameters<typeof fakePlatform>[0] = {}) {
  const s = await setUp(o);
  await s.phone.bind();
  await s.phone.setAvailable(true);
  s.f.phone().emit({ type: 'registered' });
  return s;
}

async function ring(s: Awaited<ReturnType<typeof registered>>, call: FakeCall) {
  s.f.phone().emit({ type: 'newCall', call });
  await flush();
}

beforeEach(() => {
  setActivePinia(createPinia());
  setPhonePlatform(null);
});

describe('softphone registration', () => {
  it('registers while the agent is available, remembers it, and unregisters when away', async () => {
    const s = await setUp();
    await s.phone.bind();
    expect(s.phone.status).toBe('off');
    expect(s.f.phones).toHaveLength(0);
    await s.phone.setAvailable(true);
    expect(s.phone.status).toBe('connecting');
    expect(s.f.phone().started).toBe(1);
    s.f.phone().emit({ type: 'registered' });
    expect(s.phone.status).toBe('registered');
    expect(s.phone.account?.uri).toBe('sip:1001@lab.test');
    expect(JSON.parse(s.host.prefs.get(`goutong.phone.${ME.id}`)!)).toMatchObject({ available: true, inboxId: 'voice-1' });
    expect(s.phone.inputs).toEqual([{ deviceId: 'mic-1', label: 'Headset mic' }]);

    await s.phone.setAvailable(false);
    expect(s.phone.status).toBe('off');
    expect(s.f.phones[0]!.stopped).toBe(1);

    // The next sign-in remembers that the agent went away.
    setActivePinia(createPinia());
    setPhonePlatform(s.f.p);
    await useSoftphoneStore().bind();
    expect(useSoftphoneStore().available).toBe(false);
  });

  it('says clearly when the SIP server is unreachable, when it refuses the registration, and when there is no line', async () => {
    const s = await registered();
    s.f.phone().emit({ type: 'disconnected', error: true });
    expect(s.phone.status).toBe('unreachable');
    expect(s.phone.error).toEqual({ kind: 'unreachable', detail: 'ws://127.0.0.1:18088' });
    s.f.phone().emit({ type: 'registered' });
    expect(s.phone.error).toBeNull();
    s.f.phone().emit({ type: 'registrationFailed', cause: 'Authentication Error', status: 403, reason: 'Forbidden' });
    expect(s.phone.status).toBe('failed');
    expect(s.phone.error).toEqual({ kind: 'registration', detail: '403 Forbidden' });
    s.f.phone().emit({ type: 'registrationFailed', cause: 'Connection Error' });
    expect(s.phone.status).toBe('unreachable');

    setActivePinia(createPinia());
    const none = await setUp({ accounts: [] });
    await none.phone.setAvailable(true);
    expect(none.phone.status).toBe('noAccount');

    setActivePinia(createPinia());
    const down = await setUp({ credentialsError: new TransportError('network', 'cannot reach the server') });
    await down.phone.setAvailable(true);
    expect(down.phone.status).toBe('failed');
    expect(down.phone.error?.kind).toBe('unreachable');
  });
});

describe('incoming calls', () => {
  it('rings with the screen pop, answers, mutes, holds, gets DTMF, hangs up: an answered call on the contact’s conversation', async () => {
    const s = await registered();
    const call = new FakeCall('in-1', 'in', '13800138000', '王芳手机');
    await ring(s, call);
    expect(s.phone.call).toMatchObject({ state: 'ringing', direction: 'in', remote: '13800138000' });
    expect(s.f.state.ring).toEqual([true]);
    // The national number finds the contact stored with +86.
    expect(s.phone.call!.pop).toMatchObject({ loading: false, contactId: 'ct-wang', contactName: '王芳', conversations: [{ id: 'cv-wang' }] });
    expect(s.phone.call!.conversationId).toBe('cv-wang');

    await s.phone.answer();
    expect(call.did('answer')).toHaveLength(1);
    call.emit({ type: 'accepted' });
    call.emit({ type: 'confirmed' });
    expect(s.phone.call!.state).toBe('active');
    const remote = stream();
    call.emit({ type: 'remoteStream', stream: remote });
    expect(s.f.state.played).toContain(remote);

    s.phone.toggleMute();
    expect(s.phone.call!.muted).toBe(true);
    s.phone.toggleMute();
    expect(call.did('mute')).toHaveLength(1);
    expect(call.did('unmute')).toHaveLength(1);
    s.phone.toggleHold();
    expect(call.did('hold')).toHaveLength(1);
    call.emit({ type: 'hold', originator: 'local' });
    expect(s.phone.call!.held).toBe(true);
    s.phone.toggleHold();
    expect(call.did('unhold')).toHaveLength(1);
    call.emit({ type: 'unhold', originator: 'local' });
    call.emit({ type: 'hold', originator: 'remote' });
    expect(s.phone.call!.remoteHeld).toBe(true);
    call.emit({ type: 'unhold', originator: 'remote' });
    for (const tone of '42#') call.emit({ type: 'dtmf', originator: 'remote', tone, transport: 'INFO' });
    expect(s.phone.call!.dtmfReceived).toBe('42#');
    s.phone.sendDtmf('1*', 'RFC2833');
    expect(call.did('dtmf')).toEqual([['dtmf', '1*', 'RFC2833']]);

    s.phone.hangUp();
    expect(call.did('terminate')).toHaveLength(1);
    call.emit({ type: 'ended', originator: 'local', cause: 'Terminated' });
    await flush();
    expect(s.phone.call).toBeNull();
    expect(s.phone.lastCall).toMatchObject({ outcome: 'answered', state: 'ended' });
    const [cmd] = s.commands();
    expect(cmd).toMatchObject({ type: 'log_call', conversationId: 'cv-wang', direction: 'in', from: '13800138000', to: '1001', outcome: 'answered', answeredAt: expect.any(Number) });
    expect(s.f.state.ring.at(-1)).toBe(false);
  });

  it('logs a call from an unknown number that hung up while ringing as missed, by number (the server starts the conversation)', async () => {
    const s = await registered();
    const call = new FakeCall('in-2', 'in', '+8613900139000', 'Customer');
    await ring(s, call);
    expect(s.phone.call!.pop).toMatchObject({ contactId: null, conversations: [] });
    call.emit({ type: 'failed', originator: 'remote', cause: 'Canceled' });
    await flush();
    expect(s.commands()).toEqual([
      expect.objectContaining({ type: 'log_call', inboxId: 'voice-1', phone: '+8613900139000', contactName: 'Customer', direction: 'in', outcome: 'missed', answeredAt: null }),
    ]);
    expect(s.commands()[0]).not.toHaveProperty('conversationId');
  });

  it('rejects with 603, a second caller hears busy, and a colleague’s call is logged by the colleague only', async () => {
    const s = await registered();
    const first = new FakeCall('in-3', 'in', '+8613800138000');
    await ring(s, first);
    const second = new FakeCall('in-4', 'in', '+8613700137000');
    await ring(s, second);
    expect(second.did('terminate')).toEqual([['terminate', 486]]);
    s.phone.reject();
    expect(first.did('terminate')).toEqual([['terminate', 603]]);
    first.emit({ type: 'failed', originator: 'local', cause: 'Rejected' });
    await flush();
    expect(s.commands().map((c) => [c.phone ?? c.conversationId, c.outcome])).toEqual([
      ['+8613700137000', 'busy'],
      ['cv-wang', 'rejected'],
    ]);

    const colleague = new FakeCall('in-5', 'in', '1002', 'Other', { 'X-Goutong-Agent': OTHER.id, 'X-Goutong-Conversation': 'cv-wang' });
    await ring(s, colleague);
    expect(s.phone.call).toMatchObject({ internalAgentId: OTHER.id, internalAgentName: OTHER.name, conversationId: 'cv-wang', pop: { contactName: '王芳' } });
    await s.phone.answer();
    colleague.emit({ type: 'confirmed' });
    colleague.emit({ type: 'ended', originator: 'remote', cause: 'Terminated' });
    await flush();
    expect(s.commands()).toHaveLength(2);
  });

  it('keeps ringing with a microphone error when the microphone is not available', async () => {
    const s = await registered({ micError: Object.assign(new Error('Permission denied'), { name: 'NotAllowedError' }) });
    const call = new FakeCall('in-6', 'in', '+8613800138000');
    await ring(s, call);
    await s.phone.answer();
    expect(call.did('answer')).toHaveLength(0);
    expect(s.phone.error).toEqual({ kind: 'microphone', detail: 'Permission denied' });
    expect(s.phone.call!.state).toBe('ringing');
  });

  it('accepts a blind transfer (REFER): the old call is logged, the call to the target takes its place', async () => {
    const s = await registered();
    const call = new FakeCall('in-7', 'in', '+8613800138000');
    await ring(s, call);
    await s.phone.answer();
    call.emit({ type: 'confirmed' });
    const next = new FakeCall('out-r', 'out', '1003');
    let accepted: unknown = null;
    call.emit({
      type: 'refer',
      target: '1003',
      accept: (o) => {
        accepted = o;
        s.f.phone().emit({ type: 'newCall', call: next });
      },
      reject: () => {},
    });
    await flush();
    expect(accepted).toMatchObject({ stream: expect.anything(), extraHeaders: [`X-Goutong-Agent: ${ME.id}`, 'X-Goutong-Conversation: cv-wang'] });
    expect(s.phone.call).toMatchObject({ id: 'out-r', direction: 'out', remote: '1003', state: 'dialing' });
    expect(s.commands()).toEqual([expect.objectContaining({ conversationId: 'cv-wang', outcome: 'answered' })]);
    next.emit({ type: 'confirmed' });
    next.emit({ type: 'ended', originator: 'remote', cause: 'Terminated' });
    await flush();
    expect(s.commands()[1]).toMatchObject({ direction: 'out', conversationId: 'cv-wang', to: '1003', outcome: 'answered' });
  });
});

describe('outgoing calls', () => {
  it('click-to-call names the agent and the conversation in headers; busy, not found and a cancelled call have their outcomes', async () => {
    const s = await registered();
    expect(await s.phone.dial('+8613800138000', { conversationId: 'cv-wang', name: '王芳' })).toBe(true);
    const [placed] = s.f.phone().placed;
    expect(placed!.headers).toEqual([`X-Goutong-Agent: ${ME.id}`, 'X-Goutong-Conversation: cv-wang']);
    expect(s.phone.call).toMatchObject({ state: 'dialing', remoteName: '王芳' });
    // One call at a time.
    expect(await s.phone.dial('123')).toBe(false);
    placed!.call.emit({ type: 'progress', originator: 'remote' });
    expect(s.phone.call!.alerting).toBe(true);
    placed!.call.emit({ type: 'failed', originator: 'remote', cause: 'Busy', status: 486 });
    await flush();

    await s.phone.dial('999');
    s.f.phone().placed[1]!.call.emit({ type: 'failed', originator: 'remote', cause: 'Not Found', status: 404 });
    await flush();
    await s.phone.dial('+8613700137000');
    s.phone.hangUp();
    s.f.phone().placed[2]!.call.emit({ type: 'failed', originator: 'local', cause: 'Canceled' });
    await flush();
    expect(s.commands().map((c) => [c.conversationId ?? c.phone, c.direction, c.from, c.to, c.outcome])).toEqual([
      ['cv-wang', 'out', '1001', '+8613800138000', 'busy'],
      ['999', 'out', '1001', '999', 'failed'],
      ['+8613700137000', 'out', '1001', '+8613700137000', 'missed'],
    ]);
  });

  it('does not dial before the line is registered', async () => {
    const s = await setUp();
    await s.phone.bind();
    expect(await s.phone.dial('123')).toBe(false);
    expect(s.phone.error).toMatchObject({ kind: 'call' });
  });

  it('transfers blindly (REFER) and leaves the call: outcome transferred with the target; a refused transfer keeps the call', async () => {
    const s = await registered();
    await s.phone.dial('+8613800138000', { conversationId: 'cv-wang' });
    const call = s.f.phone().placed[0]!.call;
    call.emit({ type: 'accepted' });
    call.referResult = { ok: false, reason: '403 Forbidden' };
    expect(await s.phone.transfer('1002')).toBe(false);
    expect(s.phone.error).toEqual({ kind: 'transfer', detail: '403 Forbidden' });
    expect(call.did('terminate')).toHaveLength(0);
    call.referResult = { ok: true };
    expect(await s.phone.transfer('1002')).toBe(true);
    expect(call.did('refer')).toEqual([['refer', '1002'], ['refer', '1002']]);
    expect(call.did('terminate')).toHaveLength(1);
    call.emit({ type: 'ended', originator: 'local', cause: 'Terminated' });
    await flush();
    expect(s.commands()).toEqual([expect.objectContaining({ conversationId: 'cv-wang', outcome: 'transferred', transferTarget: '1002' })]);
  });
});

describe('two lines, attended transfer, conference, supervisor', () => {
  async function talking(s: Awaited<ReturnType<typeof registered>>, id: string, from: string) {
    const call = new FakeCall(id, 'in', from);
    await ring(s, call);
    await s.phone.answer();
    call.emit({ type: 'confirmed' });
    await flush();
    return call;
  }

  it('call waiting: the second caller rings on the other line; hold and answer, swap, the held call returns when the other ends; both logged', async () => {
    const s = await registered();
    const first = await talking(s, 'in-a', '+8613800138000');
    const second = new FakeCall('in-b', 'in', '+8613700137000');
    await ring(s, second);
    expect(second.did('terminate')).toEqual([]);
    expect(s.phone.other).toMatchObject({ id: 'in-b', state: 'ringing' });
    expect(s.phone.call).toMatchObject({ id: 'in-a', state: 'active' });
    await s.phone.answerWaiting();
    expect(first.did('hold')).toHaveLength(1);
    expect(second.did('answer')).toHaveLength(1);
    first.emit({ type: 'hold', originator: 'local' });
    second.emit({ type: 'confirmed' });
    expect(s.phone.call).toMatchObject({ id: 'in-b', state: 'active' });
    expect(s.phone.other).toMatchObject({ id: 'in-a', held: true });
    await s.phone.swap();
    expect(second.did('hold')).toHaveLength(1);
    expect(first.did('unhold')).toHaveLength(1);
    expect(s.phone.call!.id).toBe('in-a');
    second.emit({ type: 'hold', originator: 'local' });
    first.emit({ type: 'unhold', originator: 'local' });
    // the focused caller hangs up: the held one becomes the call (still held until resumed)
    first.emit({ type: 'ended', originator: 'remote', cause: 'BYE' });
    await flush();
    expect(s.phone.call).toMatchObject({ id: 'in-b', held: true });
    expect(s.phone.other).toBeNull();
    s.phone.toggleHold();
    expect(second.did('unhold')).toHaveLength(1);
    second.emit({ type: 'ended', originator: 'local', cause: 'Terminated' });
    await flush();
    expect(s.commands().map((c) => [c.phone ?? c.conversationId, c.outcome])).toEqual([
      ['cv-wang', 'answered'],
      ['+8613700137000', 'answered'],
    ]);
  });

  it('call waiting: refusing the second caller answers 486 and logs it as busy; the first call goes on', async () => {
    const s = await registered();
    await talking(s, 'in-c', '+8613800138000');
    const second = new FakeCall('in-d', 'in', '+8613700137000');
    await ring(s, second);
    s.phone.rejectWaiting();
    expect(second.did('terminate')).toEqual([['terminate', 486]]);
    second.emit({ type: 'failed', originator: 'local', cause: 'Rejected' });
    await flush();
    expect(s.phone.call).toMatchObject({ id: 'in-c', state: 'active' });
    expect(s.commands().map((c) => [c.phone, c.outcome])).toEqual([['+8613700137000', 'rejected']]);
  });

  it('attended transfer: consult the target with the caller on hold, then complete (REFER with Replaces to the caller) or return', async () => {
    const s = await registered();
    const caller = await talking(s, 'in-e', '+8613800138000');
    expect(await s.phone.consult('1002')).toBe(true);
    expect(caller.did('hold')).toHaveLength(1);
    const consult = s.f.phone().placed[0]!;
    expect(consult.target).toBe('1002');
    expect(consult.headers).toContain('X-Goutong-Conversation: cv-wang');
    expect(s.phone.consulting).toBe(true);
    expect(s.phone.other).toMatchObject({ id: 'in-e' });
    consult.call.emit({ type: 'accepted' });
    // the target refuses to take it: return to the caller (consultation hung up, the caller resumed)
    s.phone.returnToCaller();
    expect(consult.call.did('terminate')).toHaveLength(1);
    consult.call.emit({ type: 'ended', originator: 'local', cause: 'Terminated' });
    await flush();
    expect(s.phone.call).toMatchObject({ id: 'in-e' });
    expect(caller.did('unhold')).toHaveLength(1);
    expect(s.phone.consulting).toBe(false);

    // again, and this time complete
    caller.emit({ type: 'unhold', originator: 'local' });
    expect(await s.phone.consult('1003')).toBe(true);
    const consult2 = s.f.phone().placed[1]!.call;
    consult2.emit({ type: 'accepted' });
    expect(await s.phone.completeTransfer()).toBe(true);
    expect(caller.did('refer')).toEqual([['refer', 'sip:1003@lab.test']]);
    expect(caller.referOpts[0]!.replaces).toBe(consult2);
    expect(caller.did('terminate')).toHaveLength(1);
    caller.emit({ type: 'ended', originator: 'local', cause: 'Terminated' });
    consult2.emit({ type: 'ended', originator: 'remote', cause: 'BYE' });
    await flush();
    expect(s.phone.call).toBeNull();
    const logged = s.commands();
    expect(logged.find((c) => c.direction === 'in')).toMatchObject({ conversationId: 'cv-wang', outcome: 'transferred', transferTarget: '1003', transferKind: 'attended' });
    expect(logged.filter((c) => c.direction === 'out').map((c) => c.to)).toEqual(['1002', '1003']);
  });

  it('the consulted target takes the caller’s INVITE with Replaces on the consultation’s line, same microphone', async () => {
    const s = await registered();
    const consultFromColleague = new FakeCall('in-f', 'in', '1001', 'Colleague', { 'X-Goutong-Agent': OTHER.id, 'X-Goutong-Conversation': 'cv-wang' });
    await ring(s, consultFromColleague);
    await s.phone.answer();
    consultFromColleague.emit({ type: 'confirmed' });
    const replacing = new FakeCall('in-g', 'in', '+8613800138000');
    consultFromColleague.emit({ type: 'replaces', accept: () => s.f.phone().emit({ type: 'newCall', call: replacing }), reject: () => {} });
    await flush();
    expect(replacing.did('answer')).toHaveLength(1);
    expect(s.phone.call).toMatchObject({ id: 'in-g', state: 'active', remote: '+8613800138000', conversationId: 'cv-wang' });
    replacing.emit({ type: 'ended', originator: 'remote', cause: 'BYE' });
    await flush();
    // the colleague's consultation is theirs to log; the transferred caller is ours
    expect(s.commands().map((c) => [c.conversationId, c.direction, c.outcome])).toEqual([['cv-wang', 'in', 'answered']]);
  });

  it('a conference of three: both lines live, mixed so each remote hears the agent and the other; logged with its parties', async () => {
    const s = await registered();
    const a = await talking(s, 'in-h', '+8613800138000');
    expect(await s.phone.consult('+8613700137000')).toBe(true);
    const b = s.f.phone().placed[0]!.call;
    b.emit({ type: 'accepted' });
    a.emit({ type: 'hold', originator: 'local' });
    expect(await s.phone.startConference()).toBe(true);
    expect(a.did('unhold')).toHaveLength(1);
    a.emit({ type: 'unhold', originator: 'local' });
    await flush();
    const last = s.f.state.mixes.at(-1)!;
    expect(last.legs.sort()).toEqual(['in-h', b.id].sort());
    expect(last.plan.sends).toEqual({ [b.id]: ['in-h'], 'in-h': [b.id] });
    expect(last.plan.ear.sort()).toEqual(['in-h', b.id].sort());
    s.phone.hangUp();
    expect(a.did('terminate')).toHaveLength(1);
    expect(b.did('terminate')).toHaveLength(1);
    a.emit({ type: 'ended', originator: 'local', cause: 'Terminated' });
    b.emit({ type: 'ended', originator: 'local', cause: 'Terminated' });
    await flush();
    expect(s.f.state.mixerStopped).toBeGreaterThan(0);
    expect(s.commands().find((c) => c.direction === 'in')).toMatchObject({ outcome: 'answered', conference: ['+8613700137000'] });
    expect(s.commands().find((c) => c.direction === 'out')).toMatchObject({ outcome: 'answered', conference: ['+8613800138000'] });
  });

  it('a supervisor’s monitor call is answered only with a grant the server confirms; whisper reaches the agent, never the caller', async () => {
    const s = await registered();
    const caller = await talking(s, 'in-i', '+8613800138000');
    // a forged header: the server refuses, the call is refused (403), nothing is mixed
    const forged = new FakeCall('in-j', 'in', '1003', null, { 'X-Goutong-Monitor': 'forged' });
    await ring(s, forged);
    expect(forged.did('terminate')).toEqual([['terminate', 403]]);
    expect(s.phone.monitor).toBeNull();
    s.f.state.verify = { supervisorId: 'sup-1', supervisorName: 'Li Wei', mode: 'whisper' };
    const sup = new FakeCall('in-k', 'in', '1003', null, { 'X-Goutong-Monitor': 'grant-for-me-whisper' });
    await ring(s, sup);
    expect(sup.did('answer')).toHaveLength(1);
    expect(s.phone.monitor).toEqual({ supervisorName: 'Li Wei', mode: 'whisper' });
    expect(s.phone.call).toMatchObject({ id: 'in-i', monitoredBy: { agentId: 'sup-1', mode: 'whisper' } });
    expect(s.phone.other).toBeNull();
    sup.emit({ type: 'confirmed' });
    await flush();
    const plan = s.f.state.mixes.at(-1)!.plan;
    expect(plan).toEqual({ sends: { 'in-i': [], 'in-k': ['in-i'] }, ear: ['in-i', 'in-k'] });
    caller.emit({ type: 'ended', originator: 'remote', cause: 'BYE' });
    await flush();
    expect(sup.did('terminate')).toHaveLength(1);
    expect(s.phone.monitor).toBeNull();
    expect(s.commands()).toEqual([expect.objectContaining({ outcome: 'answered', monitoredBy: { agentId: 'sup-1', mode: 'whisper' } })]);
  });

  it('[supervisor] listening: the grant first, then a call to the agent’s line with it; muted, and not logged as a customer call', async () => {
    const s = await registered();
    expect(await s.phone.monitorAgent(OTHER.id, 'listen', OTHER.name)).toBe(true);
    expect(s.f.state.grants).toEqual([`${OTHER.id}:listen`]);
    const placed = s.f.phone().placed[0]!;
    expect(placed.target).toBe('1002');
    expect(placed.headers).toContain(`X-Goutong-Monitor: grant-for-${OTHER.id}-listen`);
    placed.call.emit({ type: 'accepted' });
    expect(placed.call.did('mute')).toHaveLength(1);
    placed.call.emit({ type: 'ended', originator: 'local', cause: 'Terminated' });
    await flush();
    expect(s.commands()).toEqual([]);
  });

  it('mixPlan: listen gives the supervisor the caller, the agent never plays them; a held line hears nothing', () => {
    expect(mixPlan([{ id: 'c', kind: 'customer', live: true, focus: true }, { id: 's', kind: 'listen', live: true, focus: false }])).toEqual({ sends: { c: [], s: ['c'] }, ear: ['c'] });
    expect(mixPlan([{ id: 'c', kind: 'customer', live: true, focus: true }, { id: 'h', kind: 'customer', live: false, focus: false }])).toEqual({ sends: { c: [], h: [] }, ear: ['c'] });
  });

  it('recordings are 16-bit mono PCM WAV at 16 kHz', async () => {
    const b = wavBlob([new Int16Array([1, -1, 300]), new Int16Array([7])], 16000);
    const v = new DataView(await b.arrayBuffer());
    expect(b.type).toBe('audio/wav');
    expect(v.getUint32(24, true)).toBe(16000);
    expect(v.getUint16(22, true)).toBe(1);
    expect(v.getUint16(34, true)).toBe(16);
    expect(v.getUint32(40, true)).toBe(8);
    expect(v.getInt16(44 + 4, true)).toBe(300);
  });
});

describe('recordings', () => {
  it('records both sides, uploads after hang-up and logs the call with the recording; offline it waits, with a fixed command id', async () => {
    const s = await registered({ accounts: [{ ...ACCOUNT, recordCalls: true }] });
    s.f.state.online = false;
    await s.phone.dial('+8613800138000', { conversationId: 'cv-wang' });
    const call = s.f.phone().placed[0]!.call;
    call.emit({ type: 'confirmed' });
    expect(s.f.state.recorders).toBe(0);
    call.emit({ type: 'remoteStream', stream: stream() });
    expect(s.f.state.recorders).toBe(1);
    expect(s.phone.call!.recording).toBe(true);
    call.emit({ type: 'ended', originator: 'remote', cause: 'Terminated' });
    await flush();
    // Offline: the recording and its call wait on the device (core's upload queue, the recording in the vault).
    const uploads = s.services.client.uploads!;
    expect(s.commands()).toEqual([]);
    expect(uploads.size).toBe(1);
    expect(s.services.files.files.size).toBe(1);
    expect(s.phone.pendingRecordings).toBe(1);
    const [waiting] = uploads.list();

    // A server error is retried later; back online it goes.
    s.f.state.online = true;
    s.f.state.uploadError = new TransportError('http', 'unavailable', 503);
    uploads.kick();
    await uploads.idle();
    expect(uploads.list()[0]).toMatchObject({ id: waiting!.id, attempts: 1, state: 'waiting' });
    s.f.state.uploadError = null;
    await s.clock.tick(5_000);
    await uploads.idle();
    await flush();
    expect(uploads.size).toBe(0);
    expect(s.services.files.files.size).toBe(0);
    expect(s.phone.pendingRecordings).toBe(0);
    expect(s.f.uploads).toEqual([expect.stringMatching(/^call-.*-\+86138\*\*\*\*8000\.webm$/)]);
    const attachment = expect.objectContaining({ id: '0190aaaa-0000-7000-8000-000000000001', mime: 'audio/webm' });
    expect(s.commands()).toEqual([expect.objectContaining({ id: waiting!.id, conversationId: 'cv-wang', outcome: 'answered', attachments: [attachment] })]);

    // Handing the same entry over again (a crash before it left the queue) is the same command.
    await s.services.client.outbox.enqueue({ ...waiting!.intent, id: waiting!.id, deviceTime: waiting!.deviceTime, attachments: [{ id: '0190aaaa-0000-7000-8000-000000000001', name: 'x.webm', mime: 'audio/webm', size: 10 }] });
    expect(s.commands()).toHaveLength(1);
  });

  it('a queue call the server bridged (X-Goutong-Queue) is neither recorded nor logged here: the server writes it', async () => {
    const s = await registered({ accounts: [{ ...ACCOUNT, recordCalls: true }] });
    const call = new FakeCall('in-q', 'in', '+8613800138000', null, { 'X-Goutong-Queue': 'qc-1' });
    await ring(s, call);
    expect(s.phone.call).toMatchObject({ queueCallId: 'qc-1', state: 'ringing' });
    await s.phone.answer();
    call.emit({ type: 'confirmed' });
    call.emit({ type: 'remoteStream', stream: stream() });
    expect(s.f.state.recorders).toBe(0);
    expect(s.phone.call!.recording).toBe(false);
    call.emit({ type: 'ended', originator: 'remote', cause: 'Terminated' });
    await flush();
    expect(s.phone.lastCall).toMatchObject({ outcome: 'answered', queueCallId: 'qc-1' });
    expect(s.commands()).toEqual([]);
    expect(s.services.client.uploads!.size).toBe(0);

    // a queue call the agent lets ring out (the ACD cancels it and offers it to someone else) is not logged as missed here either
    const queued = new FakeCall('in-q3', 'in', '+8613900139000', null, { 'X-Goutong-Queue': 'qc-2' });
    await ring(s, queued);
    queued.emit({ type: 'failed', originator: 'remote', cause: 'Canceled' });
    await flush();
    expect(s.commands()).toEqual([]);
  });

  it('drops a recording the server refuses for good, and logs the call without it', async () => {
    const s = await registered({ accounts: [{ ...ACCOUNT, recordCalls: true }] });
    s.f.state.uploadError = new TransportError('http', 'too large', 413);
    await s.phone.dial('+8613800138000', { conversationId: 'cv-wang' });
    const call = s.f.phone().placed[0]!.call;
    call.emit({ type: 'confirmed' });
    call.emit({ type: 'remoteStream', stream: stream() });
    call.emit({ type: 'ended', originator: 'remote', cause: 'Terminated' });
    await s.services.client.uploads!.idle();
    await flush();
    expect(s.services.client.uploads!.size).toBe(0);
    expect(s.phone.error).toMatchObject({ kind: 'upload' });
    expect(s.commands()).toEqual([expect.objectContaining({ conversationId: 'cv-wang', outcome: 'answered' })]);
    expect(s.commands()[0]).not.toHaveProperty('attachments');
  });
});

describe('recordings left by the old recording queue', () => {
  it('move into core’s upload queue with their command id, and the call is logged once with the recording', async () => {
    const s = await setUp({ accounts: [{ ...ACCOUNT, recordCalls: true }] });
    const id = '0190bbbb-0000-7000-8000-000000000001';
    const intent = { type: 'log_call', conversationId: 'cv-wang', direction: 'out', from: '1001', to: '+8613800138000', startedAt: 1, answeredAt: 2, endedAt: 3, outcome: 'answered' };
    s.f.legacy.set(id, { id, command: { ...intent, id, deviceTime: 4 }, name: 'call-old.webm', blob: new Blob(['old'], { type: 'audio/webm' }), attempts: 3 });
    await s.phone.bind();
    await flush();
    await s.services.client.uploads!.idle();
    expect(s.f.legacy.size).toBe(0);
    expect(s.f.uploads).toEqual(['call-old.webm']);
    expect(s.commands()).toEqual([expect.objectContaining({ id, deviceTime: 4, outcome: 'answered', attachments: [expect.objectContaining({ name: 'call-old.webm' })] })]);
  });
});

describe('call log helpers', () => {
  it('maps SIP endings to outcomes, compares numbers, finds a contact’s number and builds the intent', () => {
    const base = { answeredAt: null, failed: true, rejectedByMe: false, busyHere: false, transferTarget: null };
    expect(outcomeOf({ ...base, direction: 'in', cause: 'Canceled' })).toBe('missed');
    expect(outcomeOf({ ...base, direction: 'in', cause: 'Rejected', rejectedByMe: true })).toBe('rejected');
    expect(outcomeOf({ ...base, direction: 'out', cause: 'Busy' })).toBe('busy');
    expect(outcomeOf({ ...base, direction: 'out', cause: 'Rejected' })).toBe('rejected');
    expect(outcomeOf({ ...base, direction: 'out', cause: 'No Answer' })).toBe('missed');
    expect(outcomeOf({ ...base, direction: 'out', cause: 'Connection Error' })).toBe('failed');
    expect(outcomeOf({ ...base, direction: 'out', cause: 'Terminated', answeredAt: 5 })).toBe('answered');
    expect(outcomeOf({ ...base, direction: 'out', cause: 'Terminated', answeredAt: 5, transferTarget: '1002' })).toBe('transferred');
    expect(samePhone('+86 138-0013-8000', '13800138000')).toBe(true);
    expect(samePhone('sip:1002@lab.test', '1002')).toBe(true);
    expect(samePhone('1002', '11002')).toBe(false);
    expect(phoneOf({ identities: [{ channel: 'email', identifier: 'a@b.c' }, { channel: 'sms', identifier: '+1555' }], attributes: {} })).toBe('+1555');
    expect(phoneOf({ identities: [], attributes: { phone: ' 010-1234 ' } })).toBe('010-1234');
    expect(phoneOf({ identities: [], attributes: {} })).toBeNull();
    expect(logCallIntent({ direction: 'in', remote: '+86138', remoteName: null, me: '1001', inboxId: 'v', conversationId: null, startedAt: 10, answeredAt: 5, endedAt: 20, outcome: 'answered', transferTarget: null })).toEqual({
      type: 'log_call', inboxId: 'v', phone: '+86138', direction: 'in', from: '+86138', to: '1001', startedAt: 10, answeredAt: 10, endedAt: 20, outcome: 'answered',
    });
  });
});

describe('softphone components', () => {
  it('the call window rings in Chinese with labelled controls, and the error reads clearly', async () => {
    const { mount } = await import('@vue/test-utils');
    const ElementPlus = (await import('element-plus')).default;
    const { makeI18n } = await import('../../src/renderer/i18n');
    const CallPanel = (await import('../../src/renderer/softphone/components/CallPanel.vue')).default;
    const SoftphoneBar = (await import('../../src/renderer/softphone/components/SoftphoneBar.vue')).default;
    const pinia = createPinia();
    setActivePinia(pinia);
    const s = await registered();
    const global = { global: { plugins: [pinia, makeI18n('zh-CN'), ElementPlus] } };
    const bar = mount(SoftphoneBar, global);
    const panel = mount(CallPanel, global);
    await flush();
    expect(bar.get('[role="switch"]').attributes('aria-label')).toBe('接听电话');
    expect(bar.get('[role="status"]').attributes('aria-label')).toBe('电话状态');

    const call = new FakeCall('in-z', 'in', '13800138000', '王芳手机');
    await ring(s, call);
    await flush();
    const dialog = panel.get('[role="dialog"]');
    expect(dialog.attributes('aria-label')).toBe('来电');
    expect(dialog.text()).toContain('王芳');
    expect(dialog.text()).toContain('振铃中');
    const buttons = dialog.findAll('button').map((b) => b.text());
    expect(buttons).toEqual(expect.arrayContaining(['接听', '拒接']));
    await dialog.findAll('button').find((b) => b.text() === '接听')!.trigger('click');
    await flush();
    call.emit({ type: 'confirmed' });
    await flush();
    const active = panel.get('[role="dialog"]');
    expect(active.attributes('aria-label')).toBe('通话');
    expect(active.findAll('button').map((b) => b.text())).toEqual(expect.arrayContaining(['静音', '保持', '拨号键盘', '转接', '挂断']));
    s.f.phone().emit({ type: 'registrationFailed', cause: 'Authentication Error', status: 403, reason: 'Forbidden' });
    await flush();
    expect(panel.get('[role="alert"]').text()).toContain('SIP 服务器拒绝注册：403 Forbidden');
    bar.unmount();
    panel.unmount();
  });
});

describe('[trust] masked numbers', () => {
  it('an agent without pii.view sees an incoming caller-ID masked; the call is still logged by the number SIP gave', async () => {
    const { mount } = await import('@vue/test-utils');
    const ElementPlus = (await import('element-plus')).default;
    const { makeI18n } = await import('../../src/renderer/i18n');
    const CallPanel = (await import('../../src/renderer/softphone/components/CallPanel.vue')).default;
    const pinia = createPinia();
    setActivePinia(pinia);
    const s = await registered();
    const panel = mount(CallPanel, { global: { plugins: [pinia, makeI18n('en'), ElementPlus] } });
    await flush();
    // An unknown caller (no contact on the device): what SIP says is all there is.
    const call = new FakeCall('in-m', 'in', '13912345678', '13912345678');
    await ring(s, call);
    await flush();
    expect(s.phone.call).toMatchObject({ remote: '13912345678', remoteShown: '139****5678', remoteNameShown: '139****5678' });
    const dialog = panel.get('[role="dialog"]');
    expect(dialog.text()).toContain('139****5678');
    expect(dialog.text()).not.toContain('13912345678');
    expect(JSON.stringify(s.host.notes)).not.toContain('13912345678');
    expect(JSON.stringify(s.host.notes)).toContain('139****5678');
    panel.unmount();
  });

  it('click-to-call of a masked number goes through the server\'s call intent and shows the masked number', async () => {
    const s = await registered();
    expect(await s.phone.dial('138****8000')).toBe(false);
    expect(s.f.phone().placed).toHaveLength(0);
    expect(await s.phone.dialContact({ conversationId: 'cv-wang', identity: 0, name: '王芳' })).toBe(true);
    expect(s.f.intents).toEqual([{ conversationId: 'cv-wang', identity: 0 }]);
    const placed = s.f.phone().placed[0]!;
    expect(placed.target).toBe(`gtcall-${'ab'.repeat(20)}`);
    expect(placed.headers).toContain('X-Goutong-Conversation: cv-wang');
    expect(s.phone.call).toMatchObject({ direction: 'out', remoteShown: '138****8000', conversationId: 'cv-wang' });
    placed.call.emit({ type: 'accepted' });
    placed.call.emit({ type: 'confirmed' });
    placed.call.emit({ type: 'ended', originator: 'local', cause: 'Terminated' });
    await flush();
    const logged = s.commands().filter((c) => c.type === 'log_call');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ conversationId: 'cv-wang', direction: 'out', outcome: 'answered' });
    expect(JSON.stringify(logged[0])).not.toContain('13800138000');
  });
});
