import { computed, type ComputedRef } from 'vue';
import { useSettingsStore } from '../stores/settings';

/**
 * The theme class of a page's root view (`gt-dark`, tokens.css). On H5 main.ts also sets it on the
 * document root; on the apps (no document) the page root is where the tokens' dark values apply.
 */
export function useThemeClass(): ComputedRef<{ 'gt-dark': boolean }> {
  const settings = useSettingsStore();
  return computed(() => ({ 'gt-dark': settings.theme === 'dark' }));
}
