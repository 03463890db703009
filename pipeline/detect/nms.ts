import { iou as boxIou, overlapOfSmaller } from '../geometry/geometry.js';
import type { Candidate } from './decoders/types.js';

/**
 * Class-aware greedy NMS: a box only suppresses boxes of its own class, so a person standing
 * at a stall does not erase the table. Output is sorted by score, highest first.
 */
export function nms(candidates: readonly Candidate[], iouThreshold: number, maxDetections = 300): Candidate[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  const suppressed = new Uint8Array(sorted.length);
  for (let i = 0; i < sorted.length && kept.length < maxDetections; i++) {
    if (suppressed[i]) continue;
    const a = sorted[i]!;
    kept.push(a);
    for (let j = i + 1; j < sorted.length; j++) {
      if (suppressed[j]) continue;
      const b = sorted[j]!;
      if (b.classId === a.classId && boxIou(a, b) > iouThreshold) suppressed[j] = 1;
    }
  }
  return kept;
}

/**
 * Merges same-class boxes lying (almost) entirely inside another box of that class. Small models
 * report a rigid object twice when part of it is hidden, e.g. a bicycle whose front wheel is
 * occluded comes out as the whole bike plus its rear half; IoU-NMS keeps both because the part is
 * small. Each copy would become its own track, episode and count, so for rigid labels the pair
 * becomes one detection: the larger (whole-object) box with the higher score. Keeping the larger
 * box even when the part scores higher stops the box, and so the track's centre, from jumping
 * between whole and part from frame to frame. `ratio` is intersection over the smaller area;
 * `maxAreaRatio` is how large a part may be relative to its whole.
 * Input sorted by score (as nms() returns it); output keeps that order.
 */
export function suppressContainedParts(
  sorted: readonly Candidate[],
  ratio: number,
  classIds: ReadonlySet<number>,
  maxAreaRatio = 0.75,
): Candidate[] {
  if (classIds.size === 0) return [...sorted];
  // A part is clearly smaller than its whole; two near-coincident boxes of equal size are two
  // objects (bikes packed side by side in a rack), and counting rules need both.
  const isPart = (a: Candidate, b: Candidate) =>
    a.classId === b.classId && Math.min(area(a), area(b)) <= maxAreaRatio * Math.max(area(a), area(b)) && overlapOfSmaller(a, b) >= ratio;
  const kept: Candidate[] = [];
  for (const b of sorted) {
    const i = classIds.has(b.classId) ? kept.findIndex((a) => isPart(a, b)) : -1;
    if (i < 0) {
      kept.push(b);
      continue;
    }
    const a = kept[i]!;
    if (area(b) > area(a)) kept[i] = { ...b, score: a.score };
  }
  return kept;
}

function area(c: Candidate): number {
  return (c.x2 - c.x1) * (c.y2 - c.y1);
}

/**
 * Drops a lower-scored box that overlaps a box of a *different* label of the same family (IoU above
 * `iou`): class-aware NMS keeps "bicycle 0.77" and "motorcycle 0.32" on one motorbike, and each
 * would become a track, a count and possibly a case. The tracker votes the label over time.
 * `familyOf` maps a class id to its family index (absent: no family). Input sorted by score.
 */
export function suppressFamilyDuplicates(sorted: readonly Candidate[], iou: number, familyOf: ReadonlyMap<number, number>): Candidate[] {
  if (familyOf.size === 0) return [...sorted];
  const kept: Candidate[] = [];
  for (const b of sorted) {
    const fb = familyOf.get(b.classId);
    const dup = fb !== undefined && kept.some((a) => a.classId !== b.classId && familyOf.get(a.classId) === fb && boxIou(a, b) > iou);
    if (!dup) kept.push(b);
  }
  return kept;
}
