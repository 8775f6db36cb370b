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
  /** An INVITE with Replaces for this call (we were consulted; the transferring agent completed): answer it instead. */
  | { type: 'replaces'; accept(opts: { stream: MediaStream; pcConfig?: RTCConfiguration }): void; reject(): void }
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
  /**
   * Transfer (REFER); resolves when the far end reports the transfer call answered or failed. With
   * `replaces` (attended transfer): the far end calls `target` replacing our call `replaces` with it
   * (Refer-To with Replaces).
   */
  refer(target: string, opts?: { replaces?: SipCall }): Promise<{ ok: boolean; reason?: string }>;
  /** The SIP URI of the far end (attended transfer refers the other call to it). */
  readonly remoteUri: string;
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

/** One call leg as the mixer sees it: its peer connection (whose audio sender gets the leg's mix) and its remote audio. */
export interface MixLeg {
  id: string;
  pc: RTCPeerConnection | null;
  remote: MediaStream | null;
}

/** Mixes a conference or a monitored call on the agent's client (WebAudio). */
export interface CallMixer {
  apply(mic: MediaStream | null, legs: MixLeg[], plan: import('./mixPlan').MixPlan, outputId: string | null): void;
  /** Gives each leg its microphone track back and closes the audio graph. */
  stop(): void;
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
  /** A mixer for a conference or a monitored call (the browser's loads its WebAudio code on first use). */
  mixer(): Promise<CallMixer>;
}

export interface PhoneApi {
  credentials(): Promise<SipAccount[]>;
  /**
   * [trust] Click-to-call of a number the device has masked: the server's one-time SIP target for the
   * contact of `conversationId` (`identity`: which identity) and the number as this agent may see it.
   */
  callIntent(conversationId: string, identity?: number): Promise<CallIntent>;
  /** [supervisor] A grant to listen to / whisper on an agent's live call: their SIP user and the token for the INVITE. */
  monitorGrant(agentId: string, mode: MonitorMode): Promise<{ token: string; target: string; mode: MonitorMode }>;
  /** The server's check of a monitor grant from an incoming INVITE (throws when refused). */
  verifyMonitor(token: string): Promise<{ supervisorId: string; supervisorName: string; mode: MonitorMode }>;
}

export type MonitorMode = 'listen' | 'whisper';

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
