import { assertNever, ivrDecide, ivrDigitOf, ivrMenuAt, type Calendar, type IvrAction, type IvrDigit, type IvrVariant } from '@goutong/core';
import type { QueueOutcome } from './acd.js';
import { beep, SAMPLE_RATE, type Pcm } from './audio.js';
import type { SipCall } from './endpoint.js';
import type { TextToSpeech } from './tts.js';
import { ivrRuleConfig, type IvrSettings } from './config.js';

/** What the IVR did on a call (recorded on the call's message as `meta.ivr`). */
export interface IvrOutcome {
  variant: IvrVariant;
  digit: IvrDigit | null;
  action: Exclude<IvrAction, { type: 'repeat' }>['type'] | 'hangup';
  teamId?: string;
  /** Keys the caller pressed, in order, and how each arrived. */
  keys: { digit: string; via: 'rfc2833' | 'info' }[];
  /** A queue or operator choice: how the queue ended (the ACD's outcome). */
  queue?: QueueOutcome;
}

export interface Voicemail {
  pcm: Pcm;
  seconds: number;
  outcome: IvrOutcome;
}

export interface IvrSessionDeps {
  tts: TextToSpeech;
  now: () => number;
  /** A voicemail was recorded (called after the caller finished, also when they hung up). */
  onVoicemail(v: Voicemail): Promise<void>;
  /**
   * A queue or operator choice: the ACD takes the call (`say` speaks a prompt on it) and answers how
   * the queue ended. Absent or `overflow`: the caller hears the busy prompt and leaves a voicemail.
   */
  onQueue?(call: SipCall, action: Exclude<IvrAction, { type: 'repeat' | 'voicemail' }>, io: { say(text: string, bargeIn: boolean): Promise<void> }): Promise<QueueOutcome>;
  /** The inbox's business-hours calendar (it wins over the IVR's own `hours`). */
  calendar?: Calendar | null;
  onOutcome?(o: IvrOutcome): void;
  log?(msg: string, data?: Record<string, unknown>): void;
}

/**
 * One caller's way through the IVR: greeting, menu (barge-in: a key stops the prompt), the core
 * rule `ivrDecide` on each key or timeout, then the action. A prompt that cannot be synthesized is
 * skipped (logged): the call goes on, the menu still takes keys.
 */
export async function runIvrSession(call: SipCall, s: IvrSettings, deps: IvrSessionDeps): Promise<IvrOutcome> {
  const cfg = ivrRuleConfig(s, deps.calendar ?? null);
  const keys: IvrOutcome['keys'] = [];
  const queue: string[] = [];
  let wake: (() => void) | null = null;
  let barge = new AbortController();
  const hungUp = new AbortController();
  call.on('dtmf', (d, via) => {
    keys.push({ digit: d, via });
    queue.push(d);
    barge.abort();
    wake?.();
  });
  call.once('ended', () => {
    hungUp.abort();
    barge.abort();
    wake?.();
  });

  const say = async (text: string, bargeIn: boolean): Promise<void> => {
    if (call.ended) return;
    let pcm: Pcm;
    try {
      pcm = await deps.tts.synthesize({ text, language: s.language, ...(s.voice ? { voice: s.voice } : {}) }, hungUp.signal);
    } catch (e) {
      deps.log?.('ivr: prompt not synthesized', { text, error: String(e) });
      return;
    }
    await call.rtp.play(pcm, bargeIn ? barge.signal : hungUp.signal);
  };
  const nextKey = async (timeoutMs: number): Promise<string | null> => {
    const end = Date.now() + timeoutMs;
    while (queue.length === 0 && !call.ended && Date.now() < end) {
      const pause = new AbortController();
      await new Promise<void>((resolve) => {
        wake = () => {
          pause.abort();
          resolve();
        };
        // keep the RTP stream alive with silence while waiting (NATs, jitter buffers)
        void call.rtp.silence(Math.min(200, Math.max(0, end - Date.now())), pause.signal).then(() => resolve());
      });
      wake = null;
    }
    return queue.shift() ?? null;
  };

  const outcome: IvrOutcome = { variant: ivrMenuAt(cfg, deps.now()).variant, digit: null, action: 'hangup', keys };
  const finish = () => {
    deps.onOutcome?.(outcome);
    return outcome;
  };

  const recordVoicemail = async (): Promise<void> => {
    await say(s.voicemailPrompt, false);
    if (call.ended) return;
    await call.rtp.play(beep(), hungUp.signal);
    queue.length = 0;
    call.rtp.startRecording();
    const started = Date.now();
    for (;;) {
      const k = await nextKey(Math.max(0, started + s.maxVoicemailSeconds * 1000 - Date.now()));
      if (k === '#' || k === null) break;
    }
    const pcm = call.rtp.stopRecording();
    if (!call.ended) {
      barge = new AbortController();
      await say(s.goodbye, false);
      await call.hangup();
    }
    if (pcm.length > 0) await deps.onVoicemail({ pcm, seconds: Math.round(pcm.length / SAMPLE_RATE), outcome });
  };

  let repeats = 0;
  let first = true;
  for (;;) {
    if (call.ended) return finish();
    const { menu } = ivrMenuAt(cfg, deps.now());
    barge = new AbortController();
    if (first) await say(menu.greeting, true);
    first = false;
    if (queue.length === 0) await say(menu.prompt, true);
    const key = await nextKey(s.inputTimeoutSeconds * 1000);
    if (call.ended) return finish();
    const digit = key === null ? null : ivrDigitOf(key);
    if (key !== null && digit === null) continue;
    const step = ivrDecide(cfg, { at: deps.now(), digit, repeats });
    if (step.kind === 'replay') {
      repeats = step.repeats;
      continue;
    }
    outcome.variant = step.variant;
    outcome.digit = step.digit;
    outcome.action = step.action.type;
    if (step.action.type === 'queue') outcome.teamId = step.action.teamId;
    barge = new AbortController();
    switch (step.action.type) {
      case 'voicemail':
        await recordVoicemail();
        return finish();
      case 'queue':
      case 'operator': {
        if (deps.onQueue) {
          barge = new AbortController();
          const q = await deps.onQueue(call, step.action, {
            say: (text, bargeIn) => {
              barge = new AbortController();
              return say(text, bargeIn);
            },
          });
          outcome.queue = q;
          if (q.result !== 'overflow' || call.ended) return finish();
          queue.length = 0;
          barge = new AbortController();
        }
        await say(s.busyPrompt, false);
        await recordVoicemail();
        return finish();
      }
      default:
        return assertNever(step.action, 'ivr action');
    }
  }
}
