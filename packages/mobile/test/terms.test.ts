// One product in two apps: the words for statuses, priorities, channels and the inbox views are the
// same on the phone as on the desktop, in Chinese and English (issue 15: the phone said 未解决/进行中
// and 团队队列/未分配 where the desktop said otherwise).
import { describe, expect, it } from 'vitest';
import desktopEn from '../../desktop/src/renderer/i18n/en';
import desktopZh from '../../desktop/src/renderer/i18n/zh-CN';
import mobileEn from '../src/locale/en.json';
import mobileZh from '../src/locale/zh-Hans.json';

type Flat = Record<string, string>;
const cases = [
  ['en', desktopEn, mobileEn as Flat],
  ['zh-CN', desktopZh, mobileZh as Flat],
] as const;

describe('terms shared by the desktop and the phone', () => {
  for (const [locale, desktop, mobile] of cases) {
    it(`statuses, priorities, channels and views read the same (${locale})`, () => {
      for (const group of ['status', 'priority', 'channel'] as const) {
        const words = desktop[group] as Record<string, string>;
        for (const [key, word] of Object.entries(words)) expect(mobile[`${group}.${key}`], `${group}.${key}`).toBe(word);
      }
      expect(mobile['inbox.mine']).toBe(desktop.views.mine);
      // The phone's "team" view is the desktop's Unassigned queue.
      expect(mobile['inbox.team']).toBe(desktop.views.unassigned);
      expect(mobile['inbox.all']).toBe(desktop.views.all);
    });
  }
});
