import { z } from 'zod';
import { Channel, ConversationStatus, Id, Millis, Priority } from './model.js';
import { CONVERSATION_SORTS } from '../ports/storage.js';
import { can, type Principal } from '../rules/permissions.js';
import { SLA_FILTERS } from '../rules/sla.js';

/**
 * Saved views: a named combination of the inbox's filters, stored on the server per agent (so it
 * follows them to every device) or shared with the workspace by an admin. Applying one sets the
 * inbox's filters; the list itself is still read from the device's database.
 */

export const INBOX_VIEWS = ['mine', 'unassigned', 'all'] as const;
export const InboxViewName = z.enum(INBOX_VIEWS);
export const STATUS_FILTER_VALUES = ['active', 'any', ...(ConversationStatus.options)] as const;

export const SavedViewFilters = z.object({
  view: InboxViewName,
  status: z.enum(STATUS_FILTER_VALUES),
  channel: z.union([Channel, z.literal('')]),
  priority: z.union([Priority, z.literal('')]),
  label: z.string().trim().max(64),
  inboxId: z.union([Id, z.literal('')]),
  teamId: z.union([Id, z.literal('')]),
  /** In the All view: an agent id, `none` for unassigned, '' for anyone. */
  assignee: z.union([Id, z.literal('')]),
  text: z.string().max(200),
  sort: z.enum(CONVERSATION_SORTS),
  /** Due soon or breached SLA only; '' for any (views saved before this filter existed have none). */
  sla: z.union([z.enum(SLA_FILTERS), z.literal('')]).default(''),
}).strict();
export type SavedViewFilters = z.infer<typeof SavedViewFilters>;

export const SavedViewInput = z.object({
  name: z.string().trim().min(1).max(60),
  filters: SavedViewFilters,
  /** Shown to every agent of the workspace (admins only); else the agent's own. */
  shared: z.boolean(),
}).strict();
export type SavedViewInput = z.infer<typeof SavedViewInput>;

export const SavedView = z.object({
  id: Id,
  tenantId: Id,
  name: z.string().min(1).max(60),
  filters: SavedViewFilters,
  /** The agent whose view it is; null for a shared view. */
  ownerId: Id.nullable(),
  createdAt: Millis,
  updatedAt: Millis,
});
export type SavedView = z.infer<typeof SavedView>;

/** Who sees a saved view: a shared one everybody in the workspace, an own one only its owner. */
export function savedViewVisibleTo(view: Pick<SavedView, 'tenantId' | 'ownerId'>, agent: { id: string; tenantId: string }): boolean {
  return view.tenantId === agent.tenantId && (view.ownerId === null || view.ownerId === agent.id);
}

/** Who may create, change or delete a saved view: a shared one needs `settings.manage` (admins), an own one is its owner's. */
export function mayEditSavedView(actor: Pick<Principal, 'role' | 'permissions'> & { id: string; tenantId: string }, target: Pick<SavedView, 'tenantId' | 'ownerId'>): boolean {
  if (target.tenantId !== actor.tenantId) return false;
  return target.ownerId === null ? can(actor, 'settings.manage') : target.ownerId === actor.id;
}

/** The order of the sidebar: the agent's own views first, then the shared ones, each by name. */
export function sortSavedViews<T extends Pick<SavedView, 'name' | 'ownerId'>>(views: readonly T[]): T[] {
  return [...views].sort((a, b) => Number(a.ownerId === null) - Number(b.ownerId === null) || a.name.localeCompare(b.name));
}
