import crypto from 'node:crypto';
import { callbackConfirmation, decideQueueTick, QUEUE_CALL_HEADER, queuePosition, queuePrompt, type Inbox, type IvrAction } from '@goutong/core';
import type { ProviderDeps } from '../channels/provider.js';
import { VoiceQueue } from '../domain/voiceQueue.js';
import { decodeG711, encodeG711 } from './audio.js';
import type { SipCall, SipEndpoint } from './endpoint.js';
import { parseRtp } from './rtp.js';
import { BridgeRecorder } from './bridgeRecorder.js';
import type { IvrSettings } from './config.js';

/** How a queued call ended (recorded on the call message as `meta.queue`). */
export interface QueueOutcome {
  teamId: string | null;
  result: 'answered' | 'overflow' | 'callback' | 'hangup';
  agentId?: string;
  /** Seconds from entering the queue to the agent's answer (or leaving). */
  waitSeconds: number;
  /** Agents whose phone rang without an answer, in order. */
  rangOut: string[];
}

export interface AcdCall {
  inbox: Inbox;
  ivr: IvrSettings;
  /** The inbox's SIP config: domain and agent → SIP user. */
  domain: string;
  agents: Record<string, string>;
  /** The registrar/proxy (Kamailio) the agents' softphones are registered with. */
  proxy: { host: string; port: number };
  endpoint: SipEndpoint;
  call: SipCall;
  action: Exclude<IvrAction, { type: 'repeat' | 'voicemail' }>;
  say(text: string, bargeIn: boolean): Promise<void>;
  log(msg: string, data?: Record<string, unknown>): void;
  /** Record the bridged conversation (the inbox records calls): at most this many seconds; null: not recorded. */
  record?: { maxSeconds: number } | null;
  /** The recording of the bridged conversation, when the call was answered and recorded (called once the bridge ends). */
  onRecording?: (r: BridgeRecorder) => void;
}

/** How often a waiting caller's queue is looked at (offer, position, max wait). */
const TICK_MS = 250;

/**
 * The ACD of the server's IVR endpoint: a queue or operator choice puts the caller in the team's
 * queue (a row of `voice_queue`), says the position (core `queuePrompt`, periodically), offers the
 * call to the agent core's `decideCallOffer` picks (strictly first come, first served; routing's
 * availability, capacity and longest idle), rings the agent's softphone through the proxy (a new
 * SIP call from the endpoint: a B2BUA), re-offers after the ring timeout, and bridges the two calls'
 * RTP when the agent answers. The caller's callback key leaves a callback request on their
 * conversation (an inbound `call` message: it waits for an agent like any message); after the
 * maximum wait the call overflows to voicemail.
 */
export class Acd {
  readonly queue: VoiceQueue;
  private beat: NodeJS.Timeout | null = null;

  constructor(private readonly deps: ProviderDeps, private readonly owner: string, now: () => number = Date.now) {
    this.queue = new VoiceQueue(deps.workspace.db, now);
  }

  start(): void {
    this.beat = setInterval(() => void this.queue.heartbeat(this.owner).catch((e: unknown) => this.deps.logger.warn('voice: queue heartbeat failed', { error: String(e) })), 3000);
    this.beat.unref();
  }

  stop(): void {
    if (this.beat) clearInterval(this.beat);
    this.beat = null;
  }

  /** The SIP user of an agent on the inbox (by id or e-mail, as the inbox's `agents` lists them). */
  private async sipUserOf(o: AcdCall, agentId: string): Promise<string | null> {
    if (o.agents[agentId]) return o.agents[agentId]!;
    const email = await this.queue.agentEmail(o.inbox.tenantId, agentId);
    return email ? (o.agents[email] ?? o.agents[email.toLowerCase()] ?? null) : null;
  }

  async handle(o: AcdCall): Promise<QueueOutcome> {
    const { call, ivr, inbox } = o;
    const settings = ivr.queue;
    const teamId = o.action.type === 'queue' ? o.action.teamId : (settings.operatorTeamId ?? null);
    const entry = await this.queue.enter({ id: crypto.randomUUID(), tenantId: inbox.tenantId, inboxId: inbox.id, teamId, callId: call.callId, caller: call.from.user ?? call.from.uri, owner: this.owner });
    const outcome: QueueOutcome = { teamId, result: 'hangup', waitSeconds: 0, rangOut: [] };
    const keys: string[] = [];
    const onKey = (d: string) => keys.push(d);
    call.on('dtmf', onKey);
    const waited = () => Math.round((Date.now() - entry.enteredAt) / 1000);
    let lastAnnouncedAt: number | null = null;
    try {
      if (settings.holdPrompt) await o.say(settings.holdPrompt, false);
      for (;;) {
        if (call.ended) return { ...outcome, waitSeconds: waited() };
        if (settings.callbackKey && keys.includes(settings.callbackKey)) {
          await this.callback(o, teamId);
          await o.say(callbackConfirmation(ivr.language), false);
          await call.hangup();
          return { ...outcome, result: 'callback', waitSeconds: waited() };
        }
        keys.length = 0;
        const offer = await this.queue.offer(inbox.tenantId, entry.id, []);
        if (offer.kind === 'offer') {
          const answered = await this.ring(o, entry.id, offer.agentId, outcome);
          if (answered) return { ...outcome, result: 'answered', agentId: offer.agentId, waitSeconds: answered.waitSeconds };
          continue;
        }
        const { call: me, calls } = await this.queue.get(inbox.tenantId, entry.id);
        const tick = decideQueueTick(settings, { enteredAt: entry.enteredAt, now: Date.now(), lastAnnouncedAt, position: me ? queuePosition(calls, me.id) : 1 });
        if (tick.kind === 'overflow') return { ...outcome, result: 'overflow', waitSeconds: waited() };
        if (tick.kind === 'announce') {
          lastAnnouncedAt = Date.now();
          await o.say(queuePrompt(ivr.language, tick.position, settings.callbackKey ?? null), true);
          continue;
        }
        await call.rtp.silence(TICK_MS);
      }
    } finally {
      call.off('dtmf', onKey);
      await this.queue.leave(inbox.tenantId, entry.id).catch((e: unknown) => o.log('voice: queue row not removed', { error: String(e) }));
    }
  }

  /** Rings one agent; when they answer, bridges the call until either side hangs up. Null: not answered (the call waits again). */
  private async ring(o: AcdCall, entryId: string, agentId: string, outcome: QueueOutcome): Promise<{ waitSeconds: number } | null> {
    const { call, inbox } = o;
    const user = await this.sipUserOf(o, agentId);
    const hungUp = new AbortController();
    const onEnd = () => hungUp.abort();
    call.once('ended', onEnd);
    let leg: SipCall | null = null;
    try {
      if (user) {
        // the caller hears silence (the RTP stream kept alive) while the agent's phone rings
        const ringing = new AbortController();
        const keepAlive = (async () => {
          while (!ringing.signal.aborted && !call.ended) await call.rtp.silence(200, ringing.signal);
        })();
        try {
          leg = await o.endpoint.invite({
            target: `sip:${user}@${o.domain}`,
            proxy: { host: o.proxy.host, port: o.proxy.port },
            fromUser: call.from.user ?? 'anonymous',
            fromDisplay: call.from.displayName,
            domain: o.domain,
            ringTimeoutMs: o.ivr.queue.ringTimeoutSeconds * 1000,
            signal: hungUp.signal,
            // the softphone neither logs nor records a queue call: the server is its one writer (core softphoneWritesCall)
            headers: [[QUEUE_CALL_HEADER.toLowerCase(), entryId]],
          });
        } catch (e) {
          o.log('voice: ringing the agent failed', { agent: agentId, error: String(e) });
        } finally {
          ringing.abort();
          await keepAlive;
        }
      } else o.log('voice: the agent has no SIP user on this inbox', { agent: agentId });
      if (!leg || call.ended) {
        await leg?.hangup();
        // the caller hanging up while it rang is not the agent's miss
        if (!call.ended) {
          outcome.rangOut.push(agentId);
          await this.queue.rangOut(inbox.tenantId, entryId, agentId);
        }
        return null;
      }
      await this.queue.connected(inbox.tenantId, entryId);
      const enteredWait = await this.queue.get(inbox.tenantId, entryId);
      const waitSeconds = enteredWait.call ? Math.round((Date.now() - enteredWait.call.enteredAt) / 1000) : 0;
      const recorder = o.record ? new BridgeRecorder({ maxSeconds: o.record.maxSeconds }) : null;
      await bridge(call, leg, recorder);
      if (recorder) {
        if (recorder.truncated) o.log('voice: the call recording reached its maximum length and was cut', { maxSeconds: o.record!.maxSeconds });
        o.onRecording?.(recorder);
      }
      return { waitSeconds };
    } finally {
      call.off('ended', onEnd);
    }
  }

  /** The caller asked to be called back: an inbound `call` message on their conversation (it waits for an agent like any message). */
  private async callback(o: AcdCall, teamId: string | null): Promise<void> {
    const from = o.call.from.user ?? o.call.from.uri;
    await this.deps.ingest(o.inbox, {
      externalId: `callback:${o.call.callId}`,
      from: { identifier: from, ...(o.call.from.displayName ? { name: o.call.from.displayName } : {}) },
      text: o.ivr.language === 'zh' ? `请回电 ${from}` : `Callback requested · ${from}`,
      kind: 'call',
      meta: { callback: { number: from, teamId, requestedAt: Date.now(), callId: o.call.callId }, call: { direction: 'in', outcome: 'missed', callId: o.call.callId } },
    });
  }
}

/**
 * Relays the audio between the caller and the agent (both G.711; transcoded when the codecs
 * differ; each leg keeps its own SSRC, sequence and timestamps), until either side hangs up; then hangs up the other.
 * With a recorder, both directions are mixed into it as they pass.
 */
export async function bridge(a: SipCall, b: SipCall, recorder: BridgeRecorder | null = null): Promise<void> {
  const relay = (from: SipCall, to: SipCall) => (payload: Buffer, pt: number, marker: boolean) => {
    if (to.ended || pt !== from.rtp.codecPt) return;
    const out = from.rtp.codec === to.rtp.codec ? payload : encodeG711(to.rtp.codec, decodeG711(from.rtp.codec, payload));
    to.rtp.sendPayload(out, marker);
  };
  const ab = relay(a, b);
  const ba = relay(b, a);
  const onA = (buf: Buffer) => {
    const p = parseRtp(buf);
    if (!p) return;
    ab(p.payload, p.payloadType, p.marker);
    if (recorder && p.payloadType === a.rtp.codecPt) recorder.push('a', a.rtp.codec, p);
  };
  const onB = (buf: Buffer) => {
    const p = parseRtp(buf);
    if (!p) return;
    ba(p.payload, p.payloadType, p.marker);
    if (recorder && p.payloadType === b.rtp.codecPt) recorder.push('b', b.rtp.codec, p);
  };
  a.rtp.on('packet', onA);
  b.rtp.on('packet', onB);
  await new Promise<void>((resolve) => {
    if (a.ended || b.ended) return resolve();
    a.once('ended', () => resolve());
    b.once('ended', () => resolve());
  });
  a.rtp.off('packet', onA);
  b.rtp.off('packet', onB);
  await Promise.all([a.hangup(), b.hangup()]);
}
