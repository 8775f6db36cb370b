import { createSSRApp, watch } from 'vue';
import * as Pinia from 'pinia';
import App from './App.vue';
import { createAppI18n, pickLocale, uniLocale } from './locale/index';
import { setDevice } from './app/services';
import { createUniDevice } from './app/uniDevice';
import { useSettingsStore } from './stores/settings';
// #ifdef H5
import { registerAppShell } from './app/appShell';
// #endif

/** Whether the system asks for dark colours (H5: the media query; apps: uni's system info). */
function systemPrefersDark(): boolean {
  // #ifdef H5
  if (typeof matchMedia === 'function') return matchMedia('(prefers-color-scheme: dark)').matches;
  // #endif
  try {
    return (uni.getSystemInfoSync() as { theme?: string }).theme === 'dark';
  } catch {
    return false;
  }
}

// #ifdef H5
/**
 * uni's H5 <input>/<textarea> render a native field inside a wrapper element, and their placeholder
 * as a separate element: the native field gets the template's `data-label` as its accessible name.
 */
function labelNativeFields(): void {
  const sync = () => {
    for (const w of Array.from(document.querySelectorAll("uni-input[data-label], uni-textarea[data-label]"))) {
      const field = w.querySelector('input, textarea');
      const label = w.getAttribute('data-label');
      if (field && label && field.getAttribute('aria-label') !== label) field.setAttribute('aria-label', label);
    }
  };
  new MutationObserver(sync).observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-label'] });
  sync();
}
// #endif

export function createApp() {
  const app = createSSRApp(App);
  const pinia = Pinia.createPinia();
  app.use(pinia);
  setDevice(createUniDevice(process.env.UNI_PLATFORM ?? 'h5'));
  const settings = useSettingsStore(pinia);
  settings.init(pickLocale(uni.getLocale()), systemPrefersDark());
  const i18n = createAppI18n(settings.locale);
  app.use(i18n);
  watch(
    () => settings.locale,
    (locale) => {
      i18n.global.locale.value = locale;
      // Only on a change: on some app-plus versions setLocale reloads the app.
      if (uni.getLocale() !== uniLocale(locale)) uni.setLocale(uniLocale(locale));
    },
    { immediate: true },
  );
  // #ifdef H5
  // The theme: a class on the document root (tokens.css), following the system while it runs.
  const dark = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null;
  dark?.addEventListener('change', (e) => (settings.systemDark = e.matches));
  watch(
    () => settings.theme,
    (theme) => {
      document.documentElement.classList.toggle('gt-dark', theme === 'dark');
      document.documentElement.dataset.theme = theme;
    },
    { immediate: true },
  );
  labelNativeFields();
  void registerAppShell((id) => uni.navigateTo({ url: `/pages/conversation/index?id=${encodeURIComponent(id)}` }));
  // #endif
  // #ifndef H5
  // The apps (app-plus, mini-program): the system theme from uni (theme.json styles the navigation
  // bar and window natively; the pages' root views carry the theme class, see useThemeClass).
  uni.onThemeChange?.((r: { theme?: string }) => (settings.systemDark = r.theme === 'dark'));
  // #endif
  // uni-app expects Pinia to be returned next to the app (it wires it into every page on app-plus).
  return { app, Pinia };
}
