// The softphone's platform in a browser tab or the Electron window: JsSIP, navigator.mediaDevices,
// Web Audio + MediaRecorder for recordings, and the server API with the session's token. Recordings
// wait for their upload in core's upload queue (the workspace's IndexedDB vault).
import { SipCredentialsResponse } from '@goutong/core';
import { z } from 'zod';
import { currentServices } from '../platform/services';
import type { AudioDevice, LegacyRecordings, MicPermission, PendingRecording, PhoneApi, PhoneMedia, PhonePlatform } from './types';

export const browserMedia: PhoneMedia = {
  async permission() {
    try {
      const s = await navigator.permissions.query({ name: 'microphone' as PermissionName });
      return s.state as MicPermission;
    } catch {
      return 'unknown';
    }
  },
  async requestPermission() {
    try {
      const s = await navigator.mediaDevices.getUserMedia({ audio: true });
      for (const t of s.getTracks()) t.stop();
      return 'granted';
    } catch (e) {
      return (e as DOMException).name === 'NotAllowedError' ? 'denied' : 'prompt';
    }
  },
  async devices() {
    const all = await navigator.mediaDevices.enumerateDevices().catch(() => [] as MediaDeviceInfo[]);
    const pick = (kind: MediaDeviceKind): AudioDevice[] => all.filter((d) => d.kind === kind && d.deviceId).map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${kind === 'audioinput' ? 'Microphone' : 'Speaker'} ${i + 1}` }));
    return { inputs: pick('audioinput'), outputs: pick('audiooutput') };
  },
  onDevicesChanged(fn) {
    navigator.mediaDevices?.addEventListener?.('devicechange', fn);
    return () => navigator.mediaDevices?.removeEventListener?.('devicechange', fn);
  },
  microphone(deviceId) {
    return navigator.mediaDevices.getUserMedia({ audio: deviceId ? { deviceId: { exact: deviceId }, echoCancellation: true } : { echoCancellation: true } });
  },
  play(stream, outputDeviceId) {
    let el = document.getElementById('gt-phone-audio') as (HTMLAudioElement & { setSinkId?(id: string): Promise<void> }) | null;
    if (!el) {
      el = document.createElement('audio') as HTMLAudioElement & { setSinkId?(id: string): Promise<void> };
      el.id = 'gt-phone-audio';
      el.autoplay = true;
      el.hidden = true;
      document.body.appendChild(el);
    }
    if (el.srcObject !== stream) el.srcObject = stream;
    if (outputDeviceId && el.setSinkId) void el.setSinkId(outputDeviceId).catch(() => undefined);
    if (stream) void el.play().catch(() => undefined);
  },
  record(local, remote) {
    // 16-bit PCM WAV at 16 kHz mono (what the server's ASR reads; pocketsphinx's rate), both sides mixed.
    if (typeof AudioContext === 'undefined') return null;
    const ctx = new AudioContext({ sampleRate: RECORD_RATE });
    const proc = ctx.createScriptProcessor(4096, 1, 1);
    ctx.createMediaStreamSource(local).connect(proc);
    ctx.createMediaStreamSource(remote).connect(proc);
    const silent = ctx.createGain();
    silent.gain.value = 0;
    proc.connect(silent).connect(ctx.destination);
    const chunks: Int16Array[] = [];
    proc.onaudioprocess = (e) => chunks.push(toPcm16(e.inputBuffer.getChannelData(0)));
    void ctx.resume().catch(() => undefined);
    return {
      stop: async () => {
        proc.onaudioprocess = null;
        proc.disconnect();
        await ctx.close().catch(() => undefined);
        return chunks.length ? wavBlob(chunks, ctx.sampleRate) : null;
      },
    };
  },
  mixer: async () => (await import('./mixer')).createMixer((s, out) => browserMedia.play(s, out)),
  ring: (() => {
    let ctx: AudioContext | null = null;
    let timer: ReturnType<typeof setInterval> | null = null;
    const beep = () => {
      if (!ctx) return;
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 440;
      gain.gain.value = 0.05;
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 1.2);
    };
    return (on: boolean) => {
      if (on && !timer) {
        try {
          ctx = new AudioContext();
          beep();
          timer = setInterval(beep, 3000);
        } catch {
          ctx = null;
        }
      } else if (!on && timer) {
        clearInterval(timer);
        timer = null;
        void ctx?.close().catch(() => undefined);
        ctx = null;
      }
    };
  })(),
};

const RECORD_RATE = 16_000;
/** What one recording may be (the server takes attachments up to 25 MiB): longer calls are kept at 8 kHz, then cut. */
const MAX_RECORDING_BYTES = 24 * 1024 * 1024;

function toPcm16(f: Float32Array): Int16Array {
  const out = new Int16Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round((f[i] ?? 0) * 32767)));
  return out;
}

/** The chunks as one mono 16-bit PCM WAV file (halved to 8 kHz, then cut, when over the upload limit). */
export function wavBlob(chunks: Int16Array[], rate: number): Blob {
  let pcm = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    pcm.set(c, at);
    at += c.length;
  }
  if (pcm.length * 2 > MAX_RECORDING_BYTES && rate >= 16_000) {
    const half = new Int16Array(Math.floor(pcm.length / 2));
    for (let i = 0; i < half.length; i++) half[i] = ((pcm[2 * i] ?? 0) + (pcm[2 * i + 1] ?? 0)) >> 1;
    pcm = half;
    rate = rate / 2;
  }
  if (pcm.length * 2 > MAX_RECORDING_BYTES) pcm = pcm.subarray(0, MAX_RECORDING_BYTES / 2);
  const head = new DataView(new ArrayBuffer(44));
  const tag = (o: number, t: string) => [...t].forEach((ch, i) => head.setUint8(o + i, ch.charCodeAt(0)));
  tag(0, 'RIFF');
  head.setUint32(4, 36 + pcm.length * 2, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  head.setUint32(16, 16, true);
  head.setUint16(20, 1, true);
  head.setUint16(22, 1, true);
  head.setUint32(24, rate, true);
  head.setUint32(28, rate * 2, true);
  head.setUint16(32, 2, true);
  head.setUint16(34, 16, true);
  tag(36, 'data');
  head.setUint32(40, pcm.length * 2, true);
  return new Blob([head.buffer, new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength)], { type: 'audio/wav' });
}

function serverApi() {
  const api = currentServices()?.api;
  if (!api) throw new Error('not signed in');
  return api;
}

/** Through the workspace's ServerApi (the session's token, refreshed by core's transport). */
export const browserApi: PhoneApi = {
  async credentials() {
    // A response crosses a boundary: validated before the softphone uses it.
    const parsed = SipCredentialsResponse.safeParse(await serverApi().request<unknown>('GET', '/api/v1/voice/credentials'));
    if (!parsed.success) throw new Error(`unexpected SIP credentials from the server: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data.items;
  },
  async callIntent(conversationId, identity) {
    const body = { conversationId, ...(identity !== undefined ? { identity } : {}) };
    const parsed = CallIntentResponse.safeParse(await serverApi().request<unknown>('POST', '/api/v1/voice/call-intents', body));
    if (!parsed.success) throw new Error(`unexpected call intent from the server: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  },
  async monitorGrant(agentId, mode) {
    const parsed = MonitorGrantResponse.safeParse(await serverApi().request<unknown>('POST', '/api/v1/voice/monitor', { agentId, mode }));
    if (!parsed.success) throw new Error(`unexpected monitor grant from the server: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  },
  async verifyMonitor(token) {
    const parsed = MonitorCheckResponse.safeParse(await serverApi().request<unknown>('POST', '/api/v1/voice/monitor/verify', { token }));
    if (!parsed.success) throw new Error(`unexpected monitor check from the server: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  },
};

const MonitorMode = z.enum(['listen', 'whisper']);
const MonitorGrantResponse = z.object({ token: z.string().min(10).max(1000), target: z.string().min(1).max(64), mode: MonitorMode });
const MonitorCheckResponse = z.object({ supervisorId: z.string().min(1), supervisorName: z.string(), mode: MonitorMode });

/** [trust] The server's call intent (validated: it crosses a boundary). */
const CallIntentResponse = z.object({
  dialTarget: z.string().regex(/^gtcall-[0-9a-f]{32,64}$/),
  display: z.string().max(200),
  expiresAt: z.number(),
  inboxId: z.string(),
});

/** The old recording queue in IndexedDB (read to move its recordings into core's upload queue). */
export function legacyIndexedDbRecordings(name: string): LegacyRecordings {
  let db: Promise<IDBDatabase | null> | null = null;
  const open = () =>
    (db ??= (async () => {
      // Do not create the database for an account that never had the old queue.
      const known = await indexedDB.databases?.().catch(() => null);
      if (known && !known.some((d) => d.name === name)) return null;
      return new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open(name, 1);
        req.onupgradeneeded = () => req.result.createObjectStore('recordings', { keyPath: 'id' });
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    })());
  const run = async <T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>, empty: T): Promise<T> => {
    const d = await open();
    if (!d) return empty;
    return new Promise<T>((resolve, reject) => {
      const tx = d.transaction('recordings', mode);
      const req = fn(tx.objectStore('recordings'));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  };
  return {
    list: () => run('readonly', (s) => s.getAll() as IDBRequest<PendingRecording[]>, [] as PendingRecording[]),
    delete: async (id: string) => void (await run('readwrite', (s) => s.delete(id), undefined)),
  };
}

export function browserPhonePlatform(queueName: string): PhonePlatform {
  return {
    createPhone: async (account) => (await import('./jssipAdapter')).createJsSipPhone(account),
    media: browserMedia,
    api: browserApi,
    legacyRecordings: legacyIndexedDbRecordings(queueName),
  };
}
