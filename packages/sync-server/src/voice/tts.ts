import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readWav, wavFile, SAMPLE_RATE, type Pcm } from './audio.js';
import { runPipeline } from './proc.js';
import { toPinyinWithTones } from './pinyin.js';

/** The language of a prompt: English, or Mandarin. */
export type PromptLanguage = 'en' | 'zh';

export interface SpeechRequest {
  text: string;
  language: PromptLanguage;
  /** A provider-specific voice (espeak-ng voice name, Aliyun speaker, Tencent VoiceType); absent: the provider's default for the language. */
  voice?: string;
}

/** Speech synthesis: text to 8 kHz mono 16-bit PCM, ready for G.711. */
export interface TextToSpeech {
  readonly name: string;
  synthesize(req: SpeechRequest, signal?: AbortSignal): Promise<Pcm>;
}

export class TtsError extends Error {}

/** Raw little-endian 16-bit samples into Pcm. */
export function pcmOf(raw: Buffer): Pcm {
  const n = raw.length >> 1;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = raw.readInt16LE(i * 2);
  return out;
}

/** Resamples a WAV (any rate, 16-bit) to 8 kHz mono with sox. */
export async function wavTo8k(wav: Buffer, signal?: AbortSignal): Promise<Pcm> {
  const { rate } = readWav(wav);
  if (rate === SAMPLE_RATE) return readWav(wav).pcm;
  const raw = await runPipeline([{ cmd: 'sox', args: ['-t', 'wav', '-', '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', '-'] }], wav, signal ? { signal } : {});
  return pcmOf(raw);
}

/**
 * espeak-ng (Debian), the embedded default. English with `en-us`; Mandarin with `cmn-latn-pinyin`,
 * which pronounces pinyin with tone numbers correctly (the `cmn` voice mispronounces many
 * characters): Chinese characters in a prompt are first turned into pinyin with tones
 * (`toPinyinWithTones`, a small IVR vocabulary), and admins may write the prompt in pinyin directly
 * (`huan1 ying2 zhi4 dian4`). Output resampled by sox to 8 kHz.
 */
export function espeakTts(o: { espeak?: string; sox?: string; timeoutMs?: number } = {}): TextToSpeech {
  return {
    name: 'espeak-ng',
    async synthesize(req, signal) {
      const voice = req.voice ?? (req.language === 'zh' ? 'cmn-latn-pinyin' : 'en-us');
      const text = req.language === 'zh' ? toPinyinWithTones(req.text) : req.text;
      const raw = await runPipeline(
        [
          { cmd: o.espeak ?? 'espeak-ng', args: ['-v', voice, '--stdin', '--stdout'] },
          { cmd: o.sox ?? 'sox', args: ['-t', 'wav', '-', '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', '-'] },
        ],
        text,
        { timeoutMs: o.timeoutMs ?? 15_000, ...(signal ? { signal } : {}) },
      );
      if (raw.length < 2 * 160) throw new TtsError('espeak-ng produced no audio');
      return pcmOf(raw);
    },
  };
}

/**
 * Prompts cached by (provider, voice, language, text) as WAV files under `<dir>`: a prompt is
 * synthesized once, then read from disk (the same prompt on every call costs nothing).
 */
export function cachedTts(inner: TextToSpeech, dir: string): TextToSpeech & { cacheFile(req: SpeechRequest): string } {
  const cacheFile = (req: SpeechRequest) =>
    path.join(dir, `${crypto.createHash('sha256').update(JSON.stringify([inner.name, req.voice ?? '', req.language, req.text])).digest('hex')}.wav`);
  return {
    name: inner.name,
    cacheFile,
    async synthesize(req, signal) {
      const file = cacheFile(req);
      try {
        return readWav(await fs.promises.readFile(file)).pcm;
      } catch {
        // not cached yet (or unreadable): synthesize
      }
      const pcm = await inner.synthesize(req, signal);
      await fs.promises.mkdir(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
      await fs.promises.writeFile(tmp, wavFile(pcm));
      await fs.promises.rename(tmp, file);
      return pcm;
    },
  };
}

/** Tries providers in order: a cloud TTS that fails or times out falls back to the embedded one. */
export function fallbackTts(first: TextToSpeech, then: TextToSpeech, onFail?: (e: unknown) => void): TextToSpeech {
  return {
    name: `${first.name}+${then.name}`,
    async synthesize(req, signal) {
      try {
        return await first.synthesize(req, signal);
      } catch (e) {
        onFail?.(e);
        return then.synthesize(req, signal);
      }
    },
  };
}
