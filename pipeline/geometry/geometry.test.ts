import { describe, expect, it } from 'vitest';
import type { NormPoint } from '../types.js';
import {
  boxArea,
  boxFootprint,
  boxOverlapRatio,
  iou,
  pointInPolygon,
  polygonArea,
  polygonProblem,
  segmentsIntersect,
  toPixels,
  type Point,
} from './geometry.js';

const box = (x1: number, y1: number, x2: number, y2: number) => ({ x1, y1, x2, y2 });

// U shape opening upwards (y grows downwards): a notch x 1..2, y 1..3.
const U: Point[] = [
  [0, 0],
  [3, 0],
  [3, 3],
  [2, 3],
  [2, 1],
  [1, 1],
  [1, 3],
  [0, 3],
];

describe('iou', () => {
  it('gives exact values', () => {
    expect(iou(box(0, 0, 10, 10), box(5, 0, 15, 10))).toBe(50 / 150);
    expect(iou(box(0, 0, 10, 10), box(0, 0, 10, 10))).toBe(1);
    expect(iou(box(0, 0, 10, 10), box(2, 2, 7, 7))).toBe(25 / 100);
    expect(iou(box(0, 0, 10, 10), box(10, 0, 20, 10))).toBe(0); // touching edges share no area
    expect(iou(box(0, 0, 10, 10), box(20, 20, 30, 30))).toBe(0);
    expect(iou(box(5, 5, 5, 5), box(5, 5, 5, 5))).toBe(0); // degenerate boxes never match
    expect(boxArea(box(3, 3, 1, 1))).toBe(0);
  });
});

describe('pointInPolygon', () => {
  it('handles a concave polygon', () => {
    expect(pointInPolygon([0.5, 2], U)).toBe(true); // left arm
    expect(pointInPolygon([2.5, 2.5], U)).toBe(true); // right arm
    expect(pointInPolygon([1.5, 0.5], U)).toBe(true); // base
    expect(pointInPolygon([1.5, 2], U)).toBe(false); // in the notch
    expect(pointInPolygon([1.5, 3], U)).toBe(false); // across the notch's open mouth
    expect(pointInPolygon([4, 1], U)).toBe(false);
    expect(pointInPolygon([-1, 3], U)).toBe(false); // on the line of a horizontal edge, outside
  });

  it('counts edge and vertex points as inside', () => {
    expect(pointInPolygon([1.5, 1], U)).toBe(true); // notch floor
    expect(pointInPolygon([3, 1.5], U)).toBe(true); // right side
    expect(pointInPolygon([1, 2], U)).toBe(true); // notch wall
    expect(pointInPolygon([2, 3], U)).toBe(true); // vertex
    expect(pointInPolygon([0, 0], U)).toBe(true);
  });

  it('counts edge points as inside for pixel-scaled polygons too', () => {
    // Regression: an absolute 1e-12 tolerance missed 128 of these 297 points after scaling.
    const poly = toPixels(
      [
        [0.1, 0.1],
        [0.7, 0.3],
        [0.5, 0.9],
      ],
      768,
      432,
    );
    let misses = 0;
    for (let e = 0; e < 3; e++) {
      const a = poly[e]!;
      const b = poly[(e + 1) % 3]!;
      for (let k = 1; k < 100; k++) {
        const t = k / 100;
        if (!pointInPolygon([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t], poly)) misses++;
      }
    }
    expect(misses).toBe(0);
    // …while a point one pixel outside an edge is still outside.
    expect(pointInPolygon([0.4 * 768, 0.2 * 432 - 1], poly)).toBe(false);
  });
});

describe('boxOverlapRatio', () => {
  const square: Point[] = [
    [10, 10],
    [30, 10],
    [30, 30],
    [10, 30],
  ];
  it('gives exact fractions', () => {
    expect(boxOverlapRatio(box(12, 12, 20, 20), square)).toBe(1);
    expect(boxOverlapRatio(box(0, 10, 20, 30), square)).toBe(0.5);
    expect(boxOverlapRatio(box(20, 20, 40, 40), square)).toBe(0.25);
    expect(boxOverlapRatio(box(40, 40, 50, 50), square)).toBe(0);
    expect(boxOverlapRatio(box(0, 0, 40, 40), square)).toBe(400 / 1600);
    expect(boxOverlapRatio(box(15, 15, 15, 25), square)).toBe(0); // zero-area box
  });

  it('clips concave polygons correctly', () => {
    // Box y 0.5..2.5 over the U: base strip 3 × 0.5 plus two arms 1 × 1.5 = 4.5 of 6.
    expect(boxOverlapRatio(box(0, 0.5, 3, 2.5), U)).toBe(0.75);
    // Box entirely inside the notch.
    expect(boxOverlapRatio(box(1.2, 1.5, 1.8, 2.5), U)).toBe(0);
  });
});

describe('polygonProblem', () => {
  it('accepts valid convex and concave polygons', () => {
    expect(
      polygonProblem([
        [0, 0],
        [1, 0],
        [0, 1],
      ]),
    ).toBeNull();
    expect(polygonProblem(U.map(([x, y]) => [x / 3, y / 3] as NormPoint))).toBeNull();
  });

  it('names what is wrong', () => {
    expect(
      polygonProblem([
        [0, 0],
        [1, 1],
      ]),
    ).toBe('a polygon needs at least 3 points, got 2');
    expect(
      polygonProblem([
        [0, 0],
        [1.2, 0.5],
        [0, 1],
      ]),
    ).toBe('point 1 (1.2, 0.5) is outside the normalised range 0..1');
    expect(
      polygonProblem([
        [0, 0],
        [0.5, -0.1],
        [0, 1],
      ]),
    ).toBe('point 1 (0.5, -0.1) is outside the normalised range 0..1');
    expect(
      polygonProblem([
        [0, 0],
        [NaN, 0.5],
        [0, 1],
      ]),
    ).toBe('point 1 (NaN, 0.5) is outside the normalised range 0..1');
    expect(
      polygonProblem([
        [0, 0],
        [1, 1],
        [1, 0],
        [0, 1],
      ]),
    ).toBe('the polygon is self-intersecting (edge 0 crosses edge 2)');
    expect(
      polygonProblem([
        [0, 0],
        [0.5, 0.5],
        [1, 1],
      ]),
    ).toBe('the polygon has no area');
  });
});

describe('helpers', () => {
  it('footprint, area, scaling and segment intersection', () => {
    expect(boxFootprint(box(10, 20, 30, 60))).toEqual([20, 60]);
    expect(polygonArea(U)).toBe(7);
    expect(toPixels([[0.5, 0.25]], 200, 100)).toEqual([[100, 25]]);
    expect(segmentsIntersect([0, 0], [2, 2], [0, 2], [2, 0])).toBe(true);
    expect(segmentsIntersect([0, 0], [1, 0], [1, 0], [2, 5])).toBe(true); // touching
    expect(segmentsIntersect([0, 0], [1, 0], [0, 1], [1, 1])).toBe(false);
  });
});
