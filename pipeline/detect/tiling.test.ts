import { describe, expect, it } from 'vitest';
import { candidateToSource, mergeTiled, tileRects, type SourceCandidate } from './tiling.js';

describe('tileRects', () => {
  it('covers a 1080p frame with a 2x2 grid sharing 20 % between neighbours', () => {
    expect(tileRects(1920, 1080, { cols: 2, rows: 2, overlap: 0.2 })).toEqual([
      { x: 0, y: 0, width: 1068, height: 600 },
      { x: 852, y: 0, width: 1068, height: 600 },
      { x: 0, y: 480, width: 1068, height: 600 },
      { x: 852, y: 480, width: 1068, height: 600 },
    ]);
  });
  it('keeps offsets and sizes even and the last tile flush with the (even) frame edge', () => {
    const rects = tileRects(961, 541, { cols: 3, rows: 1, overlap: 0.25 });
    expect(rects.map((r) => [r.x, r.width, r.y, r.height])).toEqual([
      // 961 / (3 - 2 x 0.25) = 384.4 → rounded up to an even 386; step (960 - 386) / 2 = 287 → 286.
      [0, 386, 0, 540],
      [286, 386, 0, 540],
      [574, 386, 0, 540],
    ]);
  });
});

describe('candidateToSource', () => {
  const rect = { x: 800, y: 0, width: 800, height: 600 }; // right-top tile of a 1600x1200 frame
  it('scales per axis, offsets by the tile and flags boxes touching an inner border only', () => {
    // sx = 416/800 = 0.52, sy = 416/600
    const sx = 0.52;
    const sy = 416 / 600;
    const inner = candidateToSource({ classId: 2, score: 0.9, x1: 0, y1: 104, x2: 52, y2: 208 }, sx, sy, rect, 1600, 1200, 4);
    expect(inner.x1).toBe(800);
    expect(inner.x2).toBeCloseTo(900, 9);
    expect(inner.y1).toBeCloseTo(150, 9);
    expect(inner.y2).toBeCloseTo(300, 9);
    expect(inner.cut).toBe(true); // on the tile's left edge, which is inside the frame
    const outer = candidateToSource({ classId: 2, score: 0.9, x1: 364, y1: 0, x2: 416, y2: 52 }, sx, sy, rect, 1600, 1200, 4);
    expect(outer.cut).toBe(false); // top and right edges of this tile are the frame's own
    const bottom = candidateToSource({ classId: 2, score: 0.9, x1: 100, y1: 300, x2: 200, y2: 415 }, sx, sy, rect, 1600, 1200, 4);
    expect(bottom.cut).toBe(true); // 1 model px from the tile's bottom, an inner border
  });
});

describe('mergeTiled', () => {
  const c = (classId: number, score: number, x1: number, y1: number, x2: number, y2: number, cut = false): SourceCandidate => ({
    classId,
    score,
    x1,
    y1,
    x2,
    y2,
    cut,
  });
  it('drops same-class duplicates above the IoU and keeps other classes', () => {
    const out = mergeTiled([c(0, 0.8, 0, 0, 10, 10), c(0, 0.9, 1, 0, 11, 10), c(1, 0.7, 1, 0, 11, 10)], { iou: 0.5, ios: 0.6 });
    expect(out).toEqual([
      { classId: 0, score: 0.9, x1: 1, y1: 0, x2: 11, y2: 10 },
      { classId: 1, score: 0.7, x1: 1, y1: 0, x2: 11, y2: 10 },
    ]);
  });
  it('folds a piece cut by a tile border into the whole object: the whole extent, the best score', () => {
    const whole = c(2, 0.7, 100, 100, 300, 200);
    const piece = c(2, 0.9, 250, 90, 310, 200, true); // higher score; 50x100 of its 60x110 inside (0.76)
    expect(mergeTiled([whole, piece], { iou: 0.5, ios: 0.6 })).toEqual([{ classId: 2, score: 0.9, x1: 100, y1: 100, x2: 300, y2: 200 }]);
    // Lower-scored piece: simply dropped.
    expect(mergeTiled([{ ...whole, score: 0.95 }, piece], { iou: 0.5, ios: 0.6 })).toEqual([
      { classId: 2, score: 0.95, x1: 100, y1: 100, x2: 300, y2: 200 },
    ]);
  });
  it('folds both pieces of an object split between two tiles into the whole box, whatever scored best', () => {
    const left = c(2, 0.93, 717, 480, 1067, 729, true);
    const right = c(2, 0.88, 852, 480, 1185, 730, true);
    const whole = c(2, 0.8, 724, 467, 1181, 735);
    expect(mergeTiled([left, right, whole], { iou: 0.5, ios: 0.6 })).toEqual([
      { classId: 2, score: 0.93, x1: 724, y1: 467, x2: 1181, y2: 735 },
    ]);
  });
  it('does not fold a cut person into a larger box that only contains it (a group, not its whole)', () => {
    const out = mergeTiled([c(0, 0.9, 100, 100, 300, 400), c(0, 0.8, 150, 200, 190, 300, true)], { iou: 0.5, ios: 0.6 });
    expect(out).toHaveLength(2);
  });
  it('never glues two cut pieces (neighbours in a crowd) into one box', () => {
    const out = mergeTiled([c(0, 0.9, 0, 0, 40, 100, true), c(0, 0.8, 25, 0, 45, 100, true)], { iou: 0.5, ios: 0.6 });
    expect(out.map((b) => [b.x1, b.x2])).toEqual([
      [0, 40],
      [25, 45],
    ]);
  });
  it('keeps two small whole objects side by side and an uncut box inside a larger one', () => {
    const out = mergeTiled([c(0, 0.9, 0, 0, 10, 30), c(0, 0.8, 8, 0, 18, 30), c(2, 0.9, 0, 0, 100, 100), c(2, 0.6, 10, 10, 30, 30)], {
      iou: 0.5,
      ios: 0.6,
    });
    expect(out).toHaveLength(4);
  });
});

describe('analysis.tiling config', () => {
  it('is off by default and refuses grids and overlaps out of range, naming the field', async () => {
    const { analysisSchema } = await import('../rules/config-schema.js');
    const { sourceTiling } = await import('./stream.js');
    const def = analysisSchema.parse({}).tiling;
    expect(def).toEqual({ enabled: false, cols: 2, rows: 2, overlap: 0.2, includeFullFrame: true, mergeIou: 0.5, mergeIos: 0.6 });
    expect(sourceTiling(def)).toBeUndefined();
    expect(sourceTiling({ ...def, enabled: true })).toEqual({ cols: 2, rows: 2, overlap: 0.2 });
    const bad = analysisSchema.safeParse({ tiling: { enabled: true, cols: 5, overlap: 0.6 } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['tiling.cols', 'tiling.overlap']);
  });
});
