// DB (differentiable binarisation) post-processing for the PP-OCR text detector: probability map
// → text boxes. Pure so it can be tested on hand-made maps.
import type { Box } from '../../types.js';
import { labelComponents } from '../static-change.js';

export interface DbOptions {
  /** Pixels with probability above this are text. PaddleOCR default 0.3. */
  binThreshold: number;
  /** Minimum mean probability over a region's pixels. PaddleOCR default 0.6. */
  boxThreshold: number;
  /** How far the shrunk text kernel is grown back: offset = area·ratio / perimeter. PaddleOCR default 1.5. */
  unclipRatio: number;
  /** Regions whose shorter side (map px, before unclip) is below this are noise. PaddleOCR uses 3. */
  minSide: number;
}

export const DEFAULT_DB_OPTIONS: Readonly<DbOptions> = { binThreshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5, minSide: 3 };

export interface MapBox {
  /** Axis-aligned box in map pixels (exclusive max), after unclip and clipping to the map. */
  box: Box;
  score: number;
}

export function dbBoxes(prob: Float32Array, width: number, height: number, opts: Partial<DbOptions> = {}): MapBox[] {
  const o = { ...DEFAULT_DB_OPTIONS, ...opts };
  const mask = new Uint8Array(width * height);
  for (let i = 0; i < mask.length; i++) mask[i] = prob[i]! > o.binThreshold ? 1 : 0;
  const { labels, count } = labelComponents(mask, width, height);
  const acc = Array.from({ length: count }, () => ({ x1: Infinity, y1: Infinity, x2: -Infinity, y2: -Infinity, sum: 0, n: 0 }));
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!l) continue;
    const a = acc[l - 1]!;
    const x = i % width;
    const y = (i - x) / width;
    if (x < a.x1) a.x1 = x;
    if (y < a.y1) a.y1 = y;
    if (x + 1 > a.x2) a.x2 = x + 1;
    if (y + 1 > a.y2) a.y2 = y + 1;
    a.sum += prob[i]!;
    a.n++;
  }
  const out: MapBox[] = [];
  for (const a of acc) {
    const w = a.x2 - a.x1;
    const h = a.y2 - a.y1;
    if (Math.min(w, h) < o.minSide) continue;
    const score = a.sum / a.n;
    if (score < o.boxThreshold) continue;
    const d = (w * h * o.unclipRatio) / (2 * (w + h));
    out.push({
      box: { x1: Math.max(0, a.x1 - d), y1: Math.max(0, a.y1 - d), x2: Math.min(width, a.x2 + d), y2: Math.min(height, a.y2 + d) },
      score,
    });
  }
  return out;
}
