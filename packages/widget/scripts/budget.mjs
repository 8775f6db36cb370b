// The widget's size budget (gzip): the loader every page of the site downloads stays a few KB; the
// chat UI, loaded only when needed, stays small too (no framework, no whole @goutong/core).
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export const BUDGET = { loader: 2 * 1024, chat: 14 * 1024 };

export function sizes(dir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const gz = (f) => gzipSync(fs.readFileSync(path.join(dir, f)), { level: 9 }).length;
  return { loader: gz(manifest.loader), chat: gz(manifest.chat), manifest };
}

export function checkBudget(dir, log = console.log) {
  const s = sizes(dir);
  let ok = true;
  for (const k of ['loader', 'chat']) {
    const line = `widget ${k}: ${(s[k] / 1024).toFixed(2)} KiB gzip (budget ${(BUDGET[k] / 1024).toFixed(0)} KiB)`;
    if (s[k] > BUDGET[k]) {
      ok = false;
      log(`FAIL ${line}`);
    } else log(`ok   ${line}`);
  }
  return ok;
}
