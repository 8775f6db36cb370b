import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '@goutong/core';

/** What server processes tell each other. */
export type BusMessage =
  | { k: 'poke'; t: string; s: number }
  | { k: 'yjs'; t: string; d: string; u: Uint8Array }
  | { k: 'aw'; t: string; d: string; u: Uint8Array }
  /** A process just loaded a document: the others answer with the presence of their peers there. */
  | { k: 'awq'; t: string; d: string }
  /** A session (refresh family) ended: drop its cached check and close its sockets. */
  | { k: 'rev'; s: string; w?: boolean };

const Wire = z.discriminatedUnion('k', [
  z.object({ o: z.string(), k: z.literal('poke'), t: z.string(), s: z.number() }),
  z.object({ o: z.string(), k: z.literal('yjs'), t: z.string(), d: z.string(), u: z.string() }),
  z.object({ o: z.string(), k: z.literal('aw'), t: z.string(), d: z.string(), u: z.string() }),
  z.object({ o: z.string(), k: z.literal('awq'), t: z.string(), d: z.string() }),
  z.object({ o: z.string(), k: z.literal('rev'), s: z.string(), w: z.boolean().optional() }),
]);

/**
 * Fan-out between server processes that share one PostgreSQL: pokes after commits, Yjs updates and
 * awareness of open documents. In one process it is a no-op; with REDIS_URL it is Redis pub/sub.
 * (Relay workers need nothing here: they coordinate through the database.)
 */
export interface Broker {
  publish(m: BusMessage): void;
  onMessage(handler: (m: BusMessage) => void): void;
  close(): Promise<void>;
}

export class LocalBroker implements Broker {
  publish(): void {}
  onMessage(): void {}
  async close(): Promise<void> {}
}

export class RedisBroker implements Broker {
  readonly instance = crypto.randomBytes(8).toString('hex');
  private pub: Redis;
  private sub: Redis;
  private handlers: ((m: BusMessage) => void)[] = [];
  private ready: Promise<void>;

  constructor(url: string, private readonly logger: Logger, private readonly channel = 'goutong:bus') {
    const opts = { maxRetriesPerRequest: null, enableOfflineQueue: true, lazyConnect: false } as const;
    this.pub = new Redis(url, opts);
    this.sub = new Redis(url, opts);
    for (const c of [this.pub, this.sub]) c.on('error', (e: Error) => this.logger.warn('broker: redis error', { error: e.message }));
    this.sub.on('message', (_ch: string, raw: string) => this.receive(raw));
    this.ready = this.sub.subscribe(this.channel).then(() => undefined);
  }

  /** Resolves once the subscription is live (so no poke published after start-up is missed). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  publish(m: BusMessage): void {
    const wire = m.k === 'poke' || m.k === 'awq' || m.k === 'rev' ? { o: this.instance, ...m } : { o: this.instance, k: m.k, t: m.t, d: m.d, u: Buffer.from(m.u).toString('base64') };
    this.pub.publish(this.channel, JSON.stringify(wire)).catch((e: Error) => this.logger.warn('broker: publish failed', { error: e.message }));
  }

  onMessage(handler: (m: BusMessage) => void): void {
    this.handlers.push(handler);
  }

  private receive(raw: string): void {
    let w: z.infer<typeof Wire>;
    try {
      w = Wire.parse(JSON.parse(raw));
    } catch {
      this.logger.warn('broker: malformed bus message dropped');
      return;
    }
    if (w.o === this.instance) return;
    const m: BusMessage =
      w.k === 'poke' ? { k: 'poke', t: w.t, s: w.s } : w.k === 'rev' ? { k: 'rev', s: w.s, ...(w.w ? { w: true } : {}) } : w.k === 'awq' ? { k: 'awq', t: w.t, d: w.d } : { k: w.k, t: w.t, d: w.d, u: new Uint8Array(Buffer.from(w.u, 'base64')) };
    for (const h of this.handlers) {
      try {
        h(m);
      } catch (e) {
        this.logger.error('broker: handler failed', { error: String(e), kind: m.k });
      }
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.sub.quit(), this.pub.quit()]);
  }
}
