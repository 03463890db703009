// Tiled inference (the SAHI approach): a far object 30 px tall in a 1920x1080 source is 12 px at a
// 416 model input, below what small detectors find. Overlapping crops of the source, each resized
// to the model input, show it at 2-3x that size. Pure geometry and merging; ffmpeg cuts the crops.
import type { Candidate } from './decoders/types.js';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface TilingOptions {
  cols: number;
  rows: number;
  /** Fraction of a tile shared with its neighbour (0..0.5). */
  overlap: number;
}

export interface MergeOptions {
  /** Same-class boxes above this IoU are one object (plain NMS). */
  iou: number;
  /** A box cut by an inner tile border with this much of its area inside a whole same-class box is a piece of it. */
  ios: number;
}

/** A candidate in source pixels, flagged when a tile's inner border cuts it (it is likely partial). */
export interface SourceCandidate extends Candidate {
  cut: boolean;
}

const evenFloor = (v: number) => 2 * Math.floor(v / 2);

/**
 * Tile rectangles covering a srcWidth x srcHeight frame with `overlap` shared between neighbours;
 * even sizes and offsets so ffmpeg's crop of 4:2:0 video is exact. Row-major.
 */
export function tileRects(srcWidth: number, srcHeight: number, opts: TilingOptions): Rect[] {
  const axis = (len: number, n: number): Array<[number, number]> => {
    const full = Math.max(2, evenFloor(len));
    if (n <= 1) return [[0, full]];
    const size = Math.min(full, Math.max(2, evenFloor(Math.ceil(len / (n - (n - 1) * opts.overlap)) + 1)));
    const step = (full - size) / (n - 1);
    return Array.from({ length: n }, (_, i) => [i === n - 1 ? full - size : evenFloor(i * step), size]);
  };
  const xs = axis(srcWidth, opts.cols);
  const ys = axis(srcHeight, opts.rows);
  return ys.flatMap(([y, height]) => xs.map(([x, width]) => ({ x, y, width, height })));
}

/** Model-input candidate → source pixels, clamped to the tile, with the cut flag for inner borders. */
export function candidateToSource(c: Candidate, sx: number, sy: number, rect: Rect, srcWidth: number, srcHeight: number, margin: number): SourceCandidate {
  const x1 = rect.x + Math.max(0, c.x1 / sx);
  const y1 = rect.y + Math.max(0, c.y1 / sy);
  const x2 = Math.min(rect.x + rect.width, rect.x + c.x2 / sx);
  const y2 = Math.min(rect.y + rect.height, rect.y + c.y2 / sy);
  const cut =
    (rect.x > 0 && x1 - rect.x <= margin) ||
    (rect.y > 0 && y1 - rect.y <= margin) ||
    (rect.x + rect.width < srcWidth && rect.x + rect.width - x2 <= margin) ||
    (rect.y + rect.height < srcHeight && rect.y + rect.height - y2 <= margin);
  return { classId: c.classId, score: c.score, x1, y1, x2, y2, cut };
}

/** IoU of a and b, and how much of `inner` lies inside `outer`. */
function overlap(a: Candidate, b: Candidate): { iou: number; inter: number } {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return { iou: 0, inter: 0 };
  const inter = w * h;
  return { iou: inter / (area(a) + area(b) - inter), inter };
}

const area = (b: Candidate) => (b.x2 - b.x1) * (b.y2 - b.y1);

/**
 * Greedy merging over the full frame's and the tiles' candidates (source px), class by class,
 * best score first. A box overlapping a kept one above `iou` is the same object (NMS). A box cut
 * by an inner tile border that lies mostly (`ios` of its own area) inside a whole box of its class
 * is a piece of that object: it is dropped, and when the piece scored higher and was kept first,
 * it takes the whole box's extent. Two cut pieces are never unioned: in a crowd that glues
 * neighbours together, and a large object's whole box comes from the full frame anyway.
 * Output sorted by score, highest first, as nms() returns.
 */
export function mergeTiled(cands: readonly SourceCandidate[], opts: MergeOptions, maxDetections = 300): Candidate[] {
  const sorted = [...cands].sort((a, b) => b.score - a.score);
  const kept: SourceCandidate[] = [];
  for (const c of sorted) {
    let absorbed = false;
    for (const k of kept) {
      if (k.classId !== c.classId) continue;
      const o = overlap(k, c);
      if (o.iou > opts.iou || (c.cut && !k.cut && o.inter >= opts.ios * area(c))) {
        absorbed = true;
        break;
      }
      if (k.cut && !c.cut && o.inter >= opts.ios * area(k)) {
        Object.assign(k, { x1: c.x1, y1: c.y1, x2: c.x2, y2: c.y2, cut: false });
        absorbed = true;
        break;
      }
    }
    if (!absorbed) kept.push({ ...c });
    if (kept.length >= maxDetections) break;
  }
  return kept.map(({ cut: _cut, ...c }) => c);
}
