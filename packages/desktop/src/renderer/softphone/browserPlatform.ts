// The softphone's platform in a browser tab or the Electron window: JsSIP, navigator.mediaDevices,
// Web Audio + MediaRecorder for recordings, and the server API with the session's token. Recordings
// wait for their upload in core's upload queue (the workspace's IndexedDB vault).
import { SipCredentialsResponse } from '@goutong/core';
import { z } from 'zod';
import { currentServices } from '../platform/services';
import type { AudioDevice, CallRecorder, LegacyRecordings, MicPermission, PendingRecording, PhoneApi, PhoneMedia, PhonePlatform } from './types';

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
    if (typeof MediaRecorder === 'undefined' || typeof AudioContext === 'undefined') return null;
    const ctx = new AudioContext();
    const dest = ctx.createMediaStreamDestination();
    ctx.createMediaStreamSource(local).connect(dest);
    ctx.createMediaStreamSource(remote).connect(dest);
    const type = ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg;codecs=opus'].find((t) => MediaRecorder.isTypeSupported(t));
    const rec = new MediaRecorder(dest.stream, type ? { mimeType: type } : {});
    const chunks: Blob[] = [];
    rec.ondataavailable = (e) => {
      if (e.data.size > 0) chunks.push(e.data);
    };
    rec.start(1000);
    const recorder: CallRecorder = {
      stop: () =>
        new Promise<Blob | null>((resolve) => {
          const done = () => {
            void ctx.close().catch(() => undefined);
            resolve(chunks.length ? new Blob(chunks, { type: (rec.mimeType || type || 'audio/webm').split(';')[0] }) : null);
          };
          if (rec.state === 'inactive') return done();
          rec.onstop = done;
          rec.stop();
        }),
    };
    return recorder;
  },
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
};

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
