import { describe, expect, it } from 'vitest';
import { niceTicks, prBarsSvg, stackIntervals, timelineSvg } from './plots.js';

describe('niceTicks', () => {
  it('uses 1/2/5 steps from 0 up to the max', () => {
    expect(niceTicks(40, 10)).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40]);
    expect(niceTicks(1, 4)).toEqual([0, 0.5, 1]);
    expect(niceTicks(0)).toEqual([0]);
  });
});

describe('svg builders', () => {
  it('escape labels and mark missing scores', () => {
    const svg = prBarsSvg([{ classId: 'a<b', precision: null, recall: 0.5 }]);
    expect(svg).toContain('a&lt;b');
    expect(svg).toContain('n/a');
    expect(svg).toContain('0.50');
  });
  it('draw one confirm marker per prediction', () => {
    const svg = timelineSvg('clip', 40, [
      {
        classId: 'c',
        truths: [{ start: 8, end: 32 }],
        predictions: [
          { start: 8, end: 32, confirmedAt: 18, kind: 'tp' },
          { start: 35, end: 40, confirmedAt: 38, kind: 'fp' },
        ],
      },
    ]);
    expect(svg.match(/<path /g)).toHaveLength(2);
  });
});

describe('stackIntervals', () => {
  it('puts overlapping intervals in separate sub-lanes and reuses freed ones', () => {
    expect(
      stackIntervals([
        { start: 12, end: 30 },
        { start: 27, end: 30 },
        { start: 28, end: 30 },
        { start: 30, end: 35 },
      ]),
    ).toEqual([0, 1, 2, 0]);
    expect(stackIntervals([])).toEqual([]);
  });
});
