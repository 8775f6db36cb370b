import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cachedTts, espeakTts, type TextToSpeech } from '../../src/voice/tts.js';
import { pocketsphinxAsr } from '../../src/voice/asr.js';
import { decodeG711, encodeG711, readWav, rms, SAMPLE_RATE } from '../../src/voice/audio.js';
import { runPipeline } from '../../src/voice/proc.js';
import { IvrSettings } from '../../src/voice/config.js';
import { toPinyinWithTones, unknownHanzi } from '../../src/voice/pinyin.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-speech-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('speech: espeak-ng TTS and pocketsphinx ASR (Debian peers)', () => {
  it('espeak-ng speaks an English menu at 8 kHz, G.711-ready', async () => {
    const pcm = await espeakTts().synthesize({ text: 'Press two for support. Press zero for an agent.', language: 'en' });
    expect(pcm.length / SAMPLE_RATE).toBeGreaterThan(1.5);
    expect(rms(pcm)).toBeGreaterThan(500);
    const heard = decodeG711('PCMU', encodeG711('PCMU', pcm));
    expect(rms(heard)).toBeGreaterThan(rms(pcm) * 0.9);
  });

  it('espeak-ng output through pocketsphinx with a small grammar recovers the menu words', async () => {
    // at espeak-ng's own rate (the model is 16 kHz wideband; 8 kHz telephone audio loses most of what it listens for)
    const wav = await runPipeline([{ cmd: 'espeak-ng', args: ['-v', 'en-us', '--stdin', '--stdout'] }], 'Press two for support. Press zero for an agent.');
    const t = await pocketsphinxAsr({ jsgf: path.join(here, 'menu.gram') }).transcribe({ wav, language: 'en' });
    expect(t.text).toContain('two for support');
    expect(t.text).toContain('for an agent');
    expect(t.seconds).toBeGreaterThan(1.5);
    await expect(pocketsphinxAsr().transcribe({ wav, language: 'zh' })).rejects.toThrow(/English/);
  });

  it('Mandarin prompts go through pinyin with tone numbers (cmn-latn-pinyin)', async () => {
    expect(toPinyinWithTones('欢迎致电，请按二转客服')).toBe('huan1 ying2 zhi4 dian4, qing3 an4 er4 zhuan3 ke4 fu2');
    expect(toPinyinWithTones('重听请按九')).toBe('chong2 ting1 qing3 an4 jiu3');
    expect(toPinyinWithTones('huan1 ying2')).toBe('huan1 ying2');
    expect(unknownHanzi('欢迎光临')).toEqual(['光', '临']);
    const pcm = await espeakTts().synthesize({ text: '欢迎致电，请按二转客服', language: 'zh' });
    expect(pcm.length / SAMPLE_RATE).toBeGreaterThan(1);
    expect(rms(pcm)).toBeGreaterThan(500);
  });

  it('an espeak-ng Mandarin IVR refuses prompts with characters it cannot say (pinyin passes)', () => {
    const menu = { greeting: '欢迎致电', prompt: '请按二转客服', options: { '2': { type: 'voicemail' } } };
    expect(IvrSettings.safeParse({ language: 'zh', inHours: menu }).success).toBe(true);
    const bad = IvrSettings.safeParse({ language: 'zh', inHours: { ...menu, greeting: '欢迎光临' } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]).toMatchObject({ path: ['inHours', 'greeting'], message: expect.stringContaining('光 临') });
    expect(IvrSettings.safeParse({ language: 'zh', inHours: { ...menu, greeting: 'huan1 ying2 guang1 lin2' } }).success).toBe(true);
    expect(IvrSettings.safeParse({ language: 'zh', tts: 'aliyun', inHours: { ...menu, greeting: '欢迎光临' } }).success).toBe(true);
    // English defaults for the other prompts are fine in a zh IVR: only Chinese characters are checked
    expect(IvrSettings.safeParse({ language: 'zh', inHours: menu, options: { '#': { type: 'repeat' } } }).success).toBe(true);
  });

  it('caches prompts by text and voice on disk', async () => {
    let calls = 0;
    const inner: TextToSpeech = { name: 'counting', synthesize: async (r) => (calls++, new Int16Array(r.text.length * 160).fill(1000)) };
    const tts = cachedTts(inner, path.join(dir, 'tts'));
    const a = await tts.synthesize({ text: 'hello', language: 'en' });
    const b = await tts.synthesize({ text: 'hello', language: 'en' });
    await tts.synthesize({ text: 'hello', language: 'en', voice: 'other' });
    await tts.synthesize({ text: 'hello!', language: 'en' });
    expect(calls).toBe(3);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(readWav(fs.readFileSync(tts.cacheFile({ text: 'hello', language: 'en' }))).rate).toBe(8000);
  });

  it('G.711 round trips within the codec error', () => {
    const pcm = new Int16Array(800).map((_, i) => Math.round(12000 * Math.sin(i / 5)));
    for (const codec of ['PCMU', 'PCMA'] as const) {
      const back = decodeG711(codec, encodeG711(codec, pcm));
      for (let i = 0; i < pcm.length; i++) expect(Math.abs(back[i]! - pcm[i]!)).toBeLessThanOrEqual(Math.max(16, Math.abs(pcm[i]!) / 16));
    }
  });
});
