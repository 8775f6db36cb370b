import { defineStore } from 'pinia';
import type { AssignmentWatcher, NotificationWatcher, Notice, NotifyAgent } from '@goutong/core';
import { browserClock, currentServices } from '../platform/services';
import { useHost } from '../platform/host';
import { clientViewsEn, clientViewsZhCN } from '../i18n/clientViews';
import { useInboxStore } from './inbox';
import { useSessionStore } from './session';
import { useSettingsStore } from './settings';
import { readStateFor } from './readMarks';


let watcher: AssignmentWatcher | null = null;
let notifier: NotificationWatcher | null = null;
let offs: Array<() => void> = [];

/** The notice's title and body in the agent's language. */
export function noticeText(n: Notice, locale: string): { title: string; body: string } {
  const texts = (locale === 'zh-CN' ? clientViewsZhCN : clientViewsEn).clientViews.notify;
  return { title: texts[n.kind].replace('{name}', n.contactName || '—'), body: n.text };
}

/**
 * Notifications by core's policy (new conversation in my queue, new customer message in my
 * conversations, mentions, assignment to me, SLA warnings; nothing for history at sign-in, nothing
 * for my own messages) and the unread badge. Shown through the host: the browser's Notification
 * API in the web app, the OS through the bridge in Electron.
 */
export const useNotificationStore = defineStore('notifications', {
  state: () => ({ shown: 0, badge: 0 }),
  actions: {
    async bind(): Promise<void> {
      this.unbind();
      const s = currentServices();
      const session = useSessionStore();
      const agent = session.agent;
      if (!s || !agent) return;
      const me = (): NotifyAgent => ({ id: agent.id, name: agent.name, email: agent.email, teamIds: agent.teamIds });
      const rs = readStateFor(s.store);
      const [{ AssignmentWatcher, NotificationWatcher }] = await Promise.all([import('./lazyViews'), rs.loaded]);
      if (currentServices() !== s) return;
      const w = new AssignmentWatcher(s.client, me);
      const n = new NotificationWatcher({
        client: s.client,
        store: s.store,
        clock: browserClock,
        watcher: w,
        readState: rs.state,
        me,
        deliver: (notice) => {
          this.shown++;
          return useHost().notify({ ...noticeText(notice, useSettingsStore().locale), conversationId: notice.conversationId });
        },
      });
      watcher = w;
      notifier = n;
      offs.push(
        n.state.subscribe((snap) => {
          if (snap.badge === this.badge) return;
          this.badge = snap.badge;
          useInboxStore().unread = snap.badge;
          useHost().setUnread(snap.badge);
        }),
      );
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
    },
  },
});
