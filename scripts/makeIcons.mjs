#!/usr/bin/env node
/**
 * Writes the app icons in client/public/ (committed; rerun after changing the design):
 * `node scripts/makeIcons.mjs`. No image library: the glyph (two overlapping speech bubbles,
 * the "converge" mark) is drawn with signed distance functions, 4×4 supersampled, and encoded
 * as an RGBA PNG with node:zlib.
 */
import { Buffer } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'client', 'public');

const BG = [0x2f, 0x4a, 0x9e];
const FG = [0xff, 0xff, 0xff];
const FG2 = [0xa5, 0xc0, 0xff];

/** @param {number} px @param {number} py @param {number} cx @param {number} cy @param {number} hw @param {number} hh @param {number} r */
const roundRect = (px, py, cx, cy, hw, hh, r) => {
  const qx = Math.abs(px - cx) - hw + r;
  const qy = Math.abs(py - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
};

/**
 * A speech bubble centred at (cx, cy) of half-size s, tail at the bottom left (or right when `flip`).
 * @param {number} px @param {number} py @param {number} cx @param {number} cy @param {number} s @param {boolean} flip
 */
const bubble = (px, py, cx, cy, s, flip) => {
  const body = roundRect(px, py, cx, cy, s, s * 0.72, s * 0.42);
  // Tail: a triangle below the body.
  const tx = flip ? cx + s * 0.45 : cx - s * 0.45;
  const ty = cy + s * 0.72;
  const dx = (flip ? tx - px : px - tx) / s;
  const dy = (py - ty) / s;
  const inTail = dy >= -0.1 && dy <= 0.45 && dx >= -0.25 + dy * 0.2 && dx <= 0.3 - dy * 0.9;
  return inTail ? Math.min(body, -0.01) : body;
};

/**
 * @param {number} size
 * @param {{ maskable: boolean }} opts maskable: full-bleed background, glyph inside the 80% safe zone
 */
const render = (size, { maskable }) => {
  const px = new Uint8Array(size * size * 4);
  const SS = 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const u = (x + (sx + 0.5) / SS) / size; // 0..1
          const v = (y + (sy + 0.5) / SS) / size;
          const inBg = maskable ? true : roundRect(u, v, 0.5, 0.5, 0.5, 0.5, 0.22) <= 0;
          if (!inBg) continue;
          const k = maskable ? 0.78 : 1; // shrink the glyph into the maskable safe zone
          const gu = 0.5 + (u - 0.5) / k;
          const gv = 0.5 + (v - 0.5) / k;
          let c = BG;
          if (bubble(gu, gv, 0.6, 0.56, 0.24, true) <= 0) c = FG2;
          if (bubble(gu, gv, 0.4, 0.42, 0.24, false) <= 0) c = FG;
          r += c[0];
          g += c[1];
          b += c[2];
          a += 255;
        }
      }
      const n = SS * SS;
      const i = (y * size + x) * 4;
      // Colours are averaged over the covered samples only (no dark fringe at the edge).
      const covered = a / 255;
      px[i] = covered ? Math.round(r / covered) : 0;
      px[i + 1] = covered ? Math.round(g / covered) : 0;
      px[i + 2] = covered ? Math.round(b / covered) : 0;
      px[i + 3] = Math.round(a / n);
    }
  }
  return px;
};

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
/** @param {Uint8Array} buf */
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const byte of buf) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

/** @param {string} type @param {Uint8Array} data */
const chunk = (type, data) => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
};

/** @param {number} size @param {Uint8Array} rgba */
const png = (size, rgba) => {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, y * size * 4, size * 4).copy(raw, y * (size * 4 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
};

const icons = [
  { file: 'icon-192.png', size: 192, maskable: false },
  { file: 'icon-512.png', size: 512, maskable: false },
  { file: 'icon-maskable-512.png', size: 512, maskable: true },
  { file: 'apple-touch-icon.png', size: 180, maskable: true },
  { file: 'favicon-32.png', size: 32, maskable: false },
];
for (const { file, size, maskable } of icons) {
  writeFileSync(join(out, file), png(size, render(size, { maskable })));
  process.stdout.write(`wrote client/public/${file}\n`);
}
