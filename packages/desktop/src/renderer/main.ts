import { createApp } from 'vue';
import { createPinia } from 'pinia';
import ElementPlus from 'element-plus';
import 'element-plus/dist/index.css';
import 'element-plus/theme-chalk/dark/css-vars.css';
import './styles.css';
import App from './App.vue';
import { makeI18n } from './i18n';
import { useSettingsStore } from './stores/settings';

const pinia = createPinia();
const app = createApp(App);
app.use(pinia);
const settings = useSettingsStore(pinia);
const i18n = makeI18n(settings.locale);
app.use(i18n);
app.use(ElementPlus);
app.mount('#app');
