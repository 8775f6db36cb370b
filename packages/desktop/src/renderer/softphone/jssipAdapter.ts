// The SipPhone port over JsSIP (SIP over WebSocket, WebRTC media). JsSIP ships CommonJS only; the
// renderer's Vite bundles it into its own chunk, loaded when the agent first goes available.
import type { CallEvent, DtmfTransport, PhoneEvent, SipAccount, SipCall, SipPhone } from './types';

/* The slice of JsSIP's API this adapter uses (typed loosely: JsSIP's own .d.ts are incomplete). */
interface JsSession {
  id: string;
  direction: 'incoming' | 'outgoing';
  connection: RTCPeerConnection | null;
  remote_identity: { uri: { user: string | null; toString(): string }; display_name?: string | null };
  answer(o: Record<string, unknown>): void;
  terminate(o?: Record<string, unknown>): void;
  hold(): boolean;
  unhold(): boolean;
  mute(o?: Record<string, unknown>): void;
  unmute(o?: Record<string, unknown>): void;
  sendDTMF(tones: string, o: Record<string, unknown>): void;
  refer(target: string, o: Record<string, unknown>): void;
  isEnded(): boolean;
  on(ev: string, fn: (e: any) => void): void;  
}

interface JsUA {
  start(): void;
  stop(): void;
  call(target: string, o: Record<string, unknown>): JsSession;
  on(ev: string, fn: (e: any) => void): void;  
}

interface JsSIPModule {
  UA: new (cfg: Record<string, unknown>) => JsUA;
  WebSocketInterface: new (url: string) => unknown;
  debug?: { enable(ns: string): void; disable(): void };
}

let jssip: Promise<JsSIPModule> | null = null;
function loadJsSIP(): Promise<JsSIPModule> {
  jssip ??= import('jssip').then((m) => ((m as unknown as { default?: JsSIPModule }).default ?? (m as unknown as JsSIPModule)));
  return jssip;
}

class Listeners<E> {
  private set = new Set<(e: E) => void>();
  on(fn: (e: E) => void): () => void {
    this.set.add(fn);
    return () => this.set.delete(fn);
  }
  emit(e: E): void {
    for (const fn of [...this.set]) {
      try {
        fn(e);
      } catch (err) {
        console.error('[softphone] listener failed', err);
      }
    }
  }
}

function originatorOf(o: unknown): 'local' | 'remote' | 'system' {
  return o === 'local' || o === 'remote' ? o : 'system';
}

class JsSipCall implements SipCall {
  readonly id: string;
  readonly direction: 'in' | 'out';
  readonly remoteUser: string;
  readonly remoteName: string | null;
  readonly remoteUri: string;
  private readonly events = new Listeners<CallEvent>();
  private tracked: RTCPeerConnection | null = null;
  private remote: MediaStream | null = null;

  constructor(readonly s: JsSession, private readonly request: { getHeader?(n: string): string | undefined } | null) {
    this.id = s.id;
    this.remoteUri = s.remote_identity.uri.toString();
    this.direction = s.direction === 'incoming' ? 'in' : 'out';
    this.remoteUser = s.remote_identity.uri.user ?? s.remote_identity.uri.toString();
    this.remoteName = s.remote_identity.display_name?.trim() || null;
    s.on('peerconnection', (e: { peerconnection: RTCPeerConnection }) => this.trackPeer(e.peerconnection));
    if (s.connection) this.trackPeer(s.connection);
    s.on('progress', (e) => this.events.emit({ type: 'progress', originator: e.originator === 'local' ? 'local' : 'remote' }));
    s.on('accepted', () => this.events.emit({ type: 'accepted' }));
    s.on('confirmed', () => {
      if (s.connection) this.trackPeer(s.connection);
      this.events.emit({ type: 'confirmed' });
    });
    s.on('ended', (e) => this.events.emit({ type: 'ended', originator: originatorOf(e.originator), cause: String(e.cause ?? 'Terminated') }));
    s.on('failed', (e) =>
      this.events.emit({ type: 'failed', originator: originatorOf(e.originator), cause: String(e.cause ?? 'Failed'), ...(typeof e.message?.status_code === 'number' ? { status: e.message.status_code as number } : {}) }),
    );
    s.on('hold', (e) => this.events.emit({ type: 'hold', originator: e.originator === 'remote' ? 'remote' : 'local' }));
    s.on('unhold', (e) => this.events.emit({ type: 'unhold', originator: e.originator === 'remote' ? 'remote' : 'local' }));
    s.on('newDTMF', (e) => this.events.emit({ type: 'dtmf', originator: e.originator === 'remote' ? 'remote' : 'local', tone: String(e.dtmf?.tone ?? ''), transport: 'INFO' }));
    s.on('replaces', (e: { accept(cb?: (ns: JsSession) => void): void; reject(): void }) => {
      this.events.emit({
        type: 'replaces',
        // JsSIP makes the replacing session (announced as a new call, which the store answers) and ends ours once it is confirmed.
        accept: () => e.accept(),
        reject: () => e.reject(),
      });
    });
    s.on('refer', (e: { request: { refer_to: { uri: { toString(): string; user?: string } } }; accept(cb: unknown, o: Record<string, unknown>): void; reject(): void }) => {
      const uri = e.request.refer_to.uri;
      this.events.emit({
        type: 'refer',
        target: uri.user ?? uri.toString(),
        accept: (o) => e.accept(null, { mediaStream: o.stream, extraHeaders: o.extraHeaders ?? [], pcConfig: o.pcConfig ?? { iceServers: [] }, rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false } }),
        reject: () => e.reject(),
      });
    });
  }

  private trackPeer(pc: RTCPeerConnection): void {
    if (this.tracked === pc) return;
    this.tracked = pc;
    this.events.emit({ type: 'peerconnection', pc });
    const emitStream = (stream: MediaStream) => {
      if (this.remote === stream) return;
      this.remote = stream;
      this.events.emit({ type: 'remoteStream', stream });
    };
    pc.addEventListener('track', (ev: RTCTrackEvent) => emitStream(ev.streams[0] ?? new MediaStream([ev.track])));
    const existing = pc.getReceivers().map((r) => r.track).filter((t) => t && t.kind === 'audio');
    if (existing.length) emitStream(new MediaStream(existing));
  }

  get peerConnection(): RTCPeerConnection | null {
    return this.s.connection ?? null;
  }

  header(name: string): string | undefined {
    return this.request?.getHeader?.(name) ?? undefined;
  }

  answer(opts: { stream: MediaStream; pcConfig?: RTCConfiguration }): void {
    this.s.answer({ mediaStream: opts.stream, pcConfig: opts.pcConfig ?? { iceServers: [] }, rtcAnswerConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false } });
  }

  terminate(opts: { status?: number; reason?: string } = {}): void {
    if (this.s.isEnded()) return;
    this.s.terminate(opts.status ? { status_code: opts.status, ...(opts.reason ? { reason_phrase: opts.reason } : {}) } : {});
  }

  hold(): void {
    this.s.hold();
  }
  unhold(): void {
    this.s.unhold();
  }
  mute(): void {
    this.s.mute({ audio: true });
  }
  unmute(): void {
    this.s.unmute({ audio: true });
  }

  sendDTMF(tones: string, transport: DtmfTransport): void {
    this.s.sendDTMF(tones, { transportType: transport, duration: 120, interToneGap: 80 });
    // JsSIP reports INFO tones itself (newDTMF); in-band RFC 2833 tones go through the RTP sender.
    if (transport === 'RFC2833') for (const tone of tones) this.events.emit({ type: 'dtmf', originator: 'local', tone, transport });
  }

  refer(target: string, opts: { replaces?: SipCall } = {}): Promise<{ ok: boolean; reason?: string }> {
    const replaces = opts.replaces instanceof JsSipCall ? opts.replaces.s : undefined;
    return new Promise((resolve) => {
      let done = false;
      let blind: ReturnType<typeof setTimeout> | undefined;
      const finish = (r: { ok: boolean; reason?: string }) => {
        if (done) return;
        done = true;
        clearTimeout(blind);
        resolve(r);
      };
      this.s.refer(target, {
        ...(replaces ? { replaces } : {}),
        eventHandlers: {
          // 202: the far end took the transfer; a blind transfer does not wait for the new call to be answered,
          // but a prompt NOTIFY saying it failed is still reported.
          requestSucceeded: () => (blind = setTimeout(() => finish({ ok: true }), 3_000)),
          requestFailed: (e: { cause?: string; response?: { status_code?: number; reason_phrase?: string } }) =>
            finish({ ok: false, reason: e.response ? `${e.response.status_code} ${e.response.reason_phrase ?? ''}`.trim() : String(e.cause ?? 'REFER failed') }),
          trying: () => finish({ ok: true }),
          progress: () => finish({ ok: true }),
          accepted: () => finish({ ok: true }),
          failed: (e: { status_line?: { status_code?: number; reason_phrase?: string } }) =>
            finish({ ok: false, reason: e.status_line ? `${e.status_line.status_code} ${e.status_line.reason_phrase ?? ''}`.trim() : 'transfer failed' }),
        },
      });
    });
  }

  on(listener: (e: CallEvent) => void): () => void {
    return this.events.on(listener);
  }
}

class JsSipPhone implements SipPhone {
  private readonly events = new Listeners<PhoneEvent>();
  private placing: { session: JsSession; call: JsSipCall } | null = null;
  private capture = false;

  constructor(private readonly ua: JsUA) {
    ua.on('connecting', () => this.events.emit({ type: 'connecting' }));
    ua.on('connected', () => this.events.emit({ type: 'connected' }));
    ua.on('disconnected', (e) => this.events.emit({ type: 'disconnected', error: Boolean(e?.error), ...(e?.code !== undefined ? { code: e.code } : {}), ...(e?.reason ? { reason: String(e.reason) } : {}) }));
    ua.on('registered', () => this.events.emit({ type: 'registered' }));
    ua.on('unregistered', () => this.events.emit({ type: 'unregistered' }));
    ua.on('registrationFailed', (e) =>
      this.events.emit({
        type: 'registrationFailed',
        cause: String(e?.cause ?? 'Registration failed'),
        ...(typeof e?.response?.status_code === 'number' ? { status: e.response.status_code as number, reason: String(e.response.reason_phrase ?? '') } : {}),
      }),
    );
    ua.on('newRTCSession', (e: { originator: string; session: JsSession; request: { getHeader?(n: string): string | undefined } }) => {
      const call = new JsSipCall(e.session, e.originator === 'remote' ? e.request : null);
      if (this.capture) {
        this.placing = { session: e.session, call };
        return;
      }
      this.events.emit({ type: 'newCall', call });
    });
  }

  start(): void {
    this.ua.start();
  }

  stop(): void {
    this.ua.stop();
  }

  call(target: string, opts: { stream: MediaStream; extraHeaders?: string[]; pcConfig?: RTCConfiguration }): SipCall {
    this.capture = true;
    let session: JsSession;
    try {
      session = this.ua.call(target, {
        mediaStream: opts.stream,
        extraHeaders: opts.extraHeaders ?? [],
        pcConfig: opts.pcConfig ?? { iceServers: [] },
        rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false },
      });
    } finally {
      this.capture = false;
    }
    const placed = this.placing;
    this.placing = null;
    if (!placed || placed.session !== session) throw new Error('the call could not be placed');
    return placed.call;
  }

  on(listener: (e: PhoneEvent) => void): () => void {
    return this.events.on(listener);
  }
}

/** A JsSIP user agent for one SIP registration (not started). */
export async function createJsSipPhone(account: SipAccount): Promise<SipPhone> {
  const JsSIP = await loadJsSIP();
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(account.wsUrl)],
    uri: account.uri,
    ...(account.password !== null ? { password: account.password, authorization_user: account.authorizationUser } : {}),
    display_name: account.displayName,
    register: true,
    register_expires: 300,
    session_timers: false,
    connection_recovery_min_interval: 2,
    connection_recovery_max_interval: 30,
    no_answer_timeout: 60,
    user_agent: 'Goutong softphone (JsSIP)',
  });
  return new JsSipPhone(ua);
}
