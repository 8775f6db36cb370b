// The softphone's ports: what the store needs from a SIP user agent (JsSIP in the app, a test
// double in unit tests), from the media devices and from the server. The store never touches
// JsSIP, navigator.mediaDevices or fetch itself.
import type { SipCredentials } from '@goutong/core';

/** An agent's SIP registration on one voice inbox (GET /api/v1/voice/credentials; schema in core). */
export type SipAccount = SipCredentials;

export type PhoneEvent =
  | { type: 'connecting' }
  | { type: 'connected' }
  | { type: 'disconnected'; error: boolean; code?: number; reason?: string }
  | { type: 'registered' }
  | { type: 'unregistered' }
  | { type: 'registrationFailed'; cause: string; status?: number; reason?: string }
  /** A call arriving (ringing), or one placed by the UA itself (accepting a REFER). */
  | { type: 'newCall'; call: SipCall };

export type DtmfTransport = 'INFO' | 'RFC2833';

export type CallEvent =
  | { type: 'progress'; originator: 'local' | 'remote' }
  | { type: 'accepted' }
  | { type: 'confirmed' }
  | { type: 'ended'; originator: 'local' | 'remote' | 'system'; cause: string }
  | { type: 'failed'; originator: 'local' | 'remote' | 'system'; cause: string; status?: number }
  | { type: 'hold'; originator: 'local' | 'remote' }
  | { type: 'unhold'; originator: 'local' | 'remote' }
  | { type: 'dtmf'; originator: 'local' | 'remote'; tone: string; transport: DtmfTransport }
  /** The far end asks us to call someone else (blind transfer to us as the transferee). */
  | { type: 'refer'; target: string; accept(opts: { stream: MediaStream; pcConfig?: RTCConfiguration; extraHeaders?: string[] }): void; reject(): void }
  | { type: 'remoteStream'; stream: MediaStream }
  | { type: 'peerconnection'; pc: RTCPeerConnection };

export interface SipCall {
  readonly id: string;
  readonly direction: 'in' | 'out';
  /** The far end's SIP user (a phone number for PSTN callers). */
  readonly remoteUser: string;
  readonly remoteName: string | null;
  /** A header of the INVITE that started an incoming call. */
  header(name: string): string | undefined;
  answer(opts: { stream: MediaStream; pcConfig?: RTCConfiguration }): void;
  /** Rejects (status, e.g. 486 or 603) while ringing, cancels while dialing, hangs up when connected. */
  terminate(opts?: { status?: number; reason?: string }): void;
  hold(): void;
  unhold(): void;
  mute(): void;
  unmute(): void;
  sendDTMF(tones: string, transport: DtmfTransport): void;
  /** Blind transfer (REFER); resolves when the far end reports the transfer call answered or failed. */
  refer(target: string): Promise<{ ok: boolean; reason?: string }>;
  readonly peerConnection: RTCPeerConnection | null;
  on(listener: (e: CallEvent) => void): () => void;
}

export interface SipPhone {
  start(): void;
  /** Unregisters and closes the socket. */
  stop(): void;
  call(target: string, opts: { stream: MediaStream; extraHeaders?: string[]; pcConfig?: RTCConfiguration }): SipCall;
  on(listener: (e: PhoneEvent) => void): () => void;
}

export interface AudioDevice {
  deviceId: string;
  label: string;
}

export type MicPermission = 'unknown' | 'prompt' | 'granted' | 'denied';

/** Records both sides of a call into one audio file. */
export interface CallRecorder {
  stop(): Promise<Blob | null>;
}

export interface PhoneMedia {
  permission(): Promise<MicPermission>;
  /** Asks for the microphone (the browser's prompt) and releases it; resolves the new permission. */
  requestPermission(): Promise<MicPermission>;
  devices(): Promise<{ inputs: AudioDevice[]; outputs: AudioDevice[] }>;
  onDevicesChanged(fn: () => void): () => void;
  microphone(deviceId: string | null): Promise<MediaStream>;
  /** Plays the far end (on the chosen output where the browser allows it). */
  play(stream: MediaStream | null, outputDeviceId: string | null): void;
  record(local: MediaStream, remote: MediaStream): CallRecorder | null;
  /** Rings (incoming) until stopped. */
  ring(on: boolean): void;
}

export interface PhoneApi {
  credentials(): Promise<SipAccount[]>;
  /**
   * [trust] Click-to-call of a number the device has masked: the server's one-time SIP target for the
   * contact of `conversationId` (`identity`: which identity) and the number as this agent may see it.
   */
  callIntent(conversationId: string, identity?: number): Promise<CallIntent>;
}

export interface CallIntent {
  dialTarget: string;
  display: string;
  expiresAt: number;
  inboxId: string;
}

/**
 * A recorded call an older version of the app left waiting in its own IndexedDB queue. Recordings
 * now wait in core's upload queue (client.uploads); these are moved there once, with their id.
 */
export interface PendingRecording {
  /** The log_call command id (decided at hang-up, so a retry after a crash is a duplicate, not a second call). */
  id: string;
  command: Record<string, unknown>;
  name: string;
  blob: Blob;
  attempts: number;
}

export interface LegacyRecordings {
  list(): Promise<PendingRecording[]>;
  delete(id: string): Promise<void>;
}

export interface PhonePlatform {
  createPhone(account: SipAccount): Promise<SipPhone>;
  media: PhoneMedia;
  api: PhoneApi;
  /** Recordings left by the app's old recording queue (moved into core's upload queue at start). */
  legacyRecordings?: LegacyRecordings;
}
