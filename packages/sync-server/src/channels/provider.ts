import type { Agent, Channel, Contact, Conversation, Inbox, Message } from '@goutong/core';
import type { z } from 'zod';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { InboundInput, InboundResult, Workspace } from '../domain/workspace.js';
import type { Emitter, Logger } from '@goutong/core';
import type { AttachmentStore } from '../attachments/store.js';
import type { Migration } from '../db/migrations.js';
import { inboxIdOfConversation } from '../domain/channelFacts.js';

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

/** Text in the two languages of the product (admin forms, URL descriptions). */
export interface Localized {
  en: string;
  'zh-CN': string;
}

/** A URL to show an admin: what to paste at the provider (webhooks, callbacks, upload endpoints). */
export interface AdminUrl {
  /** Stable key of the URL within its provider (tests, UI keys). */
  key: string;
  what: Localized;
  method: 'GET' | 'POST';
  /**
   * Absolute, or a path starting with `/` on this server (the admin app prefixes its server URL).
   * Secrets the server keeps sealed appear as `<name>` placeholders.
   */
  url: string;
}

/** What `urls()` gets: the inbox, its config, and a placeholder for each sealed secret. */
export interface UrlContext {
  inbox: Inbox;
  config: Record<string, unknown>;
  /** `<name>`, URL-encoded where it sits in a query: the admin app fills in values it knows. */
  secret(name: string): string;
}

/** A veto of `beforeSend`: the message fails with this reason and nothing goes to the provider. */
export interface SendVeto {
  reason: string;
  code: string;
}

export interface InboundEvent {
  inbox: Inbox;
  /** The inbound as stored; `duplicate` when the provider delivered it again (hooks are idempotent). */
  result: InboundResult;
}

export interface StatusEvent {
  message: Message;
}

export interface ProviderDeps {
  workspace: Workspace;
  logger: Logger;
  /** Content-addressed storage for inbound media (mail attachments, MMS, voicemail, recordings). */
  attachments: AttachmentStore;
  /** Decrypted secrets and parsed config of an inbox. */
  inboxSettings(inboxId: string): Promise<{ inbox: Inbox; config: Record<string, unknown>; secrets: Record<string, string> } | null>;
  /**
   * Stores an inbound message (Workspace.ingestInbound: message, attachments and side rows in one
   * transaction) and then runs every `afterInbound` hook that applies to the inbox. Providers call
   * this, never ingestInbound directly, so the extensions see every inbound.
   */
  ingest(inbox: Inbox, input: InboundInput): Promise<InboundResult>;
  /** A preHandler that authenticates an agent (bearer access token); read it with `agentOf(req)`. */
  requireAgent: preHandlerAsyncHookHandler;
  /** The agent an access token belongs to (throws 401 like requireAgent), for routes that take a token or a signature. */
  authenticate(token: string): Promise<Agent>;
  /** A signing key derived from the server secret for one purpose (never the secret itself). */
  keyFor?(purpose: string): string;
  /** Agents' Yjs awareness updates of any document, from this process and (through the broker) the others. */
  presence?: Emitter<PresenceUpdate>;
}

export interface PresenceUpdate {
  tenantId: string;
  doc: string;
  update: Uint8Array;
}

/** Hooks an extension may implement (Hocuspocus-style). Each runs for the inboxes it applies to. */
export interface ExtensionHooks {
  /** After an inbound message committed (also for a duplicate delivery: hooks are idempotent). */
  afterInbound?(ev: InboundEvent, deps: ProviderDeps): Promise<void>;
  /** Before a message goes to the provider: return a veto to fail it instead. */
  beforeSend?(ctx: SendContext, deps: ProviderDeps): Promise<SendVeto | null>;
  /** After a delivery status change of an outgoing message committed. */
  onStatus?(ev: StatusEvent, deps: ProviderDeps): Promise<void>;
}

/** What every extension (provider or cross-cutting) may declare. */
export interface ExtensionBase extends ExtensionHooks {
  /** Schema changes the extension needs (ids unique across the server; built-in ones use 10–99). */
  readonly migrations?: readonly Migration[];
  /** HTTP routes (webhooks, status callbacks, uploads, credential endpoints). */
  routes?(app: FastifyInstance, deps: ProviderDeps): void;
  /** OpenAPI path items of those routes (merged into the server's document). */
  readonly openapi?: Record<string, unknown>;
  /** Long-running receivers (IMAP IDLE, pollers), started with the server and stopped with it. */
  start?(deps: ProviderDeps): Promise<{ stop(): Promise<void> }>;
}

/**
 * A channel provider: one folder under src/channels/<name>/ whose index exports a factory of this
 * object. Send, receive (routes or pollers), verify authenticity (inside its routes, over the raw
 * body), map statuses, report cost; its schemas feed validation, the OpenAPI document and the admin
 * forms (titles in en and zh-CN in the schema metadata, see `label`).
 */
export interface ChannelProvider extends ExtensionBase {
  readonly kind?: 'provider';
  readonly channel: Channel;
  readonly name: string;
  /** Validates the public part of an inbox's configuration (with `.meta(label(…))` on each field and on the object). */
  readonly configSchema: z.ZodType<Record<string, unknown>>;
  /** Validates the secret part (stored encrypted, never returned by the API). */
  readonly secretsSchema: z.ZodType<Record<string, string>>;
  /** Cross-cutting extensions (by name) that apply to this provider's inboxes, e.g. `optout`. */
  readonly uses?: readonly string[];
  /** The URLs an admin configures at the provider for one inbox. */
  urls?(ctx: UrlContext): AdminUrl[];
  send(ctx: SendContext): Promise<SendResult>;
  /**
   * For providers without an idempotency key: before a message is sent again (a retry, or a job
   * taken over from a worker that died mid-send), asks the provider whether an earlier attempt got
   * through, so that nothing is sent twice. `since` bounds the search (ms).
   */
  reconcile?(ctx: SendContext, since: number): Promise<ReconcileResult>;
}

/** A cross-cutting extension (opt-out, auto-reply…): hooks for the inboxes whose provider `uses` it. */
export interface HookExtension extends ExtensionBase {
  readonly kind: 'extension';
  readonly name: string;
}

export type Extension = ChannelProvider | HookExtension;

export function isProvider(e: Extension): e is ChannelProvider {
  return e.kind !== 'extension';
}

export function providerKey(p: Pick<ChannelProvider, 'channel' | 'name'>): string {
  return p.name === p.channel ? p.channel : `${p.channel}/${p.name}`;
}

export function extensionKey(e: Extension): string {
  return isProvider(e) ? providerKey(e) : `extension:${e.name}`;
}

/**
 * The server's extensions. Registering one with the same key again replaces it (tests inject
 * fakes). Hooks run in registration order: the inbox's own provider first, then the extensions it uses.
 */
export class ProviderRegistry {
  private byKey = new Map<string, Extension>();
  register(e: Extension): this {
    this.byKey.set(extensionKey(e), e);
    return this;
  }
  /** The provider of an inbox, with the `beforeSend` hooks that apply to it run before its `send`. */
  get(channel: Channel, name: string | null): ChannelProvider | null {
    const p = this.raw(channel, name);
    if (!p) return null;
    const hooked = this.hooksFor(p).filter((h) => h.beforeSend);
    if (hooked.length === 0 || !this.deps) return p;
    const deps = this.deps;
    return {
      ...p,
      send: async (ctx) => {
        for (const h of hooked) {
          const veto = await h.beforeSend!(ctx, deps);
          if (veto) return { kind: 'rejected', reason: veto.reason, code: veto.code };
        }
        return p.send(ctx);
      },
    };
  }
  /** The provider itself, without hooks. */
  raw(channel: Channel, name: string | null): ChannelProvider | null {
    const e = this.byKey.get(name && name !== channel ? `${channel}/${name}` : channel);
    return e && isProvider(e) ? e : null;
  }
  all(): Extension[] {
    return [...this.byKey.values()];
  }
  providers(): ChannelProvider[] {
    return this.all().filter(isProvider);
  }
  migrations(): Migration[] {
    return this.all().flatMap((e) => [...(e.migrations ?? [])]);
  }

  private deps: ProviderDeps | null = null;
  /**
   * Completes the extensions' dependencies (the server calls this once): `ingest` stores an inbound
   * and runs the afterInbound hooks; every committed status change runs the onStatus hooks.
   */
  bind(base: Omit<ProviderDeps, 'ingest'>): ProviderDeps {
    const deps: ProviderDeps = {
      ...base,
      ingest: async (inbox, input) => {
        const result = await base.workspace.ingestInbound(inbox, input);
        await this.afterInbound({ inbox, result });
        return result;
      },
    };
    this.deps = deps;
    base.workspace.statusChanged.on((message) => {
      if (!this.all().some((e) => e.onStatus)) return;
      void (async () => {
        const inboxId = await inboxIdOfConversation(base.workspace.db, message.conversationId);
        const s = inboxId ? await base.inboxSettings(inboxId) : null;
        if (s) await this.onStatus(s.inbox, { message });
      })().catch((e: unknown) => base.logger.error('extensions: onStatus failed', { message: message.id, error: String(e) }));
    });
    return deps;
  }

  /** The extensions whose hooks apply to a provider's inboxes: itself, then those it uses. */
  hooksFor(p: ChannelProvider): Extension[] {
    const uses = new Set(p.uses ?? []);
    return [p, ...this.all().filter((e): e is HookExtension => !isProvider(e) && uses.has(e.name))];
  }

  async afterInbound(ev: InboundEvent): Promise<void> {
    const p = this.raw(ev.inbox.channel, ev.inbox.provider);
    if (!p || !this.deps) return;
    for (const h of this.hooksFor(p)) await h.afterInbound?.(ev, this.deps);
  }

  async onStatus(inbox: Inbox, ev: StatusEvent): Promise<void> {
    const p = this.raw(inbox.channel, inbox.provider);
    if (!p || !this.deps) return;
    for (const h of this.hooksFor(p)) await h.onStatus?.(ev, this.deps);
  }
}
