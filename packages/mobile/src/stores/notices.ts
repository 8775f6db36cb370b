import { defineStore } from 'pinia';
import { AssignmentWatcher, NotificationWatcher, type Notice, type NotifyAgent } from '@goutong/core';
import { currentServices, useDevice, type LocalNotice } from '../app/services';
import en from '../locale/en.json';
import zhHans from '../locale/zh-Hans.json';
import { readStateFor } from './readMarks';
import { useSettingsStore } from './settings';

/** Whether to notify at all (a device setting). */
export const NOTIFY_KEY = 'notifyAssigned';
/** More notices than this at once become one summary notice. */
export const MAX_SEPARATE_NOTICES = 3;

let watcher: AssignmentWatcher | null = null;
let notifier: NotificationWatcher | null = null;

/** The conversation was acted on from this device: its assignment to me is not news (uploads.submit calls it). */
export function noteOwnAction(conversationId: string, _at?: number): void {
  notifier?.noteOwnAction(conversationId);
}

type Flat = Record<string, string>;
const TEXTS: Record<string, Flat> = { 'zh-CN': zhHans as Flat, en: en as Flat };

function tr(locale: string, key: string, params: Record<string, string | number> = {}): string {
  const text = TEXTS[locale]?.[key] ?? TEXTS.en![key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? ''));
}

/** What core's notification policy decided, as the phone shows it: one each, or a summary past a few. */
export function noticesFor(fresh: readonly Notice[], locale: string): LocalNotice[] {
  if (fresh.length === 0) return [];
  if (fresh.length > MAX_SEPARATE_NOTICES) {
    const title = fresh.every((n) => n.kind === 'assigned') ? tr(locale, 'notify.assignedMany', { n: fresh.length }) : tr(locale, 'clientViews.notify.many', { n: fresh.length });
    return [{ title, body: [...new Set(fresh.map((n) => n.contactName || n.conversationId))].join(', ').slice(0, 200), conversationId: fresh[0]!.conversationId }];
  }
  return fresh.map((n) => ({
    title: n.kind === 'assigned' ? tr(locale, 'notify.assignedTitle', { name: n.contactName || n.conversationId }) : tr(locale, `clientViews.notify.${n.kind}`, { name: n.contactName || n.conversationId }),
    body: n.text,
    conversationId: n.conversationId,
  }));
}

let offs: Array<() => void> = [];
let batch: Notice[] = [];
let bannerTimer: ReturnType<typeof setTimeout> | null = null;

/**
 * Local notifications by core's policy (new conversation in my queue, new customer message in my
 * conversations, mentions, assignment to me, SLA warnings; none for history, none for my own
 * messages) while the app runs: a system notification where the platform allows (app-plus push
 * message, the browser's Notification API), else a banner inside the app.
 */
export const useNoticesStore = defineStore('notices', {
  state: () => ({
    /** The in-app banner (fallback, or always on mini programs). */
    banner: null as LocalNotice | null,
    enabled: true,
    /** Notices shown so far in this run (tests, the settings page). */
    shown: 0,
    /** The agent's conversations with unread customer messages. */
    badge: 0,
  }),
  actions: {
    /** Starts watching (after sign-in). What the session's first sync brings is history: nothing is announced for it. */
    async bind(agentId: string): Promise<void> {
      this.unbind();
      const services = currentServices();
      if (!services) return;
      const agent = (await services.store.listAgents()).find((a) => a.id === agentId) ?? null;
      this.enabled = useDevice().settings.get(NOTIFY_KEY) !== 'off';
      const me = (): NotifyAgent => ({ id: agentId, name: agent?.name ?? '', email: agent?.email ?? '', teamIds: agent?.teamIds ?? [] });
      const rs = readStateFor(services.store);
      await rs.loaded;
      const device = useDevice();
      const w = new AssignmentWatcher(services.client, me);
      const n = new NotificationWatcher({
        client: services.client,
        store: services.store,
        clock: { now: () => device.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) },
        watcher: w,
        readState: rs.state,
        me,
        enabled: () => this.enabled,
        // Notices decided together are shown together (a summary past a few).
        deliver: (notice) => {
          batch.push(notice);
          if (batch.length === 1) setTimeout(() => void this.flush(), 0);
        },
      });
      watcher = w;
      notifier = n;
      offs.push(n.state.subscribe((snap) => (this.badge = snap.badge)));
      await w.start();
      await n.start();
    },

    unbind(): void {
      for (const off of offs) off();
      offs = [];
      notifier?.stop();
      notifier = null;
      watcher?.stop();
      watcher = null;
      batch = [];
      if (bannerTimer) clearTimeout(bannerTimer);
      bannerTimer = null;
      this.banner = null;
    },

    async flush(): Promise<void> {
      const fresh = batch;
      batch = [];
      const device = useDevice();
      for (const n of noticesFor(fresh, useSettingsStore().locale)) {
        this.shown++;
        if (!(await device.notify(n))) this.showBanner(n);
      }
    },

    setEnabled(on: boolean): void {
      this.enabled = on;
      useDevice().settings.set(NOTIFY_KEY, on ? 'on' : 'off');
    },

    /** Asks the system for permission (H5: call from a tap). */
    async requestPermission(): Promise<boolean> {
      return (await useDevice().requestNotifyPermission?.()) ?? false;
    },

    showBanner(n: LocalNotice): void {
      this.banner = n;
      if (bannerTimer) clearTimeout(bannerTimer);
      bannerTimer = setTimeout(() => {
        this.banner = null;
        bannerTimer = null;
      }, 8_000);
    },

    dismissBanner(): void {
      if (bannerTimer) clearTimeout(bannerTimer);
      bannerTimer = null;
      this.banner = null;
    },
  },
});
