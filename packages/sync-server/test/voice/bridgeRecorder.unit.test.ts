import { describe, expect, it } from 'vitest';
import { BridgeRecorder } from '../../src/voice/bridgeRecorder.js';
import { encodeG711, rms, FRAME_SAMPLES } from '../../src/voice/audio.js';

function frame(amplitude: number, hz: number, n = FRAME_SAMPLES): Int16Array {
  return new Int16Array(n).map((_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / 8000)));
}

describe('BridgeRecorder (the server’s recording of a bridged queue call)', () => {
  it('mixes both directions by RTP timestamp into one 8 kHz track', () => {
    let now = 1_000_000;
    const r = new BridgeRecorder({ maxSeconds: 60, now: () => now });
    for (let i = 0; i < 50; i++) {
      r.push('a', 'PCMU', { timestamp: 1000 + i * FRAME_SAMPLES, ssrc: 1, payload: encodeG711('PCMU', frame(6000, 300)) });
      r.push('b', 'PCMA', { timestamp: 90_000 + i * FRAME_SAMPLES, ssrc: 2, payload: encodeG711('PCMA', frame(6000, 500)) });
      now += 20;
    }
    expect(r.packets).toBe(100);
    expect(r.seconds).toBeCloseTo(1, 1);
    const pcm = r.pcm();
    expect(pcm.length).toBe(8000);
    // both legs are in it: louder than either alone
    expect(rms(pcm)).toBeGreaterThan(rms(frame(6000, 300)) * 1.2);
    expect(r.truncated).toBe(false);
  });

  it('places a late packet by its timestamp, and re-anchors a leg on a new SSRC', () => {
    let now = 0;
    const r = new BridgeRecorder({ maxSeconds: 60, now: () => now });
    r.push('a', 'PCMU', { timestamp: 0, ssrc: 7, payload: encodeG711('PCMU', frame(5000, 400)) });
    now = 500; // a jittery arrival: still where its timestamp says
    r.push('a', 'PCMU', { timestamp: FRAME_SAMPLES, ssrc: 7, payload: encodeG711('PCMU', frame(5000, 400)) });
    expect(r.seconds).toBeCloseTo((2 * FRAME_SAMPLES) / 8000, 3);
    now = 2000; // a new stream (re-INVITE, transfer): at the wall clock
    r.push('a', 'PCMU', { timestamp: 123_456, ssrc: 8, payload: encodeG711('PCMU', frame(5000, 400)) });
    expect(r.seconds).toBeCloseTo(2 + FRAME_SAMPLES / 8000, 3);
    const pcm = r.pcm();
    expect(rms(pcm.subarray(FRAME_SAMPLES * 2, 16_000))).toBe(0);
  });

  it('is bounded: audio past maxSeconds is dropped and marked truncated', () => {
    let now = 0;
    const r = new BridgeRecorder({ maxSeconds: 1, now: () => now });
    for (let i = 0; i < 100; i++) {
      r.push('a', 'PCMU', { timestamp: i * FRAME_SAMPLES, ssrc: 1, payload: encodeG711('PCMU', frame(5000, 400)) });
      now += 20;
    }
    expect(r.truncated).toBe(true);
    expect(r.pcm().length).toBe(8000);
  });
});
