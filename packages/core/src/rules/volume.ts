// [insight] Volume by channel, inbox, team, agent, label or hour of day: how the hourly rollups are
// grouped and folded into a report's rows. The server sums report_hourly by the group's column (or by
// UTC hour for hourOfDay; report_hourly_labels for label) and folds the sums with this rule, so a
// year of data is one indexed aggregate.
//
// By label, a row counts what happened while the conversation carried the label: conversations that
// were opened with it or got it in the range ("opened"), resolved while labelled, messages and calls
// while labelled. A conversation with two labels counts under both, so label rows do not add up to
// the total.
import { localTime } from './businessHours.js';

export const VOLUME_GROUPS = ['channel', 'inbox', 'team', 'agent', 'label', 'hourOfDay'] as const;
export type VolumeGroup = (typeof VOLUME_GROUPS)[number];

/** Counter sums of one group key (as the rollups keep them). */
export interface VolumeSums {
  key: string;
  opened: number;
  resolved: number;
  msgs_in: number;
  msgs_out: number;
  calls: number;
  calls_missed: number;
}

/** One row of GET /api/v1/reports/volume. */
export interface VolumeRow {
  /** The channel, inbox/team/agent id ('' = none: unassigned, no team), the label, or the local hour "00".."23". */
  key: string;
  /** A readable name (inbox, team or agent name) when there is one. */
  label: string | null;
  conversationsOpened: number;
  conversationsResolved: number;
  messagesIn: number;
  messagesOut: number;
  calls: number;
  missedCalls: number;
}

const toRow = (s: VolumeSums, label: string | null): VolumeRow => ({
  key: s.key,
  label,
  conversationsOpened: s.opened,
  conversationsResolved: s.resolved,
  messagesIn: s.msgs_in,
  messagesOut: s.msgs_out,
  calls: s.calls,
  missedCalls: s.calls_missed,
});

const busy = (r: VolumeRow): number => r.conversationsOpened + r.messagesIn + r.messagesOut + r.calls;

/**
 * The report's rows. For `hourOfDay` the sums come per UTC hour (key: the hour's start in ms) and
 * are folded into the 24 local hours of `tz`, every hour present (zeros included) in order; for the
 * other groups the busiest first (then by key), names from `labelOf`.
 */
export function volumeRows(group: VolumeGroup, sums: readonly VolumeSums[], tz: string, labelOf: (key: string) => string | null = () => null): VolumeRow[] {
  switch (group) {
    case 'hourOfDay': {
      const hours: VolumeSums[] = Array.from({ length: 24 }, (_, h) => ({ key: String(h).padStart(2, '0'), opened: 0, resolved: 0, msgs_in: 0, msgs_out: 0, calls: 0, calls_missed: 0 }));
      for (const s of sums) {
        const h = hours[localTime(Number(s.key), tz).hour]!;
        h.opened += s.opened;
        h.resolved += s.resolved;
        h.msgs_in += s.msgs_in;
        h.msgs_out += s.msgs_out;
        h.calls += s.calls;
        h.calls_missed += s.calls_missed;
      }
      return hours.map((h) => toRow(h, null));
    }
    case 'channel':
    case 'inbox':
    case 'team':
    case 'agent':
    case 'label':
      return sums
        .map((s) => toRow(s, s.key === '' ? null : labelOf(s.key)))
        .filter((r) => busy(r) > 0)
        .sort((a, b) => busy(b) - busy(a) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    default: {
      const never: never = group;
      throw new Error(`unknown volume group ${String(never)}`);
    }
  }
}
