// Builds what the e2e tests drive when it is missing or older than its sources: the renderer
// (dist/renderer, served by the sync server at /app), the seeding harness (dist/harness, served to
// Chromium through request interception only) and the server itself (root `tsc -b`).
import { ensureBuilt } from '../../bench/lib/build.mjs';

export default function setup(): void {
  if (process.env.GOUTONG_E2E === '0') return;
  ensureBuilt((s) => process.stdout.write(`[desktop e2e] ${s}\n`), { server: true });
}
