// What the phone e2e tests share about a page's WebRTC audio: Chromium's flags for fake media, an
// init script that keeps every RTCPeerConnection the page makes, and the audio those connections
// received (bytes or energy, from getStats).
import type { Page } from 'playwright-core';

/** Chromium flags: a fake microphone and camera, no permission prompt, audio plays without a gesture. */
export const MEDIA_ARGS = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required'];

/** An init script: keeps the page's peer connections in `window.__pcs` (for getStats), `window.__tones` for RFC 2833 tones. */
export const TRACK_PEERS = `(() => {
  const Orig = window.RTCPeerConnection;
  if (!Orig || window.__pcs) return;
  window.__pcs = [];
  window.__tones = [];
  window.RTCPeerConnection = class extends Orig {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  };
})();`;

/** Audio received over the page's open peer connections: bytes, or the total audio energy. */
export function inboundAudio(page: Page, what: 'bytesReceived' | 'totalAudioEnergy' = 'bytesReceived'): Promise<number> {
  return page.evaluate(async (field) => {
    let total = 0;
    for (const pc of (globalThis as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((r: Record<string, unknown>) => {
        if (r['type'] === 'inbound-rtp' && r['kind'] === 'audio') total += Number(r[field] ?? 0);
      });
    }
    return total;
  }, what);
}
