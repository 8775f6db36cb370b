import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, PeerProcess, SHARED_PEERS, waitForPort } from './process.js';

export { freePort, PeerProcess, SHARED_PEERS, waitForPort };

/**
 * Real protocol peers for tests (Debian's dovecot-imapd/dovecot-lmtpd, postfix, kannel and
 * kannel-extras), started from the configurations in shared/peers with @PEER_DIR@ replaced by a
 * temp dir and the fixed ports replaced by free loopback ports. Each peer is stopped by its PID
 * (its process group), never by name.
 */


export const BIN = {
  dovecot: '/usr/sbin/dovecot',
  postfix: '/usr/sbin/postfix',
  bearerbox: '/usr/sbin/bearerbox',
  smsbox: '/usr/sbin/smsbox',
  fakesmsc: '/usr/lib/kannel/test/fakesmsc',
};

/** Which peers are installed; tests fail with this message rather than skip silently. */
export function missingPeers(names: (keyof typeof BIN)[]): string | null {
  const missing = names.filter((n) => !fs.existsSync(BIN[n]));
  if (!fs.existsSync(SHARED_PEERS)) return `shared peer configs not found at ${SHARED_PEERS}`;
  return missing.length ? `missing ${missing.join(', ')}: apt-get install dovecot-imapd dovecot-lmtpd postfix kannel kannel-extras` : null;
}

function render(file: string, subs: [string | RegExp, string][]): string {
  let s = fs.readFileSync(file, 'utf8');
  for (const [a, b] of subs) s = typeof a === 'string' ? s.replaceAll(a, b) : s.replace(a, b);
  return s;
}

function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, 0o755);
  return d;
}

// ----- Dovecot (IMAP + LMTP) -----------------------------------------------------------------

export interface Dovecot {
  dir: string;
  imapPort: number;
  lmtpPort: number;
  /** Stops the server (connections drop), keeps its mail; `up()` starts it again on the same ports. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

/** Dovecot with the users given (name → password), IMAP and LMTP on free loopback ports. */
export async function startDovecot(users: Record<string, string>): Promise<Dovecot> {
  const dir = tempDir('gt-dovecot-');
  const imapPort = await freePort();
  const lmtpPort = await freePort();
  for (const d of ['dovecot/run', 'dovecot/state', 'dovecot/mail']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const conf = render(path.join(SHARED_PEERS, 'dovecot/dovecot.conf'), [
    ['@PEER_DIR@', dir],
    [/port = 21143/, `port = ${imapPort}`],
    [/port = 21024/, `port = ${lmtpPort}`],
  ]);
  fs.writeFileSync(path.join(dir, 'dovecot/dovecot.conf'), conf);
  fs.writeFileSync(path.join(dir, 'dovecot/users'), Object.entries(users).map(([u, p]) => `${u}:{PLAIN}${p}\n`).join(''));
  // Mail is stored as the `mail` user (the static userdb): let it write.
  fs.chmodSync(path.join(dir, 'dovecot/mail'), 0o777);
  let p: PeerProcess | null = null;
  const up = async () => {
    const proc = new PeerProcess('dovecot', BIN.dovecot, ['-F', '-c', path.join(dir, 'dovecot/dovecot.conf')]);
    p = proc;
    await waitForPort(imapPort, 'dovecot imap', 20_000, () => proc.dead());
    await waitForPort(lmtpPort, 'dovecot lmtp', 20_000, () => proc.dead());
  };
  await up();
  return {
    dir,
    imapPort,
    lmtpPort,
    log: () => `${p?.output ?? ''}\n${safeRead(path.join(dir, 'dovecot/dovecot.log'))}`,
    up,
    async down() {
      await p?.stop();
      p = null;
    },
    async stop() {
      await p?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ----- Postfix (SMTP relay into Dovecot over LMTP) ---------------------------------------------

export interface Postfix {
  dir: string;
  smtpPort: number;
  stop(): Promise<void>;
  log(): string;
}

/** A private Postfix instance: SMTP on a free loopback port, mail for lab.test delivered to Dovecot's LMTP. */
export async function startPostfix(lmtpPort: number): Promise<Postfix> {
  const dir = tempDir('gt-postfix-');
  const smtpPort = await freePort();
  const etc = path.join(dir, 'postfix/etc');
  fs.mkdirSync(etc, { recursive: true });
  fs.mkdirSync(path.join(dir, 'postfix/spool'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'postfix/data'), { recursive: true });
  fs.writeFileSync(path.join(etc, 'main.cf'), render(path.join(SHARED_PEERS, 'postfix/etc/main.cf'), [['@PEER_DIR@', dir], ['127.0.0.1:21024', `127.0.0.1:${lmtpPort}`]]));
  fs.writeFileSync(path.join(etc, 'master.cf'), render(path.join(SHARED_PEERS, 'postfix/etc/master.cf'), [['@PEER_DIR@', dir], ['127.0.0.1:21025', `127.0.0.1:${smtpPort}`]]));
  const owner = await idOf('postfix');
  if (owner) fs.chownSync(path.join(dir, 'postfix/data'), owner.uid, owner.gid);
  const p = new PeerProcess('postfix', BIN.postfix, ['-c', etc, 'start-fg']);
  await waitForPort(smtpPort, 'postfix smtpd', 30_000, () => p.dead());
  return {
    dir,
    smtpPort,
    log: () => `${p.output}\n${safeRead(path.join(dir, 'postfix/postfix.log'))}`,
    async stop() {
      // The master's pid file first (it stops its daemons), then the group.
      const pidFile = path.join(dir, 'postfix/spool/pid/master.pid');
      const pid = Number(safeRead(pidFile).trim());
      if (pid > 1) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      await p.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ----- Kannel (bearerbox + smsbox) and fakesmsc -------------------------------------------------

export interface FakeSmscMessage {
  from: string;
  to: string;
  type: string;
  text: string;
  /** How many SMS it came in (concatenated parts). */
  parts: number;
}

export interface Kannel {
  dir: string;
  sendsmsUrl: string;
  adminPort: number;
  /** Sends an MO SMS from the fake SMSC (`from to type payload`, payload URL-encoded for data/ucs2). */
  mo(from: string, to: string, text: string): void;
  /** MT messages fakesmsc received, decoded. */
  received(): FakeSmscMessage[];
  stop(): Promise<void>;
  log(): string;
}

function percentBytes(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

/** Kannel from the shared config, with the get-url pointed at `getUrl` and every port free. */
export async function startKannel(getUrl: string): Promise<Kannel> {
  const dir = tempDir('gt-kannel-');
  fs.mkdirSync(path.join(dir, 'kannel'), { recursive: true });
  const [admin, box, smsc, sendsms] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const conf = render(path.join(SHARED_PEERS, 'kannel/kannel.conf'), [
    ['@PEER_DIR@', dir],
    [/admin-port = 23000/, `admin-port = ${admin}`],
    [/smsbox-port = 23001/, `smsbox-port = ${box}`],
    [/bearerbox-port = 23001/, `bearerbox-port = ${box}`],
    [/port = 23010/, `port = ${smsc}`],
    [/sendsms-port = 23013/, `sendsms-port = ${sendsms}`],
    [/^get-url = .*$/m, `get-url = "${getUrl}"`],
  ]);
  const confFile = path.join(dir, 'kannel/kannel.conf');
  fs.writeFileSync(confFile, conf);
  const bearerbox = new PeerProcess('bearerbox', BIN.bearerbox, [confFile]);
  await waitForPort(smsc, 'bearerbox fake smsc', 20_000, () => bearerbox.dead());
  await waitForPort(box, 'bearerbox smsbox port', 20_000, () => bearerbox.dead());
  const smsbox = new PeerProcess('smsbox', BIN.smsbox, [confFile]);
  await waitForPort(sendsms, 'smsbox sendsms', 20_000, () => smsbox.dead());
  // fakesmsc in interactive mode: each stdin line is one MO message; it prints MT messages it gets.
  const fake = new PeerProcess('fakesmsc', BIN.fakesmsc, ['-H', '127.0.0.1', '-r', String(smsc), '-i', '0.1', '-m', '-1'], { stdin: true });
  // Online once bearerbox reports the SMSC connected.
  const start = Date.now();
  for (;;) {
    const st = await fetch(`http://127.0.0.1:${admin}/status.txt?password=labadmin`).then((r) => r.text()).catch(() => '');
    if (/FAKE.*\(online/i.test(st) || /online \d+s/.test(st)) break;
    if (fake.dead()) throw new Error(`fakesmsc exited: ${fake.dead()}`);
    if (Date.now() - start > 20_000) throw new Error(`the fake SMSC did not come online:\n${st}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const decode = (type: string, payload: string) => {
    const bytes = percentBytes(type === 'data' || type === 'text' ? payload.replace(/\+/g, ' ') : payload);
    return type === 'ucs-2' || type === 'ucs2' ? Buffer.from(bytes).swap16().toString('utf16le') : bytes.toString('utf8');
  };
  const received = (): FakeSmscMessage[] => {
    const out: FakeSmscMessage[] = [];
    // Concatenated parts (UDH 05 00 03 ref total seq) are put back together.
    const partial = new Map<string, { total: number; parts: Map<number, string>; from: string; to: string; type: string }>();
    for (const m of fake.output.matchAll(/Got message \d+: <(\S+) (\S+) (\S+) ([^>\n]*)>/g)) {
      const [, from, to, type, rest] = m as unknown as [string, string, string, string, string];
      if (type !== 'udh') {
        out.push({ from, to, type, text: decode(type, rest), parts: 1 });
        continue;
      }
      const u = /^(\S+) (\S+) (.*)$/.exec(rest);
      if (!u) continue;
      const udh = percentBytes(u[1]!);
      const text = decode(u[2]!, u[3]!);
      if (udh.length >= 6 && udh[1] === 0x00) {
        const key = `${from}|${to}|${udh[3]}`;
        const p = partial.get(key) ?? { total: udh[4]!, parts: new Map(), from, to, type: u[2]! };
        p.parts.set(udh[5]!, text);
        partial.set(key, p);
        if (p.parts.size === p.total) {
          out.push({ from, to, type: p.type, text: [...p.parts.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]).join(''), parts: p.total });
          partial.delete(key);
        }
      } else out.push({ from, to, type: u[2]!, text, parts: 1 });
    }
    return out;
  };
  return {
    dir,
    sendsmsUrl: `http://127.0.0.1:${sendsms}/cgi-bin/sendsms`,
    adminPort: admin,
    mo(from, to, text) {
      // "data" carries URL-encoded bytes: UTF-8 text arrives intact whatever it holds.
      const payload = [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
      fake.child.stdin!.write(`${from} ${to} data ${payload}\n`);
    },
    received,
    log: () => `--- bearerbox\n${bearerbox.output.slice(-3000)}\n--- smsbox\n${smsbox.output.slice(-3000)}\n--- fakesmsc\n${fake.output.slice(-3000)}`,
    async stop() {
      await fake.stop(2000);
      await smsbox.stop();
      await bearerbox.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

async function idOf(user: string): Promise<{ uid: number; gid: number } | null> {
  const line = safeRead('/etc/passwd').split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) return null;
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}
