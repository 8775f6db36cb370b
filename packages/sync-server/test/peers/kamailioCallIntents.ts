import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * [trust] Adds the call-intent route of test/peers/kamailio/gtcall.cfg to the shared lab Kamailio
 * configuration (shared/peers/kamailio/kamailio.cfg): its modules after the shared ones, a
 * `route(GTCALL)` for INVITEs to `gtcall-…` before the location lookup, and the route itself.
 * Throws when the shared configuration no longer has the places it hooks into.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
export const GTCALL_CFG = path.join(here, 'kamailio/gtcall.cfg');
export const GTCALL_MODULES = ['http_client.so', 'json.so'];

export interface CallIntentRoute {
  /** http://127.0.0.1:PORT of the Goutong server */
  serverUrl: string;
  inboxId: string;
  /** the inbox's voicemailToken */
  sipToken: string;
  /** host:port of the PSTN trunk */
  trunk: string;
}

/** Why the route cannot run here (missing Kamailio modules), or null. */
export function missingCallIntentModules(moduleDir = '/usr/lib/x86_64-linux-gnu/kamailio/modules'): string | null {
  const missing = GTCALL_MODULES.filter((m) => !fs.existsSync(path.join(moduleDir, m)));
  return missing.length ? `missing Kamailio modules ${missing.join(', ')}: apt-get install -y kamailio-utils-modules kamailio-json-modules` : null;
}

export function withCallIntentRoute(cfg: string, o: CallIntentRoute): string {
  for (const [k, v] of Object.entries(o)) if (!/^[\w.:/-]+$/.test(v)) throw new Error(`call intent route: ${k} has characters the Kamailio config cannot take: ${v}`);
  const fragment = fs
    .readFileSync(GTCALL_CFG, 'utf8')
    .replaceAll('@GOUTONG_URL@', o.serverUrl.replace(/\/$/, ''))
    .replaceAll('@INBOX_ID@', o.inboxId)
    .replaceAll('@SIP_TOKEN@', o.sipToken)
    .replaceAll('@TRUNK@', o.trunk);
  const section = (name: string) => {
    const m = new RegExp(`#!ifdef ${name}[^\\n]*\\n([\\s\\S]*?)#!endif`).exec(fragment);
    if (!m) throw new Error(`${GTCALL_CFG} has no ${name} section`);
    return m[1];
  };
  const modulesAt = cfg.indexOf('\n#!ifdef WITH_RTPENGINE');
  const lookupAt = cfg.indexOf('\tif (!lookup("location")) {');
  if (modulesAt < 0 || lookupAt < 0 || lookupAt < modulesAt) throw new Error('the shared kamailio.cfg changed: cannot place the call-intent route');
  return [
    cfg.slice(0, modulesAt),
    `\n${section('GTCALL_MODULES')}`,
    cfg.slice(modulesAt, lookupAt),
    '\tif (is_method("INVITE") && $rU =~ "^gtcall-") route(GTCALL);\n',
    cfg.slice(lookupAt),
    `\n${section('GTCALL_ROUTE')}`,
  ].join('');
}
