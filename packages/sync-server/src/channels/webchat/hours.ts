import { isOpen, nextOpening, type Calendar } from '@goutong/core';
import type { WebchatConfig } from './config.js';

export interface Availability {
  online: boolean;
  /** When the team opens again (ms), when offline by the calendar; null when unknown or online. */
  nextOpening: number | null;
}

/**
 * Whether the team answers now: the admin's choice, or (auto) the inbox's business hours (core
 * `isOpen`; no calendar: always open). Outside them the widget shows the offline message form.
 */
export function availability(config: WebchatConfig, calendar: Calendar | null, now: number = Date.now()): Availability {
  switch (config.availability) {
    case 'online':
      return { online: true, nextOpening: null };
    case 'offline':
      return { online: false, nextOpening: null };
    case 'auto': {
      const online = isOpen(calendar, now);
      return { online, nextOpening: online ? null : nextOpening(calendar, now) };
    }
  }
}
