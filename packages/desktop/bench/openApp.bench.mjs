// Benchmark of the agent workspace in Chromium with the server unreachable:
//  - time from opening the app (local data present) to the first inbox rows rendered, with 10,000
//    and 100,000 conversations stored locally;
//  - time of a filter change (priority = urgent) on 100,000: first rows, then the exact count.
// Needs the built renderer and harness (`pnpm --filter @goutong/desktop build` and the harness
// build that the e2e globalSetup runs; this script builds them when missing).
// Run: node packages/desktop/bench/openApp.bench.mjs [--runs=N] [--sizes=10000,100000]
// Prints JSON lines.
import { pathToFileURL } from 'node:url';
import { launchChromium, OFFLINE_ORIGIN, seedLocal, serveOffline } from './lib/chromium.mjs';

const round = (x) => Math.round(x * 10) / 10;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Records, in the page, when the first inbox row is in the DOM (ms since navigation start). */
const FIRST_ROW_PROBE = `(() => {
  const done = () => document.querySelector('[role="listbox"] [role="option"].gt-row');
  const mark = () => { if (!window.__firstRowAt && done()) window.__firstRowAt = performance.now(); };
  new MutationObserver(mark).observe(document, { subtree: true, childList: true });
})();`;

async function openOnce(context) {
  const page = await context.newPage();
  try {
    await page.goto(`${OFFLINE_ORIGIN}/app/`);
    await page.waitForFunction(() => window.__firstRowAt, null, { timeout: 120_000, polling: 50 });
    return await page.evaluate(() => window.__firstRowAt);
  } finally {
    await page.close();
  }
}

async function filterChange(context) {
  const page = await context.newPage();
  try {
    await page.goto(`${OFFLINE_ORIGIN}/app/`);
    await page.waitForFunction(() => window.__firstRowAt, null, { timeout: 120_000, polling: 50 });
    // Let the start-up count and view counts finish first.
    await page.waitForTimeout(1_000);
    return await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const select = document.querySelector('select[aria-label="Priority filter"]');
          const list = () => document.querySelector('[role="listbox"]');
          const countBefore = list()?.getAttribute('aria-rowcount');
          let sawGap = false;
          let rowsMs = null;
          let countMs = null;
          const t0 = performance.now();
          const timeout = setTimeout(() => reject(new Error('filter change did not finish in 120 s')), 120_000);
          const tick = () => {
            const row = document.querySelector('[role="option"].gt-row[data-index="0"]');
            if (!row) sawGap = true;
            if (rowsMs === null && sawGap && row && row.textContent.includes('Urgent')) rowsMs = performance.now() - t0;
            const c = list()?.getAttribute('aria-rowcount');
            if (countMs === null && c && c !== countBefore) countMs = performance.now() - t0;
            if (rowsMs !== null && countMs !== null) {
              clearTimeout(timeout);
              resolve({ rowsMs, countMs, count: Number(c) });
            } else requestAnimationFrame(tick);
          };
          select.value = 'urgent';
          select.dispatchEvent(new Event('change'));
          requestAnimationFrame(tick);
        }),
    );
  } finally {
    await page.close();
  }
}

/**
 * @param {{ runs?: number, sizes?: number[], filterSize?: number, print?: boolean }} [opts]
 * @returns {Promise<object[]>} the result lines
 */
export async function runOpenAppBench(opts = {}) {
  const runs = opts.runs ?? 3;
  const sizes = opts.sizes ?? [10_000, 100_000];
  const filterSize = opts.filterSize ?? 100_000;
  const print = opts.print ?? true;
  const { ensureBuilt } = await import('./lib/build.mjs');
  ensureBuilt();
  const out = [];
  const emit = (line) => {
    out.push(line);
    if (print) process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  const browser = await launchChromium();
  try {
    for (const size of sizes) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, locale: 'en-US' });
      try {
        await serveOffline(context);
        await context.addInitScript(FIRST_ROW_PROBE);
        const seeded = await seedLocal(context, { count: size });
        const samples = [];
        for (let i = 0; i < runs; i++) samples.push(await openOnce(context));
        emit({ name: 'desktop-open-to-first-rows', conversations: size, serverReachable: false, runs, medianMs: round(median(samples)), minMs: round(Math.min(...samples)), maxMs: round(Math.max(...samples)), seedMs: round(seeded.ms) });
        if (size === filterSize) {
          const f = await filterChange(context);
          emit({ name: 'desktop-filter-change', conversations: size, filter: 'priority=urgent (Mine, open+pending)', firstRowsMs: round(f.rowsMs), countMs: round(f.countMs), matching: f.count });
        }
      } finally {
        await context.close();
      }
    }
  } finally {
    await browser.close();
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const sizes = arg('sizes')?.split(',').map(Number);
  await runOpenAppBench({ runs: arg('runs') ? Number(arg('runs')) : undefined, sizes });
}
