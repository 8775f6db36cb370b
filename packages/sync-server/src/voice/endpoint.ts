import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { G711 } from './audio.js';
import { RtpSession } from './rtp.js';
import {
  header,
  headerAll,
  newBranch,
  newCallId,
  newTag,
  paramOf,
  parseSdp,
  parseSip,
  parseSipUri,
  responseTo,
  sdpAnswer,
  serializeSip,
  uriOf,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from './sip.js';

export interface SipEndpointOptions {
  /** Address to bind SIP and RTP to and to put in Contact/SDP (127.0.0.1 in the lab). */
  host: string;
  /** UDP port for SIP; 0 picks a free one. */
  port: number;
  /** The SIP user the endpoint answers as (and registers). */
  user: string;
  /** Register with this registrar (Kamailio) so calls to user@domain reach the endpoint; absent: addressed directly. */
  registrar?: { host: string; port: number; domain: string; expires?: number; /** Digest password (RFC 2617/3261) when the registrar challenges. */ password?: string };
}

/** A call the endpoint answered. */
export class SipCall extends EventEmitter<{ dtmf: [digit: string, via: 'rfc2833' | 'info']; ended: [by: 'remote' | 'local'] }> {
  ended = false;
  /** The headers of the INVITE that started an incoming call (names lower-case). */
  requestHeaders: ReadonlyArray<[string, string]> = [];
  constructor(
    readonly callId: string,
    readonly from: { user: string | null; displayName: string | null; uri: string },
    readonly to: { user: string | null; uri: string },
    readonly rtp: RtpSession,
    private readonly hangupFn: () => Promise<void>,
  ) {
    super();
  }
  /** Sends BYE (once) and closes the media. */
  async hangup(): Promise<void> {
    if (this.ended) return;
    await this.hangupFn();
  }
}

interface Dialog {
  call: SipCall;
  localTag: string;
  remoteTarget: string;
  routeSet: string[];
  localUri: string;
  remoteFromHeader: string;
  toHeader: string;
  cseq: number;
  invite: SipRequest;
  answer: SipResponse;
  acked: boolean;
  /** CSeqs of the INFO requests taken (retransmissions are answered, not taken twice). */
  infoSeen: Set<string>;
}

const DTMF_EVENTS = '0123456789*#';

/**
 * A plain SIP/UDP user agent for the IVR: registers with the SIP server (optional), answers every
 * INVITE with G.711 (PCMU or PCMA, as the offer prefers) and RFC 4733 telephone-events in its SDP,
 * retransmits the 200 until the ACK, reads DTMF from telephone-events and from SIP INFO
 * (application/dtmf-relay and application/dtmf), answers BYE, CANCEL and OPTIONS, and hangs up with
 * an in-dialog BYE along the Record-Route set.
 */
export class SipEndpoint extends EventEmitter<{ call: [call: SipCall]; registered: []; error: [e: Error] }> {
  private socket: dgram.Socket | null = null;
  private readonly dialogs = new Map<string, Dialog>();
  private readonly pending = new Map<string, (r: SipResponse) => void>();
  /** Client INVITE transactions (every response, provisional ones too), by Call-ID. */
  private readonly invites = new Map<string, (r: SipResponse) => void>();
  private regTimer: NodeJS.Timeout | null = null;
  private regCallId = '';
  private regCseq = 0;
  private readonly regTag = newTag();
  registered = false;
  port = 0;

  constructor(readonly opts: SipEndpointOptions) {
    super();
  }

  get contact(): string {
    return `<sip:${this.opts.user}@${this.opts.host}:${this.port};transport=udp>`;
  }

  async start(): Promise<void> {
    const s = dgram.createSocket('udp4');
    s.on('message', (b, rinfo) => {
      try {
        this.onMessage(parseSip(b), rinfo);
      } catch (e) {
        this.emit('error', e instanceof Error ? e : new Error(String(e)));
      }
    });
    s.on('error', (e) => this.emit('error', e));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(this.opts.port, this.opts.host, () => resolve());
    });
    this.socket = s;
    this.port = s.address().port;
    this.regCallId = newCallId(this.opts.host);
    // registration runs in the background (retried): the endpoint answers calls routed to it either way
    if (this.opts.registrar) void this.register().catch((e: unknown) => this.registerFailed(e));
  }

  async stop(): Promise<void> {
    if (this.regTimer) clearTimeout(this.regTimer);
    this.regTimer = null;
    for (const d of this.dialogs.values()) await d.call.hangup().catch(() => undefined);
    if (this.opts.registrar && this.registered) await this.register(0).catch(() => undefined);
    this.socket?.close();
    this.socket = null;
  }

  private send(m: SipMessage, to: { address: string; port: number }): void {
    this.socket?.send(serializeSip(m), to.port, to.address);
  }

  /** Sends a request and resolves its final response (retransmitting on UDP, RFC 3261 timer A/B). */
  private request(req: SipRequest, to: { address: string; port: number }): Promise<SipResponse> {
    const key = `${header(req, 'call-id')}|${header(req, 'cseq')}`;
    return new Promise((resolve, reject) => {
      let interval = 500;
      let timer: NodeJS.Timeout;
      const started = Date.now();
      const tick = () => {
        if (Date.now() - started > 32_000) {
          this.pending.delete(key);
          reject(new Error(`${req.method}: no answer from ${to.address}:${to.port}`));
          return;
        }
        this.send(req, to);
        timer = setTimeout(tick, interval);
        interval = Math.min(interval * 2, 4000);
      };
      this.pending.set(key, (r) => {
        if (r.status < 200) return;
        clearTimeout(timer);
        this.pending.delete(key);
        resolve(r);
      });
      tick();
    });
  }

  private async register(expires = this.opts.registrar?.expires ?? 300, auth?: [string, string]): Promise<void> {
    const r = this.opts.registrar!;
    const aor = `sip:${this.opts.user}@${r.domain}`;
    const req: SipRequest = {
      kind: 'request',
      method: 'REGISTER',
      uri: `sip:${r.domain}`,
      headers: [
        ['via', `SIP/2.0/UDP ${this.opts.host}:${this.port};rport;branch=${newBranch()}`],
        ['max-forwards', '70'],
        ['from', `<${aor}>;tag=${this.regTag}`],
        ['to', `<${aor}>`],
        ['call-id', this.regCallId],
        ['cseq', `${++this.regCseq} REGISTER`],
        ['contact', this.contact],
        ['expires', String(expires)],
        ['user-agent', 'Goutong IVR'],
        ...(auth ? [auth] : []),
      ],
      body: '',
    };
    const res = await this.request(req, { address: r.host, port: r.port });
    if ((res.status === 401 || res.status === 407) && !auth && r.password !== undefined) {
      const challenge = header(res, res.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
      if (!challenge) throw new Error(`REGISTER answered ${res.status} without a challenge`);
      const value = digestAuthorization({ challenge, method: 'REGISTER', uri: req.uri, user: this.opts.user, password: r.password, cnonce: crypto.randomBytes(8).toString('hex'), nc: 1 });
      return this.register(expires, [res.status === 401 ? 'authorization' : 'proxy-authorization', value]);
    }
    if (res.status !== 200) throw new Error(`REGISTER answered ${res.status} ${res.reason}`);
    if (!this.socket) return;
    if (expires === 0) {
      this.registered = false;
      return;
    }
    this.registered = true;
    this.emit('registered');
    const granted = Number(/expires=(\d+)/i.exec(header(res, 'contact') ?? '')?.[1] ?? header(res, 'expires') ?? expires) || expires;
    this.regTimer = setTimeout(() => void this.register().catch((e: unknown) => this.registerFailed(e)), Math.max(5, granted / 2) * 1000);
    this.regTimer.unref();
  }

  private registerFailed(e: unknown): void {
    this.registered = false;
    this.emit('error', e instanceof Error ? e : new Error(String(e)));
    if (!this.socket) return;
    this.regTimer = setTimeout(() => void this.register().catch((err: unknown) => this.registerFailed(err)), 5000);
    this.regTimer.unref();
  }

  private onMessage(m: SipMessage, rinfo: dgram.RemoteInfo): void {
    if (m.kind === 'response') {
      if (/\sINVITE$/i.test(header(m, 'cseq') ?? '')) {
        this.invites.get(header(m, 'call-id') ?? '')?.(m);
        return;
      }
      this.pending.get(`${header(m, 'call-id')}|${header(m, 'cseq')}`)?.(m);
      return;
    }
    const src = { address: rinfo.address, port: viaRport(m) ?? rinfo.port };
    const callId = header(m, 'call-id') ?? '';
    const dialog = this.dialogs.get(callId);
    switch (m.method) {
      case 'INVITE':
        if (dialog) {
          // a retransmission (or a re-INVITE: answer it with the same session)
          this.send(dialog.answer, src);
          return;
        }
        void this.answer(m, src);
        return;
      case 'ACK':
        if (dialog) dialog.acked = true;
        return;
      case 'BYE':
        this.send(responseTo(m, dialog ? 200 : 481, dialog ? 'OK' : 'Call/Transaction Does Not Exist'), src);
        if (dialog) this.end(dialog, 'remote');
        return;
      case 'CANCEL':
        this.send(responseTo(m, 200, 'OK'), src);
        if (dialog) this.end(dialog, 'remote');
        return;
      case 'INFO': {
        this.send(responseTo(m, dialog ? 200 : 481, dialog ? 'OK' : 'Call/Transaction Does Not Exist'), src);
        // a retransmitted INFO (our 200 was late or lost) is the same key press: once per CSeq
        const cseq = header(m, 'cseq') ?? '';
        if (!dialog || dialog.infoSeen.has(cseq)) return;
        dialog.infoSeen.add(cseq);
        const digit = infoDigit(m);
        if (digit) dialog.call.emit('dtmf', digit, 'info');
        return;
      }
      case 'OPTIONS':
        this.send(responseTo(m, 200, 'OK', { headers: [['allow', 'INVITE, ACK, BYE, CANCEL, INFO, OPTIONS']] }), src);
        return;
      default:
        this.send(responseTo(m, 405, 'Method Not Allowed', { headers: [['allow', 'INVITE, ACK, BYE, CANCEL, INFO, OPTIONS']] }), src);
    }
  }

  private async answer(invite: SipRequest, src: { address: string; port: number }): Promise<void> {
    const callId = header(invite, 'call-id') ?? '';
    this.send(responseTo(invite, 100, 'Trying'), src);
    const offer = parseSdp(invite.body);
    const pick = offer ? pickCodec(offer.payloads, offer.rtpmap) : null;
    if (!offer || !pick) {
      this.send(responseTo(invite, 488, 'Not Acceptable Here', { toTag: newTag() }), src);
      return;
    }
    const dtmfPt = [...offer.rtpmap].find(([, enc]) => enc.startsWith('TELEPHONE-EVENT/8000'))?.[0] ?? null;
    const rtp = new RtpSession(this.opts.host, { address: offer.address, port: offer.port }, pick.codec, pick.pt, dtmfPt);
    const rtpPort = await rtp.open();
    const localTag = newTag();
    const fromH = header(invite, 'from') ?? '';
    const toH = header(invite, 'to') ?? '';
    const fromUri = uriOf(fromH);
    const display = /^\s*"([^"]*)"/.exec(fromH)?.[1] ?? null;
    const answer = responseTo(invite, 200, 'OK', {
      toTag: localTag,
      headers: [['contact', this.contact], ['content-type', 'application/sdp'], ['allow', 'INVITE, ACK, BYE, CANCEL, INFO, OPTIONS']],
      body: sdpAnswer({ address: this.opts.host, port: rtpPort, codecPt: pick.pt, codec: pick.codec, dtmfPt, sessionId: String(crypto.randomInt(1, 2 ** 31)) }),
    });
    const safeUser = (uri: string) => {
      try {
        return parseSipUri(uri).user;
      } catch {
        return null;
      }
    };
    const holder: { dialog: Dialog | null } = { dialog: null };
    const call = new SipCall(callId, { user: safeUser(fromUri), displayName: display, uri: fromUri }, { user: safeUser(uriOf(toH)), uri: uriOf(toH) }, rtp, () => (holder.dialog ? this.bye(holder.dialog) : Promise.resolve()));
    const dialog: Dialog = {
      call,
      localTag,
      remoteTarget: uriOf(header(invite, 'contact') ?? fromUri),
      routeSet: headerAll(invite, 'record-route'),
      localUri: uriOf(toH),
      remoteFromHeader: fromH,
      toHeader: `${toH};tag=${localTag}`,
      cseq: 0,
      invite,
      answer,
      acked: false,
      infoSeen: new Set(),
    };
    holder.dialog = dialog;
    call.requestHeaders = invite.headers;
    this.dialogs.set(callId, dialog);
    rtp.on('dtmf', (ev) => {
      const d = DTMF_EVENTS[ev];
      if (d) call.emit('dtmf', d, 'rfc2833');
    });
    // 200 retransmitted (timer G) until the ACK
    let interval = 500;
    const started = Date.now();
    const resend = () => {
      if (dialog.acked || call.ended) return;
      if (Date.now() - started > 32_000) {
        void call.hangup();
        return;
      }
      this.send(answer, src);
      setTimeout(resend, interval).unref();
      interval = Math.min(interval * 2, 4000);
    };
    resend();
    this.emit('call', call);
  }

  /**
   * Calls `target` (a SIP URI, e.g. an agent's softphone `sip:1001@domain`) through `proxy`
   * (Kamailio): INVITE with a PCMU + telephone-event offer (retransmitted until a provisional
   * answer), ringing until `ringTimeoutMs` (then CANCEL), ACK of the final answer. Resolves the
   * answered call, or null when it was not answered (busy, declined, not registered, timed out,
   * `signal` aborted).
   */
  async invite(o: { target: string; proxy: { host: string; port: number }; fromUser: string; fromDisplay?: string | null; domain: string; ringTimeoutMs: number; signal?: AbortSignal; /** Extra headers of the INVITE (e.g. `X-Goutong-Queue`). */ headers?: Array<[string, string]> }): Promise<SipCall | null> {
    if (!this.socket) throw new Error('the SIP endpoint is not started');
    const callId = newCallId(this.opts.host);
    const localTag = newTag();
    const branch = newBranch();
    const rtp = new RtpSession(this.opts.host, { address: this.opts.host, port: 9 }, 'PCMU', 0, 101);
    const rtpPort = await rtp.open();
    const display = o.fromDisplay ? `"${o.fromDisplay.replace(/["\\\r\n]/g, '')}" ` : '';
    const fromH = `${display}<sip:${o.fromUser}@${o.domain}>;tag=${localTag}`;
    const toH = `<${o.target}>`;
    const via = `SIP/2.0/UDP ${this.opts.host}:${this.port};rport;branch=${branch}`;
    const invite: SipRequest = {
      kind: 'request',
      method: 'INVITE',
      uri: o.target,
      headers: [
        ['via', via], ['max-forwards', '70'], ['from', fromH], ['to', toH], ['call-id', callId], ['cseq', '1 INVITE'],
        ['contact', this.contact], ['allow', 'INVITE, ACK, BYE, CANCEL, INFO, OPTIONS'], ['content-type', 'application/sdp'], ['user-agent', 'Goutong IVR'],
        ...(o.headers ?? []).map(([k, v]): [string, string] => [k, v.replace(/[\r\n]/g, '')]),
      ],
      body: sdpAnswer({ address: this.opts.host, port: rtpPort, codecPt: 0, codec: 'PCMU', dtmfPt: 101, sessionId: String(crypto.randomInt(1, 2 ** 31)) }),
    };
    const hop = { address: o.proxy.host, port: o.proxy.port };
    const simple = (method: 'ACK' | 'CANCEL', to: string): SipRequest => ({
      kind: 'request', method, uri: o.target,
      headers: [['via', via], ['max-forwards', '70'], ['from', fromH], ['to', to], ['call-id', callId], ['cseq', `1 ${method}`], ['user-agent', 'Goutong IVR']],
      body: '',
    });
    const final = await new Promise<SipResponse | null>((resolve) => {
      let provisional = false;
      let cancelled = false;
      let settled = false;
      let interval = 500;
      let retrans: NodeJS.Timeout | null = null;
      const cancel = () => {
        if (cancelled || settled) return;
        cancelled = true;
        this.send(simple('CANCEL', toH), hop);
        // no final answer to the CANCEL's INVITE within 32 s: give up (RFC 3261 timer B)
        setTimeout(() => finish(null), 32_000).unref();
      };
      const ringTimer = setTimeout(cancel, o.ringTimeoutMs);
      const onAbort = () => cancel();
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (r: SipResponse | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(ringTimer);
        if (retrans) clearTimeout(retrans);
        o.signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const resend = () => {
        if (provisional || settled) return;
        if (interval > 16_000) return finish(null);
        this.send(invite, hop);
        retrans = setTimeout(resend, interval);
        interval *= 2;
      };
      this.invites.set(callId, (r) => {
        if (r.status < 200) {
          provisional = true;
          return;
        }
        if (r.status >= 300) this.send(simple('ACK', header(r, 'to') ?? toH), hop); // hop-by-hop ACK of a failure
        // a 200 after our CANCEL crossed it: the call is answered anyway (the caller may still be there)
        finish(r);
      });
      if (o.signal?.aborted) return finish(null);
      resend();
    });
    if (!final || final.status >= 300 || o.signal?.aborted || !this.socket) {
      this.invites.delete(callId);
      rtp.close();
      if (final && final.status < 300) await this.byeAfterAnswer(final, { callId, fromH, target: o.target }).catch(() => undefined);
      return null;
    }
    const answerSdp = parseSdp(final.body);
    if (!answerSdp) {
      this.invites.delete(callId);
      rtp.close();
      await this.byeAfterAnswer(final, { callId, fromH, target: o.target }).catch(() => undefined);
      return null;
    }
    rtp.remote = { address: answerSdp.address, port: answerSdp.port };
    const toTagged = header(final, 'to') ?? toH;
    const routeSet = headerAll(final, 'record-route').reverse();
    const remoteTarget = uriOf(header(final, 'contact') ?? o.target);
    const holder: { dialog: Dialog | null } = { dialog: null };
    const safeUser = (uri: string) => {
      try {
        return parseSipUri(uri).user;
      } catch {
        return null;
      }
    };
    const call = new SipCall(callId, { user: o.fromUser, displayName: o.fromDisplay ?? null, uri: `sip:${o.fromUser}@${o.domain}` }, { user: safeUser(o.target), uri: o.target }, rtp, () => (holder.dialog ? this.bye(holder.dialog) : Promise.resolve()));
    const dialog: Dialog = {
      call, localTag, remoteTarget, routeSet, localUri: `sip:${o.fromUser}@${o.domain}`, remoteFromHeader: toTagged, toHeader: fromH, cseq: 1,
      invite, answer: final, acked: true, infoSeen: new Set(),
    };
    holder.dialog = dialog;
    this.dialogs.set(callId, dialog);
    const ack = this.inDialog(dialog, 'ACK', 1);
    const next = this.nextHop(dialog);
    this.send(ack, next);
    // the 200 retransmitted (our ACK lost): ACK it again
    this.invites.set(callId, (r) => {
      if (r.status >= 200 && r.status < 300 && !call.ended) this.send(ack, next);
    });
    call.once('ended', () => this.invites.delete(callId));
    rtp.on('dtmf', (ev) => {
      const d = DTMF_EVENTS[ev];
      if (d) call.emit('dtmf', d, 'rfc2833');
    });
    return call;
  }

  /** An answer we no longer want (it crossed our CANCEL): ACK and BYE it. */
  private async byeAfterAnswer(r: SipResponse, o: { callId: string; fromH: string; target: string }): Promise<void> {
    const rtp = new RtpSession(this.opts.host, { address: this.opts.host, port: 9 }, 'PCMU', 0, null);
    const call = new SipCall(o.callId, { user: null, displayName: null, uri: '' }, { user: null, uri: o.target }, rtp, () => Promise.resolve());
    const d: Dialog = {
      call, localTag: '', remoteTarget: uriOf(header(r, 'contact') ?? o.target), routeSet: headerAll(r, 'record-route').reverse(), localUri: '', remoteFromHeader: header(r, 'to') ?? '',
      toHeader: o.fromH, cseq: 1, invite: { kind: 'request', method: 'INVITE', uri: o.target, headers: [], body: '' }, answer: r, acked: true, infoSeen: new Set(),
    };
    this.send(this.inDialog(d, 'ACK', 1), this.nextHop(d));
    await this.bye(d);
  }

  private nextHop(d: Dialog): { address: string; port: number } {
    const next = d.routeSet.length && /;lr/i.test(d.routeSet[0]!) ? parseSipUri(uriOf(d.routeSet[0]!)) : parseSipUri(d.remoteTarget);
    return { address: next.host, port: next.port };
  }

  private inDialog(d: Dialog, method: string, cseq: number): SipRequest {
    return {
      kind: 'request',
      method,
      uri: d.remoteTarget,
      headers: [
        ['via', `SIP/2.0/UDP ${this.opts.host}:${this.port};rport;branch=${newBranch()}`],
        ['max-forwards', '70'],
        ['from', d.toHeader],
        ['to', d.remoteFromHeader],
        ['call-id', d.call.callId],
        ['cseq', `${cseq} ${method}`],
        ...d.routeSet.map((r): [string, string] => ['route', r]),
        ['user-agent', 'Goutong IVR'],
      ],
      body: '',
    };
  }

  private async bye(d: Dialog): Promise<void> {
    if (d.call.ended) return;
    const route = d.routeSet;
    const next = route.length && /;lr/i.test(route[0]!) ? parseSipUri(uriOf(route[0]!)) : parseSipUri(d.remoteTarget);
    const req: SipRequest = {
      kind: 'request',
      method: 'BYE',
      uri: d.remoteTarget,
      headers: [
        ['via', `SIP/2.0/UDP ${this.opts.host}:${this.port};rport;branch=${newBranch()}`],
        ['max-forwards', '70'],
        ['from', d.toHeader],
        ['to', d.remoteFromHeader],
        ['call-id', d.call.callId],
        ['cseq', `${++d.cseq} BYE`],
        ...route.map((r): [string, string] => ['route', r]),
        ['user-agent', 'Goutong IVR'],
      ],
      body: '',
    };
    this.end(d, 'local');
    await this.request(req, { address: next.host, port: next.port }).catch(() => undefined);
  }

  private end(d: Dialog, by: 'remote' | 'local'): void {
    if (d.call.ended) return;
    d.call.ended = true;
    d.call.rtp.close();
    this.dialogs.delete(d.call.callId);
    d.call.emit('ended', by);
  }
}

function viaRport(m: SipRequest): number | null {
  const v = header(m, 'via') ?? '';
  const r = /;rport=(\d+)/.exec(v);
  return r ? Number(r[1]) : null;
}

/** PCMU or PCMA, in the order the caller offered them. */
function pickCodec(payloads: number[], rtpmap: Map<number, string>): { pt: number; codec: G711 } | null {
  for (const pt of payloads) {
    const enc = rtpmap.get(pt) ?? '';
    if (enc.startsWith('PCMU/8000')) return { pt, codec: 'PCMU' };
    if (enc.startsWith('PCMA/8000')) return { pt, codec: 'PCMA' };
  }
  return null;
}

/** The key of a SIP INFO DTMF: `application/dtmf-relay` (`Signal=5`) or `application/dtmf` (`5`). */
export function infoDigit(m: SipRequest): string | null {
  const type = (header(m, 'content-type') ?? '').toLowerCase();
  let v: string | null = null;
  if (type.startsWith('application/dtmf-relay')) v = /signal\s*=\s*(\S+)/i.exec(m.body)?.[1] ?? null;
  else if (type.startsWith('application/dtmf')) v = m.body.trim();
  if (v === null) return null;
  if (v === '10') return '*';
  if (v === '11') return '#';
  return /^[0-9*#]$/.test(v) ? v : null;
}

export { paramOf };

/** A Digest `Authorization` value (RFC 2617 as SIP uses it, MD5, `qop=auth` when offered) answering a challenge. */
export function digestAuthorization(o: { challenge: string; method: string; uri: string; user: string; password: string; cnonce: string; nc: number }): string {
  const p = (k: string) => new RegExp(`${k}="?([^",]+)"?`, 'i').exec(o.challenge)?.[1] ?? null;
  const realm = p('realm') ?? '';
  const nonce = p('nonce') ?? '';
  const opaque = p('opaque');
  const qop = (p('qop') ?? '').split(/\s*,\s*/).includes('auth') ? 'auth' : null;
  const md5 = (s: string) => crypto.createHash('md5').update(s, 'utf8').digest('hex');
  const ha1 = md5(`${o.user}:${realm}:${o.password}`);
  const ha2 = md5(`${o.method}:${o.uri}`);
  const nc = o.nc.toString(16).padStart(8, '0');
  const response = qop ? md5(`${ha1}:${nonce}:${nc}:${o.cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
  return [
    `Digest username="${o.user}"`, `realm="${realm}"`, `nonce="${nonce}"`, `uri="${o.uri}"`, `response="${response}"`, 'algorithm=MD5',
    ...(qop ? [`qop=${qop}`, `nc=${nc}`, `cnonce="${o.cnonce}"`] : []),
    ...(opaque ? [`opaque="${opaque}"`] : []),
  ].join(', ');
}
