import crypto from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { backoffDelay, type Inbox } from '@goutong/core';
import type { ProviderDeps } from '../provider.js';
import { EmailConfig } from './config.js';
import { loadImapState, saveImapState } from '../../domain/threading.js';
import { inboxIdsOf } from '../../domain/channelFacts.js';

export type MailHandler = (inbox: Inbox, raw: Buffer, source: { mailbox: string; uid: number }) => Promise<unknown>;

export interface WatcherOptions {
  /** Search the mailbox this often even without an IDLE push (safety net; also restarts IDLE). */
  resyncMs?: number;
  backoff?: { baseMs: number; maxMs: number };
}

/** What a watcher is doing, for tests and the admin's view. */
export interface WatcherStatus {
  inboxId: string;
  state: 'connecting' | 'connected' | 'backoff' | 'stopped';
  lastError: string | null;
  connects: number;
  lastUid: number;
}

const BATCH = 25;
/** A mail that fails this many times in a row is skipped (logged), so one bad mail never blocks the mailbox. */
const MAX_FAILURES_PER_UID = 5;

/**
 * Watches one mailbox: connects, selects, takes every mail after the stored UID (per UIDVALIDITY),
 * then waits in IDLE (imapflow auto-IDLE) for `exists`; on any failure it reconnects with backoff.
 * The stored UID only moves after the mail is durably handled: a crash re-reads it, and the
 * handler is idempotent.
 */
export class MailboxWatcher {
  readonly status: WatcherStatus;
  private stopped = false;
  private client: ImapFlow | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private sleeper: { timer: NodeJS.Timeout; resolve: () => void } | null = null;
  private failures = new Map<number, number>();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly deps: ProviderDeps,
    private readonly inbox: Inbox,
    private readonly cfg: EmailConfig & { imap: NonNullable<EmailConfig['imap']> },
    private readonly password: string,
    private readonly handle: MailHandler,
    private readonly opts: WatcherOptions,
  ) {
    this.status = { inboxId: inbox.id, state: 'connecting', lastError: null, connects: 0, lastUid: 0 };
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.status.state = 'stopped';
    this.wake();
    if (this.sleeper) {
      clearTimeout(this.sleeper.timer);
      this.sleeper.resolve();
    }
    const c = this.client;
    if (c) {
      await Promise.race([c.logout().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
      c.close();
    }
    await this.loop?.catch(() => undefined);
  }

  private wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeper = null;
        resolve();
      }, ms);
      timer.unref();
      this.sleeper = { timer, resolve };
    });
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        await this.session(() => {
          attempt = 0;
        });
      } catch (e) {
        if (this.stopped) break;
        this.status.lastError = (e as Error).message ?? String(e);
        this.deps.logger.warn('email: mailbox connection failed', { inbox: this.inbox.id, host: this.cfg.imap.host, error: this.status.lastError });
      }
      if (this.stopped) break;
      attempt++;
      this.status.state = 'backoff';
      const b = this.opts.backoff ?? { baseMs: 1000, maxMs: 300_000 };
      await this.sleep(backoffDelay(attempt, Math.random, { baseMs: b.baseMs, maxMs: b.maxMs, jitter: 0.2 }));
    }
  }

  private async session(onConnected: () => void): Promise<void> {
    this.status.state = 'connecting';
    const imap = this.cfg.imap;
    const client = new ImapFlow({
      host: imap.host,
      port: imap.port,
      secure: imap.secure,
      auth: { user: imap.user, pass: this.password },
      logger: false,
      // IDLE ends and starts again at least this often (some servers drop idle connections silently).
      maxIdleTime: this.opts.resyncMs ?? 60_000,
      autoIdleDelay: 500,
      connectionTimeout: this.cfg.timeoutMs,
      greetingTimeout: this.cfg.timeoutMs,
    });
    this.client = client;
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => (closedResolve = r));
    client.on('close', () => closedResolve());
    client.on('error', (e: Error) => {
      this.status.lastError = e.message;
    });
    client.on('exists', () => this.wake());
    try {
      await client.connect();
      const box = await client.mailboxOpen(imap.mailbox);
      this.status.connects++;
      this.status.state = 'connected';
      this.status.lastError = null;
      onConnected();
      const uidValidity = String(box.uidValidity);
      let lastUid = await this.loadState(uidValidity);
      if (lastUid === null) {
        lastUid = await this.initialUid(client, box.exists);
        await this.saveState(uidValidity, lastUid);
      }
      this.status.lastUid = lastUid;
      while (!this.stopped && client.usable) {
        this.woken = false;
        const more = await this.sync(client, uidValidity);
        if (more || this.woken) continue;
        // IDLE now (auto-IDLE would wait its delay first); the next command ends it.
        client.idle().catch(() => undefined);
        await Promise.race([
          new Promise<void>((r) => {
            this.wakeUp = r;
          }),
          closed,
          new Promise<void>((r) => setTimeout(r, this.opts.resyncMs ?? 60_000).unref()),
        ]);
        this.wakeUp = null;
      }
      if (!this.stopped) throw new Error(this.status.lastError ?? 'connection closed');
    } finally {
      this.client = null;
      if (client.usable) await Promise.race([client.logout().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
      client.close();
    }
  }

  /** Where a first connection starts: after the mail that predates the inbox (`new`), or at the beginning (`all`). */
  private async initialUid(client: ImapFlow, exists: number): Promise<number> {
    if (this.cfg.initialSync === 'all' || exists === 0) return 0;
    const cutoff = this.inbox.createdAt - 60_000;
    let last = 0;
    const lock = await client.getMailboxLock(this.cfg.imap.mailbox);
    try {
      for await (const m of client.fetch('1:*', { uid: true, internalDate: true })) {
        const t = m.internalDate ? new Date(m.internalDate).getTime() : 0;
        if (t < cutoff && m.uid > last) last = m.uid;
      }
    } finally {
      lock.release();
    }
    return last;
  }

  /** Takes the next batch of new mail; true when there may be more. */
  private async sync(client: ImapFlow, uidValidity: string): Promise<boolean> {
    const mailbox = this.cfg.imap.mailbox;
    const batch: { uid: number; source: Buffer }[] = [];
    const lock = await client.getMailboxLock(mailbox);
    let found = 0;
    try {
      const uids = (await client.search({ uid: `${this.status.lastUid + 1}:*` }, { uid: true })) || [];
      const next = uids.filter((u) => u > this.status.lastUid).sort((a, b) => a - b).slice(0, BATCH);
      found = next.length;
      if (next.length) {
        for await (const m of client.fetch(next.join(','), { uid: true, source: true }, { uid: true })) {
          if (m.source) batch.push({ uid: m.uid, source: m.source });
        }
      }
    } finally {
      lock.release();
    }
    batch.sort((a, b) => a.uid - b.uid);
    for (const m of batch) {
      try {
        await this.handle(this.inbox, m.source, { mailbox, uid: m.uid });
        this.failures.delete(m.uid);
      } catch (e) {
        const n = (this.failures.get(m.uid) ?? 0) + 1;
        this.failures.set(m.uid, n);
        if (n < MAX_FAILURES_PER_UID) throw e;
        this.deps.logger.error('email: skipping a mail that keeps failing', { inbox: this.inbox.id, uid: m.uid, error: String(e) });
      }
      this.status.lastUid = m.uid;
      await this.saveState(uidValidity, m.uid);
    }
    return found === BATCH;
  }

  private async loadState(uidValidity: string): Promise<number | null> {
    const r = await loadImapState(this.deps.workspace.db, this.inbox.id);
    // A new UIDVALIDITY (or another mailbox) invalidates stored UIDs: read it again from the start (dedupe by Message-ID).
    if (!r || r.uidValidity !== uidValidity || r.mailbox !== this.cfg.imap.mailbox) return r ? 0 : null;
    return r.lastUid;
  }

  private async saveState(uidValidity: string, lastUid: number): Promise<void> {
    await saveImapState(this.deps.workspace.db, this.inbox.id, { mailbox: this.cfg.imap.mailbox, uidValidity, lastUid });
  }
}

/** Running watchers, by inbox id (tests read their status). */
export const activeWatchers = new Map<string, MailboxWatcher>();

/**
 * Runs one watcher per email inbox with IMAP settings; follows inboxes created, changed or removed
 * (rescans after commits, at most once a second, and every 30 s).
 */
export async function startMailboxWatchers(deps: ProviderDeps, handle: MailHandler, opts: WatcherOptions = {}): Promise<{ stop(): Promise<void> }> {
  const running = new Map<string, { fp: string; w: MailboxWatcher }>();
  let stopped = false;
  let scanning: Promise<void> | null = null;
  let again = false;

  const scan = async () => {
    const want = new Set<string>();
    for (const id of await inboxIdsOf(deps.workspace.db, 'email', 'email')) {
      const s = await deps.inboxSettings(id).catch(() => null);
      const cfg = s ? EmailConfig.safeParse(s.config) : null;
      if (!s || !cfg?.success || !cfg.data.imap) continue;
      const fp = crypto.createHash('sha256').update(JSON.stringify([cfg.data.imap, cfg.data.initialSync, s.secrets.imapPassword ?? ''])).digest('hex');
      want.add(id);
      const cur = running.get(id);
      if (cur?.fp === fp) continue;
      if (cur) await cur.w.stop();
      if (stopped) return;
      const w = new MailboxWatcher(deps, s.inbox, cfg.data as EmailConfig & { imap: NonNullable<EmailConfig['imap']> }, s.secrets.imapPassword ?? '', handle, opts);
      running.set(id, { fp, w });
      activeWatchers.set(id, w);
      w.start();
    }
    for (const [id, { w }] of running) {
      if (!want.has(id)) {
        running.delete(id);
        activeWatchers.delete(id);
        await w.stop();
      }
    }
  };
  const rescan = () => {
    if (stopped) return;
    if (scanning) {
      again = true;
      return;
    }
    scanning = scan()
      .catch((e: unknown) => deps.logger.error('email: scanning inboxes failed', { error: String(e) }))
      .finally(() => {
        scanning = null;
        if (again) {
          again = false;
          setTimeout(rescan, 1000).unref();
        }
      });
  };
  let pending: NodeJS.Timeout | null = null;
  const off = deps.workspace.committed.on(() => {
    if (pending || stopped) return;
    pending = setTimeout(() => {
      pending = null;
      rescan();
    }, 1000);
    pending.unref();
  });
  const timer = setInterval(rescan, 30_000);
  timer.unref();
  rescan();
  await scanning;
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (pending) clearTimeout(pending);
      if (typeof off === 'function') off();
      await scanning;
      await Promise.all([...running.values()].map(({ w }) => w.stop()));
      for (const id of running.keys()) activeWatchers.delete(id);
      running.clear();
    },
  };
}
