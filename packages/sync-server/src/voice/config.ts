import { z } from 'zod';
import { Holiday, WeeklyHours, IVR_DIGITS, type Calendar, type IvrConfig, type IvrDigit } from '@goutong/core';
import { label, localized } from '../channels/label.js';
import { unknownHanzi } from './pinyin.js';

/** What a menu key does (core `IvrAction`). */
export const IvrActionSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('queue'), teamId: z.string().min(1).max(128).meta(label('Team', '团队')) }),
    z.object({ type: z.literal('voicemail') }),
    z.object({ type: z.literal('operator') }),
    z.object({ type: z.literal('repeat') }),
  ])
  .meta(label('Action', '动作', localized('queue: put the caller in a team queue; voicemail: record a message; operator: any agent; repeat: say the menu again.', 'queue：进入团队队列；voicemail：留言；operator：转人工；repeat：重听菜单。')));

const PromptText = z.string().trim().min(1).max(1000);

export const IvrMenuSchema = z
  .object({
    greeting: PromptText.meta(label('Greeting', '欢迎语')),
    prompt: PromptText.meta(label('Menu prompt', '菜单提示')),
    options: z
      .record(z.string(), IvrActionSchema)
      .superRefine((o, ctx) => {
        for (const k of Object.keys(o)) if (!(IVR_DIGITS as readonly string[]).includes(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'menu keys are 0-9, * and #' });
      })
      .transform((o) => o as Partial<Record<IvrDigit, z.infer<typeof IvrActionSchema>>>)
      .meta(label('Keys → actions', '按键 → 动作')),
  })
  .meta(label('Menu', '菜单'));

export const CalendarSchema = z
  .object({
    timeZone: z.string().min(1).max(64).meta(label('Time zone', '时区')),
    weekly: z.array(WeeklyHours).max(56).meta(label('Weekly hours', '每周营业时间')),
    holidays: z.array(Holiday).max(1000).default([]).meta(label('Holidays', '节假日')),
  })
  .meta(label('Business hours', '营业时间'));

const HostPort = z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'host:port');

/** The queue (ACD) behind the menu's queue and operator choices (core `VoiceQueueSettings`). */
export const QueueSettings = z
  .object({
    /** The team an `operator` choice queues for; absent: any agent of the inbox. */
    operatorTeamId: z.string().min(1).max(128).optional().meta(label('Operator team', '人工坐席团队')),
    maxWaitSeconds: z.number().int().min(5).max(3600).default(300).meta(label('Longest wait before voicemail (s)', '转留言前最长等待（秒）')),
    ringTimeoutSeconds: z.number().int().min(3).max(120).default(20).meta(label('Ring timeout per agent (s)', '每位坐席振铃超时（秒）')),
    announceEverySeconds: z.number().int().min(0).max(600).default(30).meta(label('Say the position every (s; 0: once)', '播报排队位置间隔（秒；0：仅一次）')),
    /** The key a waiting caller presses to be called back; absent: no callback. */
    callbackKey: z.enum(IVR_DIGITS as unknown as [IvrDigit, ...IvrDigit[]]).optional().meta(label('Callback key (optional)', '回电按键（可选）')),
    holdPrompt: PromptText.optional().meta(label('Hold prompt (said on entry)', '排队提示（进入时）')),
    /** Longest recording of an answered queue call (when the inbox records calls); the rest of a longer call is not recorded. */
    maxRecordingSeconds: z.number().int().min(10).max(7200).default(3600).meta(label('Longest call recording (s)', '通话录音最长（秒）')),
  })
  .meta(label('Call queue', '呼叫队列'));
export type QueueSettings = z.infer<typeof QueueSettings>;

export const IvrSettings = z
  .object({
    enabled: z.boolean().default(false).meta(label('IVR enabled', '启用语音导航')),
    language: z.enum(['en', 'zh']).default('en').meta(label('Prompt language', '提示语言', localized('zh: with espeak-ng, write prompts in the built-in IVR vocabulary or in pinyin with tone numbers (huan1 ying2).', 'zh：使用 espeak-ng 时，提示语请用内置导航词汇或带声调数字的拼音（huan1 ying2）。'))),
    voice: z.string().min(1).max(64).optional().meta(label('Voice', '发音人')),
    /** Where prompts are synthesized: the embedded espeak-ng, or a cloud TTS (espeak-ng is the fallback). */
    tts: z.enum(['espeak', 'aliyun', 'tencent']).default('espeak').meta(label('Speech synthesis', '语音合成')),
    sipHost: z.string().min(1).max(253).default('127.0.0.1').meta(label('Media endpoint address', '媒体端点地址')),
    sipPort: z.number().int().min(0).max(65535).default(5080).meta(label('Media endpoint SIP port (UDP)', '媒体端点 SIP 端口（UDP）')),
    sipUser: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.+-]+$/).default('ivr').meta(label('IVR SIP user', '语音导航 SIP 用户')),
    /** host:port of the SIP registrar (Kamailio); absent: the proxy routes calls to the endpoint directly. */
    registrar: HostPort.optional().meta(label('Registrar (host:port)', '注册服务器（主机:端口）')),
    hours: CalendarSchema.nullable().default(null),
    inHours: IvrMenuSchema.meta(label('In-hours menu', '营业时间菜单')),
    outOfHours: IvrMenuSchema.nullable().default(null).meta(label('Out-of-hours menu', '非营业时间菜单')),
    maxRepeats: z.number().int().min(0).max(5).default(2).meta(label('Menu repeats', '菜单重复次数')),
    fallback: IvrActionSchema.default({ type: 'voicemail' }).meta(label('When no key is pressed', '无按键时')),
    inputTimeoutSeconds: z.number().min(1).max(30).default(5).meta(label('Key timeout (s)', '按键等待（秒）')),
    voicemailPrompt: PromptText.default('Please leave a message after the tone. Press the hash key when you are done.').meta(label('Voicemail prompt', '留言提示')),
    busyPrompt: PromptText.default('All our agents are busy.').meta(label('Agents busy prompt', '坐席忙提示')),
    goodbye: PromptText.default('Thank you for calling. Goodbye.').meta(label('Goodbye', '结束语')),
    maxVoicemailSeconds: z.number().int().min(5).max(600).default(120).meta(label('Longest voicemail (s)', '最长留言（秒）')),
    queue: QueueSettings.default(() => QueueSettings.parse({})).meta(label('Call queue', '呼叫队列')),
  })
  .superRefine((s, ctx) => {
    // espeak-ng speaks Mandarin from pinyin: characters outside the built-in vocabulary would be skipped
    if (s.language !== 'zh' || s.tts !== 'espeak') return;
    const prompts: [string[], string][] = [
      [['inHours', 'greeting'], s.inHours.greeting], [['inHours', 'prompt'], s.inHours.prompt],
      ...(s.outOfHours ? ([[['outOfHours', 'greeting'], s.outOfHours.greeting], [['outOfHours', 'prompt'], s.outOfHours.prompt]] as [string[], string][]) : []),
      [['voicemailPrompt'], s.voicemailPrompt], [['busyPrompt'], s.busyPrompt], [['goodbye'], s.goodbye],
      ...(s.queue.holdPrompt ? ([[['queue', 'holdPrompt'], s.queue.holdPrompt]] as [string[], string][]) : []),
    ];
    for (const [path, text] of prompts) {
      const unknown = unknownHanzi(text);
      if (unknown.length) ctx.addIssue({ code: 'custom', path, message: `espeak-ng cannot say ${unknown.join(' ')}: write this prompt in pinyin with tone numbers (huan1 ying2) or choose a cloud TTS` });
    }
  })
  .meta(label('IVR (greeting and menu)', '语音导航（欢迎语与菜单）'));
export type IvrSettings = z.infer<typeof IvrSettings>;

export const TranscriptionSettings = z
  .object({
    provider: z.enum(['none', 'pocketsphinx', 'aliyun', 'tencent']).default('pocketsphinx').meta(label('Transcription', '语音转写', localized('pocketsphinx: embedded, English only; aliyun / tencent: cloud, Mandarin and English.', 'pocketsphinx：内置，仅英文；aliyun / tencent：云端，支持普通话和英文。'))),
    language: z.enum(['en', 'zh']).default('en').meta(label('Language', '语言')),
    pricePerMinute: z.number().nonnegative().max(1000).optional().meta(label('Transcription price per minute', '转写每分钟价格')),
  })
  .meta(label('Voicemail and recording transcription', '留言与录音转写'));
export type TranscriptionSettings = z.infer<typeof TranscriptionSettings>;

/** Base URLs of the cloud speech services (defaults: the public ones; tests point them at protocol fakes). */
export const SpeechEndpoints = z
  .object({
    /** This server's address as the cloud sees it: file transcription fetches recordings from signed URLs under it. */
    publicBaseUrl: z.string().url().optional().meta(label('Public server URL (for recording links)', '服务器公网地址（录音链接）')),
    aliyunRegion: z.string().regex(/^[a-z0-9-]+$/).default('cn-shanghai').meta(label('Aliyun region', '阿里云地域')),
    aliyunTokenUrl: z.string().url().optional().meta(label('Aliyun token URL', '阿里云 Token 地址')),
    aliyunTtsUrl: z.string().url().optional().meta(label('Aliyun TTS URL', '阿里云语音合成地址')),
    aliyunFileTransUrl: z.string().url().optional().meta(label('Aliyun file transcription URL', '阿里云录音文件识别地址')),
    tencentUrl: z.string().url().optional().meta(label('Tencent Cloud API URL', '腾讯云 API 地址')),
    tencentRegion: z.string().regex(/^[a-z0-9-]+$/).default('ap-shanghai').meta(label('Tencent region', '腾讯云地域')),
  })
  .meta(label('Cloud speech services', '云语音服务'));
export type SpeechEndpoints = z.infer<typeof SpeechEndpoints>;

/** The core rule's view of the settings; `calendar`: the inbox's business hours (they win over `hours`). */
export function ivrRuleConfig(s: IvrSettings, calendar: Calendar | null = null): IvrConfig {
  return { calendar, hours: s.hours, inHours: s.inHours, outOfHours: s.outOfHours, maxRepeats: s.maxRepeats, fallback: s.fallback };
}

/** The secrets the cloud speech adapters use (stored with the voice inbox's sealed secrets). */
export const SPEECH_SECRETS = ['aliyunAccessKeyId', 'aliyunAccessKeySecret', 'aliyunAppKey', 'tencentSecretId', 'tencentSecretKey'] as const;
