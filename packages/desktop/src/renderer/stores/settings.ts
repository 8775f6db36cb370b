import { defineStore } from 'pinia';
import { isThemeChoice, resolveTheme, type Theme, type ThemeChoice } from '@goutong/core';
import { detectLocale, isLocale, type Locale } from '../i18n';
import { useHost } from '../platform/host';

export type { Theme, ThemeChoice };

const darkQuery = () => (typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null);

/** Language and theme, kept in the host's preferences. The theme follows the system unless the agent picks one. */
export const useSettingsStore = defineStore('settings', {
  state: () => {
    const prefs = useHost().prefs;
    const l = prefs.get('goutong.locale');
    const th = prefs.get('goutong.theme');
    return {
      locale: (isLocale(l) ? l : detectLocale()) as Locale,
      themeChoice: (isThemeChoice(th) ? th : 'system') as ThemeChoice,
      systemDark: darkQuery()?.matches ?? false,
    };
  },
  getters: {
    /** The theme applied now (core's resolveTheme). */
    theme: (s): Theme => resolveTheme(s.themeChoice, s.systemDark),
  },
  actions: {
    setLocale(l: Locale) {
      this.locale = l;
      useHost().prefs.set('goutong.locale', l);
    },
    setTheme(t: ThemeChoice) {
      this.themeChoice = t;
      useHost().prefs.set('goutong.theme', t);
    },
    /** Follows the system's light/dark preference while the app runs; returns the unsubscribe. */
    watchSystemTheme(): () => void {
      const q = darkQuery();
      if (!q) return () => {};
      const on = (e: MediaQueryListEvent) => (this.systemDark = e.matches);
      this.systemDark = q.matches;
      q.addEventListener('change', on);
      return () => q.removeEventListener('change', on);
    },
  },
});
