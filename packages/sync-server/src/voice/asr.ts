import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readWav } from './audio.js';
import { runPipeline } from './proc.js';

export type SpeechLanguage = 'en' | 'zh';

export interface TranscriptionInput {
  /** The recording as a 16-bit PCM WAV file (any rate). */
  wav: Buffer;
  language: SpeechLanguage;
  /** A URL the provider can fetch the recording from (file transcription services that take links). */
  audioUrl?: string;
}

export interface Transcript {
  text: string;
  /** Length of the audio that was transcribed, in seconds (what providers bill). */
  seconds: number;
}

/** Speech recognition of a finished recording (voicemail, call recording). */
export interface SpeechToText {
  readonly name: string;
  transcribe(input: TranscriptionInput, signal?: AbortSignal): Promise<Transcript>;
}

export class AsrError extends Error {
  constructor(message: string, readonly retryable = true) {
    super(message);
  }
}

export function wavSeconds(wav: Buffer): number {
  const { pcm, rate } = readWav(wav);
  return Math.round((pcm.length / rate) * 100) / 100;
}

export const POCKETSPHINX_MODEL = '/usr/share/pocketsphinx/model/en-us';

/**
 * pocketsphinx (Debian `pocketsphinx` + `pocketsphinx-en-us`), the embedded default for English:
 * the recording resampled to 16 kHz by sox (the model's rate), then `pocketsphinx_continuous` with
 * the en-us language model, or a JSGF grammar when one is given (far better on small vocabularies).
 */
export function pocketsphinxAsr(o: { model?: string; jsgf?: string; timeoutMs?: number } = {}): SpeechToText {
  const m = o.model ?? POCKETSPHINX_MODEL;
  return {
    name: 'pocketsphinx',
    async transcribe(input, signal) {
      if (input.language !== 'en') throw new AsrError('pocketsphinx has an English model only', false);
      const seconds = wavSeconds(input.wav);
      const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'goutong-asr-'));
      try {
        const src = path.join(dir, `${crypto.randomBytes(6).toString('hex')}.wav`);
        const wav16 = path.join(dir, 'in16k.wav');
        await fs.promises.writeFile(src, input.wav);
        await runPipeline([{ cmd: 'sox', args: [src, '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', wav16] }], null, { timeoutMs: 30_000, ...(signal ? { signal } : {}) });
        const args = ['-infile', wav16, '-hmm', path.join(m, 'en-us'), '-dict', path.join(m, 'cmudict-en-us.dict'), '-logfn', '/dev/null'];
        args.push(...(o.jsgf ? ['-jsgf', o.jsgf] : ['-lm', path.join(m, 'en-us.lm.bin')]));
        const out = await runPipeline([{ cmd: 'pocketsphinx_continuous', args }], null, { timeoutMs: o.timeoutMs ?? 120_000, ...(signal ? { signal } : {}) });
        const text = out.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
        return { text, seconds };
      } finally {
        await fs.promises.rm(dir, { recursive: true, force: true });
      }
    },
  };
}
