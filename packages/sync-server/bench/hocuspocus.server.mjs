// The Hocuspocus anchor of bench/server.bench.ts, in its own process: @hocuspocus/server 2.x with
// a token check per document (onAuthenticate, as Goutong checks each subscription) and its usual
// persistence (onStoreDocument, debounced: the document's whole state into SQLite with
// synchronous=FULL, like Goutong's database). Prints `hocuspocus listening on <port>`.
import Database from 'better-sqlite3';
import * as Y from 'yjs';
import { Hocuspocus } from '@hocuspocus/server';

const db = new Database(process.env.HP_DB);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE IF NOT EXISTS docs (name TEXT PRIMARY KEY, state BLOB NOT NULL)');
const put = db.prepare('INSERT INTO docs (name, state) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET state = excluded.state');
const get = db.prepare('SELECT state FROM docs WHERE name = ?');

const server = new Hocuspocus({
  port: 0,
  address: '127.0.0.1',
  quiet: true,
  async onAuthenticate({ token }) {
    if (token !== process.env.HP_TOKEN) throw new Error('forbidden');
  },
  async onLoadDocument({ document, documentName }) {
    const r = get.get(documentName);
    if (r) Y.applyUpdate(document, r.state);
    return document;
  },
  async onStoreDocument({ document, documentName }) {
    put.run(documentName, Buffer.from(Y.encodeStateAsUpdate(document)));
  },
});
await server.listen();
console.log(`hocuspocus listening on ${server.address.port}`);
process.on('SIGTERM', () => {
  void server.destroy().then(() => process.exit(0));
});
