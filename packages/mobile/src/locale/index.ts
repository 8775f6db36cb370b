import { createI18n } from 'vue-i18n';
import { messages, type Locale } from './locales';

export * from './locales';

export function createAppI18n(locale: Locale) {
  return createI18n({
    legacy: false,
    globalInjection: true,
    locale,
    fallbackLocale: 'en',
    messages,
  });
}
