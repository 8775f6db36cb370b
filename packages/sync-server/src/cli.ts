import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Config } from './config.js';
import { openDb } from './db/db.js';
import { migrate } from './db/migrations.js';
import { Workspace } from './domain/workspace.js';
import { createTenant, tenantBySlug } from './domain/tenants.js';
import { silentLogger } from '@goutong/core';

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
  if (cmd !== 'create-tenant') {
    process.stderr.write(`unknown command ${cmd ?? ''}; available: create-tenant\n`);
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
