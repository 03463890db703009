// Tiled inference (the SAHI approach): a far object 30 px tall in a 1920x1080 source is 12 px at a
// 416 model input, below what small detectors find. Overlapping crops of the source, each resized
// to the model input, show it at 2-3x that size. Pure geometry and merging; ffmpeg cuts the crops.
import type { Candidate } from './decoders/types.js';
import { nms } from './nms.js';
import type { Rect } from '../geometry/tiles.js';

export type { Rect } from '../geometry/tiles.js';
export { tileRects } from '../geometry/tiles.js';

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

/** Model-input candidate → source pixels, clamped to the tile, with the cut flag for inner borders. */
export function candidateToSource(
  c: Candidate,
  sx: number,
  sy: number,
  rect: Rect,
  srcWidth: number,
  srcHeight: number,
  margin: number,
): SourceCandidate {
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

/** 1-D IoU of two intervals. */
function spanIou(a1: number, a2: number, b1: number, b2: number): number {
  const inter = Math.min(a2, b2) - Math.max(a1, b1);
  return inter <= 0 ? 0 : inter / (Math.max(a2, b2) - Math.min(a1, b1));
}

/** A tile border cuts an object along one axis only: the piece keeps the whole's extent on the other. */
const PIECE_SPAN_IOU = 0.7;

/**
 * Merges the full frame's and the tiles' candidates (source px). First every piece (a box cut by
 * an inner tile border) that lies mostly (`ios` of its own area) inside a whole box of its class,
 * spanning the same rows or columns, is folded into that whole box, which keeps the better score;
 * then class-aware NMS at `iou` runs over what is left. Folding before NMS makes the result
 * independent of which of the pieces or the whole scored highest; two pieces are never glued
 * together (in a crowd that merges neighbours) — a large object's whole box comes from the full frame.
 * Output sorted by score, highest first, as nms() returns.
 */
export function mergeTiled(cands: readonly SourceCandidate[], opts: MergeOptions, maxDetections = 300): Candidate[] {
  const wholes = cands.filter((c) => !c.cut).map((c) => ({ ...c }));
  const rest: Candidate[] = [];
  for (const p of cands) {
    if (!p.cut) continue;
    let best: Candidate | null = null;
    let bestIou = -1;
    for (const w of wholes) {
      if (w.classId !== p.classId) continue;
      const o = overlap(w, p);
      if (o.inter < opts.ios * area(p)) continue;
      if (Math.max(spanIou(p.x1, p.x2, w.x1, w.x2), spanIou(p.y1, p.y2, w.y1, w.y2)) < PIECE_SPAN_IOU) continue;
      if (o.iou > bestIou) {
        bestIou = o.iou;
        best = w;
      }
    }
    if (best) best.score = Math.max(best.score, p.score);
    else rest.push({ classId: p.classId, score: p.score, x1: p.x1, y1: p.y1, x2: p.x2, y2: p.y2 });
  }
  const strip = ({ cut: _cut, ...c }: SourceCandidate): Candidate => c;
  return nms([...wholes.map(strip), ...rest], opts.iou, maxDetections);
}
