import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Config } from './config.js';
import { openDb } from './db/db.js';
import { migrate } from './db/migrations.js';
import { Workspace } from './domain/workspace.js';
import { allTenants, createTenant, tenantBySlug } from './domain/tenants.js';
import { silentLogger } from '@goutong/core';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { decryptSecret, encryptSecret, hmacHex } from './auth/crypto.js';
import { readKey, SECRET_FILE } from './auth/secretKey.js';
import { rotateSealedValues } from './domain/keys.js';
import { rebuildReports } from './domain/reportRebuild.js';
import { calendarFor } from './domain/businessHours.js';

const CreateTenantArgs = z.object({
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'slug: lower-case letters, digits and -'),
  name: z.string().min(1).max(200),
  'admin-email': z.string().email(),
  'admin-name': z.string().min(1).max(200).default('Admin'),
  team: z.string().min(1).max(200).default('Support'),
});

/**
 * `goutong-server create-tenant --slug acme --name "Acme" --admin-email a@acme.test` creates a
 * workspace with its first admin (password from GOUTONG_ADMIN_PASSWORD, at least 12 characters),
 * for installations that run with GOUTONG_DEMO=0.
 */
export async function runCli(argv: string[], config: Config, env: Record<string, string | undefined>): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'rotate-secret') return rotateSecret(rest, config);
  if (cmd === 'rebuild-reports') return rebuildReportsCli(rest, config);
  if (cmd !== 'create-tenant') {
    process.stderr.write(`unknown command ${cmd ?? ''}; available: create-tenant, rotate-secret, rebuild-reports\n`);
    return 2;
  }
  const { values } = parseArgs({ args: rest, options: { slug: { type: 'string' }, name: { type: 'string' }, 'admin-email': { type: 'string' }, 'admin-name': { type: 'string' }, team: { type: 'string' } }, strict: true });
  const args = CreateTenantArgs.safeParse(values);
  const password = env.GOUTONG_ADMIN_PASSWORD ?? '';
  if (!args.success) {
    process.stderr.write(`${args.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')}\n`);
    return 2;
  }
  if (password.length < 12) {
    process.stderr.write('set GOUTONG_ADMIN_PASSWORD (at least 12 characters) for the first admin\n');
    return 2;
  }
  const db = openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrate(db);
    const ws = new Workspace(db, silentLogger);
    if (await tenantBySlug(db, args.data.slug)) {
      process.stderr.write(`a workspace "${args.data.slug}" exists already\n`);
      return 1;
    }
    await createTenant(
      ws,
      {
        slug: args.data.slug,
        name: args.data.name,
        teams: [args.data.team],
        agents: [{ email: args.data['admin-email'], name: args.data['admin-name'], role: 'admin', teams: [args.data.team], password }],
      },
      { agentId: null, action: 'tenant.create', details: { slug: args.data.slug, via: 'cli' } },
    );
    process.stdout.write(`created workspace "${args.data.slug}" with admin ${args.data['admin-email']}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

const keyCheck = (key: string) => hmacHex(key, 'goutong:server-key-check').slice(0, 32);

/**
 * [accounts] `goutong-server rotate-secret --new-key-file F`: re-seals every sealed value with the
 * key in F in one transaction (safe to re-run). The current key comes from GOUTONG_SECRET,
 * GOUTONG_SECRET_FILE or the data directory's secret.key; a key kept in the data directory is
 * replaced there; a configured one must be changed by the operator afterwards (the command says so).
 * Access tokens and signed attachment URLs made with the old key stop working (clients refresh).
 */
async function rotateSecret(rest: string[], config: Config): Promise<number> {
  let values: { 'new-key-file'?: string | undefined };
  try {
    values = parseArgs({ args: rest, options: { 'new-key-file': { type: 'string' } }, strict: true }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const file = values['new-key-file'];
  if (!file) {
    process.stderr.write('usage: rotate-secret --new-key-file FILE (the new key: at least 32 characters)\n');
    return 2;
  }
  let next: string;
  try {
    next = fs.readFileSync(file, 'utf8').trim();
  } catch (e) {
    process.stderr.write(`cannot read ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  if (next.length < 32) {
    process.stderr.write(`${file}: the new key is shorter than 32 characters\n`);
    return 2;
  }
  const keyFile = path.join(config.dataDir, SECRET_FILE);
  const current = config.secret ?? readKey(keyFile);
  const db = openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrate(db);
    const r = await rotateSealedValues(db, {
      oldCheck: current ? keyCheck(current) : null,
      newCheck: keyCheck(next),
      openOld: (v) => {
        if (!current) throw new Error('no current key (GOUTONG_SECRET, GOUTONG_SECRET_FILE or secret.key) to open the sealed values with');
        return decryptSecret(current, v);
      },
      openNew: (v) => decryptSecret(next, v),
      sealNew: (p) => encryptSecret(next, p),
    });
    if (!config.secret) {
      // The key lives in the data directory: replace the file (write aside, then rename; 0600).
      const tmp = `${keyFile}.${crypto.randomBytes(4).toString('hex')}.tmp`;
      fs.writeFileSync(tmp, `${next}\n`, { mode: 0o600, flag: 'wx' });
      fs.renameSync(tmp, keyFile);
    }
    process.stdout.write(
      `${r.state === 'rotated' ? 'rotated' : 'already rotated'}: ${r.resealed} value(s) re-sealed, ${r.alreadyNew} already sealed with the new key\n` +
        (config.secret ? 'now give every server the new key (GOUTONG_SECRET or GOUTONG_SECRET_FILE) and restart them\n' : `the new key is in ${keyFile}; restart the servers\n`),
    );
    return 0;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  } finally {
    await db.close();
  }
}

/**
 * [reports] `goutong-server rebuild-reports [--tenant slug]`: recomputes the report rollups of every
 * workspace (or one) from the stored facts (domain/reportRebuild.ts). Safe to run twice and while
 * servers run; concurrent runs take turns.
 */
async function rebuildReportsCli(rest: string[], config: Config): Promise<number> {
  let tenant: string | undefined;
  try {
    tenant = parseArgs({ args: rest, options: { tenant: { type: 'string' } }, strict: true }).values.tenant;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nusage: rebuild-reports [--tenant SLUG]\n`);
    return 2;
  }
  const db = openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrate(db);
    let tenants: Array<{ id: string; slug: string }>;
    if (tenant) {
      const one = await tenantBySlug(db, tenant);
      if (!one) {
        process.stderr.write(`no workspace "${tenant}"\n`);
        return 1;
      }
      tenants = [one];
    } else tenants = await allTenants(db);
    for (const t of tenants) {
      const r = await rebuildReports(db, t.id, { now: Date.now(), calendarOf: (q, c) => calendarFor(q, c.tenantId, { inboxId: c.inboxId, teamId: c.teamId }) });
      process.stdout.write(`${t.slug}: rebuilt the reports of ${r.conversations} conversation(s), ${r.messages} message(s); ${r.pending} pending event(s) marked counted\n`);
    }
    return 0;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  } finally {
    await db.close();
  }
}
