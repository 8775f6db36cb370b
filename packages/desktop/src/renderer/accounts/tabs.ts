// [accounts] The settings tabs of accounts: everyone has "My account"; admins manage agents and retention.
import type { Role } from '@goutong/core';

export type AccountTab = 'account' | 'agentsAdmin' | 'retention';
export const ACCOUNT_TAB_KEYS: Record<AccountTab, true> = { account: true, agentsAdmin: true, retention: true };

export function accountTabs(role: Role | null | undefined): AccountTab[] {
  return role === 'admin' ? ['account', 'agentsAdmin', 'retention'] : ['account'];
}

export function isAccountTab(x: string): x is AccountTab {
  return Object.prototype.hasOwnProperty.call(ACCOUNT_TAB_KEYS, x);
}
