// `npm run build`: the renderer with Vite into dist/renderer, and the Electron main process
// and preload with esbuild into dist/electron/*.cjs. Electron loads CommonJS; the native and
// optional modules stay external and are packed from node_modules by electron-builder.
// Also draws the app icons into build/ when they are missing (no image tools needed).
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { build as esbuild } from 'esbuild';
import { build as viteBuild } from 'vite';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'dist', 'electron');
export const ICON_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];

// ---- icons --------------------------------------------------------------------------------

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function png(size: number, rgba: Uint8Array): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * size * 4, size * 4).copy(raw, y * (size * 4 + 1) + 1);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

/** Signed distance to a rounded rectangle centred at (cx, cy). */
function roundRect(x: number, y: number, cx: number, cy: number, hw: number, hh: number, r: number): number {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

/** The Parley mark: a blue-violet tile with a white speech bubble holding three dots. */
export function drawIcon(size: number): Uint8Array {
  const px = new Uint8Array(size * size * 4);
  const ss = 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const u = (x + (sx + 0.5) / ss) / size;
          const v = (y + (sy + 0.5) / ss) / size;
          if (roundRect(u, v, 0.5, 0.5, 0.46, 0.46, 0.2) > 0) continue;
          // Tile gradient, top-left #5b82f5 → bottom-right #6a4fe0.
          const t = (u + v) / 2;
          let cr = 0x5b + (0x6a - 0x5b) * t, cg = 0x82 + (0x4f - 0x82) * t, cb = 0xf5 + (0xe0 - 0xf5) * t;
          const bubble = roundRect(u, v, 0.5, 0.46, 0.27, 0.2, 0.12) <= 0;
          // Tail: a triangle under the bubble's lower left.
          const tail = v > 0.6 && v < 0.78 && u > 0.3 && u < 0.44 && u - 0.3 < (0.78 - v) * 0.9;
          if (bubble || tail) {
            cr = cg = cb = 255;
            for (const dx of [0.38, 0.5, 0.62]) {
              if (Math.hypot(u - dx, v - 0.46) < 0.042) {
                cr = 0x5b;
                cg = 0x6f;
                cb = 0xea;
              }
            }
          }
          r += cr;
          g += cg;
          b += cb;
          a += 1;
        }
      }
      const i = (y * size + x) * 4;
      const n = ss * ss;
      if (a > 0) {
        px[i] = Math.round(r / a);
        px[i + 1] = Math.round(g / a);
        px[i + 2] = Math.round(b / a);
      }
      px[i + 3] = Math.round((a / n) * 255);
    }
  }
  return px;
}

export function writeIcons(force = false): void {
  const dir = path.join(root, 'build', 'icons');
  mkdirSync(dir, { recursive: true });
  for (const size of ICON_SIZES) {
    const file = path.join(dir, `${size}x${size}.png`);
    if (force || !existsSync(file)) writeFileSync(file, png(size, drawIcon(size)));
  }
  const main = path.join(root, 'build', 'icon.png');
  if (force || !existsSync(main)) copyFileSync(path.join(dir, '1024x1024.png'), main);
}

// ---- bundles ------------------------------------------------------------------------------

async function bundle(entry: string, outfile: string, external: string[]): Promise<void> {
  await esbuild({
    entryPoints: [path.join(root, entry)],
    outfile: path.join(out, outfile),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    // Electron 45 runs Node 22.
    target: 'node22',
    external,
    // The sources are ESM; in the CommonJS bundle the file's directory is __dirname.
    define: { 'import.meta.dirname': '__dirname' },
    sourcemap: 'linked',
    logLevel: 'warning',
    legalComments: 'none',
  });
}

export async function buildAll(): Promise<void> {
  writeIcons(process.argv.includes('--icons'));
  await viteBuild({ configFile: path.join(root, 'renderer', 'vite.config.ts'), logLevel: 'warn' });
  mkdirSync(out, { recursive: true });
  await bundle('main/electron/main.ts', 'main.cjs', ['electron', 'better-sqlite3', 'bonjour-service']);
  // A sandboxed preload may only require('electron'): everything else is bundled in.
  await bundle('preload/preload.ts', 'preload.cjs', ['electron']);
  copyFileSync(path.join(root, 'build', 'icons', '32x32.png'), path.join(out, 'tray.png'));
  copyFileSync(path.join(root, 'build', 'icons', '256x256.png'), path.join(out, 'icon.png'));
}

if (import.meta.main) {
  const started = Date.now();
  await buildAll();
  console.log(`built dist/renderer and dist/electron in ${Date.now() - started} ms`);
}
