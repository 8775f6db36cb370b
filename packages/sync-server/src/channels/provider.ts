import type { Channel, Contact, Conversation, Inbox, Message } from '@goutong/core';
import type { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { Workspace } from '../domain/workspace.js';
import type { Logger } from '@goutong/core';
import type { AttachmentStore } from '../attachments/store.js';

/** The outcome of handing a message to a provider. */
export type SendResult =
  | { kind: 'accepted'; providerMessageId: string | null; cost?: { amount: number; currency: string; units?: number } }
  /** The provider refused the message for good (bad number, opted out, invalid credentials…). */
  | { kind: 'rejected'; reason: string; code?: string }
  /** Worth another try later (network error, 5xx, throttling). */
  | { kind: 'retry'; reason: string; retryAfterMs?: number };

export type ReconcileResult =
  | { kind: 'found'; providerMessageId: string | null }
  | { kind: 'absent' }
  /** The provider could not be asked: try again later, do not send. */
  | { kind: 'unknown'; reason: string };

export interface SendContext {
  inbox: Inbox;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
  message: Message;
  conversation: Conversation;
  contact: Contact;
  /** Stable per message: the provider's idempotency key where it accepts one. */
  idempotencyKey: string;
}

export interface ProviderDeps {
  workspace: Workspace;
  logger: Logger;
  /** Content-addressed storage for inbound media (mail attachments, MMS, voicemail, recordings). */
  attachments: AttachmentStore;
  /** Decrypted secrets and parsed config of an inbox. */
  inboxSettings(inboxId: string): Promise<{ inbox: Inbox; config: Record<string, unknown>; secrets: Record<string, string> } | null>;
}

/**
 * One interface every channel implements: send, receive (routes or pollers), verify authenticity
 * (inside its routes, over the raw body), map statuses, report cost.
 */
export interface ChannelProvider {
  readonly channel: Channel;
  readonly name: string;
  /** Validates the public part of an inbox's configuration. */
  readonly configSchema: z.ZodType<Record<string, unknown>>;
  /** Validates the secret part (stored encrypted, never returned by the API). */
  readonly secretsSchema: z.ZodType<Record<string, string>>;
  send(ctx: SendContext): Promise<SendResult>;
  /**
   * For providers without an idempotency key: before a message is sent again (a retry, or a job
   * taken over from a worker that died mid-send), asks the provider whether an earlier attempt got
   * through, so that nothing is sent twice. `since` bounds the search (ms).
   */
  reconcile?(ctx: SendContext, since: number): Promise<ReconcileResult>;
  /** Webhook routes (inbound messages, status callbacks). */
  routes?(app: FastifyInstance, deps: ProviderDeps): void;
  /** Long-running receivers (IMAP IDLE…), started with the server and stopped with it. */
  start?(deps: ProviderDeps): Promise<{ stop(): Promise<void> }>;
}

export class ProviderRegistry {
  private byName = new Map<string, ChannelProvider>();
  register(p: ChannelProvider): this {
    this.byName.set(`${p.channel}/${p.name}`, p);
    return this;
  }
  get(channel: Channel, name: string | null): ChannelProvider | null {
    return this.byName.get(`${channel}/${name ?? channel}`) ?? null;
  }
  all(): ChannelProvider[] {
    return [...this.byName.values()];
  }
}
