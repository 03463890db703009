// Suppressions ("not this class here", made from rejected cases): the polygon drawn around a case's
// boxes, and the test the rules engine applies to each subject. Pure.
import type { Box } from '../types.js';
import type { Suppression } from './config-schema.js';
import { DEFAULT_SUPPRESSION_PADDING } from './config-schema.js';
import { boxFootprint, pointInPolygon } from '../geometry/geometry.js';

const round4 = (v: number) => Math.round(v * 10_000) / 10_000;
const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/**
 * The normalised rectangle around the union of `boxes` (pixels of a `width` × `height` frame),
 * padded on each side by `padding` × the union's width/height, clamped to the frame.
 * Null when there is no usable box.
 */
export function suppressionPolygon(
  boxes: readonly Box[],
  size: { width: number; height: number },
  padding = DEFAULT_SUPPRESSION_PADDING,
): [number, number][] | null {
  if (!(size.width > 0 && size.height > 0)) throw new RangeError(`frame size must be positive, got ${size.width}x${size.height}`);
  if (!(padding >= 0)) throw new RangeError(`padding must be ≥ 0, got ${padding}`);
  const ok = boxes.filter((b) => [b.x1, b.y1, b.x2, b.y2].every(Number.isFinite) && b.x2 > b.x1 && b.y2 > b.y1);
  if (ok.length === 0) return null;
  const x1 = Math.min(...ok.map((b) => b.x1));
  const y1 = Math.min(...ok.map((b) => b.y1));
  const x2 = Math.max(...ok.map((b) => b.x2));
  const y2 = Math.max(...ok.map((b) => b.y2));
  const px = (x2 - x1) * padding;
  const py = (y2 - y1) * padding;
  const l = round4(clamp01((x1 - px) / size.width));
  const t = round4(clamp01((y1 - py) / size.height));
  const r = round4(clamp01((x2 + px) / size.width));
  const b = round4(clamp01((y2 + py) / size.height));
  if (!(r > l && b > t)) return null;
  return [
    [l, t],
    [r, t],
    [r, b],
    [l, b],
  ];
}

/** The suppression of `classId` whose polygon holds the box's footprint (frame `w` × `h` px), or null. */
export function suppressionFor(
  list: readonly Suppression[] | undefined,
  classId: string,
  box: Box,
  w: number,
  h: number,
): Suppression | null {
  if (!list?.length || !(w > 0 && h > 0)) return null;
  const [fx, fy] = boxFootprint(box);
  const p = [fx / w, fy / h] as const;
  return list.find((s) => s.classId === classId && pointInPolygon(p, s.polygon)) ?? null;
}

/** The refusal detail the engine reports for a suppressed subject. */
export function suppressionDetail(s: Suppression): string {
  const from = s.createdFrom ? ` (from rejected ${s.createdFrom}${s.reason ? `: ${s.reason}` : ''})` : s.reason ? ` (${s.reason})` : '';
  return `footprint inside suppression ${s.id}${from}`;
}
