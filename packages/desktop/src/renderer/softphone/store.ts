// The softphone: registers the agent's SIP account while they are available, rings with a screen
// pop (the caller's contact and open conversations), answers, rejects, mutes, holds, sends DTMF,
// transfers (REFER) and hangs up; places click-to-call calls; and logs every call as a `log_call`
// command (core's outbox: offline-safe, exactly once), with the recording uploaded first (core's
// upload queue) when the inbox records calls. JsSIP, devices and the server come in through the PhonePlatform port.
import { defineStore } from 'pinia';
import { markRaw } from 'vue';
import { BUILTIN_ROLES, callerIdFor, isMaskedNumber, QUEUE_CALL_HEADER, queueCallIdOf, softphoneWritesCall, TransportError, type CallOutcome, type Conversation, type GoutongClient, type Intent } from '@goutong/core';
import { useTrustStore } from '../stores/trust';
import { currentServices } from '../platform/services';
import { useHost } from '../platform/host';
import { useSessionStore } from '../stores/session';
import { useDirectoryStore } from '../stores/directory';
import { browserPhonePlatform } from './browserPlatform';
import { logCallIntent, outcomeOf, samePhone, type CallRecord } from './callLog';
import { mixPlan, type MixLegState } from './mixPlan';
import type { AudioDevice, CallMixer, CallRecorder, DtmfTransport, MicPermission, MonitorMode, PhoneEvent, PhonePlatform, SipAccount, SipCall, SipPhone, CallEvent } from './types';

export type PhoneStatus = 'off' | 'loading' | 'noAccount' | 'connecting' | 'registered' | 'unreachable' | 'failed';
export type CallState = 'ringing' | 'dialing' | 'active' | 'ended';

export interface PhoneError {
  kind: 'credentials' | 'registration' | 'unreachable' | 'microphone' | 'call' | 'transfer' | 'upload' | 'monitor';
  detail: string;
}

export interface PopConversation {
  id: string;
  contactName: string;
  subject: string | null;
  status: Conversation['status'];
  channel: Conversation['channel'];
  preview: string;
}

export interface CallView {
  id: string;
  direction: 'in' | 'out';
  state: CallState;
  /** The far end as SIP gives it (logged with the call; the server resolves contacts by it). */
  remote: string;
  remoteName: string | null;
  /** [trust] What the agent sees of the far end: masked for an agent without pii.view (core callerIdFor). */
  remoteShown: string;
  remoteNameShown: string | null;
  startedAt: number;
  answeredAt: number | null;
  endedAt: number | null;
  /** The far end is ringing (outgoing). */
  alerting: boolean;
  muted: boolean;
  held: boolean;
  remoteHeld: boolean;
  dtmfSent: string;
  dtmfReceived: string;
  /** A colleague calling (their softphone logs the call, this one does not). */
  internalAgentId: string | null;
  internalAgentName: string | null;
  /** Where the call is logged; null: by number (the server finds or starts the conversation). */
  conversationId: string | null;
  pop: { loading: boolean; contactId: string | null; contactName: string | null; conversations: PopConversation[] };
  transferring: boolean;
  transferTarget: string | null;
  /** Attended: the agent consulted the target first (REFER with Replaces). */
  transferKind: 'blind' | 'attended' | null;
  /** The other parties joined into a conference on this call. */
  conferenceWith: string[];
  /** A supervisor listened or whispered on this call. */
  monitoredBy: { agentId: string; mode: MonitorMode } | null;
  /** [supervisor] This call listens to / whispers on an agent's call (not logged: the agent's call is). */
  monitorOf: { agentId: string; mode: MonitorMode } | null;
  /** A queue call the server's IVR bridged to this agent (`X-Goutong-Queue`): the server logs and records it, this softphone does not. */
  queueCallId: string | null;
  recording: boolean;
  outcome: CallOutcome | null;
  endCause: string | null;
}

interface Current {
  call: SipCall;
  off: () => void;
  local: MediaStream | null;
  remote: MediaStream | null;
  recorder: CallRecorder | null;
  rejectedByMe: boolean;
  /** The local stream went to the call that replaced this one (a transfer we accepted). */
  handedOver: boolean;
}

/** The queue call id an incoming call carries (the server's ACD rang this phone), else null. */
function queueCallOf(c: SipCall): string | null {
  return c.direction === 'in' ? queueCallIdOf(c.header(QUEUE_CALL_HEADER)) : null;
}

/** Whether this softphone logs / records a call (core's one-writer rule). */
function writes(view: CallView, recordCalls: boolean): { log: boolean; record: boolean } {
  return softphoneWritesCall({ direction: view.direction, queueCallId: view.queueCallId, colleagueId: view.internalAgentId, monitoring: view.monitorOf !== null, recordCalls });
}

let platform: PhonePlatform | null = null;
/** Whose platform (its recording queue is per account); null when a test injected it. */
let platformKey: string | null = null;
let phone: SipPhone | null = null;
let offPhone: (() => void) | null = null;
let current: Current | null = null;
let generation = 0;
let referPending: Current | null = null;
/** The second line: held, ringing (call waiting), or in the conference. */
let other: Current | null = null;
/** We were consulted and the transferring agent completed: the INVITE with Replaces takes this line. */
let replacing: Current | null = null;
/** A supervisor's leg on the agent's live call. */
let monitorLeg: (Current & { mode: MonitorMode }) | null = null;
let mixer: CallMixer | null = null;
let mixing: Promise<void> = Promise.resolve();
let unsubs: Array<() => void> = [];

/** Replaces the platform (unit tests: a JsSIP double and fake media); null: the browser's. */
export function setPhonePlatform(p: PhonePlatform | null): void {
  platform = p;
  platformKey = null;
}

function plat(): PhonePlatform {
  const s = useSessionStore();
  const key = `goutong-phone-${s.tenant?.id ?? 't'}-${s.agentId ?? 'a'}`.toLowerCase().replace(/[^a-z0-9_-]/g, '_');
  if (!platform || (platformKey !== null && platformKey !== key)) {
    platform = browserPhonePlatform(key);
    platformKey = key;
  }
  return platform;
}

/** [trust] A number or name as this agent may see it (the SIP caller-ID of a masked contact stays masked). */
export function shownCaller(value: string): string {
  const agent = useSessionStore().agent;
  const mine = useTrustStore().catalog?.mine;
  // A custom role before its permissions are loaded counts as the built-in agent (no pii.view).
  const viewer = { role: agent?.role ?? 'agent', permissions: mine ?? (agent?.roleId ? BUILTIN_ROLES.agent : undefined) };
  return callerIdFor(viewer, value);
}

function client(): GoutongClient | null {
  return currentServices()?.client ?? null;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function stopTracks(s: MediaStream | null): void {
  for (const t of s?.getTracks() ?? []) t.stop();
}

const prefsKey = () => `goutong.phone.${useSessionStore().agentId ?? 'anon'}`;

interface Prefs {
  available?: boolean;
  inputId?: string | null;
  outputId?: string | null;
  inboxId?: string | null;
}

function loadPrefs(): Prefs {
  try {
    return JSON.parse(useHost().prefs.get(prefsKey()) ?? '{}') as Prefs;
  } catch {
    return {};
  }
}

/** The caller's contact and their open conversations, from the device's database. */
async function findCaller(c: GoutongClient, number: string): Promise<{ contactId: string; contactName: string; conversations: Conversation[] } | null> {
  const rows = await c.queryConversations({ channels: ['voice', 'sms'], sort: 'lastActivity', limit: 500 });
  const seen = new Set<string>();
  for (const row of rows) {
    if (seen.has(row.contactId)) continue;
    seen.add(row.contactId);
    const contact = await c.contact(row.contactId);
    if (!contact?.identities.some((i) => (i.channel === 'voice' || i.channel === 'sms') && samePhone(i.identifier, number))) continue;
    const open = await c.queryConversations({ status: ['open', 'pending', 'snoozed'], text: contact.name, sort: 'lastActivity', limit: 50 });
    return { contactId: contact.id, contactName: contact.name, conversations: open.filter((x) => x.contactId === contact.id) };
  }
  return null;
}

function popOf(c: Conversation): PopConversation {
  return { id: c.id, contactName: c.contactName, subject: c.subject, status: c.status, channel: c.channel, preview: c.lastMessagePreview };
}

export const useSoftphoneStore = defineStore('softphone', {
  state: () => ({
    status: 'off' as PhoneStatus,
    available: false,
    error: null as PhoneError | null,
    accounts: [] as SipAccount[],
    account: null as SipAccount | null,
    micPermission: 'unknown' as MicPermission,
    inputs: [] as AudioDevice[],
    outputs: [] as AudioDevice[],
    inputId: null as string | null,
    outputId: null as string | null,
    call: null as CallView | null,
    /** The second line: held while the agent talks on `call`, ringing (call waiting), or conferenced. */
    other: null as CallView | null,
    /** Both lines joined: each remote hears the agent and the other. */
    conference: false,
    /** `call` was placed to consult the held `other` (attended transfer: complete or return). */
    consulting: false,
    /** A supervisor on the live call (agent side). */
    monitor: null as { supervisorName: string; mode: MonitorMode } | null,
    lastCall: null as CallView | null,
    /** Recorded calls waiting for their upload (then for their log_call). */
    pendingRecordings: 0,
    /** Calls logged from this device since sign-in. */
    logged: 0,
  }),
  getters: {
    registered: (s) => s.status === 'registered',
    canDial: (s) => s.status === 'registered' && s.call === null,
  },
  actions: {
    async bind(): Promise<void> {
      this.unbind();
      const p = plat();
      // [trust] The agent's permission set decides whether caller-IDs show masked.
      void useTrustStore().ensureCatalog().catch(() => undefined);
      const prefs = loadPrefs();
      this.available = prefs.available === true;
      this.inputId = prefs.inputId ?? null;
      this.outputId = prefs.outputId ?? null;
      this.micPermission = await p.media.permission();
      await this.refreshDevices();
      unsubs.push(p.media.onDevicesChanged(() => void this.refreshDevices()));
      // Recordings wait for their upload in core's upload queue, their log_call behind them.
      const q = client()?.uploads;
      if (q) {
        const count = () => void (this.pendingRecordings = q.list().filter((e) => e.intent.type === 'log_call').length);
        count();
        unsubs.push(
          q.changed.on(count),
          q.dropped.on((d) => void (this.error = { kind: 'upload', detail: d.reason })),
        );
        void this.adoptLegacyRecordings();
      }
      if (this.available) await this.connect();
    },

    unbind(): void {
      for (const u of unsubs) u();
      unsubs = [];
      for (const l of [current, other, monitorLeg]) {
        if (!l) continue;
        l.call.terminate();
        l.off();
        stopTracks(l.local);
      }
      current = other = monitorLeg = null;
      mixer?.stop();
      mixer = null;
      this.call = this.other = null;
      this.monitor = null;
      this.conference = this.consulting = false;
      this.stopPhone();
      this.status = 'off';
    },

    savePrefs(): void {
      const p: Prefs = { available: this.available, inputId: this.inputId, outputId: this.outputId, inboxId: this.account?.inboxId ?? null };
      useHost().prefs.set(prefsKey(), JSON.stringify(p));
    },

    async refreshDevices(): Promise<void> {
      const { inputs, outputs } = await plat().media.devices();
      this.inputs = inputs;
      this.outputs = outputs;
    },

    async requestMicrophone(): Promise<void> {
      this.micPermission = await plat().media.requestPermission();
      if (this.micPermission === 'granted' && this.error?.kind === 'microphone') this.error = null;
      await this.refreshDevices();
    },

    async setInput(deviceId: string | null): Promise<void> {
      this.inputId = deviceId || null;
      this.savePrefs();
      // Mid-call: swap the microphone track without renegotiating.
      const cur = current;
      const sender = cur?.call.peerConnection?.getSenders().find((s) => s.track?.kind === 'audio');
      if (cur && sender) {
        try {
          const next = await plat().media.microphone(this.inputId);
          await sender.replaceTrack(next.getAudioTracks()[0] ?? null);
          stopTracks(cur.local);
          cur.local = next;
          if (this.call?.muted) for (const t of next.getAudioTracks()) t.enabled = false;
        } catch (e) {
          this.error = { kind: 'microphone', detail: messageOf(e) };
        }
      }
    },

    setOutput(deviceId: string | null): void {
      this.outputId = deviceId || null;
      this.savePrefs();
      if (current?.remote) plat().media.play(current.remote, this.outputId);
    },

    /** Available: register on the voice inbox; away: unregister (not during a call). */
    async setAvailable(on: boolean): Promise<void> {
      if (!on && this.call) return;
      this.available = on;
      this.savePrefs();
      if (on) await this.connect();
      else {
        this.stopPhone();
        this.status = 'off';
        this.error = null;
      }
    },

    async selectAccount(inboxId: string): Promise<void> {
      if (this.call || this.account?.inboxId === inboxId) return;
      const a = this.accounts.find((x) => x.inboxId === inboxId);
      if (!a) return;
      this.account = markRaw(a);
      this.savePrefs();
      if (this.available) await this.connect(inboxId);
    },

    stopPhone(): void {
      generation++;
      offPhone?.();
      offPhone = null;
      try {
        phone?.stop();
      } catch {
        /* already stopped */
      }
      phone = null;
    },

    async connect(inboxId?: string): Promise<void> {
      this.stopPhone();
      const gen = generation;
      const p = plat();
      this.status = 'loading';
      this.error = null;
      let accounts: SipAccount[];
      try {
        accounts = await p.api.credentials();
      } catch (e) {
        if (gen !== generation) return;
        this.status = 'failed';
        this.error = { kind: e instanceof TransportError && e.kind === 'network' ? 'unreachable' : 'credentials', detail: messageOf(e) };
        return;
      }
      if (gen !== generation) return;
      this.accounts = accounts.map((a) => markRaw(a));
      const want = inboxId ?? loadPrefs().inboxId ?? null;
      const account = accounts.find((a) => a.inboxId === want) ?? accounts[0] ?? null;
      if (!account) {
        this.account = null;
        this.status = 'noAccount';
        return;
      }
      this.account = markRaw(account);
      this.savePrefs();
      let ph: SipPhone;
      try {
        ph = await p.createPhone(account);
      } catch (e) {
        if (gen !== generation) return;
        this.status = 'failed';
        this.error = { kind: 'registration', detail: messageOf(e) };
        return;
      }
      if (gen !== generation || !this.available) return;
      phone = ph;
      offPhone = ph.on((e) => this.onPhoneEvent(e, gen));
      this.status = 'connecting';
      ph.start();
    },

    onPhoneEvent(e: PhoneEvent, gen: number): void {
      if (gen !== generation) return;
      switch (e.type) {
        case 'connecting':
          if (this.status !== 'registered' && this.status !== 'unreachable') this.status = 'connecting';
          return;
        case 'connected':
          return;
        case 'disconnected':
          if (this.status === 'off') return;
          this.status = 'unreachable';
          this.error = { kind: 'unreachable', detail: this.account?.wsUrl ?? '' };
          return;
        case 'registered':
          this.status = 'registered';
          if (this.error && ['registration', 'unreachable', 'credentials'].includes(this.error.kind)) this.error = null;
          return;
        case 'unregistered':
          if (this.available) this.status = 'connecting';
          return;
        case 'registrationFailed':
          if (e.cause === 'Connection Error' || e.cause === 'Request Timeout') {
            this.status = 'unreachable';
            this.error = { kind: 'unreachable', detail: this.account?.wsUrl ?? '' };
          } else {
            this.status = 'failed';
            this.error = { kind: 'registration', detail: e.status ? `${e.status} ${e.reason ?? ''}`.trim() : e.cause };
          }
          return;
        case 'newCall':
          this.onNewCall(e.call);
          return;
      }
    },

    onNewCall(c: SipCall): void {
      if (replacing && c.direction === 'in') {
        this.takeReplacement(replacing, c);
        return;
      }
      const grant = c.direction === 'in' ? c.header('X-Goutong-Monitor') : undefined;
      if (grant) {
        void this.acceptMonitor(c, grant);
        return;
      }
      if (current && !other && c.direction === 'in' && this.call?.state === 'active' && !this.consulting) {
        // Call waiting: the second caller rings on the other line; the agent holds and answers, or refuses.
        this.adopt(c, 'ringing', { conversationId: null }, 'other');
        void this.screenPop(c);
        return;
      }
      if (current) {
        if (referPending && c.direction === 'out') {
          // We accepted a transfer: this call to the transfer target replaces the one we were on.
          const old = referPending;
          const oldView = this.call;
          old.handedOver = true;
          this.adopt(c, 'dialing', { conversationId: oldView?.conversationId ?? null });
          current!.local = old.local;
          if (oldView) void this.finish(old, { type: 'ended', originator: 'remote', cause: 'Transferred' }, oldView);
          return;
        }
        // One call at a time: a second caller hears "busy" and is logged as such.
        const startedAt = Date.now();
        c.terminate({ status: 486, reason: 'Busy Here' });
        if (softphoneWritesCall({ direction: c.direction, queueCallId: queueCallOf(c), colleagueId: this.colleagueOf(c)?.id ?? null, monitoring: false, recordCalls: false }).log) {
          void this.logCall({ direction: 'in', remote: c.remoteUser, remoteName: c.remoteName, conversationId: null, startedAt, answeredAt: null, endedAt: Date.now(), outcome: 'busy', transferTarget: null }, null);
        }
        return;
      }
      this.adopt(c, c.direction === 'in' ? 'ringing' : 'dialing', { conversationId: null });
      if (c.direction === 'in') {
        plat().media.ring(true);
        void this.screenPop(c);
      }
    },

    colleagueOf(c: SipCall): { id: string; name: string } | null {
      const id = c.header('X-Goutong-Agent');
      if (!id) return null;
      const a = useDirectoryStore().agents.find((x) => x.id === id);
      return a ? { id: a.id, name: a.name } : null;
    },

    adopt(c: SipCall, state: CallState, o: { conversationId: string | null; remoteName?: string | null; shown?: string | null; monitorOf?: CallView['monitorOf'] }, slot: 'current' | 'other' = 'current'): Current {
      const colleague = c.direction === 'in' ? this.colleagueOf(c) : null;
      const cur: Current = { call: c, off: () => {}, local: null, remote: null, recorder: null, rejectedByMe: false, handedOver: false };
      cur.off = c.on((e) => this.onCallEvent(cur, e));
      const view: CallView = {
        id: c.id,
        direction: c.direction,
        state,
        remote: c.remoteUser,
        remoteName: o.remoteName ?? c.remoteName,
        remoteShown: o.shown ?? shownCaller(c.remoteUser),
        remoteNameShown: o.remoteName ?? (c.remoteName === null ? null : shownCaller(c.remoteName)),
        startedAt: Date.now(),
        answeredAt: null,
        endedAt: null,
        alerting: false,
        muted: false,
        held: false,
        remoteHeld: false,
        dtmfSent: '',
        dtmfReceived: '',
        internalAgentId: colleague?.id ?? null,
        internalAgentName: colleague?.name ?? null,
        conversationId: o.conversationId,
        pop: { loading: c.direction === 'in', contactId: null, contactName: null, conversations: [] },
        transferring: false,
        transferTarget: null,
        transferKind: null,
        conferenceWith: [],
        monitoredBy: null,
        monitorOf: o.monitorOf ?? null,
        queueCallId: queueCallOf(c),
        recording: false,
        outcome: null,
        endCause: null,
      };
      if (slot === 'current') {
        current = cur;
        this.call = view;
      } else {
        other = cur;
        this.other = view;
      }
      return cur;
    },

    /** The view of a line (the focused call or the other line). */
    viewOf(cur: Current): CallView | null {
      if (cur === current) return this.call;
      if (cur === other) return this.other;
      return null;
    },

    /** We were consulted and the transfer completed: the caller's INVITE with Replaces takes over the consultation's line. */
    takeReplacement(old: Current, c: SipCall): void {
      replacing = null;
      const slot = old === current ? 'current' : 'other';
      const oldView = this.viewOf(old);
      if (!oldView || !old.local) {
        c.terminate({ status: 481 });
        return;
      }
      old.handedOver = true;
      const cur = this.adopt(c, 'active', { conversationId: oldView.conversationId }, slot);
      cur.local = old.local;
      const view = this.viewOf(cur)!;
      view.answeredAt = Date.now();
      c.answer({ stream: old.local, pcConfig: this.pcConfig() });
      void this.finish(old, { type: 'ended', originator: 'remote', cause: 'Replaced' }, oldView);
    },

    /** Who is calling: a colleague's call names its conversation; otherwise the caller's number finds the contact. */
    async screenPop(c: SipCall): Promise<void> {
      const cl = client();
      const view = this.call;
      if (!cl || !view) return;
      let pop: CallView['pop'] = { loading: false, contactId: null, contactName: null, conversations: [] };
      let conversationId: string | null = null;
      try {
        const convId = view.internalAgentId ? c.header('X-Goutong-Conversation') : undefined;
        const conv = convId ? await cl.conversation(convId) : null;
        if (conv) {
          const contact = await cl.contact(conv.contactId);
          pop = { loading: false, contactId: conv.contactId, contactName: contact?.name ?? conv.contactName, conversations: [popOf(conv)] };
          conversationId = conv.id;
        } else {
          const found = await findCaller(cl, c.remoteUser);
          if (found) {
            pop = { loading: false, contactId: found.contactId, contactName: found.contactName, conversations: found.conversations.map(popOf) };
            // The contact's open conversation in this voice inbox takes the call log; else the server finds or starts one.
            conversationId = found.conversations.find((x) => x.inboxId === this.account?.inboxId)?.id ?? null;
          }
        }
      } catch (e) {
        console.warn('[softphone] screen pop failed', e);
      }
      if (this.call?.id !== c.id) return;
      this.call.pop = pop;
      this.call.conversationId = conversationId;
    },

    pcConfig(): RTCConfiguration {
      return { iceServers: this.account?.iceServers ?? [] };
    },

    async microphone(): Promise<MediaStream | null> {
      try {
        const s = await plat().media.microphone(this.inputId);
        this.micPermission = 'granted';
        if (this.error?.kind === 'microphone') this.error = null;
        return s;
      } catch (e) {
        this.error = { kind: 'microphone', detail: messageOf(e) };
        this.micPermission = await plat().media.permission();
        return null;
      }
    },

    async answer(): Promise<void> {
      const cur = current;
      if (!cur || this.call?.state !== 'ringing') return;
      plat().media.ring(false);
      const stream = await this.microphone();
      if (!stream) return;
      if (current !== cur || this.call?.state !== 'ringing') {
        stopTracks(stream);
        return;
      }
      cur.local = stream;
      cur.call.answer({ stream, pcConfig: this.pcConfig() });
    },

    reject(): void {
      const cur = current;
      if (!cur || this.call?.state !== 'ringing') return;
      cur.rejectedByMe = true;
      plat().media.ring(false);
      cur.call.terminate({ status: 603, reason: 'Decline' });
    },

    /** Click-to-call: a number (or SIP user), logged on `conversationId` when given. */
    async dial(target: string, o: { conversationId?: string | null; name?: string | null; shown?: string | null; extraHeaders?: string[]; monitorOf?: CallView['monitorOf']; consult?: boolean } = {}): Promise<boolean> {
      const number = target.trim();
      if (!number) return false;
      // [trust] A masked number cannot be dialled: dialContact asks the server for a call intent.
      if (isMaskedNumber(number)) {
        this.error = { kind: 'call', detail: 'masked number' };
        return false;
      }
      if (!phone || this.status !== 'registered') {
        this.error = { kind: 'call', detail: 'not registered' };
        return false;
      }
      if (current && !o.consult) return false;
      const stream = await this.microphone();
      if (!stream) return false;
      if (!phone || (current && !o.consult)) {
        stopTracks(stream);
        return false;
      }
      const headers = [...this.ourHeaders(o.conversationId ?? null), ...(o.extraHeaders ?? [])];
      let c: SipCall;
      try {
        c = phone.call(number, { stream, extraHeaders: headers, pcConfig: this.pcConfig() });
      } catch (e) {
        stopTracks(stream);
        this.error = { kind: 'call', detail: messageOf(e) };
        return false;
      }
      const cur = this.adopt(c, 'dialing', { conversationId: o.conversationId ?? null, remoteName: o.name ?? null, shown: o.shown ?? null, monitorOf: o.monitorOf ?? null });
      cur.local = stream;
      return true;
    },

    /** Attended transfer, first step: the caller on hold, the target called on this line (the caller waits on the other). */
    async consult(target: string): Promise<boolean> {
      const held = current;
      const view = this.call;
      const t = target.trim();
      if (!held || !view || view.state !== 'active' || other || !t) return false;
      if (!view.held) held.call.hold();
      other = held;
      this.other = view;
      current = null;
      this.call = null;
      this.consulting = true;
      const ok = await this.dial(t, { conversationId: view.conversationId, consult: true });
      if (!ok) {
        // Back to the caller.
        this.consulting = false;
        if (!current && other === held) {
          current = held;
          this.call = view;
          other = null;
          this.other = null;
          held.call.unhold();
        }
      }
      return ok;
    },

    /** Attended transfer, done: the held caller is referred to the consulted target, replacing our consultation call. */
    async completeTransfer(): Promise<boolean> {
      const consultLine = current;
      const callerLine = other;
      const cv = this.call;
      const hv = this.other;
      if (!this.consulting || !consultLine || !callerLine || !cv || !hv || cv.state !== 'active') return false;
      hv.transferring = true;
      const r = await callerLine.call.refer(consultLine.call.remoteUri, { replaces: consultLine.call });
      hv.transferring = false;
      if (!r.ok) {
        this.error = { kind: 'transfer', detail: r.reason ?? '' };
        return false;
      }
      hv.transferTarget = cv.remote;
      hv.transferKind = 'attended';
      cv.transferTarget = hv.remote;
      cv.transferKind = 'attended';
      // We leave the caller (BYE); the target ends our consultation once the caller's call replaced it.
      callerLine.call.terminate();
      return true;
    },

    /** Attended transfer, abandoned: hang up the consultation and resume the caller. */
    returnToCaller(): void {
      const back = other;
      const consultLine = current;
      if (!this.consulting || !back || !consultLine) return;
      consultLine.call.terminate();
      // Ended (and logged) now, so the caller is back on this line at once.
      if (current === consultLine) void this.finish(consultLine, { type: 'ended', originator: 'local', cause: 'Terminated' });
      if (current === back) back.call.unhold();
    },

    /** The other line becomes the focused one (after the focused call ended). */
    promote(): void {
      if (current || !other) return;
      current = other;
      this.call = this.other;
      other = null;
      this.other = null;
      this.consulting = false;
      this.conference = false;
    },

    /** Call waiting: hold the current call and answer the ringing one (the held one waits on the other line). */
    async answerWaiting(): Promise<void> {
      const waiting = other;
      const wv = this.other;
      const cur = current;
      if (!waiting || !wv || wv.state !== 'ringing' || !cur || !this.call) return;
      const stream = await this.microphone();
      if (!stream) return;
      if (other !== waiting || this.other?.state !== 'ringing') {
        stopTracks(stream);
        return;
      }
      if (!this.call.held && this.call.state === 'active') cur.call.hold();
      waiting.local = stream;
      waiting.call.answer({ stream, pcConfig: this.pcConfig() });
      current = waiting;
      other = cur;
      const v = this.call;
      this.call = wv;
      this.other = v;
      await this.remix();
    },

    /** Call waiting: refuse the ringing call (486: the caller hears busy). */
    rejectWaiting(): void {
      if (!other || this.other?.state !== 'ringing') return;
      other.rejectedByMe = true;
      other.call.terminate({ status: 486, reason: 'Busy Here' });
    },

    /** Two calls: hold the focused one, resume the other. */
    async swap(): Promise<void> {
      const a = current;
      const b = other;
      if (!a || !b || !this.call || !this.other || this.conference || this.other.state !== 'active') return;
      if (!this.call.held && this.call.state === 'active') a.call.hold();
      if (this.other.held) b.call.unhold();
      current = b;
      other = a;
      const v = this.call;
      this.call = this.other;
      this.other = v;
      this.consulting = false;
      await this.remix();
    },

    /** A conference of three: both calls live, each remote hears the agent and the other (mixed here). */
    async startConference(): Promise<boolean> {
      const a = current;
      const b = other;
      if (!a || !b || !this.call || !this.other || this.call.state !== 'active' || this.other.state !== 'active') return false;
      if (this.call.held) a.call.unhold();
      if (this.other.held) b.call.unhold();
      this.conference = true;
      this.consulting = false;
      this.call.conferenceWith = [...new Set([...this.call.conferenceWith, this.other.remote])];
      this.other.conferenceWith = [...new Set([...this.other.conferenceWith, this.call.remote])];
      await this.remix();
      return true;
    },

    /** [supervisor] Listen to (or whisper on) an agent's live call: the server's grant, then a call to their line. */
    async monitorAgent(agentId: string, mode: MonitorMode, name?: string): Promise<boolean> {
      if (!phone || this.status !== 'registered' || current) return false;
      let g: Awaited<ReturnType<PhonePlatform['api']['monitorGrant']>>;
      try {
        g = await plat().api.monitorGrant(agentId, mode);
      } catch (e) {
        this.error = { kind: 'monitor', detail: messageOf(e) };
        return false;
      }
      return this.dial(g.target, { name: name ?? null, extraHeaders: [`X-Goutong-Monitor: ${g.token}`], monitorOf: { agentId, mode: g.mode } });
    },

    /** [agent] A supervisor calls to listen/whisper: answered by itself once the server confirms the grant, mixed into the live call. */
    async acceptMonitor(c: SipCall, grant: string): Promise<void> {
      let who: Awaited<ReturnType<PhonePlatform['api']['verifyMonitor']>> | null = null;
      try {
        who = await plat().api.verifyMonitor(grant);
      } catch (e) {
        console.warn('[softphone] monitor grant refused', e);
      }
      if (!who || !current || this.call?.state !== 'active' || monitorLeg) {
        c.terminate({ status: who ? 480 : 403, reason: who ? 'No Live Call' : 'Forbidden' });
        return;
      }
      const stream = await this.microphone();
      if (!stream || !current) {
        stopTracks(stream);
        c.terminate({ status: 480 });
        return;
      }
      const leg: Current & { mode: MonitorMode } = { call: c, off: () => {}, local: stream, remote: null, recorder: null, rejectedByMe: false, handedOver: false, mode: who.mode };
      leg.off = c.on((e) => {
        if (e.type === 'remoteStream') {
          leg.remote = e.stream;
          void this.remix();
        } else if (e.type === 'confirmed' || e.type === 'accepted') void this.remix();
        else if (e.type === 'ended' || e.type === 'failed') this.endMonitor(leg);
      });
      monitorLeg = leg;
      this.monitor = { supervisorName: who.supervisorName, mode: who.mode };
      if (this.call) this.call.monitoredBy = { agentId: who.supervisorId, mode: who.mode };
      c.answer({ stream, pcConfig: this.pcConfig() });
    },

    endMonitor(leg: Current): void {
      if (monitorLeg !== leg) return;
      leg.off();
      leg.call.terminate();
      stopTracks(leg.local);
      monitorLeg = null;
      this.monitor = null;
      void this.remix();
    },

    /**
     * Audio routing: one plain call plays its remote; a conference or a supervisor on the call goes
     * through the mixer (mixPlan: who hears whom). Serialised: the mixer loads once.
     */
    remix(): Promise<void> {
      mixing = mixing.then(async () => {
        const legs: Array<{ cur: Current; st: MixLegState }> = [];
        const live = (v: CallView | null) => v !== null && v.state === 'active' && !v.held;
        if (current) legs.push({ cur: current, st: { id: current.call.id, kind: 'customer', live: live(this.call), focus: true } });
        if (other) legs.push({ cur: other, st: { id: other.call.id, kind: 'customer', live: live(this.other), focus: this.conference } });
        if (monitorLeg) legs.push({ cur: monitorLeg, st: { id: monitorLeg.call.id, kind: monitorLeg.mode, live: true, focus: false } });
        if (!this.conference && !monitorLeg) {
          mixer?.stop();
          mixer = null;
          plat().media.play(current?.remote ?? null, this.outputId);
          return;
        }
        try {
          mixer ??= await plat().media.mixer();
          mixer.apply(current?.local ?? null, legs.map((l) => ({ id: l.st.id, pc: l.cur.call.peerConnection, remote: l.cur.remote })), mixPlan(legs.map((l) => l.st)), this.outputId);
        } catch (e) {
          console.warn('[softphone] mixing failed', e);
        }
      });
      return mixing;
    },

    /**
     * [trust] Click-to-call of a conversation's contact whose number the device holds masked: the
     * server gives a one-time SIP target (its SIP server resolves the real number); the call shows the
     * masked number and is logged on the conversation. The clear number never reaches this device.
     */
    async dialContact(o: { conversationId: string; identity?: number; name?: string | null }): Promise<boolean> {
      if (!phone || this.status !== 'registered' || current) {
        if (!current) this.error = { kind: 'call', detail: 'not registered' };
        return false;
      }
      let intent: Awaited<ReturnType<PhonePlatform['api']['callIntent']>>;
      try {
        intent = await plat().api.callIntent(o.conversationId, o.identity);
      } catch (e) {
        this.error = { kind: 'call', detail: messageOf(e) };
        return false;
      }
      return this.dial(intent.dialTarget, { conversationId: o.conversationId, name: o.name ?? null, shown: intent.display });
    },

    /** Who is calling (a colleague's softphone knows not to log it) and about which conversation. */
    ourHeaders(conversationId: string | null): string[] {
      const me = useSessionStore().agentId;
      return [...(me ? [`X-Goutong-Agent: ${me}`] : []), ...(conversationId ? [`X-Goutong-Conversation: ${conversationId}`] : [])];
    },

    /** Hangs up the focused call (in a conference: both calls). */
    hangUp(): void {
      if (this.conference) other?.call.terminate();
      current?.call.terminate();
    },

    toggleMute(): void {
      const cur = current;
      if (!cur || !this.call || this.call.state !== 'active') return;
      if (this.call.muted) cur.call.unmute();
      else cur.call.mute();
      this.call.muted = !this.call.muted;
    },

    toggleHold(): void {
      const cur = current;
      if (!cur || !this.call || this.call.state !== 'active') return;
      if (this.call.held) cur.call.unhold();
      else cur.call.hold();
    },

    sendDtmf(tones: string, transport: DtmfTransport = 'INFO'): void {
      const t = tones.replace(/[^0-9A-D#*]/gi, '').toUpperCase();
      if (!current || !t || this.call?.state !== 'active') return;
      current.call.sendDTMF(t, transport);
    },

    /** Blind transfer to another agent's extension or a number (REFER), then leave the call. */
    async transfer(target: string): Promise<boolean> {
      const cur = current;
      const t = target.trim();
      if (!cur || !t || this.call?.state !== 'active') return false;
      this.call.transferring = true;
      const r = await cur.call.refer(t);
      if (current !== cur || !this.call) return r.ok;
      this.call.transferring = false;
      if (!r.ok) {
        this.error = { kind: 'transfer', detail: r.reason ?? '' };
        return false;
      }
      this.call.transferTarget = t;
      this.call.transferKind = 'blind';
      cur.call.terminate();
      return true;
    },

    onCallEvent(cur: Current, e: CallEvent): void {
      const view = this.viewOf(cur);
      if (!view) return;
      const mixed = this.conference || monitorLeg !== null;
      switch (e.type) {
        case 'progress':
          if (view.direction === 'out' && e.originator === 'remote') view.alerting = true;
          return;
        case 'accepted':
        case 'confirmed':
          if (view.state !== 'active') {
            view.state = 'active';
            view.answeredAt ??= Date.now();
            if (cur === current) plat().media.ring(false);
            // [supervisor] listening: the agent never plays us, and our microphone stays closed anyway.
            if (view.monitorOf?.mode === 'listen' && !view.muted) {
              cur.call.mute();
              view.muted = true;
            }
            if (mixed) void this.remix();
          }
          this.startRecording(cur);
          return;
        case 'remoteStream':
          cur.remote = e.stream;
          if (mixed) void this.remix();
          else if (cur === current) plat().media.play(e.stream, this.outputId);
          this.startRecording(cur);
          return;
        case 'peerconnection':
          return;
        case 'hold':
        case 'unhold':
          if (e.originator === 'local') view.held = e.type === 'hold';
          else view.remoteHeld = e.type === 'hold';
          if (mixed) void this.remix();
          return;
        case 'replaces':
          // We were consulted (attended transfer): the caller's INVITE replaces this call, same microphone.
          if (!cur.local || view.state !== 'active') {
            e.reject();
            return;
          }
          replacing = cur;
          try {
            e.accept({ stream: cur.local, pcConfig: this.pcConfig() });
          } finally {
            replacing = null;
          }
          return;
        case 'dtmf':
          if (e.originator === 'remote') view.dtmfReceived += e.tone;
          else view.dtmfSent += e.tone;
          return;
        case 'refer':
          if (cur !== current || !cur.local || view.state !== 'active') {
            e.reject();
            return;
          }
          referPending = cur;
          try {
            e.accept({ stream: cur.local, pcConfig: this.pcConfig(), extraHeaders: this.ourHeaders(view.conversationId) });
          } finally {
            referPending = null;
          }
          return;
        case 'ended':
        case 'failed':
          void this.finish(cur, e);
          return;
      }
    },

    startRecording(cur: Current): void {
      const view = this.viewOf(cur);
      if (!view || !writes(view, this.account?.recordCalls ?? false).record || cur.recorder || !cur.local || !cur.remote || view.state !== 'active') return;
      try {
        cur.recorder = plat().media.record(cur.local, cur.remote);
        view.recording = cur.recorder !== null;
      } catch (e) {
        console.warn('[softphone] recording failed to start', e);
      }
    },

    /** The call ended: release media, work out the outcome, log it (after uploading the recording). */
    async finish(cur: Current, e: Extract<CallEvent, { type: 'ended' | 'failed' }>, replacedView?: CallView): Promise<void> {
      const replaced = replacedView !== undefined;
      const view = replacedView ?? this.viewOf(cur);
      if (!view || view.state === 'ended') return;
      const wasCurrent = current === cur;
      if (wasCurrent) current = null;
      if (other === cur) {
        other = null;
        this.other = null;
      }
      cur.off();
      if (!replaced) {
        if (wasCurrent) {
          plat().media.ring(false);
          this.call = null;
          // The call on the other line becomes the focused one (still on hold until the agent resumes it).
          this.promote();
        }
        this.consulting = false;
        this.conference = false;
        // No live call left to listen to: the supervisor's leg ends too.
        if (!current && monitorLeg) this.endMonitor(monitorLeg);
        void this.remix();
      }
      view.endedAt = Date.now();
      view.state = 'ended';
      view.endCause = e.cause;
      view.outcome = outcomeOf({
        direction: view.direction,
        answeredAt: view.answeredAt,
        cause: e.cause,
        failed: e.type === 'failed',
        rejectedByMe: cur.rejectedByMe,
        busyHere: false,
        transferTarget: view.transferTarget,
      });
      this.lastCall = view;
      const blob = cur.recorder ? await cur.recorder.stop().catch(() => null) : null;
      if (!cur.handedOver) stopTracks(cur.local);
      // One writer per call (core softphoneWritesCall): a colleague's call is logged by the colleague's
      // softphone (the one that placed it); a supervisor's listening call is not a call with a customer
      // (the agent's call records it); a queue call is the server's (the IVR bridged it).
      if (!writes(view, false).log) return;
      await this.logCall(
        {
          direction: view.direction, remote: view.remote, remoteName: view.remoteName, conversationId: view.conversationId, startedAt: view.startedAt, answeredAt: view.answeredAt, endedAt: view.endedAt, outcome: view.outcome, transferTarget: view.transferTarget,
          transferKind: view.transferKind, conference: view.conferenceWith, monitoredBy: view.monitoredBy,
        },
        blob,
      );
    },

    async logCall(
      r: Omit<CallRecord, 'me' | 'inboxId'>,
      recording: Blob | null,
    ): Promise<void> {
      const cl = client();
      const account = this.account;
      if (!cl || !account) return;
      const intent = logCallIntent({ ...r, me: account.user, inboxId: account.inboxId });
      try {
        if (!recording) {
          await cl.dispatch(intent);
          this.logged++;
          return;
        }
        // Uploaded first, then the call is logged with it; the command id is fixed now, so a retry
        // after a crash is a duplicate, never a second call.
        const ext = recording.type.includes('wav') ? 'wav' : recording.type.includes('ogg') ? 'ogg' : 'webm';
        const name = `call-${new Date(r.startedAt).toISOString().replace(/[:.]/g, '-')}-${shownCaller(r.remote).replace(/[^0-9A-Za-z+*]/g, '')}.${ext}`;
        try {
          await cl.submit(intent, [{ name, mime: recording.type || 'audio/webm', size: recording.size, data: recording }]);
        } catch (e) {
          // No place to keep the recording: log the call without it.
          this.error = { kind: 'upload', detail: messageOf(e) };
          await cl.dispatch(intent);
        }
        this.logged++;
      } catch (e) {
        this.error = { kind: 'call', detail: messageOf(e) };
      }
    },

    /** Moves recordings left in the old recording queue into core's upload queue (same command ids). */
    async adoptLegacyRecordings(): Promise<void> {
      const legacy = plat().legacyRecordings;
      const q = client()?.uploads;
      if (!legacy || !q) return;
      try {
        for (const r of await legacy.list()) {
          const { id: _id, deviceTime, attachments: _a, ...intent } = r.command as Record<string, unknown>;
          const conversationId = typeof intent.conversationId === 'string' ? intent.conversationId : null;
          const file = { ref: `${r.id}-0`, name: r.name, mime: r.blob.type || 'audio/webm', size: r.blob.size, uploaded: null };
          await q.adopt(
            { id: r.id, conversationId, intent: intent as Intent, files: [file], deviceTime: typeof deviceTime === 'number' ? deviceTime : Date.now(), state: 'waiting', attempts: 0, nextAttemptAt: 0, error: null },
            [r.blob],
          );
          await legacy.delete(r.id);
        }
      } catch (e) {
        console.warn('[softphone] old recording queue', e);
      }
    },

    clearError(): void {
      this.error = null;
    },
  },
});
