import { defineStore } from 'pinia';
import { detectLocale, isLocale, type Locale } from '../i18n';
import { useHost } from '../platform/host';

export type Theme = 'light' | 'dark';

/** Language and theme, kept in the host's preferences. */
export const useSettingsStore = defineStore('settings', {
  state: () => {
    const prefs = useHost().prefs;
    const l = prefs.get('goutong.locale');
    const th = prefs.get('goutong.theme');
    const prefersDark = typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;
    return {
      locale: (isLocale(l) ? l : detectLocale()) as Locale,
      theme: (th === 'dark' || th === 'light' ? th : prefersDark ? 'dark' : 'light') as Theme,
    };
  },
  actions: {
    setLocale(l: Locale) {
      this.locale = l;
      useHost().prefs.set('goutong.locale', l);
    },
    setTheme(t: Theme) {
      this.theme = t;
      useHost().prefs.set('goutong.theme', t);
    },
  },
});
