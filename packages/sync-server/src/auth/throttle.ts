import { isIPv6 } from 'node:net';

/**
 * Login throttling with capped exponential back-off.
 *
 * Two kinds of bucket: one per client address (across accounts: password spraying) and one per
 * account *and* address (guessing one account's password). A bucket allows `free` failures; each
 * failure after that blocks the bucket for base·2^k, capped at `capMs`, so a correct password always
 * works once the (capped) window has passed, and a stranger failing from elsewhere cannot lock a user
 * out (their failures fill their own buckets, not the user's).
 *
 * Buckets live in bounded maps (least recently failed evicted first, idle ones before blocked ones),
 * so flooding the maps with fresh keys cannot reset an attacker who is blocked right now.
 */
export interface ThrottleOptions {
  /** Failures per account and address before back-off starts. */
  accountFree: number;
  /** Failures per address (all accounts together) before back-off starts. */
  addressFree: number;
  baseMs: number;
  capMs: number;
  /** A bucket with no failure for this long is forgotten. */
  forgetAfterMs: number;
  /** Entries per map. */
  maxEntries: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  accountFree: 10,
  addressFree: 50,
  baseMs: 30_000,
  capMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
  maxEntries: 10_000,
};

interface Bucket {
  failures: number;
  lastFailure: number;
  blockedUntil: number;
}

/** A Map in least-recently-touched order with a size bound; eviction prefers idle over blocked entries. */
class BoundedBuckets {
  private map = new Map<string, Bucket>();
  constructor(private readonly max: number) {}

  get size(): number {
    return this.map.size;
  }
  get(key: string): Bucket | undefined {
    return this.map.get(key);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  touch(key: string, b: Bucket, now: number): void {
    this.map.delete(key);
    this.map.set(key, b);
    while (this.map.size > this.max) this.evictOne(now);
  }
  private evictOne(now: number): void {
    // Look at the oldest few: drop the first that is not blocked now; else the oldest of all.
    let n = 0;
    for (const [k, b] of this.map) {
      if (b.blockedUntil <= now) {
        this.map.delete(k);
        return;
      }
      if (++n >= 64) break;
    }
    const oldest = this.map.keys().next();
    if (!oldest.done) this.map.delete(oldest.value);
  }
}

export class LoginThrottle {
  readonly opts: ThrottleOptions;
  private byAddress: BoundedBuckets;
  private byAccount: BoundedBuckets;

  constructor(opts: Partial<ThrottleOptions> = {}) {
    this.opts = { ...DEFAULT_THROTTLE, ...opts };
    this.byAddress = new BoundedBuckets(this.opts.maxEntries);
    this.byAccount = new BoundedBuckets(this.opts.maxEntries);
  }

  get entries(): number {
    return this.byAddress.size + this.byAccount.size;
  }

  /** Milliseconds until this login may be tried again; 0 when it may be tried now. */
  retryAfterMs(account: string, ip: string, now: number): number {
    const address = addressKey(ip);
    const a = this.live(this.byAddress, address, now);
    const b = this.live(this.byAccount, accountKey(account, address), now);
    return Math.max(0, (a?.blockedUntil ?? 0) - now, (b?.blockedUntil ?? 0) - now);
  }

  fail(account: string, ip: string, now: number): void {
    const address = addressKey(ip);
    this.bump(this.byAddress, address, this.opts.addressFree, now);
    this.bump(this.byAccount, accountKey(account, address), this.opts.accountFree, now);
  }

  /** A correct password clears that account's bucket for this address (not the address's own). */
  succeed(account: string, ip: string): void {
    this.byAccount.delete(accountKey(account, addressKey(ip)));
  }

  /** The back-off after `failures` failures of a bucket that allows `free`. */
  windowMs(failures: number, free: number): number {
    if (failures < free) return 0;
    const k = Math.min(failures - free, 30);
    return Math.min(this.opts.baseMs * 2 ** k, this.opts.capMs);
  }

  private live(map: BoundedBuckets, key: string, now: number): Bucket | undefined {
    const b = map.get(key);
    if (b && now - b.lastFailure > this.opts.forgetAfterMs && b.blockedUntil <= now) {
      map.delete(key);
      return undefined;
    }
    return b;
  }

  private bump(map: BoundedBuckets, key: string, free: number, now: number): void {
    const b = this.live(map, key, now) ?? { failures: 0, lastFailure: now, blockedUntil: 0 };
    b.failures++;
    b.lastFailure = now;
    const w = this.windowMs(b.failures, free);
    if (w > 0) b.blockedUntil = Math.max(b.blockedUntil, now + w);
    map.touch(key, b, now);
  }
}

/**
 * The client an address stands for: an IPv4 address (v4-mapped ones too) as it is, an IPv6 address
 * by its /64 (one subscriber holds a whole /64: per-address buckets would give them 2^64 budgets).
 */
export function addressKey(ip: string): string {
  const a = ip.trim().toLowerCase().split('%')[0]!;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1]!;
  if (!isIPv6(a)) return a;
  const [head = '', tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = a.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = a.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

function accountKey(account: string, address: string): string {
  return `${account}\u0000${address}`;
}
