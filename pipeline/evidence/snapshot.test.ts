import { describe, expect, it } from 'vitest';
import type { SegmentRecord } from '../source/recorder.js';
import { locateInRing } from './snapshot.js';

describe('locateInRing', () => {
  // Wall-clock bounds come from arrival times: a 40 ms seam between the first two segments.
  const ring: SegmentRecord[] = [
    { file: 'a.ts', startTime: 0, endTime: 2, startWall: 10_000, endWall: 12_000, bytes: 1 },
    { file: 'b.ts', startTime: 2, endTime: 4, startWall: 12_040, endWall: 14_000, bytes: 1 },
  ];
  it('finds the segment holding a time and the offset into it, on either clock', () => {
    expect(locateInRing(ring, 2.5, 'stream')).toEqual({ segment: ring[1], offsetSec: 0.5 });
    expect(locateInRing(ring, 11_000, 'wall')).toEqual({ segment: ring[0], offsetSec: 1 });
  });
  it('takes the nearest frame for a time in a seam or just past the end, within the tolerance', () => {
    expect(locateInRing(ring, 12_010, 'wall')).toEqual({ segment: ring[0], offsetSec: 1.9 });
    expect(locateInRing(ring, 12_030, 'wall')).toEqual({ segment: ring[1], offsetSec: 0 });
    expect(locateInRing(ring, 4.3, 'stream')).toEqual({ segment: ring[1], offsetSec: 1.9 });
  });
  it('is null for a time the ring does not hold', () => {
    expect(locateInRing(ring, 4.6, 'stream')).toBeNull();
    expect(locateInRing(ring, 9_000, 'wall')).toBeNull();
    expect(locateInRing([], 1, 'stream')).toBeNull();
  });
});
