import crypto from 'node:crypto';
import type { Agent, Inbox } from '@goutong/core';
import { can, canAccessInbox, seesAllInboxes, type PermissionSet } from '@goutong/core';

/** What an agent may see: all inboxes (a role whose scope is all), or the inboxes core's canAccessInbox grants them (their teams' and those of no team: "sync groups"). */
export interface Scope {
  all: boolean;
  inboxIds: string[];
  /** A short digest the client keeps with its checkpoint; a change makes the client start over. */
  key: string;
}

export function scopeOf(agent: Agent & { permissions?: PermissionSet }, inboxes: readonly Inbox[]): Scope {
  const all = seesAllInboxes(agent);
  const inboxIds = inboxes.filter((i) => canAccessInbox(agent, i)).map((i) => i.id).sort();
  // Whether personal data arrives masked is part of the scope: a change makes the device pull again.
  const pii = can(agent, 'pii.view') ? '' : ':masked';
  const key = crypto.createHash('sha256').update(all ? `all:${agent.tenantId}${pii}` : `inboxes:${inboxIds.join(',')}${pii}`).digest('base64url').slice(0, 22);
  return { all, inboxIds, key };
}

/** Whether a scope includes an inbox. */
export function scopeHas(scope: Scope, inboxId: string): boolean {
  return scope.all || scope.inboxIds.includes(inboxId);
}

/** SQL predicate (and params) restricting a conversations alias to a scope. */
export function scopeSql(scope: Scope, column = 'inbox_id'): { sql: string; params: string[] } {
  if (scope.all) return { sql: '1 = 1', params: [] };
  if (scope.inboxIds.length === 0) return { sql: '1 = 0', params: [] };
  return { sql: `${column} IN (${scope.inboxIds.map(() => '?').join(', ')})`, params: scope.inboxIds };
}
