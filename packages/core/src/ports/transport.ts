import type { Command } from '../commands/commands.js';
import type { CommandBatchResponse, MessagePage, PullRequest, PullResponse } from '../protocol/wire.js';
import type { SearchPage } from '../domain/search.js';

export type TransportErrorKind = 'network' | 'http' | 'auth' | 'protocol';

/** A failed request. `retryable` tells the outbox whether to back off and try again. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly kind: TransportErrorKind,
    message: string,
    readonly status: number | null = null,
    readonly code: string = kind,
  ) {
    super(message);
  }
  get retryable(): boolean {
    if (this.kind === 'network') return true;
    if (this.kind === 'http' && this.status !== null) return this.status >= 500 || this.status === 429 || this.status === 408;
    return false;
  }
}

/**
 * The server does not speak this client's protocol version (HTTP 426, socket close 4426, or a
 * `ready` frame with another major version): nothing will work until the app is updated. Not
 * retryable; the outbox keeps its commands for the updated app.
 */
export class ProtocolMismatchError extends TransportError {
  constructor(message = 'the server speaks another protocol version: update the app', status: number | null = 426) {
    super('protocol', message, status, 'upgrade_required');
  }
}

/** A live socket to the server (already authenticated by the transport). */
export interface SyncSocket {
  send(data: string | Uint8Array): void;
  close(): void;
}

export interface SocketHandlers {
  onOpen(): void;
  onText(text: string): void;
  onBinary(data: Uint8Array): void;
  onClose(code: number, reason: string): void;
}

/** [push] What the client asks of the socket in its auth frame. */
export interface SocketOptions {
  /** The client applies pushed `facts` frames (protocol 1.1); without it the server only pokes. */
  push?: boolean;
}

/** How the client reaches the server. HttpTransport is the real one; the test network fakes it. */
export interface Transport {
  pull(request: PullRequest): Promise<PullResponse>;
  push(commands: readonly Command[]): Promise<CommandBatchResponse>;
  messages(conversationId: string, cursor: string | null, limit: number): Promise<MessagePage>;
  /** Opens the sync socket; the transport sends the auth frame itself before onOpen. */
  openSocket(handlers: SocketHandlers, options?: SocketOptions): SyncSocket;
  /** [search] `GET /api/v1/search`: the server's full-text search (optional: test transports may lack it). */
  search?(q: string, cursor: string | null, limit: number): Promise<SearchPage>;
}
