import { defineStore } from 'pinia';
import { currentServices, useDevice } from '../app/services';
import { LOCALES, type Locale } from '../locale/locales';

const LOCALE_KEY = 'locale';

/** Language and what the device stores. The app applies `locale` to vue-i18n and uni (main.ts). */
export const useSettingsStore = defineStore('settings', {
  state: () => ({ locale: 'zh-CN' as Locale }),
  getters: {
    storageKind: () => currentServices()?.storageKind ?? null,
    workingSet: () => currentServices()?.workingSet() ?? null,
  },
  actions: {
    /** The saved language, else the system's. */
    init(systemLocale: Locale): void {
      const saved = useDevice().settings.get(LOCALE_KEY);
      this.locale = (LOCALES as readonly string[]).includes(saved ?? '') ? (saved as Locale) : systemLocale;
    },
    setLocale(locale: Locale): void {
      this.locale = locale;
      useDevice().settings.set(LOCALE_KEY, locale);
    },
  },
});
