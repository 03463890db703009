// Pure planar geometry for boxes and zone polygons. Coordinates are plain numbers; callers decide
// whether they are pixels or normalised units.
import type { Box, NormPoint } from '../types.js';

export type Point = readonly [number, number];

export function boxArea(b: Box): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

export function intersectionArea(a: Box, b: Box): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Intersection over the smaller box's area: how far one box lies inside the other (0 when either is empty). */
export function overlapOfSmaller(a: Box, b: Box): number {
  const inter = intersectionArea(a, b);
  const smaller = Math.min(boxArea(a), boxArea(b));
  return inter > 0 && smaller > 0 ? inter / smaller : 0;
}

export function iou(a: Box, b: Box): number {
  const inter = intersectionArea(a, b);
  if (inter === 0) return 0;
  return inter / (boxArea(a) + boxArea(b) - inter);
}

/** Bottom-centre of a box: where an object stands on the ground plane. */
export function boxFootprint(b: Box): Point {
  return [(b.x1 + b.x2) / 2, b.y2];
}

/** Shoelace area (absolute). */
export function polygonArea(poly: readonly Point[]): number {
  let s = 0;
  for (let i = 0; i < poly.length; i++) {
    const [x1, y1] = poly[i]!;
    const [x2, y2] = poly[(i + 1) % poly.length]!;
    s += x1 * y2 - x2 * y1;
  }
  return Math.abs(s) / 2;
}

/** Even-odd ray casting; points exactly on an edge count as inside. */
export function pointInPolygon(p: Point, poly: readonly Point[]): boolean {
  const [px, py] = p;
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (onSegment(p, poly[j]!, poly[i]!)) return true;
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function cross(o: Point, a: Point, b: Point): number {
  return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

function onSegment(p: Point, a: Point, b: Point): boolean {
  // Tolerances scale with the segment and coordinate magnitude: polygons are used both in
  // normalised units and in pixels (where rounding in cross() alone reaches ~1e-10), and an
  // absolute epsilon silently turned edge points of pixel polygons into misses.
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const mag = Math.max(Math.abs(a[0]), Math.abs(a[1]), Math.abs(b[0]), Math.abs(b[1]), Math.abs(p[0]), Math.abs(p[1]), 1);
  const eps = 1e-9 * mag;
  return (
    Math.abs(cross(a, b, p)) <= eps * Math.hypot(dx, dy) &&
    p[0] >= Math.min(a[0], b[0]) - eps &&
    p[0] <= Math.max(a[0], b[0]) + eps &&
    p[1] >= Math.min(a[1], b[1]) - eps &&
    p[1] <= Math.max(a[1], b[1]) + eps
  );
}

/** True when segments ab and cd share any point (touching counts). */
export function segmentsIntersect(a: Point, b: Point, c: Point, d: Point): boolean {
  const d1 = cross(c, d, a);
  const d2 = cross(c, d, b);
  const d3 = cross(a, b, c);
  const d4 = cross(a, b, d);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  return onSegment(a, c, d) || onSegment(b, c, d) || onSegment(c, a, b) || onSegment(d, a, b);
}

/**
 * Why a zone polygon is unusable, or null when it is fine. Checks what an operator can get wrong
 * when drawing: too few points, points outside the image, a bow-tie, or no area at all.
 */
export function polygonProblem(poly: readonly NormPoint[]): string | null {
  if (poly.length < 3) return `a polygon needs at least 3 points, got ${poly.length}`;
  for (const [i, [x, y]] of poly.entries()) {
    if (!Number.isFinite(x) || !Number.isFinite(y) || x < 0 || x > 1 || y < 0 || y > 1) {
      return `point ${i} (${x}, ${y}) is outside the normalised range 0..1`;
    }
  }
  const n = poly.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      // Adjacent edges share a vertex by construction; only non-adjacent edges may not meet.
      if (j === i + 1 || (i === 0 && j === n - 1)) continue;
      if (segmentsIntersect(poly[i]!, poly[(i + 1) % n]!, poly[j]!, poly[(j + 1) % n]!)) {
        return `the polygon is self-intersecting (edge ${i} crosses edge ${j})`;
      }
    }
  }
  if (polygonArea(poly) < 1e-6) return 'the polygon has no area';
  return null;
}

/** Scales a normalised polygon to pixels. */
export function toPixels(poly: readonly NormPoint[], width: number, height: number): Point[] {
  return poly.map(([x, y]) => [x * width, y * height] as const);
}

/** Sutherland–Hodgman clip of a polygon by an axis-aligned box; returns the clipped polygon. */
function clipPolygonToBox(poly: readonly Point[], b: Box): Point[] {
  type Edge = { inside: (p: Point) => boolean; cut: (p: Point, q: Point) => Point };
  const lerp = (p: Point, q: Point, t: number): Point => [p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t];
  const edges: Edge[] = [
    { inside: (p) => p[0] >= b.x1, cut: (p, q) => lerp(p, q, (b.x1 - p[0]) / (q[0] - p[0])) },
    { inside: (p) => p[0] <= b.x2, cut: (p, q) => lerp(p, q, (b.x2 - p[0]) / (q[0] - p[0])) },
    { inside: (p) => p[1] >= b.y1, cut: (p, q) => lerp(p, q, (b.y1 - p[1]) / (q[1] - p[1])) },
    { inside: (p) => p[1] <= b.y2, cut: (p, q) => lerp(p, q, (b.y2 - p[1]) / (q[1] - p[1])) },
  ];
  let out: Point[] = [...poly];
  for (const e of edges) {
    const input = out;
    out = [];
    for (let i = 0; i < input.length; i++) {
      const cur = input[i]!;
      const prev = input[(i + input.length - 1) % input.length]!;
      if (e.inside(cur)) {
        if (!e.inside(prev)) out.push(e.cut(prev, cur));
        out.push(cur);
      } else if (e.inside(prev)) {
        out.push(e.cut(prev, cur));
      }
    }
    if (out.length === 0) break;
  }
  return out;
}

/** Fraction (0..1) of the box's area that lies inside the polygon (polygon in the box's units). */
export function boxOverlapRatio(b: Box, poly: readonly Point[]): number {
  const area = boxArea(b);
  if (area === 0) return 0;
  return Math.min(1, polygonArea(clipPolygonToBox(poly, b)) / area);
}

/** Distance from a point to the segment a–b. */
export function pointSegmentDistance(p: Point, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2)) : 0;
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

/**
 * Distance from a point to the nearest polygon edge, ignoring edges that run along the frame
 * border (width × height): a zone drawn to the picture's edge has nothing beyond it.
 */
export function distanceToInnerEdges(p: Point, poly: readonly Point[], width: number, height: number): number {
  const onBorder = (a: Point, b: Point) =>
    (a[0] <= 0.5 && b[0] <= 0.5) ||
    (a[0] >= width - 0.5 && b[0] >= width - 0.5) ||
    (a[1] <= 0.5 && b[1] <= 0.5) ||
    (a[1] >= height - 0.5 && b[1] >= height - 0.5);
  let best = Infinity;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    if (onBorder(poly[j]!, poly[i]!)) continue;
    best = Math.min(best, pointSegmentDistance(p, poly[j]!, poly[i]!));
  }
  return best;
}
