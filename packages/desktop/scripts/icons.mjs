#!/usr/bin/env node
// Renders the app and tray icons from their SVG sources (build/source/*.svg) with Debian's Chromium
// (playwright-core, transparent screenshots) and writes what electron-builder and the main process
// use, committed under build/:
//   build/icon.png (1024), build/icons/<n>x<n>.png (Linux AppImage), build/icon.ico (Windows, PNG
//   entries 16–256), build/icon.icns (macOS, ic07–ic10 and icp4–icp6), build/tray/tray*.png.
// Usage: node packages/desktop/scripts/icons.mjs   (CHROMIUM_PATH overrides /usr/bin/chromium)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const pkg = fileURLToPath(new URL('../', import.meta.url));
const build = path.join(pkg, 'build');
const svg = (name) => fs.readFileSync(path.join(build, 'source', name), 'utf8');

async function render(page, source, size) {
  await page.setViewportSize({ width: size, height: size });
  const data = Buffer.from(source).toString('base64');
  await page.setContent(`<html><body style="margin:0;background:transparent"><img src="data:image/svg+xml;base64,${data}" width="${size}" height="${size}" style="display:block"></body></html>`);
  await page.locator('img').evaluate((img) => img.decode());
  return page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } });
}

/** ICO with PNG-compressed entries (Windows Vista and later). */
function ico(images) {
  const head = Buffer.alloc(6 + 16 * images.length);
  head.writeUInt16LE(0, 0);
  head.writeUInt16LE(1, 2);
  head.writeUInt16LE(images.length, 4);
  let offset = head.length;
  images.forEach(({ size, png }, i) => {
    const e = 6 + 16 * i;
    head.writeUInt8(size >= 256 ? 0 : size, e);
    head.writeUInt8(size >= 256 ? 0 : size, e + 1);
    head.writeUInt8(0, e + 2);
    head.writeUInt8(0, e + 3);
    head.writeUInt16LE(1, e + 4);
    head.writeUInt16LE(32, e + 6);
    head.writeUInt32LE(png.length, e + 8);
    head.writeUInt32LE(offset, e + 12);
    offset += png.length;
  });
  return Buffer.concat([head, ...images.map((i) => i.png)]);
}

/** ICNS with PNG entries. */
function icns(entries) {
  const parts = entries.map(({ type, png }) => {
    const h = Buffer.alloc(8);
    h.write(type, 0, 'ascii');
    h.writeUInt32BE(png.length + 8, 4);
    return Buffer.concat([h, png]);
  });
  const h = Buffer.alloc(8);
  h.write('icns', 0, 'ascii');
  h.writeUInt32BE(8 + parts.reduce((n, p) => n + p.length, 0), 4);
  return Buffer.concat([h, ...parts]);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'], headless: true });
try {
  const page = await browser.newPage({ deviceScaleFactor: 1 });
  const app = svg('icon.svg');
  const sizes = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
  const png = {};
  for (const s of sizes) png[s] = await render(page, app, s);
  fs.mkdirSync(path.join(build, 'icons'), { recursive: true });
  fs.writeFileSync(path.join(build, 'icon.png'), png[1024]);
  for (const s of [16, 32, 48, 64, 128, 256, 512, 1024]) fs.writeFileSync(path.join(build, 'icons', `${s}x${s}.png`), png[s]);
  fs.writeFileSync(path.join(build, 'icon.ico'), ico([16, 24, 32, 48, 64, 128, 256].map((size) => ({ size, png: png[size] }))));
  fs.writeFileSync(
    path.join(build, 'icon.icns'),
    icns([['icp4', 16], ['icp5', 32], ['icp6', 64], ['ic07', 128], ['ic08', 256], ['ic09', 512], ['ic10', 1024]].map(([type, s]) => ({ type, png: png[s] }))),
  );
  const tray = svg('tray.svg');
  fs.mkdirSync(path.join(build, 'tray'), { recursive: true });
  const variants = { trayTemplate: ['#000000', 'transparent'], tray: ['#0b7a68', '#ffffff'] };
  for (const [name, [color, hole]] of Object.entries(variants)) {
    const source = tray.replace('fill="COLOR"', `fill="${color}"`).replaceAll('fill="HOLE"', hole === 'transparent' ? 'fill="#000" fill-opacity="0"' : `fill="${hole}"`);
    fs.writeFileSync(path.join(build, 'tray', `${name}.png`), await render(page, source, 16));
    fs.writeFileSync(path.join(build, 'tray', `${name}@2x.png`), await render(page, source, 32));
  }
  process.stdout.write(`icons written under ${build}\n`);
} finally {
  await browser.close();
}
