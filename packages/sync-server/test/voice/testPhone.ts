import dgram from 'node:dgram';
import { encodeG711, FRAME_SAMPLES, type Pcm } from '../../src/voice/audio.js';
import { parseRtp, rtpPacket, telephoneEvent, type RtpPacket } from '../../src/voice/rtp.js';

/** The caller's media in the IVR tests: a UDP socket that keeps every RTP packet it gets and sends audio and RFC 4733 DTMF back. */
/** A sine tone of `ms` milliseconds at 8 kHz (what a test phone says). */
export function tone(ms: number, hz = 440): Pcm {
  const n = Math.round((ms / 1000) * 8000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000));
  return out;
}

export class TestPhone {
  readonly packets: (RtpPacket & { at: number })[] = [];
  private socket = dgram.createSocket('udp4');
  private remote: { address: string; port: number } | null = null;
  private seq = 1000;
  private ts = 5000;
  private readonly ssrc = 0x1234abcd;
  port = 0;

  async open(): Promise<number> {
    this.socket.on('message', (b, r) => {
      const p = parseRtp(b);
      if (!p) return;
      this.remote = { address: r.address, port: r.port };
      this.packets.push({ ...p, at: Date.now() });
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve()));
    this.port = this.socket.address().port;
    return this.port;
  }

  /** Waits until `n` packets arrived (or throws after `ms`). */
  async waitPackets(n: number, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while (this.packets.length < n) {
      if (Date.now() > end) throw new Error(`only ${this.packets.length} of ${n} RTP packets arrived`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private send(pt: number, payload: Buffer, marker: boolean, ts = this.ts): void {
    if (!this.remote) throw new Error('no RTP from the IVR yet');
    this.seq++;
    this.socket.send(rtpPacket({ payloadType: pt, marker, seq: this.seq, timestamp: ts, ssrc: this.ssrc, payload }), this.remote.port, this.remote.address);
  }

  /** A key press as RFC 4733 telephone-events (two updates, then the end packet three times). */
  async dtmf(digit: string, pt = 101): Promise<void> {
    const event = '0123456789*#'.indexOf(digit);
    const ts = this.ts;
    for (const [duration, end] of [[160, false], [320, false], [480, true], [480, true], [480, true]] as const) {
      this.send(pt, telephoneEvent({ event, end, volume: 10, duration }), duration === 160, ts);
      await new Promise((r) => setTimeout(r, 20));
    }
    this.ts += 480;
  }

  /** Talks: PCMU in 20 ms packets. */
  async talk(pcm: Pcm): Promise<void> {
    const start = Date.now();
    for (let i = 0, n = 0; i < pcm.length; i += FRAME_SAMPLES, n++) {
      const frame = new Int16Array(FRAME_SAMPLES);
      frame.set(pcm.subarray(i, Math.min(i + FRAME_SAMPLES, pcm.length)));
      this.send(0, encodeG711('PCMU', frame), n === 0);
      this.ts += FRAME_SAMPLES;
      const wait = start + (n + 1) * 20 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  close(): void {
    this.socket.close();
  }
}
