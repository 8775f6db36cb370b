import { createI18n } from 'vue-i18n';
import en from './en';
import zhCN from './zh-CN';
import { attachmentsEn, attachmentsZhCN } from './attachments';
import { adminEn, adminZhCN } from './admin';
import { automationEn, automationZhCN } from './automation';
import { insightEn, insightZhCN } from './insight';
import { voiceEn, voiceZhCN } from './voice';
import { trustEn, trustZhCN } from './trust';
import { webchatEn, webchatZhCN } from './webchat';
import { routingEn, routingZhCN } from './routing';
import { slaEn, slaZhCN } from './sla';
import { accountsEn, accountsZhCN } from './accounts';
import { inboxOpsEn, inboxOpsZhCN } from './inboxOps';
import { searchEn, searchZhCN } from './search';
import { shellEn, shellZhCN } from './shell';
import { composerEn, composerZhCN } from './composer';
import { clientViewsEn, clientViewsZhCN } from './clientViews';
import { lookEn, lookZhCN } from './look';
import { voiceQueueEn, voiceQueueZhCN } from './voiceQueue';
import { fieldsEn, fieldsZhCN } from './fields';
import { contactsEn, contactsZhCN } from './contacts';

/** Each area's messages (one line per area): [en, zh-CN]. */
const AREAS: ReadonlyArray<readonly [object, object]> = [
  [attachmentsEn, attachmentsZhCN],
  [adminEn, adminZhCN],
  [automationEn, automationZhCN],
  [insightEn, insightZhCN],
  [voiceEn, voiceZhCN],
  [trustEn, trustZhCN],
  [webchatEn, webchatZhCN],
  [routingEn, routingZhCN],
  [slaEn, slaZhCN],
  [accountsEn, accountsZhCN],
  [inboxOpsEn, inboxOpsZhCN],
  [searchEn, searchZhCN],
  [shellEn, shellZhCN],
  [composerEn, composerZhCN],
  [clientViewsEn, clientViewsZhCN],
  [lookEn, lookZhCN],
  [voiceQueueEn, voiceQueueZhCN],
  [fieldsEn, fieldsZhCN],
  [contactsEn, contactsZhCN],
];

export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];

export function isLocale(x: unknown): x is Locale {
  return typeof x === 'string' && (LOCALES as readonly string[]).includes(x);
}

/** The browser's preferred language if we have it, else Chinese. */
export function detectLocale(languages: readonly string[] = typeof navigator === 'undefined' ? [] : navigator.languages): Locale {
  for (const l of languages) {
    if (l.toLowerCase().startsWith('zh')) return 'zh-CN';
    if (l.toLowerCase().startsWith('en')) return 'en';
  }
  return 'zh-CN';
}

export function makeI18n(locale: Locale) {
  return createI18n({
    legacy: false,
    locale,
    fallbackLocale: 'en',
    messages: {
      en: Object.assign({}, en, ...AREAS.map(([e]) => e)) as typeof en,
      'zh-CN': Object.assign({}, zhCN, ...AREAS.map(([, z]) => z)) as typeof zhCN,
    },
    // Canned responses contain {{contact.name}}: keep the braces literal with message functions off.
    warnHtmlMessage: false,
  });
}
