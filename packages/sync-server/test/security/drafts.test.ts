import WebSocket from 'ws';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversationDocName, decodeFrame, encodeFrame, FRAME_AWARENESS, FRAME_SYNC } from '@goutong/core';
import { eventually, loginToken } from '../support/agentClient.js';
import { startTestServer } from '../support/inProcess.js';
import { storedDocBytes } from '../../src/domain/drafts.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
const QUOTA = 64 * 1024;

interface Peer {
  ws: WebSocket;
  texts: { t: string; code?: string; doc?: string }[];
  updates: Uint8Array[];
  awareness: Uint8Array[];
  send(kind: typeof FRAME_SYNC | typeof FRAME_AWARENESS, payload: Uint8Array): void;
}

async function peer(url: string, token: string, doc: string): Promise<Peer> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/sync`);
  const p: Peer = {
    ws,
    texts: [],
    updates: [],
    awareness: [],
    send: (kind, payload) => ws.send(encodeFrame(doc, kind, payload)),
  };
  ws.on('message', (d: Buffer, bin) => {
    if (!bin) return void p.texts.push(JSON.parse(d.toString()));
    const f = decodeFrame(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    if (f.kind === FRAME_AWARENESS) p.awareness.push(f.payload);
    else if (f.payload[0] === syncProtocol.messageYjsUpdate) p.updates.push(f.payload);
  });
  await new Promise<void>((r, j) => {
    ws.on('open', () => r());
    ws.on('error', j);
  });
  ws.send(JSON.stringify({ t: 'auth', token }));
  await eventually(() => p.texts.some((t) => t.t === 'ready'), 'ready');
  ws.send(JSON.stringify({ t: 'sub', doc }));
  // The server's step 1 answers the subscription.
  await eventually(() => p.ws.readyState === WebSocket.OPEN && p.texts.every((t) => t.t !== 'error'), 'subscribed');
  return p;
}

const updateMsg = (u: Uint8Array) => {
  const e = encoding.createEncoder();
  syncProtocol.writeUpdate(e, u);
  return encoding.toUint8Array(e);
};
const awarenessMsg = (a: awarenessProtocol.Awareness) => {
  const e = encoding.createEncoder();
  encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(a, [a.clientID]));
  return encoding.toUint8Array(e);
};

/** Hole 4: draft documents have a size quota; presence is bound to the socket's own agent. */
describe.each([['sqlite'], ['postgres']] as const)('draft documents on %s', (dialect) => {
  let s: Server;
  let adminToken: string;
  let doc: string;
  let tenantId: string;
  let adminId: string;
  beforeAll(async () => {
    s = await startTestServer(dialect, { GOUTONG_DOC_QUOTA_BYTES: String(QUOTA) });
    adminToken = await loginToken(s.url, 'admin@demo.goutong');
    const r = await fetch(`${s.url}/api/v1/conversations?limit=2`, { headers: { authorization: `Bearer ${adminToken}` } });
    const items = ((await r.json()) as { items: { id: string; tenantId: string }[] }).items;
    doc = conversationDocName(items[1]!.id);
    tenantId = items[1]!.tenantId;
    const me = await fetch(`${s.url}/api/v1/me`, { headers: { authorization: `Bearer ${adminToken}` } });
    adminId = ((await me.json()) as { agent: { id: string } }).agent.id;
  });
  afterAll(async () => s?.stopAll());

  it('draft documents have a size quota: an update past it is refused on that socket, not relayed and not stored', async () => {
    const writer = await peer(s.url, adminToken, doc);
    const watcher = await peer(s.url, await loginToken(s.url, 'admin@demo.goutong'), doc);
    const other = await peer(s.url, await loginToken(s.url, 'admin@demo.goutong'), doc);
    const ydoc = new Y.Doc();
    const text = ydoc.getText('draft');
    const chunk = (c: string) => c.repeat(24 * 1024);
    const sent: Uint8Array[] = [];
    ydoc.on('update', (u: Uint8Array) => sent.push(u));
    text.insert(0, chunk('a'));
    writer.send(FRAME_SYNC, updateMsg(sent[0]!));
    text.insert(0, chunk('b'));
    writer.send(FRAME_SYNC, updateMsg(sent[1]!));
    await eventually(() => watcher.updates.length === 2, 'two updates relayed');
    text.insert(0, chunk('c')); // 72 KiB in all: past the 64 KiB quota
    writer.send(FRAME_SYNC, updateMsg(sent[2]!));
    await eventually(() => writer.texts.find((t) => t.code === 'payload_too_large'), 'the refusal');
    expect(writer.texts.find((t) => t.code === 'payload_too_large')).toMatchObject({ t: 'error', doc });
    expect(writer.ws.readyState).toBe(WebSocket.OPEN); // refused on that document; the socket lives on
    // A small update from another socket still goes through, after the refused one would have.
    const small = new Y.Doc();
    let smallUpdate: Uint8Array | null = null;
    small.on('update', (u: Uint8Array) => (smallUpdate = u));
    small.getText('draft').insert(0, 'ok');
    other.send(FRAME_SYNC, updateMsg(smallUpdate!));
    await eventually(() => watcher.updates.length === 3, 'the small update relayed');
    expect(watcher.updates[2]!.length).toBeLessThan(1024); // the third relayed update is the small one
    await eventually(async () => (await s.db.all('SELECT id FROM yjs_updates WHERE tenant_id = ? AND doc = ?', [tenantId, doc])).length === 3, 'three updates stored');
    const stored = await storedDocBytes(s.db, tenantId, doc);
    expect(stored).toBeLessThanOrEqual(QUOTA);
    // A peer that reconnects and sends everything it has (all known already) is not refused.
    const known = new Y.Doc();
    Y.applyUpdate(known, sent[0]!);
    Y.applyUpdate(known, sent[1]!);
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, syncProtocol.messageYjsSyncStep2);
    encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(known));
    other.send(FRAME_SYNC, encoding.toUint8Array(e));
    other.ws.send(JSON.stringify({ t: 'ping' }));
    await eventually(() => other.texts.some((t) => t.t === 'pong'), 'pong after the resent state');
    expect(other.texts.filter((t) => t.t === 'error')).toEqual([]);
    for (const p of [writer, watcher, other]) p.ws.close();
  });

  it('awareness state is bound to the socket\'s own agent: another agent id or another socket\'s clientID is refused', async () => {
    const d2 = conversationDocName((await (await fetch(`${s.url}/api/v1/conversations?limit=1`, { headers: { authorization: `Bearer ${adminToken}` } })).json() as { items: { id: string }[] }).items[0]!.id);
    const a = await peer(s.url, adminToken, d2);
    const b = await peer(s.url, await loginToken(s.url, 'admin@demo.goutong'), d2);
    // b announces itself honestly.
    const bDoc = new Y.Doc();
    const bAw = new awarenessProtocol.Awareness(bDoc);
    bAw.setLocalState({ agentId: adminId, name: 'Admin', typing: null, device: 'b' });
    b.send(FRAME_AWARENESS, awarenessMsg(bAw));
    await eventually(() => a.awareness.length >= 1, 'b\'s presence reaches a');
    // a pretends to be another agent.
    const fake = new awarenessProtocol.Awareness(new Y.Doc());
    fake.setLocalState({ agentId: 'someone-else', name: 'Mallory', typing: 'typing', device: 'a' });
    a.send(FRAME_AWARENESS, awarenessMsg(fake));
    await eventually(() => a.texts.filter((t) => t.code === 'forbidden').length === 1, 'refusal of a foreign agent id');
    // a claims b's clientID.
    const hijack = new awarenessProtocol.Awareness(new Y.Doc());
    (hijack as unknown as { clientID: number }).clientID = bAw.clientID;
    hijack.setLocalState({ agentId: adminId, name: 'Admin', typing: 'typing', device: 'a' });
    // A clock ahead of b's so the update would win if it were applied.
    hijack.setLocalState({ agentId: adminId, name: 'Admin', typing: 'typing', device: 'a' });
    hijack.setLocalState({ agentId: adminId, name: 'Admin', typing: 'typing', device: 'a' });
    a.send(FRAME_AWARENESS, awarenessMsg(hijack));
    await eventually(() => a.texts.filter((t) => t.code === 'forbidden').length === 2, 'refusal of another socket\'s clientID');
    // b never heard either claim: its own clientID only ever carries its own state.
    const seen = b.awareness.length;
    bAw.setLocalState({ agentId: adminId, name: 'Admin', typing: 'typing', device: 'b' });
    b.send(FRAME_AWARENESS, awarenessMsg(bAw));
    await eventually(() => a.awareness.length >= 2, 'b\'s second presence reaches a');
    expect(b.awareness.length).toBe(seen);
    for (const p of [a, b]) p.ws.close();
  });
});
