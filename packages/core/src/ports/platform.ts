export type TimerHandle = unknown;

/** Time and timers; the fake clock in `@goutong/core/testing` drives tests. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface IdGenerator {
  /** A new UUIDv7. */
  next(): string;
}

export type LogFields = Record<string, unknown>;
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** What the host knows about the network (navigator.onLine, Electron's net, uni.onNetworkStatusChange). */
export interface NetworkMonitor {
  isOnline(): boolean;
  subscribe(listener: (online: boolean) => void): () => void;
}

export const alwaysOnline: NetworkMonitor = { isOnline: () => true, subscribe: () => () => {} };
