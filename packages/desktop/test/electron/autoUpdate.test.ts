// Issue 15: auto-update with electron-updater against a generic feed, in Node: a local HTTP feed
// serves latest.yml and a fake installer with its sha512; electron-updater's real NsisUpdater checks,
// downloads and verifies it (an HTTP executor on Node's http stands in for Electron's `net`, and an
// AppAdapter for Electron's `app`; `electron` itself is the fake of test/electron/fakeElectron.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Updater, newer, updateFeedUrl, updaterEnabled, type UpdaterLike } from '../../src/main/updater';

vi.mock('electron', async () => (await import('./fakeElectron')).fakeElectronModule());

const require = createRequire(import.meta.url);
// electron-updater's own modules (its HTTP executor base and the NSIS updater).
const { NsisUpdater } = require('electron-updater') as typeof import('electron-updater');
const { ElectronHttpExecutor } = require('electron-updater/out/electronHttpExecutor') as { ElectronHttpExecutor: new () => { createRequest(o: unknown, cb: (r: unknown) => void): unknown } };

/** Electron's `net` replaced by Node's http for the test; everything else is electron-updater's. */
class NodeHttpExecutor extends ElectronHttpExecutor {
  override createRequest(options: http.RequestOptions, callback: (r: http.IncomingMessage) => void): http.ClientRequest {
    return http.request(options, callback);
  }
}

const ARTIFACT = crypto.randomBytes(200_000);
const sha512 = (b: Buffer) => crypto.createHash('sha512').update(b).digest('base64');

interface Feed {
  url: string;
  version: string;
  sha: string;
  hits: string[];
  close(): Promise<void>;
}

async function startFeed(): Promise<Feed> {
  const feed = { version: '0.2.0', sha: sha512(ARTIFACT), hits: [] as string[] } as Feed;
  const server = http.createServer((req, res) => {
    feed.hits.push(req.url ?? '');
    const name = `Goutong-Setup-${feed.version}-x64.exe`;
    // The channel file of the platform the test runs on (latest.yml, latest-linux.yml, latest-mac.yml).
    if (/^\/latest(-linux|-mac)?\.yml/.test(req.url ?? '')) {
      res.setHeader('content-type', 'text/yaml');
      res.end(`version: ${feed.version}\nfiles:\n  - url: ${name}\n    sha512: ${feed.sha}\n    size: ${ARTIFACT.length}\npath: ${name}\nsha512: ${feed.sha}\nreleaseDate: '2026-12-01T00:00:00.000Z'\n`);
    } else if (req.url === `/${name}`) {
      res.setHeader('content-length', String(ARTIFACT.length));
      res.end(ARTIFACT);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  feed.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  feed.close = () => new Promise((r) => server.close(() => r()));
  return feed;
}

function testApp(dir: string, feedUrl: string) {
  fs.writeFileSync(path.join(dir, 'app-update.yml'), `provider: generic\nurl: ${feedUrl}\nupdaterCacheDirName: goutong-updater\n`);
  let quits = 0;
  return {
    quits: () => quits,
    adapter: {
      version: '0.1.0',
      name: 'Goutong',
      isPackaged: true,
      appUpdateConfigPath: path.join(dir, 'app-update.yml'),
      userDataPath: path.join(dir, 'userData'),
      baseCachePath: path.join(dir, 'cache'),
      whenReady: () => Promise.resolve(),
      relaunch: () => undefined,
      quit: () => void quits++,
      onQuit: () => undefined,
    },
  };
}

function realUpdater(dir: string, feedUrl: string): UpdaterLike {
  const app = testApp(dir, feedUrl);
  const u = new NsisUpdater(null, app.adapter);
  (u as unknown as { httpExecutor: unknown }).httpExecutor = new NodeHttpExecutor();
  u.logger = null;
  return u as unknown as UpdaterLike;
}

let feed: Feed;
const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-update-'));
  dirs.push(d);
  return d;
};
beforeAll(async () => {
  feed = await startFeed();
});
afterAll(async () => {
  await feed?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('auto-update against a local generic feed', () => {
  it('finds 0.2.0, downloads the installer and checks its sha512; it installs on quit', async () => {
    feed.version = '0.2.0';
    feed.sha = sha512(ARTIFACT);
    const dir = tmp();
    const real = realUpdater(dir, feed.url);
    const updater = new Updater(true, async () => real, '0.1.0', feed.url);
    const states: string[] = [];
    updater.onState((s) => states.push(s.status));
    const end = await updater.checkAndDownload();
    expect(end.status, JSON.stringify(end)).toBe('downloaded');
    if (end.status !== 'downloaded') return;
    expect(end.version).toBe('0.2.0');
    expect(states).toEqual(['checking', 'idle', 'downloading', 'downloaded']);
    const file = end.files.find((f) => f.endsWith('.exe'))!;
    expect(fs.readFileSync(file).equals(ARTIFACT)).toBe(true);
    expect(file.startsWith(path.join(dir, 'cache', 'goutong-updater'))).toBe(true);
    expect(feed.hits.some((h) => /^\/latest(-linux|-mac)?\.yml/.test(h))).toBe(true);
    expect(real.autoDownload).toBe(false);
    expect(real.autoInstallOnAppQuit).toBe(true);
  });

  it('refuses an installer whose sha512 does not match latest.yml', async () => {
    feed.version = '0.2.1';
    feed.sha = sha512(Buffer.from('something else'));
    const updater = new Updater(true, async () => realUpdater(tmp(), feed.url), '0.1.0', feed.url);
    const end = await updater.checkAndDownload();
    expect(end.status).toBe('error');
    if (end.status === 'error') expect(end.message).toMatch(/sha512/i);
  });

  it('reports no update when the feed has the running version', async () => {
    feed.version = '0.1.0';
    feed.sha = sha512(ARTIFACT);
    const updater = new Updater(true, async () => realUpdater(tmp(), feed.url), '0.1.0', feed.url);
    await expect(updater.check()).resolves.toMatchObject({ enabled: true, available: false });
    expect(updater.state).toEqual({ status: 'none', version: '0.1.0' });
    expect(updater.install()).toBe(false);
  });

  it('is on with a feed URL or GOUTONG_AUTO_UPDATE=1; compares versions', () => {
    expect(updaterEnabled({})).toBe(false);
    expect(updaterEnabled({ GOUTONG_UPDATE_URL: 'https://updates.example/goutong/' })).toBe(true);
    expect(updateFeedUrl({ GOUTONG_UPDATE_URL: 'file:///etc' })).toBeNull();
    expect(newer('0.2.0', '0.1.9')).toBe(true);
    expect(newer('0.2.0-beta.1', '0.2.0')).toBe(false);
    expect(newer('0.2.0', '0.2.0-beta.1')).toBe(true);
    expect(newer('0.1.0', '0.1.0')).toBe(false);
  });
});
