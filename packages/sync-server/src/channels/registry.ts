// The server's extensions: every channel provider and every cross-cutting extension, one line each.
// Adding a provider = one folder under src/channels/<name>/ plus one line here; server.ts and the
// OpenAPI document iterate over this list.
import type { Extension } from './provider.js';
import { apiProvider } from './api.js';
import { emailProvider } from './email/index.js';
import { twilioProvider } from './twilio/index.js';
import { aliyunProvider } from './aliyun/index.js';
import { kannelProvider } from './kannel/index.js';
import { wildfireProvider } from './im/index.js';
import { sipVoiceProvider } from './voice/index.js';
import { optOutExtension } from './optout/index.js';
import { wechatOfficialProvider } from './wechat/index.js';
import { wecomKfProvider } from './wecom-kf/index.js';
import { webchatProvider } from './webchat/index.js';

export const EXTENSIONS: readonly (() => Extension)[] = [
  apiProvider,
  emailProvider,
  twilioProvider,
  aliyunProvider,
  kannelProvider,
  wildfireProvider,
  sipVoiceProvider,
  optOutExtension,
  wechatOfficialProvider,
  wecomKfProvider,
  webchatProvider,
];

/** A fresh instance of every registered extension. */
export function builtinExtensions(): Extension[] {
  return EXTENSIONS.map((make) => make());
}
