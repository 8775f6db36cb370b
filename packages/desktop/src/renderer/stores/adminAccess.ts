import type { Role } from '@goutong/core';

export function canManageInboxes(role: Role | undefined | null): boolean {
  return role === 'admin';
}
export function canManageCanned(role: Role | undefined | null): boolean {
  return role === 'admin' || role === 'supervisor';
}
/** Whether the settings area shows at all (plain agents do not see it). */
export function canSeeSettings(role: Role | undefined | null): boolean {
  // [accounts] Every signed-in agent has "My account" (password, two-factor, sessions) there.
  return canManageInboxes(role) || canManageCanned(role) || role === 'agent';
}
