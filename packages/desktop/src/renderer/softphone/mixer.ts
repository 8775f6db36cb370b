// The agent's WebAudio mixer for a conference of three and supervisor listen/whisper: each leg's
// RTP sender gets its own mix (the microphone plus the remotes mixPlan says it hears, swapped in
// with replaceTrack, no renegotiation) and the agent's speaker gets the legs they hear. Loaded on
// first use (its own chunk).
import type { MixPlan } from './mixPlan';
import type { CallMixer, MixLeg } from './types';

interface Node {
  remote: MediaStream | null;
  src: MediaStreamAudioSourceNode | null;
  /** Chromium feeds a remote WebRTC stream into WebAudio only while a media element plays it. */
  keepAlive: HTMLAudioElement | null;
  dest: MediaStreamAudioDestinationNode;
  sender: RTCRtpSender | null;
  original: MediaStreamTrack | null;
}

export function createMixer(play: (stream: MediaStream | null, outputId: string | null) => void): CallMixer {
  const ctx = new AudioContext();
  const ear = ctx.createMediaStreamDestination();
  const nodes = new Map<string, Node>();
  let mic: { stream: MediaStream; node: MediaStreamAudioSourceNode } | null = null;

  const release = (n: Node) => {
    n.src?.disconnect();
    if (n.keepAlive) n.keepAlive.srcObject = null;
    if (n.sender && n.original && n.original.readyState === 'live') void n.sender.replaceTrack(n.original).catch(() => undefined);
  };

  return {
    apply(micStream: MediaStream | null, legs: MixLeg[], plan: MixPlan, outputId: string | null) {
      void ctx.resume().catch(() => undefined);
      if (mic && mic.stream !== micStream) {
        mic.node.disconnect();
        mic = null;
      }
      if (!mic && micStream) mic = { stream: micStream, node: ctx.createMediaStreamSource(micStream) };
      mic?.node.disconnect();
      for (const [id, n] of nodes) {
        n.src?.disconnect();
        if (!legs.some((l) => l.id === id)) {
          release(n);
          nodes.delete(id);
        }
      }
      for (const leg of legs) {
        let n = nodes.get(leg.id);
        if (!n) {
          n = { remote: null, src: null, keepAlive: null, dest: ctx.createMediaStreamDestination(), sender: null, original: null };
          nodes.set(leg.id, n);
        }
        if (leg.remote && n.remote !== leg.remote) {
          n.remote = leg.remote;
          n.src = ctx.createMediaStreamSource(leg.remote);
          n.keepAlive ??= Object.assign(document.createElement('audio'), { muted: true, autoplay: true });
          n.keepAlive.srcObject = leg.remote;
          void n.keepAlive.play().catch(() => undefined);
        }
        const sender = leg.pc?.getSenders().find((s) => s.track?.kind === 'audio' || (s.track === null && n.sender === s)) ?? null;
        if (sender && n.sender !== sender) {
          n.sender = sender;
          n.original = sender.track;
          void sender.replaceTrack(n.dest.stream.getAudioTracks()[0] ?? null).catch(() => undefined);
        }
      }
      for (const leg of legs) {
        const n = nodes.get(leg.id)!;
        if (mic) mic.node.connect(n.dest);
        for (const from of plan.sends[leg.id] ?? []) nodes.get(from)?.src?.connect(n.dest);
      }
      for (const from of plan.ear) nodes.get(from)?.src?.connect(ear);
      play(ear.stream, outputId);
    },
    stop() {
      for (const n of nodes.values()) release(n);
      nodes.clear();
      mic?.node.disconnect();
      mic = null;
      void ctx.close().catch(() => undefined);
    },
  };
}
