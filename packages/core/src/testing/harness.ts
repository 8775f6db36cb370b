import { GoutongClient } from '../client/client.js';
import type { LogFields, Logger } from '../ports/platform.js';
import type { Transport } from '../ports/transport.js';
import type { UploadPorts } from '../client/uploads.js';
import { Uuidv7Generator } from '../util/uuidv7.js';
import { FakeClock } from './fakeClock.js';
import { createMemoryStoreData, MemoryStore, type MemoryStoreData } from './memoryStore.js';
import { ReferenceServer } from './referenceServer.js';
import { deriveSeed, mulberry32, seededBytes, TestNetwork, type FakeNetworkMonitor, type NetworkFaults } from './testNetwork.js';

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: LogFields | undefined;
  at: number;
  source: string;
}

/** A Logger that keeps what it is told (tests read it; `print` dumps it when a check fails). */
export class MemoryLogger implements Logger {
  readonly records: LogRecord[];
  constructor(
    private readonly now: () => number = () => 0,
    private readonly source = '',
    private readonly sink: LogRecord[] = [],
  ) {
    this.records = sink;
  }
  child(source: string): MemoryLogger {
    return new MemoryLogger(this.now, source, this.sink);
  }
  debug(msg: string, fields?: LogFields): void {
    this.add('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.add('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.add('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.add('error', msg, fields);
  }
  print(last = 200): string {
    return this.records
      .slice(-last)
      .map((r) => `${r.at} ${r.source} ${r.level} ${r.msg}${r.fields ? ` ${JSON.stringify(r.fields)}` : ''}`)
      .join('\n');
  }
  private add(level: LogRecord['level'], msg: string, fields: LogFields | undefined): void {
    this.records.push({ level, msg, fields, at: this.now(), source: this.source });
  }
}

export interface TestWorldOptions {
  seed?: number;
  faults?: Partial<NetworkFaults>;
  /** Validate every response with the wire schemas (default true). */
  validate?: boolean;
  tenantId?: string;
  start?: number;
  /** Cap on rows per pull page on the server (forces multi-page pulls). */
  maxPullRows?: number;
  /** [push] Flow-control bounds of the server's pushing sockets (small ones force poke mode). */
  pushFlow?: { highWater: number; lowWater: number };
}

export interface AddClientOptions {
  /** Network identity of the device (default `${agentId}@${n}`). */
  clientId?: string;
  device?: string;
  /** Reuse a device database (an app restart over persistent storage). */
  data?: MemoryStoreData;
  recentForMs?: number;
  /** Call client.start() (default true). */
  start?: boolean;
  /** The upload queue's vault and upload (default: no upload queue). */
  uploads?: UploadPorts<unknown>;
  /** [push] A client of protocol 1.0: its socket never asks for pushed facts (pokes only). */
  pokesOnly?: boolean;
}

/** A device: one GoutongClient over a MemoryStore, on the test network. */
export class TestClient {
  incarnation = 0;
  constructor(
    readonly world: TestWorld,
    readonly id: string,
    readonly agentId: string,
    public client: GoutongClient,
    public store: MemoryStore,
    public transport: Transport,
    readonly options: AddClientOptions,
  ) {}

  get data(): MemoryStoreData {
    return this.store.data;
  }

  get monitor(): FakeNetworkMonitor {
    return this.world.net.monitor(this.id);
  }

  /**
   * Simulates the app being killed and started again over the same database: whatever the old
   * process had in flight never answers (the server may still have applied it).
   */
  async restart(opts: { start?: boolean } = {}): Promise<void> {
    const old = this.client;
    this.world.net.crash(this.id);
    void old.stop();
    const next = this.world.makeClient(this.id, this.agentId, { ...this.options, data: this.store.data }, ++this.incarnation);
    this.client = next.client;
    this.store = next.store;
    this.transport = next.transport;
    if (opts.start ?? this.options.start !== false) await this.client.start();
  }
}

/**
 * The test universe: a FakeClock, a ReferenceServer with one tenant, a seeded TestNetwork and any
 * number of clients. Everything is deterministic for a given seed.
 */
export class TestWorld {
  readonly clock: FakeClock;
  readonly server: ReferenceServer;
  readonly net: TestNetwork;
  readonly tenantId: string;
  readonly seed: number;
  readonly logger: MemoryLogger;
  readonly clients: TestClient[] = [];

  constructor(o: TestWorldOptions = {}) {
    this.seed = o.seed ?? 1;
    this.clock = new FakeClock(o.start !== undefined ? { start: o.start } : {});
    this.server = new ReferenceServer({
      now: () => this.clock.now(),
      timers: this.clock,
      ...(o.maxPullRows !== undefined ? { maxPullRows: o.maxPullRows } : {}),
      ...(o.pushFlow ? { pushFlow: o.pushFlow } : {}),
    });
    this.net = new TestNetwork({
      server: this.server,
      clock: this.clock,
      seed: deriveSeed(this.seed, 'network'),
      ...(o.faults ? { faults: o.faults } : {}),
      ...(o.validate !== undefined ? { validate: o.validate } : {}),
    });
    this.tenantId = o.tenantId ?? 'acme';
    this.server.createTenant({ id: this.tenantId });
    this.logger = new MemoryLogger(() => this.clock.now());
  }

  /** Creates (and by default starts) a client for an agent. */
  async addClient(agentId: string, opts: AddClientOptions = {}): Promise<TestClient> {
    const clientId = opts.clientId ?? `${agentId}@${this.clients.length + 1}`;
    const made = this.makeClient(clientId, agentId, opts, 0);
    const tc = new TestClient(this, clientId, agentId, made.client, made.store, made.transport, opts);
    this.clients.push(tc);
    if (opts.start !== false) await tc.client.start();
    return tc;
  }

  /** @internal */
  makeClient(clientId: string, agentId: string, opts: AddClientOptions, incarnation: number): { client: GoutongClient; store: MemoryStore; transport: Transport } {
    const agent = this.server.agent(agentId);
    if (!agent) throw new Error(`unknown agent ${agentId}`);
    const store = new MemoryStore({ data: opts.data ?? createMemoryStoreData() });
    const net = this.net.transport(clientId, agentId);
    // [push] A 1.0 client: the same transport, whose socket never asks for pushes.
    const transport: Transport = opts.pokesOnly
      ? { pull: (r) => net.pull(r), push: (c) => net.push(c), messages: (i, c, l) => net.messages(i, c, l), openSocket: (h) => net.openSocket(h) }
      : net;
    const label = `${clientId}#${incarnation}`;
    const client = new GoutongClient({
      store,
      transport,
      clock: this.clock,
      ids: new Uuidv7Generator(() => this.clock.now(), seededBytes(mulberry32(deriveSeed(this.seed, `ids:${label}`)))),
      random: mulberry32(deriveSeed(this.seed, `random:${label}`)),
      logger: this.logger.child(label),
      network: this.net.monitor(clientId),
      agent: { id: agent.id, tenantId: agent.tenantId, name: agent.name },
      device: opts.device ?? 'desktop',
      ...(opts.recentForMs !== undefined ? { recentForMs: opts.recentForMs } : {}),
      ...(opts.uploads ? { uploads: opts.uploads } : {}),
    });
    return { client, store, transport };
  }

  /** Runs the clock (flushing promises between timers) until nothing is scheduled. */
  settle(maxMs = 600_000): Promise<boolean> {
    return this.clock.runUntilIdle({ maxMs });
  }

  /**
   * Awaits a promise that needs the network (loadMessagesFromServer…): runs the clock timer by
   * timer until it settles. Throws when nothing is scheduled any more or `maxMs` passed.
   */
  async run<T>(promise: Promise<T>, maxMs = 600_000): Promise<T> {
    let done = false;
    promise.then(
      () => (done = true),
      () => (done = true),
    );
    const limit = this.clock.now() + maxMs;
    await this.clock.flush();
    while (!done) {
      const next = this.clock.nextDue();
      if (next === null || next > limit) throw new Error('TestWorld.run: the promise did not settle');
      await this.clock.tick(next - this.clock.now());
    }
    return promise;
  }

  /** Moves time forward by `ms`, running what falls due. */
  tick(ms: number): Promise<void> {
    return this.clock.tick(ms);
  }

  async dispose(): Promise<void> {
    for (const c of this.clients) {
      this.net.crash(c.id);
      void c.client.stop();
    }
    this.server.close();
  }
}

/** The directory `seedContactCenter` creates. */
export const CONTACT_CENTER = {
  teams: ['support', 'sales'],
  /** alice: support agent; bob: sales agent; erin: agent in both; carol: supervisor; dave: admin. */
  agents: { alice: 'agent', bob: 'agent', erin: 'agent', carol: 'supervisor', dave: 'admin' },
  /** mail: support only; sms: sales only; chat: both teams. */
  inboxes: { mail: 'email', sms: 'sms', chat: 'im' },
} as const;

/**
 * A small contact center: two teams, five agents, three inboxes and `conversations` customer
 * conversations spread over the inboxes (each created by an inbound message).
 */
export function seedContactCenter(world: TestWorld, conversations = 3): { conversationIds: string[] } {
  const s = world.server;
  const t = world.tenantId;
  s.addTeam(t, { id: 'support', name: 'Support' });
  s.addTeam(t, { id: 'sales', name: 'Sales' });
  s.addAgent(t, { id: 'alice', name: 'Alice', role: 'agent', teamIds: ['support'] });
  s.addAgent(t, { id: 'bob', name: 'Bob', role: 'agent', teamIds: ['sales'] });
  s.addAgent(t, { id: 'erin', name: 'Erin', role: 'agent', teamIds: ['support', 'sales'] });
  s.addAgent(t, { id: 'carol', name: 'Carol', role: 'supervisor', teamIds: [] });
  s.addAgent(t, { id: 'dave', name: 'Dave', role: 'admin', teamIds: [] });
  s.addInbox(t, { id: 'mail', name: 'Support mail', channel: 'email', provider: 'smtp', teamIds: ['support'] });
  s.addInbox(t, { id: 'sms', name: 'Sales SMS', channel: 'sms', provider: 'twilio', teamIds: ['sales'] });
  s.addInbox(t, { id: 'chat', name: 'Chat', channel: 'im', provider: 'wildfire', teamIds: ['support', 'sales'] });
  const inboxes = ['mail', 'sms', 'chat'] as const;
  const conversationIds: string[] = [];
  for (let i = 0; i < conversations; i++) {
    const inboxId = inboxes[i % inboxes.length]!;
    const from = inboxId === 'mail' ? `customer${i}@example.com` : inboxId === 'sms' ? `+861380000${String(i).padStart(4, '0')}` : `wf-user-${i}`;
    const r = s.inbound({ inboxId, from, name: `Customer ${i}`, text: `Hello, this is customer ${i}`, providerMessageId: `seed-${i}` });
    conversationIds.push(r.conversation.id);
  }
  return { conversationIds };
}
