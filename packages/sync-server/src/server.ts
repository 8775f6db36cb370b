import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { Emitter, type Logger } from '@goutong/core';
import type { Config } from './config.js';
import { openDb, type Db } from './db/db.js';
import { migrate } from './db/migrations.js';
import { Housekeeping } from './domain/housekeeping.js';
import { setEgressAllow } from './net/egress.js';
import { Workspace } from './domain/workspace.js';
import { AuthService } from './auth/service.js';
import { AccessTokens } from './auth/tokens.js';
import { serverSecret } from './auth/secretKey.js';
import { hmacHex } from './auth/crypto.js';
import { createHttp, requireAgent } from './http/app.js';
import { registerRoutes } from './http/routes.js';
import { serveWebApp } from './http/static.js';
import { DocManager } from './sync/docs.js';
import { SyncSockets } from './sync/socket.js';
import { ProviderRegistry, type ChannelProvider, type Extension, type PresenceUpdate, type ProviderDeps } from './channels/provider.js';
import { builtinExtensions } from './channels/registry.js';
import { InboxAdmin } from './channels/inboxAdmin.js';
import { RelayWorker } from './relay/worker.js';
import { seedDemo } from './seed.js';
import { AttachmentStore } from './attachments/store.js';
import { registerAttachmentRoutes } from './attachments/routes.js';
import { registerCannedRoutes } from './http/cannedRoutes.js';
import { registerTrustRoutes } from './http/trustRoutes.js';
import { registerSlaRoutes } from './http/slaRoutes.js';
import { createLogger } from './logger.js';
import { LocalBroker, RedisBroker, type Broker } from './scale/broker.js';
import { LocalRateLimiter, RedisRateLimiter, type RateLimiter } from './scale/rateLimit.js';
import { OpsBus, registerOps, serverClock, type ServerClock } from './ops/index.js';
import { registerTestRoutes } from './http/testRoutes.js';
import { registerAutomationRoutes } from './http/automationRoutes.js';
import { registerReportRoutes } from './http/reportRoutes.js';
import { registerContactRoutes } from './http/contactRoutes.js';
import { registerFieldRoutes } from './http/fieldRoutes.js';
import { registerRoutingRoutes } from './http/routingRoutes.js';
import { routingService, type RoutingService } from './ops/routing.js';
import { AccountService } from './auth/accounts.js';
import { registerAgentRoutes } from './http/agentRoutes.js';
import { registerAccountRoutes } from './http/accountRoutes.js';
import { registerDataRightsRoutes } from './http/dataRightsRoutes.js';
import { registerSearchRoutes } from './http/searchRoutes.js';
import { registerComposerRoutes } from './http/composerRoutes.js';
import { RetentionJob } from './domain/retention.js';

export const VERSION = '0.1.0';

export interface RunningServer {
  url: string;
  port: number;
  db: Db;
  workspace: Workspace;
  auth: AuthService;
  relay: RelayWorker;
  inboxes: InboxAdmin;
  attachments: AttachmentStore;
  sockets: SyncSockets;
  housekeeping: Housekeeping;
  /** Service operations: events of committed facts and durable timers. */
  ops: OpsBus;
  clock: ServerClock;
  routing: RoutingService;
  /** [accounts] */
  accounts: AccountService;
  retention: RetentionJob;
  secret: string;
  seeded: boolean;
  close(): Promise<void>;
}

export interface ServerOptions {
  config: Config;
  logger?: Logger;
  /**
   * Extensions registered after the built-in ones (channels/registry.ts); one with the key of a
   * built-in one replaces it (tests inject fakes and test providers).
   */
  providers?: Extension[];
  /** Replace the api provider (tests inject fetch). */
  apiProvider?: ChannelProvider;
}

/** A built app of a sibling workspace package, if present (the monorepo layout). */
function siblingBuild(rel: string): string | null {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidate = path.resolve(here, '../..', rel);
  return fs.existsSync(candidate) ? candidate : null;
}

/** Starts one server process: HTTP API, sync socket, webhooks, relay worker and the web app. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const cfg = opts.config;
  setEgressAllow(cfg.egressAllow);
  const logger = opts.logger ?? createLogger(cfg.logLevel);
  const db = openDb({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
  // Built-in extensions first; options replace them by key (tests inject fakes).
  const providers = new ProviderRegistry();
  for (const e of [...builtinExtensions(), ...(opts.apiProvider ? [opts.apiProvider] : []), ...(opts.providers ?? [])]) providers.register(e);
  await migrate(db, providers.migrations());
  const secret = await serverSecret(db, cfg.dataDir, cfg.secret).catch(async (e: unknown) => {
    await db.close();
    throw e;
  });
  const clock = serverClock(cfg.testClockFile);
  const workspace = new Workspace(db, logger, clock.now);
  const ops = new OpsBus(workspace, { now: clock.now, intervalMs: cfg.opsIntervalMs, logger });
  registerOps(ops, { workspace, logger, clock });
  // [trust] API-key rate limits count across the processes (Redis) when they scale out.
  const rateLimiter: RateLimiter = cfg.redisUrl ? new RedisRateLimiter(cfg.redisUrl, logger) : new LocalRateLimiter();
  const auth = new AuthService(db, new AccessTokens(secret, cfg.accessTtlSeconds), cfg.refreshTtlSeconds, Date.now, { rateLimiter });
  const housekeeping = new Housekeeping(db, logger, { intervalMs: cfg.housekeepingIntervalMs });
  const inboxes = new InboxAdmin(workspace, providers, secret);
  const attachments = new AttachmentStore(db, cfg.dataDir, secret, workspace.ids);
  workspace.attachmentUrl = (id, tenantId) => attachments.signedUrl(id, tenantId);
  const presence = new Emitter<PresenceUpdate>(); // agents' awareness (presence, typing), for the extensions
  // The extensions' dependencies: ingest runs their afterInbound hooks, status changes their onStatus hooks.
  const deps: ProviderDeps = providers.bind({ workspace, logger, attachments, inboxSettings: (id) => inboxes.settings(id), requireAgent: requireAgent(auth), authenticate: (t) => auth.authenticate(t), keyFor: (purpose) => hmacHex(secret, `extension-key:${purpose}`), presence });

  const seeded = cfg.demo ? await seedDemo(workspace, secret, { history: { days: cfg.demoHistoryDays, deps: { db, logger, providers, deps } } }) : false;

  const accounts = new AccountService(db, auth, secret, workspace.ids);
  const retention = new RetentionJob(db, {
    intervalMs: cfg.retentionIntervalMs,
    owner: `${process.pid}-${workspace.ids.next()}`,
    removeBlobs: (shas) => attachments.removeBlobs(shas),
    onError: (e) => logger.warn('retention: purge failed; will retry', { error: String(e) }),
  });
  const http = createHttp(logger, {
    trustProxy: cfg.trustProxy,
    ...(cfg.tls ? { https: { cert: fs.readFileSync(cfg.tls.cert), key: fs.readFileSync(cfg.tls.key) }, hstsMaxAge: cfg.tls.hstsMaxAge } : {}),
  });
  registerRoutes(http, { auth, workspace, inboxes, version: VERSION });
  registerAttachmentRoutes(http, { auth, store: attachments, workspace });
  registerCannedRoutes(http, { auth, workspace });
  registerTestRoutes(http, { auth, clock });
  registerAutomationRoutes(http, { auth, workspace, clock, inboxes });
  registerReportRoutes(http, { auth, workspace, now: clock.now });
  registerContactRoutes(http, { auth, workspace, now: clock.now });
  registerFieldRoutes(http, { auth, workspace, now: clock.now });
  registerTrustRoutes(http, { auth, workspace });
  const routing = routingService(ops);
  registerRoutingRoutes(http, { auth, workspace, routing });
  registerSlaRoutes(http, { auth, workspace, now: () => clock.now() });
  registerAgentRoutes(http, { auth, accounts, routing });
  registerAccountRoutes(http, { auth, accounts });
  registerDataRightsRoutes(http, { auth, workspace, removeBlobs: (shas) => attachments.removeBlobs(shas) });
  registerSearchRoutes(http, { auth, workspace }); // [search]
  registerComposerRoutes(http, { auth, workspace, now: () => clock.now() });
  for (const e of providers.all()) e.routes?.(http, deps);
  serveWebApp(http, cfg.webDir ?? siblingBuild('desktop/dist/renderer'));
  serveWebApp(http, siblingBuild('mobile/dist/build/h5'), '/m', 'mobile H5 app');

  // Several server processes on one PostgreSQL fan out through Redis; one process needs nothing.
  const broker: Broker = cfg.redisUrl ? new RedisBroker(cfg.redisUrl, logger) : new LocalBroker();
  if (broker instanceof RedisBroker) await broker.whenReady();
  const docs = new DocManager(db, logger, {
    onUpdate: (t, d, u) => broker.publish({ k: 'yjs', t, d, u }),
    onAwareness: (t, d, u) => {
      presence.emit({ tenantId: t, doc: d, update: u });
      broker.publish({ k: 'aw', t, d, u });
    },
    onLoaded: (t, d) => broker.publish({ k: 'awq', t, d }),
    quotaBytes: cfg.docQuotaBytes,
  });
  const sockets = new SyncSockets(auth, workspace, docs, logger);
  sockets.attach(http.server);
  const relay = new RelayWorker({ db, workspace, providers, deps, logger, intervalMs: cfg.relayIntervalMs, leaseMs: cfg.relayLeaseMs, now: clock.now });
  sockets.presence = routing;

  broker.onMessage((m) => {
    switch (m.k) {
      case 'poke':
        return sockets.poke(m.t, m.s);
      case 'yjs':
        return docs.applyRemote(m.t, m.d, m.u);
      case 'aw':
        presence.emit({ tenantId: m.t, doc: m.d, update: m.u });
        return docs.applyRemoteAwareness(m.t, m.d, m.u);
      case 'awq': {
        const u = docs.localAwareness(m.t, m.d);
        if (u) broker.publish({ k: 'aw', t: m.t, d: m.d, u });
        return;
      }
      case 'rev':
        auth.forgetSession(m.s);
        sockets.closeSession(m.s, m.w === true);
        return;
    }
  });
  auth.revoked.on((sessionId) => {
    sockets.closeSession(sessionId);
    broker.publish({ k: 'rev', s: sessionId });
  });
  auth.wiped.on((sessionId) => {
    sockets.closeSession(sessionId, true);
    broker.publish({ k: 'rev', s: sessionId, w: true });
  });
  workspace.committed.on(({ tenantId, seq }) => {
    sockets.poke(tenantId, seq);
    broker.publish({ k: 'poke', t: tenantId, s: seq });
  });
  workspace.relayEnqueued.on(() => relay.kick());
  workspace.committed.on(() => ops.kick());

  await http.listen({ port: cfg.port, host: cfg.host });
  const port = (http.server.address() as AddressInfo).port;
  relay.start();
  housekeeping.start();
  ops.start();
  routing.start();
  retention.start();
  const receivers = await Promise.all(providers.all().map((p) => p.start?.(deps)));
  const scheme = cfg.tls ? 'https' : 'http';
  logger.info('server: listening', { url: `${scheme}://${cfg.host}:${port}`, database: db.dialect });

  let closing: Promise<void> | null = null;
  return {
    url: `${scheme}://${cfg.host}:${port}`,
    port,
    db,
    workspace,
    auth,
    relay,
    inboxes,
    attachments,
    sockets,
    housekeeping,
    ops,
    clock,
    routing,
    accounts,
    retention,
    secret,
    seeded,
    close: () =>
      (closing ??= (async () => {
        await relay.stop();
        await ops.stop();
        routing.stop();
        await housekeeping.stop();
        await retention.stop();
        for (const r of receivers) await r?.stop();
        await sockets.close();
        await http.close();
        await docs.closeAll();
        await broker.close();
        await rateLimiter.close();
        await routing.drain();
        await db.close();
      })()),
  };
}
