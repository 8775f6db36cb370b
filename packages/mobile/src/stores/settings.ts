import { defineStore } from 'pinia';
import { currentServices, useDevice } from '../app/services';
import { isThemeChoice, resolveTheme, type Theme, type ThemeChoice } from '@goutong/core';
import { LOCALES, type Locale } from '../locale/locales';

const LOCALE_KEY = 'locale';
const THEME_KEY = 'theme';

/**
 * Language, theme and what the device stores. The app applies `locale` to vue-i18n and uni and
 * `theme` to the page (main.ts). The theme follows the system unless the agent picks one (core's
 * resolveTheme).
 */
export const useSettingsStore = defineStore('settings', {
  state: () => ({ locale: 'zh-CN' as Locale, themeChoice: 'system' as ThemeChoice, systemDark: false }),
  getters: {
    theme: (s): Theme => resolveTheme(s.themeChoice, s.systemDark),
    storageKind: () => currentServices()?.storageKind ?? null,
    workingSet: () => currentServices()?.workingSet() ?? null,
  },
  actions: {
    /** The saved language, else the system's. */
    init(systemLocale: Locale, systemDark = false): void {
      const saved = useDevice().settings.get(LOCALE_KEY);
      this.locale = (LOCALES as readonly string[]).includes(saved ?? '') ? (saved as Locale) : systemLocale;
      const theme = useDevice().settings.get(THEME_KEY);
      this.themeChoice = isThemeChoice(theme) ? theme : 'system';
      this.systemDark = systemDark;
    },
    setTheme(choice: ThemeChoice): void {
      this.themeChoice = choice;
      useDevice().settings.set(THEME_KEY, choice);
    },
    setLocale(locale: Locale): void {
      this.locale = locale;
      useDevice().settings.set(LOCALE_KEY, locale);
    },
  },
});
