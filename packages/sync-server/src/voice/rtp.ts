import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { decodeG711, encodeG711, FRAME_SAMPLES, type G711, type Pcm } from './audio.js';

/** An RTP (RFC 3550) packet's fields the endpoint uses. */
export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

export function parseRtp(b: Buffer): RtpPacket | null {
  if (b.length < 12 || b[0]! >> 6 !== 2) return null;
  const cc = b[0]! & 0x0f;
  let off = 12 + cc * 4;
  if (b[0]! & 0x10) {
    if (b.length < off + 4) return null;
    off += 4 + b.readUInt16BE(off + 2) * 4;
  }
  let end = b.length;
  if (b[0]! & 0x20) end -= b[b.length - 1]!;
  if (off > end) return null;
  return { payloadType: b[1]! & 0x7f, marker: (b[1]! & 0x80) !== 0, seq: b.readUInt16BE(2), timestamp: b.readUInt32BE(4), ssrc: b.readUInt32BE(8), payload: b.subarray(off, end) };
}

export function rtpPacket(p: Omit<RtpPacket, 'payload'> & { payload: Buffer }): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  h.writeUInt16BE(p.seq & 0xffff, 2);
  h.writeUInt32BE(p.timestamp >>> 0, 4);
  h.writeUInt32BE(p.ssrc >>> 0, 8);
  return Buffer.concat([h, p.payload]);
}

/** An RFC 4733 telephone-event payload. */
export interface TelephoneEvent {
  event: number;
  end: boolean;
  volume: number;
  duration: number;
}

export function parseTelephoneEvent(p: Buffer): TelephoneEvent | null {
  if (p.length < 4) return null;
  return { event: p[0]!, end: (p[1]! & 0x80) !== 0, volume: p[1]! & 0x3f, duration: p.readUInt16BE(2) };
}

export function telephoneEvent(e: TelephoneEvent): Buffer {
  const b = Buffer.alloc(4);
  b[0] = e.event;
  b[1] = (e.end ? 0x80 : 0) | (e.volume & 0x3f);
  b.writeUInt16BE(e.duration & 0xffff, 2);
  return b;
}

export interface RtpSessionEvents {
  /** A DTMF event (once per key press, RFC 4733 end packets and retransmissions folded). */
  dtmf: [event: number];
  /** Every RTP packet received (the bridge relays them). */
  packet: [packet: Buffer];
}

/**
 * One call's media: a UDP socket on the endpoint's address, sending G.711 in 20 ms packets (seq +1,
 * timestamp +160, one SSRC per stream, marker on the first packet of a talk spurt) and receiving
 * the caller's audio (kept while recording) and RFC 4733 telephone-events.
 */
export class RtpSession extends EventEmitter<RtpSessionEvents> {
  private socket: dgram.Socket | null = null;
  private seq = crypto.randomInt(0, 0xffff);
  private timestamp = crypto.randomInt(0, 0x7fffffff);
  readonly ssrc = crypto.randomBytes(4).readUInt32BE(0);
  private recording: { seq: number; payload: Buffer }[] | null = null;
  private lastEventTs: number | null = null;
  private closed = false;
  private latched = false;
  /** Packets received from the caller (codec and events). */
  received = 0;
  /** Packets sent. */
  sent = 0;

  constructor(
    readonly host: string,
    public remote: { address: string; port: number },
    readonly codec: G711,
    readonly codecPt: number,
    readonly dtmfPt: number | null,
  ) {
    super();
  }

  async open(): Promise<number> {
    const s = dgram.createSocket('udp4');
    s.on('message', (b, r) => {
      // symmetric RTP: a caller behind NAT is answered where its packets come from
      if (!this.latched && parseRtp(b)) {
        this.latched = true;
        this.remote = { address: r.address, port: r.port };
      }
      this.onPacket(b);
    });
    s.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, this.host, () => resolve());
    });
    this.socket = s;
    return s.address().port;
  }

  private onPacket(b: Buffer): void {
    const p = parseRtp(b);
    if (!p) return;
    this.received++;
    this.emit('packet', b);
    if (this.dtmfPt !== null && p.payloadType === this.dtmfPt) {
      const ev = parseTelephoneEvent(p.payload);
      // one key press = one RTP timestamp (its packets, end packets and their repeats share it)
      if (ev && p.timestamp !== this.lastEventTs) {
        this.lastEventTs = p.timestamp;
        this.emit('dtmf', ev.event);
      }
      return;
    }
    if (p.payloadType === this.codecPt && this.recording) this.recording.push({ seq: p.seq, payload: Buffer.from(p.payload) });
  }

  startRecording(): void {
    this.recording = [];
  }

  /** Stops recording and answers what was recorded (8 kHz PCM), packets in sequence order (reordered ones put back, repeats dropped). */
  stopRecording(): Pcm {
    const got = this.recording ?? [];
    this.recording = null;
    if (got.length === 0) return new Int16Array(0);
    const first = got[0]!.seq;
    // sequence numbers relative to the first packet, across the 16-bit wrap (late packets may be "before" it)
    const rel = (seq: number) => {
      const d = (seq - first + 0x10000) % 0x10000;
      return d > 0x8000 ? d - 0x10000 : d;
    };
    const bySeq = new Map<number, Buffer>();
    for (const p of got) if (!bySeq.has(rel(p.seq))) bySeq.set(rel(p.seq), p.payload);
    const ordered = [...bySeq.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b);
    return decodeG711(this.codec, Buffer.concat(ordered));
  }

  /**
   * Plays samples in real time (20 ms packets, paced against the clock, not the timer). Resolves
   * `true` when all was played, `false` when `signal` stopped it (barge-in, hang-up).
   */
  async play(pcm: Pcm, signal?: AbortSignal): Promise<boolean> {
    const start = Date.now();
    let marker = true;
    for (let i = 0, n = 0; i < pcm.length; i += FRAME_SAMPLES, n++) {
      if (this.closed || signal?.aborted) return false;
      const frame = new Int16Array(FRAME_SAMPLES);
      frame.set(pcm.subarray(i, Math.min(i + FRAME_SAMPLES, pcm.length)));
      this.sendFrame(encodeG711(this.codec, frame), marker);
      marker = false;
      const wait = start + (n + 1) * 20 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    return !(this.closed || signal?.aborted);
  }

  /** Silence for `ms` (keeps the stream alive), stopped early by `signal`. */
  async silence(ms: number, signal?: AbortSignal): Promise<boolean> {
    return this.play(new Int16Array(Math.round((ms / 1000) * 8000)), signal);
  }

  /** Sends one packet of encoded audio in this stream (relayed audio: timestamp advances by its samples). */
  sendPayload(payload: Buffer, marker: boolean): void {
    this.sendFrame(payload, marker, payload.length);
  }

  private sendFrame(payload: Buffer, marker: boolean, samples = FRAME_SAMPLES): void {
    if (!this.socket || this.closed) return;
    this.seq = (this.seq + 1) & 0xffff;
    const pkt = rtpPacket({ payloadType: this.codecPt, marker, seq: this.seq, timestamp: this.timestamp, ssrc: this.ssrc, payload });
    this.timestamp = (this.timestamp + samples) >>> 0;
    this.sent++;
    this.socket.send(pkt, this.remote.port, this.remote.address);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.socket?.close();
    } catch {
      // already closed
    }
  }
}
