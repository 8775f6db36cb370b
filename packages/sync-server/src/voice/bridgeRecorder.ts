import { decodeG711, SAMPLE_RATE, type G711, type Pcm } from './audio.js';
import type { RtpPacket } from './rtp.js';

/** Samples in one storage chunk (1 s): memory grows with the call, one chunk at a time. */
const CHUNK = SAMPLE_RATE;
/** A leg whose RTP clock drifts further than this from the wall clock is re-anchored (a new SSRC, a timestamp jump, a long hold). */
const MAX_SKEW = SAMPLE_RATE;

interface Leg {
  ssrc: number;
  /** RTP timestamp of the anchor packet and where it went in the mix (samples from the start). */
  anchorTs: number;
  anchorPos: number;
}

/**
 * The recording of a bridged call: both directions' G.711 decoded and mixed into one 8 kHz mono
 * 16-bit track. Each packet is placed by its RTP timestamp (so jitter does not smear it), anchored
 * to the wall clock when a leg starts or its clock jumps; the two legs' samples add (saturating).
 * Bounded: `maxSeconds` of audio at most (2 bytes a sample, in 1 s chunks allocated as the call
 * goes); what comes after is dropped and `truncated` says so.
 */
export class BridgeRecorder {
  private readonly chunks: Int16Array[] = [];
  private readonly legs = new Map<string, Leg>();
  private readonly started: number;
  private readonly maxSamples: number;
  /** Samples written up to (the recording's length). */
  private end = 0;
  truncated = false;
  packets = 0;

  constructor(o: { maxSeconds: number; now?: () => number }) {
    this.now = o.now ?? Date.now;
    this.started = this.now();
    this.maxSamples = Math.max(0, Math.floor(o.maxSeconds * SAMPLE_RATE));
  }

  private readonly now: () => number;

  /** One RTP packet of leg `leg` (its audio payload in `codec`). */
  push(leg: string, codec: G711, p: Pick<RtpPacket, 'timestamp' | 'ssrc' | 'payload'>): void {
    if (p.payload.length === 0) return;
    const wall = Math.round(((this.now() - this.started) * SAMPLE_RATE) / 1000);
    let l = this.legs.get(leg);
    let pos = l ? l.anchorPos + (((p.timestamp - l.anchorTs) | 0)) : wall;
    if (!l || l.ssrc !== p.ssrc || Math.abs(pos - wall) > MAX_SKEW) {
      l = { ssrc: p.ssrc, anchorTs: p.timestamp, anchorPos: wall };
      this.legs.set(leg, l);
      pos = wall;
    }
    if (pos < 0) return;
    this.packets++;
    this.mix(pos, decodeG711(codec, p.payload));
  }

  private mix(pos: number, pcm: Pcm): void {
    for (let i = 0; i < pcm.length; i++) {
      const at = pos + i;
      if (at >= this.maxSamples) {
        this.truncated = true;
        return;
      }
      const c = Math.floor(at / CHUNK);
      while (this.chunks.length <= c) this.chunks.push(new Int16Array(CHUNK));
      const chunk = this.chunks[c]!;
      const k = at - c * CHUNK;
      chunk[k] = Math.max(-32768, Math.min(32767, chunk[k]! + pcm[i]!));
    }
    this.end = Math.max(this.end, Math.min(pos + pcm.length, this.maxSamples));
  }

  /** Seconds of audio recorded. */
  get seconds(): number {
    return this.end / SAMPLE_RATE;
  }

  /** The mixed track (8 kHz mono 16-bit). */
  pcm(): Pcm {
    const out = new Int16Array(this.end);
    for (let c = 0; c < this.chunks.length; c++) {
      const from = c * CHUNK;
      if (from >= this.end) break;
      out.set(this.chunks[c]!.subarray(0, Math.min(CHUNK, this.end - from)), from);
    }
    return out;
  }
}
