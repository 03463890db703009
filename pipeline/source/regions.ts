// Source-resolution crops of chosen regions (e.g. the wall zones OCR reads), cut by ffmpeg in the
// same filter graph as the model-size frame. Poster text that is 30 px tall in a 1080p picture is
// 7 px in a 416 px model frame — too small to read — but whole in a crop taken before the resize.
//
// Every picture of one frame must have the model width to be stacked (vstack), so a crop wider
// than that travels as vertical strips of the model width (the last one padded) and is put back
// together here. Pure geometry and byte copying; ffmpeg-source.ts runs the filters.
import type { FrameRegion, PixelFormat } from '../types.js';
import type { Rect } from '../geometry/tiles.js';

/** A region to crop, normalised 0..1 on both axes of the source picture. */
export interface RegionRequest {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Where a region lies in the source and how it travels. */
export interface RegionGeometry {
  /** Crop rectangle in source px (even offsets and sizes, for 4:2:0 video). */
  rect: Rect;
  /** Size of the crop after scaling down to maxSide (even). */
  width: number;
  height: number;
  /** Region px per source px (1 unless the crop was larger than maxSide). */
  scale: number;
  /** x offset (in the scaled crop) and width of each strip; every strip is padded to stripWidth. */
  strips: { x: number; width: number }[];
}

const evenFloor = (v: number) => 2 * Math.floor(v / 2);
const evenCeil = (v: number) => 2 * Math.ceil(v / 2);

/**
 * The crop for a normalised region of a srcWidth x srcHeight source, scaled down so its longer
 * side is at most maxSide, cut into strips of stripWidth. Null for a region with no area.
 */
export function regionGeometry(
  srcWidth: number,
  srcHeight: number,
  req: RegionRequest,
  maxSide: number,
  stripWidth: number,
): RegionGeometry | null {
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  const x1 = evenFloor(clamp(Math.min(req.x1, req.x2)) * srcWidth);
  const y1 = evenFloor(clamp(Math.min(req.y1, req.y2)) * srcHeight);
  const x2 = Math.min(evenFloor(srcWidth), evenCeil(clamp(Math.max(req.x1, req.x2)) * srcWidth));
  const y2 = Math.min(evenFloor(srcHeight), evenCeil(clamp(Math.max(req.y1, req.y2)) * srcHeight));
  const rect = { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
  if (rect.width < 2 || rect.height < 2 || !(stripWidth >= 2) || !(maxSide >= 2)) return null;
  const scale = Math.min(1, maxSide / Math.max(rect.width, rect.height));
  const width = Math.max(2, evenFloor(rect.width * scale));
  const height = Math.max(2, evenFloor(rect.height * scale));
  const strips: { x: number; width: number }[] = [];
  for (let x = 0; x < width; x += stripWidth) strips.push({ x, width: Math.min(stripWidth, width - x) });
  return { rect, width, height, scale: width / rect.width, strips };
}

/** Rows the region adds to a frame's stacked picture (strips are stacked one under the other). */
export function regionRows(g: RegionGeometry): number {
  return g.strips.length * g.height;
}

/**
 * filter_complex parts turning input label `input` (the decoded source, after fps selection) into
 * one output label per strip (`${prefix}${k}`), each stripWidth wide.
 */
export function regionFilters(
  g: RegionGeometry,
  input: string,
  prefix: string,
  stripWidth: number,
): { parts: string[]; outputs: string[] } {
  const n = g.strips.length;
  const parts = [
    `${input}crop=${g.rect.width}:${g.rect.height}:${g.rect.x}:${g.rect.y},scale=${g.width}:${g.height}:flags=bilinear,setsar=1${n > 1 ? `,split=${n}${g.strips.map((_, k) => `[${prefix}s${k}]`).join('')}` : `[${prefix}s0]`}`,
  ];
  const outputs: string[] = [];
  g.strips.forEach((s, k) => {
    const pad = s.width < stripWidth ? `,pad=${stripWidth}:${g.height}:0:0` : '';
    parts.push(`[${prefix}s${k}]crop=${s.width}:${g.height}:${s.x}:0${pad}[${prefix}${k}]`);
    outputs.push(`[${prefix}${k}]`);
  });
  return { parts, outputs };
}

/** Puts a region's strips (stacked from `offset` in a frame buffer, stripWidth px wide) back together. */
export function assembleRegion(data: Buffer, offset: number, g: RegionGeometry, stripWidth: number, pixelFormat: PixelFormat): FrameRegion {
  const out = Buffer.allocUnsafe(g.width * g.height * 3);
  let row = offset;
  for (const s of g.strips) {
    for (let y = 0; y < g.height; y++, row += stripWidth * 3) {
      data.copy(out, (y * g.width + s.x) * 3, row, row + s.width * 3);
    }
  }
  return {
    x: g.rect.x,
    y: g.rect.y,
    width: g.rect.width,
    height: g.rect.height,
    scale: g.scale,
    image: { data: out, width: g.width, height: g.height, pixelFormat },
  };
}
