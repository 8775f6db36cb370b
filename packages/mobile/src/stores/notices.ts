import { defineStore } from 'pinia';
import type { Conversation } from '@goutong/core';
import { currentServices, useDevice, type LocalNotice } from '../app/services';
import en from '../locale/en.json';
import zhHans from '../locale/zh-Hans.json';
import { onClientChange } from './changes';
import { useSettingsStore } from './settings';

/** Ids of the conversations assigned to me that the agent already knows about (local store meta). */
export const KNOWN_ASSIGNED_KEY = 'mobile.knownAssigned';
/** Whether to notify at all (a device setting). */
export const NOTIFY_KEY = 'notifyAssigned';
/** More new assignments than this at once become one summary notice. */
export const MAX_SEPARATE_NOTICES = 3;
/** An action of this device on a conversation (a reply assigns it; "assign to me") is not news for this long. */
export const OWN_ACTION_MS = 10 * 60_000;

const ownActions = new Map<string, number>();

/** The conversation was acted on from this device: its assignment to me is not news (uploads.submit calls it). */
export function noteOwnAction(conversationId: string, at: number): void {
  ownActions.set(conversationId, at);
}

type Flat = Record<string, string>;
const TEXTS: Record<string, Flat> = { 'zh-CN': zhHans as Flat, en: en as Flat };

function tr(locale: string, key: string, params: Record<string, string | number> = {}): string {
  const text = TEXTS[locale]?.[key] ?? TEXTS.en![key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? ''));
}

/** The notices for conversations newly assigned to me (one each, or a summary past a few). */
export function noticesFor(fresh: readonly Conversation[], locale: string): LocalNotice[] {
  if (fresh.length === 0) return [];
  if (fresh.length > MAX_SEPARATE_NOTICES) {
    return [{ title: tr(locale, 'notify.assignedMany', { n: fresh.length }), body: fresh.map((c) => c.contactName || c.id).join(', ').slice(0, 200), conversationId: fresh[0]!.id }];
  }
  return fresh.map((c) => ({
    title: tr(locale, 'notify.assignedTitle', { name: c.contactName || c.id }),
    body: (c.subject ? `${c.subject} · ` : '') + (c.lastMessagePreview || ''),
    conversationId: c.id,
  }));
}

let unbind: (() => void) | null = null;
/** The signed-in agent whose assignments are watched (set by bind; the session store calls it). */
let me: string | null = null;
let unbindSync: (() => void) | null = null;
let checking: Promise<void> | null = null;
let again = false;
let bannerTimer: ReturnType<typeof setTimeout> | null = null;

/**
 * Local notifications for conversations newly assigned to me while the app runs: a system
 * notification where the platform allows (app-plus push message, the browser's Notification
 * API), else a banner inside the app.
 */
export const useNoticesStore = defineStore('notices', {
  state: () => ({
    /** The in-app banner (fallback, or always on mini programs). */
    banner: null as LocalNotice | null,
    enabled: true,
    /** Notices shown so far in this run (tests, the settings page). */
    shown: 0,
  }),
  actions: {
    /** Starts watching (after sign-in). The first run on a device only learns what is assigned. */
    async bind(agentId: string): Promise<void> {
      this.unbind();
      me = agentId;
      this.enabled = useDevice().settings.get(NOTIFY_KEY) !== 'off';
      unbind = onClientChange((change) => {
        if (change.conversationIds?.length || change.reset) void this.check();
      });
      // Nothing counts as known before the device has synced once (a first sign-in learns silently).
      let synced = currentServices()?.client.connectivity.value.lastSyncedAt ?? null;
      unbindSync =
        currentServices()?.client.connectivity.subscribe((c) => {
          if (c.lastSyncedAt !== null && synced === null) void this.check();
          synced = c.lastSyncedAt;
        }) ?? null;
      await this.check();
    },

    unbind(): void {
      unbind?.();
      unbind = null;
      me = null;
      unbindSync?.();
      unbindSync = null;
      if (bannerTimer) clearTimeout(bannerTimer);
      bannerTimer = null;
      this.banner = null;
    },

    setEnabled(on: boolean): void {
      this.enabled = on;
      useDevice().settings.set(NOTIFY_KEY, on ? 'on' : 'off');
    },

    /** Asks the system for permission (H5: call from a tap). */
    async requestPermission(): Promise<boolean> {
      return (await useDevice().requestNotifyPermission?.()) ?? false;
    },

    /** Compares what is assigned to me with what I knew, and announces the difference. */
    async check(): Promise<void> {
      if (checking) {
        again = true;
        return checking;
      }
      checking = (async () => {
        try {
          do {
            again = false;
            await this.checkOnce();
          } while (again);
        } finally {
          checking = null;
        }
      })();
      return checking;
    },

    async checkOnce(): Promise<void> {
      const services = currentServices();
      const agentId = me;
      if (!services || !agentId || services.client.connectivity.value.lastSyncedAt === null) return;
      const device = useDevice();
      const mine = await services.client.queryConversations({ assigneeId: agentId, status: ['open', 'pending'], sort: 'lastActivity', limit: 500 });
      const known = await services.store.getMeta<string[]>(KNOWN_ASSIGNED_KEY);
      await services.store.setMeta(KNOWN_ASSIGNED_KEY, mine.map((c) => c.id));
      if (!known) return; // first run on this device: nothing is "new"
      const knownSet = new Set(known);
      const now = device.now();
      for (const [id, at] of ownActions) if (now - at > OWN_ACTION_MS) ownActions.delete(id);
      const fresh = mine.filter((c) => !knownSet.has(c.id) && !ownActions.has(c.id));
      if (!this.enabled || fresh.length === 0) return;
      for (const n of noticesFor(fresh, useSettingsStore().locale)) {
        this.shown++;
        if (!(await device.notify(n))) this.showBanner(n);
      }
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
