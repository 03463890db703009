// Generic drawing of boxes, zone polygons and a caption onto an image, as an SVG overlay composited
// with sharp. Used for evidence snapshots and by the CLI's `detect --annotate`.
import { execFileSync } from 'node:child_process';
import sharp, { type Sharp } from 'sharp';
import { CATALOG } from '../rules/catalog.js';
import { toPixels } from '../geometry/geometry.js';
import { frameToRawImage } from '../source/frame-image.js';
import { axisScales } from '../geometry/letterbox.js';
import type { Box, Frame, NormPoint } from '../types.js';

export interface Overlay {
  boxes?: { box: Box; label?: string; color?: string }[];
  polygons?: { points: [number, number][] /* pixels */; label?: string; color?: string }[];
  caption?: string;
}

export type ImageInput = Buffer /* encoded jpeg/png */ | { raw: Buffer; width: number; height: number; pixelFormat: 'rgb24' | 'bgr24' };

export interface AnnotateOptions {
  /** JPEG quality 1..100 (default 88). */
  quality?: number;
}

// fontconfig picks the first family it has; several CJK families are listed because hosts differ
// (Noto CJK, WenQuanYi, Droid fallback). Without any of them Chinese renders as boxes.
export const CJK_FONT_FAMILY = "'Noto Sans CJK SC','Noto Sans SC','WenQuanYi Zen Hei','Droid Sans Fallback','DejaVu Sans',sans-serif";

/** Every character of the Chinese class names (what snapshots must be able to print). */
export function classNameCharset(): string[] {
  return [...new Set(CATALOG.flatMap((c) => [...c.nameZh]).filter((ch) => (ch.codePointAt(0) ?? 0) > 0x2e80))];
}

/**
 * Families of the installed fonts that hold every character of the Chinese class names, as
 * fontconfig (which librsvg uses through Pango) reports them: `fc-list ':charset=…' family`. Not
 * `:lang=zh-cn`: fontconfig does not count Droid Sans Fallback as full zh-cn coverage, yet it has
 * every character we print. Empty when there is none (or no fontconfig): captions would then draw
 * missing-glyph boxes, which setup prevents by installing one.
 */
export function parseFcListFamilies(output: string): string[] {
  const out: string[] = [];
  for (const line of output.split('\n')) {
    // One line per font file: "Noto Sans CJK SC,Noto Sans CJK SC Regular"; localised names come
    // first for some fonts ("文泉驿正黑,WenQuanYi Zen Hei"): keep the plain ASCII name when there is one.
    const names = line
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    const name = names.find((n) => /^[\x20-\x7e]+$/.test(n)) ?? names[0];
    if (name && !out.includes(name)) out.push(name);
  }
  return out;
}

let installedCjk: string[] | null = null;
export function installedCjkFamilies(): string[] {
  if (installedCjk) return installedCjk;
  try {
    installedCjk = parseFcListFamilies(
      execFileSync(
        'fc-list',
        [
          `:charset=${classNameCharset()
            .map((c) => c.codePointAt(0)!.toString(16))
            .join(' ')}`,
          'family',
        ],
        { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] },
      ),
    );
  } catch {
    installedCjk = [];
  }
  return installedCjk;
}

/**
 * The font-family list for captions: an installed CJK family first (a preferred one when several are
 * installed), so fontconfig never settles on a Latin font whose fallback lacks the ideographs.
 */
export function captionFontFamily(installed: string[] = installedCjkFamilies()): string {
  const preferred = ['Noto Sans CJK SC', 'Noto Sans SC', 'WenQuanYi Zen Hei', 'WenQuanYi Micro Hei', 'Droid Sans Fallback'];
  const pick = preferred.find((f) => installed.includes(f)) ?? installed[0];
  if (!pick || CJK_FONT_FAMILY.startsWith(`'${pick}',`)) return CJK_FONT_FAMILY;
  return `'${pick.replace(/['"<>&\\]/g, '')}',${CJK_FONT_FAMILY}`;
}

const DEFAULT_BOX_COLOR = '#ff2d2d';
const DEFAULT_POLYGON_COLOR = '#ffd000';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Only plain colour tokens reach the SVG; anything else could break out of the attribute. */
function safeColor(color: string | undefined, fallback: string): string {
  if (color && /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}|rgba?\([0-9.,\s%]+\))$/.test(color)) return color;
  return fallback;
}

/** Rough advance width so label backgrounds fit: CJK glyphs are ~1 em, Latin ~0.6 em. */
export function estimateTextWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const ch of text) em += (ch.codePointAt(0) ?? 0) > 0x2e80 ? 1 : 0.6;
  return Math.ceil(em * fontSize);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function label(x: number, y: number, text: string, color: string, fontSize: number, width: number, textColor = '#ffffff'): string {
  const pad = Math.round(fontSize * 0.25);
  const w = estimateTextWidth(text, fontSize) + 2 * pad;
  const h = fontSize + 2 * pad;
  const lx = clamp(x, 0, Math.max(0, width - w));
  const ly = Math.max(0, y);
  return (
    `<rect x="${lx}" y="${ly}" width="${w}" height="${h}" fill="${color}" fill-opacity="0.85"/>` +
    `<text x="${lx + pad}" y="${ly + pad + fontSize * 0.85}" font-size="${fontSize}" font-family="${captionFontFamily()}" fill="${textColor}">${escapeXml(text)}</text>`
  );
}

/** Builds the SVG overlay for an image of the given size (exported for tests and previews). */
export function overlaySvg(width: number, height: number, overlay: Overlay): string {
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 250));
  const fontSize = Math.max(12, Math.round(height / 36));
  const parts: string[] = [];
  for (const poly of overlay.polygons ?? []) {
    if (poly.points.length < 2) continue;
    const color = safeColor(poly.color, DEFAULT_POLYGON_COLOR);
    const pts = poly.points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
    parts.push(
      `<polygon points="${pts}" fill="${color}" fill-opacity="0.18" stroke="${color}" stroke-width="${stroke}" stroke-dasharray="${stroke * 4},${stroke * 2}"/>`,
    );
    if (poly.label) {
      const [x0, y0] = poly.points.reduce((a, p) => (p[1] < a[1] ? p : a));
      // Zone colours are light (yellow by default): dark text stays readable on them.
      parts.push(label(Math.round(x0), Math.round(y0), poly.label, color, Math.round(fontSize * 0.8), width, '#000000'));
    }
  }
  for (const b of overlay.boxes ?? []) {
    const color = safeColor(b.color, DEFAULT_BOX_COLOR);
    const x1 = clamp(b.box.x1, 0, width);
    const y1 = clamp(b.box.y1, 0, height);
    const x2 = clamp(b.box.x2, 0, width);
    const y2 = clamp(b.box.y2, 0, height);
    if (x2 <= x1 || y2 <= y1) continue;
    parts.push(
      `<rect x="${x1.toFixed(1)}" y="${y1.toFixed(1)}" width="${(x2 - x1).toFixed(1)}" height="${(y2 - y1).toFixed(1)}" fill="none" stroke="${color}" stroke-width="${stroke}"/>`,
    );
    if (b.label) {
      const lh = fontSize + 2 * Math.round(fontSize * 0.25);
      // Above the box when there is room, otherwise inside its top edge.
      const ly = y1 - lh >= 0 ? y1 - lh : y1;
      parts.push(label(Math.round(x1), Math.round(ly), b.label, color, fontSize, width));
    }
  }
  if (overlay.caption) {
    const lines = overlay.caption.split('\n').filter((l) => l.length > 0);
    const pad = Math.round(fontSize * 0.4);
    const lineH = Math.round(fontSize * 1.3);
    const w = Math.min(width, Math.max(...lines.map((l) => estimateTextWidth(l, fontSize))) + 2 * pad);
    const h = lines.length * lineH + 2 * pad;
    const y0 = height - h;
    parts.push(`<rect x="0" y="${y0}" width="${w}" height="${h}" fill="#000000" fill-opacity="0.6"/>`);
    lines.forEach((l, i) => {
      parts.push(
        `<text x="${pad}" y="${y0 + pad + i * lineH + fontSize}" font-size="${fontSize}" font-family="${captionFontFamily()}" fill="#ffffff">${escapeXml(l)}</text>`,
      );
    });
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

/** Turns any accepted input into a sharp pipeline plus its pixel size. */
export async function openImage(input: ImageInput): Promise<{ image: Sharp; width: number; height: number }> {
  if (Buffer.isBuffer(input)) {
    const image = sharp(input, { failOn: 'error' }).rotate();
    const meta = await image.metadata();
    if (!meta.width || !meta.height) throw new Error('annotateImage: input is not a decodable image');
    const swap = (meta.orientation ?? 1) >= 5;
    return { image, width: swap ? meta.height : meta.width, height: swap ? meta.width : meta.height };
  }
  const { raw, width, height, pixelFormat } = input;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`annotateImage: bad raw size ${width}x${height}`);
  }
  if (raw.length !== width * height * 3) {
    throw new Error(`annotateImage: raw buffer has ${raw.length} bytes, expected ${width}x${height}x3 = ${width * height * 3}`);
  }
  let rgb = raw;
  if (pixelFormat === 'bgr24') {
    rgb = Buffer.allocUnsafe(raw.length);
    for (let i = 0; i < raw.length; i += 3) {
      rgb[i] = raw[i + 2]!;
      rgb[i + 1] = raw[i + 1]!;
      rgb[i + 2] = raw[i]!;
    }
  } else if (pixelFormat !== 'rgb24') {
    throw new Error(`annotateImage: unsupported pixel format ${String(pixelFormat)}`);
  }
  return { image: sharp(rgb, { raw: { width, height, channels: 3 } }), width, height };
}

export async function annotateImage(input: ImageInput, overlay: Overlay, opts: AnnotateOptions = {}): Promise<Buffer> {
  const quality = clamp(Math.round(opts.quality ?? 88), 1, 100);
  const { image, width, height } = await openImage(input);
  const svg = Buffer.from(overlaySvg(width, height, overlay));
  return image
    .composite([{ input: svg, top: 0, left: 0 }])
    .jpeg({ quality, mozjpeg: false })
    .toBuffer();
}

/**
 * The analysed frame as the model saw it (letterbox padding dropped, model pixels) with boxes in
 * source pixels and zones in normalised coordinates drawn on it: CLI `--annotate`, replay snapshots
 * and the camera preview.
 */
export async function annotateFrame(
  frame: Frame,
  overlay: { boxes?: { box: Box; label?: string }[]; zones?: { polygon: readonly NormPoint[]; label?: string }[]; caption?: string },
): Promise<Buffer> {
  const picture = frameToRawImage(frame);
  const { sx, sy } = axisScales(frame.letterbox);
  return annotateImage(
    { raw: picture.data, width: picture.width, height: picture.height, pixelFormat: picture.pixelFormat },
    {
      polygons: (overlay.zones ?? []).map((z) => ({
        points: toPixels(z.polygon, picture.width, picture.height) as [number, number][],
        label: z.label,
      })),
      boxes: (overlay.boxes ?? []).map(({ box: b, label }) => ({
        box: { x1: b.x1 * sx, y1: b.y1 * sy, x2: b.x2 * sx, y2: b.y2 * sy },
        label,
      })),
      caption: overlay.caption,
    },
  );
}
