// Draws the app icons (opaque PNGs: iOS rejects alpha in app icons) without any image library:
// a teal square with a white speech bubble and two overlapping "voices". Run: node scripts/make-icons.mjs
import { deflateSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'static', 'icons');

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(size, rgbAt) {
  const raw = Buffer.alloc(size * (size * 3 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 3 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const [r, g, b] = rgbAt(x, y);
      const o = y * (size * 3 + 1) + 1 + x * 3;
      raw[o] = r;
      raw[o + 1] = g;
      raw[o + 2] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const TEAL = [14, 124, 102];
const WHITE = [255, 255, 255];
const AMBER = [255, 183, 77];

/** Shape in unit coordinates (0..1): which colour covers a point. */
function shade(u, v) {
  // Main bubble: ellipse with a tail at the lower left.
  const inMain = ((u - 0.46) / 0.32) ** 2 + ((v - 0.44) / 0.25) ** 2 <= 1;
  const inTail = v > 0.58 && v < 0.8 && u > 0.22 && u < 0.4 && u - 0.22 < (0.8 - v) * 0.9;
  // Second, smaller bubble overlapping at the lower right (the other side of the conversation).
  const inSecond = ((u - 0.68) / 0.18) ** 2 + ((v - 0.66) / 0.14) ** 2 <= 1;
  if (inSecond) return AMBER;
  if (inMain || inTail) {
    const dots = [0.34, 0.46, 0.58].some((cx) => (u - cx) ** 2 + (v - 0.44) ** 2 <= 0.035 ** 2);
    return dots ? TEAL : WHITE;
  }
  return TEAL;
}

function icon(size) {
  const ss = 4; // supersampling for smooth edges
  return png(size, (x, y) => {
    let r = 0, g = 0, b = 0;
    for (let i = 0; i < ss; i++)
      for (let j = 0; j < ss; j++) {
        const c = shade((x + (i + 0.5) / ss) / size, (y + (j + 0.5) / ss) / size);
        r += c[0]; g += c[1]; b += c[2];
      }
    const n = ss * ss;
    return [Math.round(r / n), Math.round(g / n), Math.round(b / n)];
  });
}

const SIZES = {
  'android/hdpi.png': 72,
  'android/xhdpi.png': 96,
  'android/xxhdpi.png': 144,
  'android/xxxhdpi.png': 192,
  'ios/appstore.png': 1024,
  'ios/iphone-app@2x.png': 120,
  'ios/iphone-app@3x.png': 180,
  'ios/iphone-spotlight@2x.png': 80,
  'ios/iphone-spotlight@3x.png': 120,
  'ios/iphone-settings@2x.png': 58,
  'ios/iphone-settings@3x.png': 87,
  'ios/iphone-notification@2x.png': 40,
  'ios/iphone-notification@3x.png': 60,
  'ios/ipad-app.png': 76,
  'ios/ipad-app@2x.png': 152,
  'ios/ipad-proapp@2x.png': 167,
  'ios/ipad-spotlight.png': 40,
  'ios/ipad-spotlight@2x.png': 80,
  'ios/ipad-settings.png': 29,
  'ios/ipad-settings@2x.png': 58,
  'ios/ipad-notification.png': 20,
  'ios/ipad-notification@2x.png': 40,
  'logo.png': 256,
};
for (const [name, size] of Object.entries(SIZES)) {
  const file = join(out, name);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, icon(size));
}
console.log(`wrote ${Object.keys(SIZES).length} icons to ${out}`);
