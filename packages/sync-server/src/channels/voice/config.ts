import { z } from 'zod';
import { IceServer } from '@goutong/core';
import { randomToken } from '../../auth/crypto.js';
import { label, localized } from '../label.js';
import { PrivacyNumberSettings } from './privacyNumber.js';
import { IvrSettings, SpeechEndpoints, TranscriptionSettings, SPEECH_SECRETS } from '../../voice/config.js';

/** A SIP user part: digits, letters and the few marks SIP allows unescaped in user names. */
export const SipUser = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.!~*'()&=+$,;?/-]+$/, 'a SIP user part (letters, digits, _ . - + and the like)');

export const VoiceConfig = z.object({
  /** SIP over WebSocket of the SIP server (Kamailio), e.g. wss://sip.example.com:443 or ws://127.0.0.1:8080. */
  wsUrl: z.string().url().meta(label('SIP WebSocket URL', 'SIP WebSocket 地址')).refine((u) => /^wss?:\/\//i.test(u), 'ws:// or wss:// only'),
  /** The SIP domain agents register in (sip:user@domain). */
  domain: z.string().min(1).max(253).regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'a host name or address').meta(label('SIP domain', 'SIP 域')),
  /** Price of a started minute of talk time; every logged call gets meta.cost from it. */
  pricePerMinute: z.number().nonnegative().max(1_000).meta(label('Price per minute', '每分钟价格')).optional(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as CNY').meta(label('Currency', '货币')).optional(),
  /** The softphone records both sides of every call on this inbox and attaches the recording. */
  recordCalls: z.boolean().default(false).meta(label('Record calls', '通话录音')),
  /** Agent (id or e-mail) → their SIP user on this inbox; agents not listed have no phone here. */
  agents: z.record(z.string().min(1).max(320), SipUser).default({}).meta(label('Agents → SIP users', '坐席 → SIP 用户')),
  /**
   * How an agent gets a SIP password: `static` from the secrets (`password:<user>`), `ephemeral`
   * from the shared secret like Kamailio's auth_ephemeral (user `expiry:user`, password
   * base64(HMAC-SHA1(secret, user))), `none` when the SIP server does not authenticate (a lab).
   */
  auth: z.enum(['static', 'ephemeral', 'none']).default('static').meta(label('SIP authentication', 'SIP 认证方式', localized('static: a password per SIP user in the secrets; ephemeral: Kamailio auth_ephemeral from a shared secret; none: a lab without authentication.', 'static：在密钥中为每个 SIP 用户设置密码；ephemeral：按共享密钥生成 Kamailio auth_ephemeral 临时凭据；none：无认证的实验环境。'))),
  /** Lifetime of ephemeral credentials. */
  credentialTtlSeconds: z.number().int().min(60).max(7 * 24 * 3600).default(12 * 3600).meta(label('Credential lifetime (s)', '凭据有效期（秒）')),
  /** ICE servers (STUN/TURN) for the softphone's peer connections. */
  iceServers: z.array(IceServer).max(5).default([]).meta(label('ICE servers (STUN/TURN)', 'ICE 服务器（STUN/TURN）')),
  /** The server's own SIP media endpoint: greeting, menu, voicemail (src/voice). */
  ivr: IvrSettings.optional(),
  /** Transcription of voicemail and call recordings (src/voice). */
  transcription: TranscriptionSettings.optional(),
  /** Cloud speech service endpoints (TTS and ASR adapters). */
  speech: SpeechEndpoints.optional(),
  /** [trust] Privacy numbers (AXB) for masked click-to-call from the phones' dialer (channels/voice/privacyNumber.ts). */
  privacyNumber: PrivacyNumberSettings.optional(),
}).meta(label('Phone · SIP (WebRTC softphones)', '电话 · SIP（WebRTC 软电话）'));
export type VoiceConfig = z.infer<typeof VoiceConfig>;

/**
 * Secrets: `voicemailToken` (the bearer the SIP side uses to upload voicemail; generated when
 * absent), `ephemeralSecret` for auth `ephemeral`, and `password:<sip user>` for auth `static`.
 */
export const VoiceSecrets = z
  .object({
    voicemailToken: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, '16–128 characters of A–Z, a–z, 0–9, _ and -').meta(label('Voicemail token', '语音留言令牌')).optional(),
    ephemeralSecret: z.string().min(1).max(256).meta(label('Ephemeral auth secret', '临时认证密钥')).optional(),
  })
  .catchall(z.string().min(1).max(256))
  .meta(label('SIP secrets', 'SIP 密钥'))
  .superRefine((s, ctx) => {
    for (const k of Object.keys(s)) {
      if (k === 'voicemailToken' || k === 'ephemeralSecret' || (SPEECH_SECRETS as readonly string[]).includes(k)) continue;
      if (k.startsWith('password:') && SipUser.safeParse(k.slice('password:'.length)).success) continue;
      ctx.addIssue({ code: 'custom', path: [k], message: 'known secrets: voicemailToken, ephemeralSecret, password:<sip user>, aliyunAccessKeyId, aliyunAccessKeySecret, aliyunAppKey, tencentSecretId, tencentSecretKey' });
    }
  })
  .transform((s) => ({ ...s, voicemailToken: s.voicemailToken ?? randomToken(24) }));
