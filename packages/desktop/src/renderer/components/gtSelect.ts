import { defineAsyncComponent, defineComponent, h } from 'vue';

export interface GtOption {
  value: string;
  label: string;
  disabled?: boolean;
}

/** A box of the select's size shown for the moment the select's chunk is loading. */
const Placeholder = defineComponent({
  name: 'GtSelectPlaceholder',
  setup: () => () => h('span', { class: 'gt-select-placeholder', 'aria-hidden': 'true' }),
});

const load = () => import('./GtSelect.vue');

/** Element Plus's select, lazily: it is not part of the initial bundle (see the bundle budget). */
export const GtSelect = defineAsyncComponent({ loader: load, loadingComponent: Placeholder, delay: 0 });

/** Starts loading the select's chunk (called once the app is mounted, before any select is needed). */
export function preloadGtSelect(): void {
  void load();
}
