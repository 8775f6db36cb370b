// The committed icons (scripts/icons.mjs renders them from build/source/*.svg) are valid files of
// each format electron-builder needs, and main finds them in a checkout and in a packaged app.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { iconPaths } from '../../src/main/icons';

const build = fileURLToPath(new URL('../../build/', import.meta.url));
const pngSize = (b: Buffer) => {
  expect(b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
};

describe('app and tray icons', () => {
  it('PNG sizes for Linux, an ICO for Windows and an ICNS for macOS, each holding the sizes they need', () => {
    expect(pngSize(fs.readFileSync(path.join(build, 'icon.png')))).toEqual([1024, 1024]);
    for (const s of [16, 32, 48, 64, 128, 256, 512, 1024]) expect(pngSize(fs.readFileSync(path.join(build, 'icons', `${s}x${s}.png`)))).toEqual([s, s]);
    const ico = fs.readFileSync(path.join(build, 'icon.ico'));
    expect([ico.readUInt16LE(0), ico.readUInt16LE(2)]).toEqual([0, 1]);
    const entries = Array.from({ length: ico.readUInt16LE(4) }, (_, i) => {
      const e = 6 + 16 * i;
      const png = ico.subarray(ico.readUInt32LE(e + 12), ico.readUInt32LE(e + 12) + ico.readUInt32LE(e + 8));
      return pngSize(Buffer.from(png))[0];
    });
    expect(entries).toEqual([16, 24, 32, 48, 64, 128, 256]);
    const icns = fs.readFileSync(path.join(build, 'icon.icns'));
    expect(icns.subarray(0, 4).toString('ascii')).toBe('icns');
    expect(icns.readUInt32BE(4)).toBe(icns.length);
    const types: string[] = [];
    for (let at = 8; at < icns.length; at += icns.readUInt32BE(at + 4)) {
      types.push(icns.subarray(at, at + 4).toString('ascii'));
      pngSize(Buffer.from(icns.subarray(at + 8, at + icns.readUInt32BE(at + 4))));
    }
    expect(types).toEqual(['icp4', 'icp5', 'icp6', 'ic07', 'ic08', 'ic09', 'ic10']);
    for (const f of ['tray.png', 'trayTemplate.png']) expect(pngSize(fs.readFileSync(path.join(build, 'tray', f)))).toEqual([16, 16]);
    for (const f of ['tray@2x.png', 'trayTemplate@2x.png']) expect(pngSize(fs.readFileSync(path.join(build, 'tray', f)))).toEqual([32, 32]);
  });

  it('main finds them from a checkout and where electron-builder puts them (extraResources)', () => {
    const dev = iconPaths({ packaged: false, resourcesPath: '/nowhere', mainDir: fileURLToPath(new URL('../../dist/main/', import.meta.url)), platform: 'linux' });
    expect(fs.existsSync(dev.tray)).toBe(true);
    expect(fs.existsSync(dev.window)).toBe(true);
    expect(iconPaths({ packaged: false, resourcesPath: '', mainDir: '/x/dist/main', platform: 'darwin' }).tray).toMatch(/trayTemplate\.png$/);
    const packaged = iconPaths({ packaged: true, resourcesPath: '/opt/Goutong/resources', mainDir: '/asar/dist/main', platform: 'win32' });
    expect(packaged).toEqual({ tray: path.join('/opt/Goutong/resources/icons/tray.png'), window: path.join('/opt/Goutong/resources/icons/256x256.png') });
    const builder = fs.readFileSync(fileURLToPath(new URL('../../electron-builder.yml', import.meta.url)), 'utf8');
    expect(builder).toMatch(/- from: build\/tray\n\s+to: icons/);
    for (const target of ['nsis', 'dmg', 'AppImage']) expect(builder).toContain(target);
  });
});
