// [accounts] REST calls of the account screens (they need a connection; nothing here is local-first).
import type { Agent, RetentionPolicy, Role } from '@goutong/core';
import { currentServices } from '../platform/services';

export interface SessionItem {
  id: string;
  deviceName: string | null;
  platform: string | null;
  ip: string | null;
  createdAt: number;
  lastSeenAt: number;
  current: boolean;
}

function api() {
  const a = currentServices()?.api;
  if (!a) throw new Error('not connected to a server');
  return a;
}

const id = (x: string) => encodeURIComponent(x);

export const accountsApi = {
  changePassword: (currentPassword: string, newPassword: string) => api().request<{ sessionsEnded: number }>('POST', '/api/v1/me/password', { currentPassword, newPassword }),
  mfaStatus: () => api().request<{ enabled: boolean; pending: boolean; recoveryCodesLeft: number }>('GET', '/api/v1/me/mfa'),
  mfaSetup: () => api().request<{ secret: string; otpauthUri: string }>('POST', '/api/v1/me/mfa/setup'),
  mfaEnable: (code: string) => api().request<{ recoveryCodes: string[] }>('POST', '/api/v1/me/mfa/enable', { code }),
  mfaDisable: (password: string) => api().request('POST', '/api/v1/me/mfa/disable', { password }),
  mfaRecoveryCodes: (password: string) => api().request<{ recoveryCodes: string[] }>('POST', '/api/v1/me/mfa/recovery-codes', { password }),
  mySessions: () => api().request<{ items: SessionItem[] }>('GET', '/api/v1/me/sessions'),
  endMySession: (sessionId: string, wipe: boolean) => api().request('DELETE', `/api/v1/me/sessions/${id(sessionId)}${wipe ? '?wipe=true' : ''}`),
  endOtherSessions: () => api().request<{ ended: number }>('POST', '/api/v1/me/sessions/end-others'),
  agents: () => api().request<{ items: Agent[] }>('GET', '/api/v1/agents'),
  teams: () => api().request<{ items: { id: string; name: string }[] }>('GET', '/api/v1/teams'),
  invite: (body: { name: string; email: string; role: Role; teamIds: string[] }) => api().request<{ agent: Agent; inviteUrl: string; expiresAt: number }>('POST', '/api/v1/agents', body),
  patchAgent: (agentId: string, body: { name?: string; role?: Role; teamIds?: string[]; active?: boolean }) => api().request<Agent>('PATCH', `/api/v1/agents/${id(agentId)}`, body),
  resetPassword: (agentId: string) => api().request<{ resetUrl: string; expiresAt: number }>('POST', `/api/v1/agents/${id(agentId)}/password-reset`),
  resetMfa: (agentId: string) => api().request('POST', `/api/v1/agents/${id(agentId)}/mfa/reset`),
  agentSessions: (agentId: string) => api().request<{ items: SessionItem[] }>('GET', `/api/v1/agents/${id(agentId)}/sessions`),
  endAgentSession: (agentId: string, sessionId: string, wipe: boolean) => api().request('DELETE', `/api/v1/agents/${id(agentId)}/sessions/${id(sessionId)}${wipe ? '?wipe=true' : ''}`),
  retention: () => api().request<RetentionPolicy>('GET', '/api/v1/settings/retention'),
  setRetention: (p: RetentionPolicy) => api().request<RetentionPolicy>('PUT', '/api/v1/settings/retention', p),
};

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
