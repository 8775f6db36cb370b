import { createSSRApp } from 'vue';
import * as Pinia from 'pinia';
import App from './App.vue';
import { createAppI18n, pickLocale } from './locale/index';

export function createApp() {
  const app = createSSRApp(App);
  const pinia = Pinia.createPinia();
  app.use(pinia);
  app.use(createAppI18n(pickLocale(uni.getLocale())));
  // uni-app expects Pinia to be returned next to the app (it wires it into every page on app-plus).
  return { app, Pinia };
}
