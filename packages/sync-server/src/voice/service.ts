import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Inbox } from '@goutong/core';
import { transcriptCost } from '@goutong/core';
import type { ProviderDeps } from '../channels/provider.js';
import { Transcriptions, voiceInboxIds, type TranscriptionJob, type TranscriptResult } from '../domain/transcriptions.js';
import { readWav, wavFile } from './audio.js';
import { z } from 'zod';
import { AsrError, pocketsphinxAsr, type SpeechToText } from './asr.js';
import { aliyunFileAsr, aliyunTts, tencentAsr, tencentTts } from './cloud.js';
import { IvrSettings, SpeechEndpoints, TranscriptionSettings } from './config.js';
import { SipEndpoint } from './endpoint.js';
import { runIvrSession } from './ivrSession.js';
import { Acd } from './acd.js';
import type { BridgeRecorder } from './bridgeRecorder.js';
import { inboxCalendar } from '../domain/webchat.js';
import { enqueueTranscription, storeVoicemail } from './voicemail.js';
import { cachedTts, espeakTts, fallbackTts, type TextToSpeech } from './tts.js';

export interface VoiceServiceOptions {
  /** How often the transcription worker looks for due jobs (ms). */
  transcriptionIntervalMs?: number;
  /** How often the IVR endpoints are reconciled with the inboxes' config (ms). */
  ivrReconcileMs?: number;
  /** Longest a transcription may take before it counts as failed (ms). */
  asrTimeoutMs?: number;
  /** Longest a cloud prompt synthesis may take before espeak-ng speaks instead (ms). */
  ttsTimeoutMs?: number;
  fetch?: typeof fetch;
  /** Polling interval of cloud transcription tasks (ms). */
  asrPollMs?: number;
  /** Replaces the ACD for queue/operator choices (tests); absent: the built-in ACD (src/voice/acd.ts). */
  onQueue?: Parameters<typeof runIvrSession>[2]['onQueue'];
}

type Settings = NonNullable<Awaited<ReturnType<ProviderDeps['inboxSettings']>>>;

function parsed<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, v: unknown): T | null {
  const r = schema.safeParse(v);
  return r.success ? r.data : null;
}

/** The ASR of an inbox's transcription settings. */
export function asrFor(provider: string, s: Settings, o: VoiceServiceOptions): SpeechToText | null {
  const ep = parsed(SpeechEndpoints, s.config['speech'] ?? {}) ?? SpeechEndpoints.parse({});
  const f = { ...(o.fetch ? { fetch: o.fetch } : {}), ...(o.asrPollMs ? { pollMs: o.asrPollMs } : {}) };
  switch (provider) {
    case 'pocketsphinx':
      return pocketsphinxAsr();
    case 'aliyun':
      return aliyunFileAsr({ endpoints: ep, secrets: s.secrets, ...f });
    case 'tencent':
      return tencentAsr({ endpoints: ep, secrets: s.secrets, ...f });
    default:
      return null;
  }
}

/**
 * The server's voice runtime: the IVR media endpoints of the voice inboxes that enable one (kept
 * in step with their config), and the transcription worker. Started with the server by the voice
 * provider's `start`; several processes may run it (jobs are claimed under a lease; a SIP port is
 * bound by one process only, the others log and retry).
 */
export class VoiceService {
  readonly transcriptions: Transcriptions;
  private readonly owner = `voice-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  private readonly endpoints = new Map<string, { key: string; endpoint: SipEndpoint }>();
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private working = false;
  private readonly ttsDir: string;
  readonly acd: Acd;

  constructor(private readonly deps: ProviderDeps, private readonly o: VoiceServiceOptions = {}) {
    this.transcriptions = new Transcriptions(deps.workspace.db, deps.workspace);
    this.ttsDir = path.join(path.dirname(deps.attachments.root), 'tts-cache');
    this.acd = new Acd(deps, this.owner);
  }

  async start(): Promise<void> {
    this.acd.start();
    await this.reconcile();
    const every = (ms: number, fn: () => Promise<void>) => {
      const t = setInterval(() => void fn().catch((e: unknown) => this.deps.logger.error('voice: background task failed', { error: String(e) })), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.o.ivrReconcileMs ?? 5000, () => this.reconcile());
    every(this.o.transcriptionIntervalMs ?? 2000, () => this.work());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.acd.stop();
    for (const t of this.timers) clearInterval(t);
    for (const { endpoint } of this.endpoints.values()) await endpoint.stop().catch(() => undefined);
    this.endpoints.clear();
  }

  /** The IVR endpoints: which inbox, bound where, registered or not. */
  status(): { inboxId: string; port: number; registered: boolean }[] {
    return [...this.endpoints].map(([inboxId, { endpoint }]) => ({ inboxId, port: endpoint.port, registered: endpoint.registered }));
  }

  /** The prompt voice of an inbox: its TTS (cached on disk), falling back to espeak-ng when a cloud one fails. */
  ttsFor(s: Settings, ivr: IvrSettings): TextToSpeech {
    const espeak = cachedTts(espeakTts(), path.join(this.ttsDir, 'espeak-ng'));
    if (ivr.tts === 'espeak') return espeak;
    const ep = parsed(SpeechEndpoints, s.config['speech'] ?? {}) ?? SpeechEndpoints.parse({});
    const f = this.o.fetch ? { fetch: this.o.fetch } : {};
    const t = this.o.ttsTimeoutMs ?? 8000;
    const cloud = ivr.tts === 'aliyun' ? aliyunTts({ endpoints: ep, secrets: s.secrets, timeoutMs: t, ...f }) : tencentTts({ endpoints: ep, secrets: s.secrets, timeoutMs: t, ...f });
    return fallbackTts(cachedTts(cloud, path.join(this.ttsDir, cloud.name)), espeak, (e) => this.deps.logger.warn('voice: cloud TTS failed, espeak-ng speaks instead', { error: String(e) }));
  }

  /** Starts, restarts or stops IVR endpoints after the voice inboxes' config. */
  async reconcile(): Promise<void> {
    if (this.stopped || this.reconciling) return;
    this.reconciling = true;
    try {
      await this.reconcileOnce();
    } finally {
      this.reconciling = false;
    }
  }

  private reconciling = false;
  private readonly bindFailures = new Map<string, string>();

  private async reconcileOnce(): Promise<void> {
    const want = new Map<string, { s: Settings; ivr: IvrSettings; key: string }>();
    for (const id of await voiceInboxIds(this.deps.workspace.db)) {
      const s = await this.deps.inboxSettings(id);
      const ivr = s ? parsed(IvrSettings, s.config['ivr']) : null;
      if (!s || !ivr?.enabled) continue;
      want.set(id, { s, ivr, key: JSON.stringify([ivr.sipHost, ivr.sipPort, ivr.sipUser, ivr.registrar ?? null, s.secrets[`password:${ivr.sipUser}`] ?? null, s.config['domain'] ?? null]) });
    }
    for (const [id, cur] of this.endpoints) {
      if (want.get(id)?.key === cur.key) continue;
      this.endpoints.delete(id);
      await cur.endpoint.stop().catch(() => undefined);
    }
    for (const [id, w] of want) {
      if (this.endpoints.has(id)) continue;
      const [rh, rp] = w.ivr.registrar ? w.ivr.registrar.split(':') : [];
      const endpoint = new SipEndpoint({
        host: w.ivr.sipHost,
        port: w.ivr.sipPort,
        user: w.ivr.sipUser,
        ...(rh && rp
          ? { registrar: { host: rh, port: Number(rp), domain: parsed(IvrDomain, w.s.config)?.domain ?? rh, ...(w.s.secrets[`password:${w.ivr.sipUser}`] ? { password: w.s.secrets[`password:${w.ivr.sipUser}`]! } : {}) } }
          : {}),
      });
      endpoint.on('error', (e) => this.deps.logger.warn('voice: SIP endpoint', { inbox: id, error: e.message }));
      endpoint.on('call', (call) => void this.onCall(id, call).catch((e: unknown) => this.deps.logger.error('voice: IVR call failed', { inbox: id, error: String(e) })));
      try {
        await endpoint.start();
        this.endpoints.set(id, { key: w.key, endpoint });
      } catch (e) {
        // Several processes share the config: one binds the port, the others keep trying quietly.
        if (this.bindFailures.get(id) !== w.key) this.deps.logger.warn('voice: IVR endpoint not started (port in use by another process?)', { inbox: id, error: String(e) });
        this.bindFailures.set(id, w.key);
      }
    }
  }

  private async onCall(inboxId: string, call: import('./endpoint.js').SipCall): Promise<void> {
    const s = await this.deps.inboxSettings(inboxId);
    const ivr = s ? parsed(IvrSettings, s.config['ivr']) : null;
    if (!s || !ivr) {
      await call.hangup();
      return;
    }
    const from = call.from.user ?? call.from.uri;
    const started = Date.now();
    let voicemail = false;
    const endpoint = this.endpoints.get(inboxId)?.endpoint;
    const voice = parsed(AcdVoiceConfig, s.config);
    const log = (msg: string, data?: Record<string, unknown>) => this.deps.logger.warn(msg, { inbox: inboxId, ...data });
    const [rh, rp] = ivr.registrar ? ivr.registrar.split(':') : [];
    // The server bridges a queue call, so it records it (the inbox's recordCalls): the agent's softphone does not.
    let recording: BridgeRecorder | null = null;
    const record = voice?.recordCalls ? { maxSeconds: ivr.queue.maxRecordingSeconds } : null;
    const onQueue: Parameters<typeof runIvrSession>[2]['onQueue'] =
      this.o.onQueue ??
      (endpoint && voice && rh && rp
        ? (c, action, io) =>
            this.acd.handle({
              inbox: s.inbox, ivr, domain: voice.domain, agents: voice.agents, proxy: { host: rh, port: Number(rp) }, endpoint, call: c, action, say: io.say, log,
              record, onRecording: (r) => void (recording = r),
            })
        : undefined);
    const calendar = await inboxCalendar(this.deps.workspace.db, s.inbox.tenantId, s.inbox.ops?.businessHoursId).catch(() => null);
    const outcome = await runIvrSession(call, ivr, {
      tts: this.ttsFor(s, ivr),
      now: () => Date.now(),
      log,
      calendar,
      ...(onQueue ? { onQueue } : {}),
      onVoicemail: async (v) => {
        voicemail = true;
        await storeVoicemail(
          this.deps,
          s.inbox,
          {
            from,
            ...(call.from.displayName ? { name: call.from.displayName } : {}),
            ...(call.to.user ? { to: call.to.user } : {}),
            callId: call.callId,
            durationSeconds: v.seconds,
            meta: { ivr: v.outcome },
          },
          wavFile(v.pcm),
          'audio/wav',
        );
      },
    });
    // a voicemail or a callback request is already on the conversation
    if (voicemail || outcome.queue?.result === 'callback') return;
    // A call that ended in the IVR without a voicemail is still a call on the conversation (missed,
    // or answered by an agent through the queue).
    const seconds = Math.round((Date.now() - started) / 1000);
    const answered = outcome.queue?.result === 'answered';
    const rec = answered ? (recording as BridgeRecorder | null) : null;
    const audio = rec && rec.packets > 0 ? wavFile(rec.pcm()) : null;
    // The bytes first; the attachment row is written bound to the call message in the inbound's transaction (as voicemail).
    const attachment = audio
      ? this.deps.attachments.stage(s.inbox.tenantId, audio, { name: `call-${from.replace(/[^0-9A-Za-z+]/g, '')}-${new Date(started).toISOString().replace(/[:.]/g, '-')}.wav`, mime: 'audio/wav' })
      : null;
    const res = await this.deps.ingest(s.inbox, {
      externalId: `ivr-call:${call.callId}`,
      from: { identifier: from, ...(call.from.displayName ? { name: call.from.displayName } : {}) },
      text: `IVR · ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`,
      kind: 'call',
      meta: {
        call: { direction: 'in', outcome: answered ? 'answered' : outcome.action === 'hangup' || outcome.queue ? 'missed' : 'transferred', durationSeconds: seconds, callId: call.callId, ...(answered && outcome.queue?.agentId ? { agentId: outcome.queue.agentId } : {}) },
        ivr: outcome,
        ...(rec && audio ? { recording: { seconds: Math.round(rec.seconds * 100) / 100, by: 'server', ...(rec.truncated ? { truncated: true } : {}) } } : {}),
      },
      ...(attachment ? { stagedAttachments: [{ id: attachment.id, name: attachment.name, mime: attachment.mime, size: attachment.size, sha256: attachment.sha256 }] } : {}),
    });
    // the recording goes through the same transcription path as voicemail and softphone recordings
    if (attachment && !res.duplicate) await enqueueTranscription(this.deps, s.inbox, res.message.id, attachment.id);
  }

  /** After a voicemail or recording was stored: its transcription job (when the inbox transcribes). */
  async enqueueTranscription(inbox: Inbox, messageId: string, attachmentId: string): Promise<boolean> {
    return enqueueTranscription(this.deps, inbox, messageId, attachmentId);
  }

  /** One round of the transcription worker: claim due jobs, transcribe, finish (a slow or failing ASR never touches the call record). */
  async work(): Promise<void> {
    if (this.working || this.stopped) return;
    this.working = true;
    try {
      const jobs = await this.transcriptions.claim({ owner: this.owner, leaseMs: (this.o.asrTimeoutMs ?? 120_000) + 30_000, limit: 2 });
      for (const job of jobs) await this.transcriptions.finish(job, await this.transcribe(job));
    } finally {
      this.working = false;
    }
  }

  private async transcribe(job: TranscriptionJob): Promise<TranscriptResult> {
    const s = await this.deps.inboxSettings(job.inboxId);
    if (!s) return { ok: false, error: 'the inbox is gone', retryable: false };
    const asr = asrFor(job.provider, s, this.o);
    if (!asr) return { ok: false, error: `no transcription provider ${job.provider}`, retryable: false };
    const a = await this.deps.attachments.get(job.tenantId, job.attachmentId);
    if (!a) return { ok: false, error: 'the recording is gone', retryable: false };
    try {
      const wav = asWav(await fs.promises.readFile(a.file));
      const ep = parsed(SpeechEndpoints, s.config['speech'] ?? {});
      const audioUrl = ep?.publicBaseUrl ? `${ep.publicBaseUrl.replace(/\/$/, '')}${a.attachment.url}` : undefined;
      const t = await asr.transcribe({ wav, language: job.language, ...(audioUrl ? { audioUrl } : {}) }, AbortSignal.timeout(this.o.asrTimeoutMs ?? 120_000));
      const tc = parsed(TranscriptionSettings, s.config['transcription'] ?? {});
      const currency = typeof s.config['currency'] === 'string' ? s.config['currency'] : undefined;
      const cost = transcriptCost(t.seconds, tc?.pricePerMinute, currency);
      return { ok: true, text: t.text, seconds: t.seconds, ...(cost ? { cost } : {}) };
    } catch (e) {
      const retryable = !(e instanceof AsrError) || e.retryable;
      return { ok: false, error: e instanceof Error ? `${e.name === 'TimeoutError' ? 'timed out: ' : ''}${e.message}` : String(e), retryable };
    }
  }
}

const IvrDomain = z.object({ domain: z.string().min(1) });
const AcdVoiceConfig = z.object({ domain: z.string().min(1), agents: z.record(z.string(), z.string()).default({}), recordCalls: z.boolean().default(false) });

/** A recording as 16-bit PCM WAV (voicemail is); other formats are not transcribed (a final failure). */
function asWav(bytes: Buffer): Buffer {
  try {
    readWav(bytes);
    return bytes;
  } catch (e) {
    throw new AsrError(`only 16-bit PCM WAV recordings are transcribed (${String(e)})`, false);
  }
}
