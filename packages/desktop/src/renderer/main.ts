import { createApp } from 'vue';
import { createPinia } from 'pinia';
import { ElButton, ElConfigProvider, ElInput, ElRadio, ElTag } from 'element-plus';
import 'element-plus/dist/index.css';
import 'element-plus/theme-chalk/dark/css-vars.css';
import '../../../ui-tokens/tokens.css';
import '../../../ui-tokens/element-plus.css';
import './styles.css';
import App from './App.vue';
import { makeI18n } from './i18n';
import { useSettingsStore } from './stores/settings';
import { preloadStorage } from './platform/services';
import { registerAppServiceWorker } from './serviceWorker/register';
import { preloadGtSelect } from './components/gtSelect';

void preloadStorage();

const pinia = createPinia();
const app = createApp(App);
app.use(pinia);
const settings = useSettingsStore(pinia);
const i18n = makeI18n(settings.locale);
app.use(i18n);
// Only the Element Plus components the first screen uses (keeps the start-up bundle small); the
// drawer and dialogs are imported by the lazy components that show them.
for (const c of [ElButton, ElConfigProvider, ElInput, ElRadio, ElTag]) app.use(c); // ElRadio installs ElRadioGroup and ElRadioButton
app.mount('#app');
registerAppServiceWorker();
preloadGtSelect();
