import crypto from 'node:crypto';
import type { Agent, Inbox, SipCredentials } from '@goutong/core';
import type { VoiceConfig } from './config.js';

/** What the softphone needs to register on one voice inbox (the schema lives in core's wire protocol). */
export type { SipCredentials } from '@goutong/core';

/** The agent's SIP user on an inbox (configured by agent id, else by e-mail), or null. */
export function sipUserOf(cfg: VoiceConfig, agent: Pick<Agent, 'id' | 'email'>): string | null {
  return cfg.agents[agent.id] ?? cfg.agents[agent.email.toLowerCase()] ?? cfg.agents[agent.email] ?? null;
}

/** Kamailio auth_ephemeral / TURN REST style: user `expiry:user`, password base64(HMAC-SHA1(secret, user)). */
export function ephemeralCredentials(secret: string, user: string, ttlSeconds: number, nowMs = Date.now()): { username: string; password: string; expiresAt: number } {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiry}:${user}`;
  return { username, password: crypto.createHmac('sha1', secret).update(username).digest('base64'), expiresAt: expiry * 1000 };
}

/** Credentials of an agent on a voice inbox, or null when the agent has no SIP user there. */
export function credentialsFor(inbox: Inbox, cfg: VoiceConfig, secrets: Record<string, string>, agent: Pick<Agent, 'id' | 'email' | 'name'>, nowMs = Date.now()): SipCredentials | null {
  const user = sipUserOf(cfg, agent);
  if (!user) return null;
  let authorizationUser = user;
  let password: string | null = null;
  let expiresAt: number | null = null;
  if (cfg.auth === 'static') password = secrets[`password:${user}`] ?? null;
  else if (cfg.auth === 'ephemeral') {
    if (!secrets.ephemeralSecret) return null;
    const e = ephemeralCredentials(secrets.ephemeralSecret, user, cfg.credentialTtlSeconds, nowMs);
    authorizationUser = e.username;
    password = e.password;
    expiresAt = e.expiresAt;
  }
  return {
    inboxId: inbox.id,
    inboxName: inbox.name,
    wsUrl: cfg.wsUrl,
    domain: cfg.domain,
    uri: `sip:${user}@${cfg.domain}`,
    user,
    authorizationUser,
    password,
    displayName: agent.name,
    expiresAt,
    recordCalls: cfg.recordCalls,
    pricePerMinute: cfg.pricePerMinute ?? null,
    currency: cfg.pricePerMinute !== undefined ? (cfg.currency ?? 'CNY') : null,
    iceServers: cfg.iceServers,
  };
}
