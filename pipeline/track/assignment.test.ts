import { describe, expect, it } from 'vitest';
import { assign } from './assignment.js';

describe('assign', () => {
  it('handles empty sides', () => {
    expect(assign([], 3, 0.7)).toEqual({ matches: [], unmatchedRows: [], unmatchedCols: [0, 1, 2] });
    expect(assign([[], []], 0, 0.7)).toEqual({ matches: [], unmatchedRows: [0, 1], unmatchedCols: [] });
  });

  it('finds the optimum where greedy lowest-cost-first would strand a row', () => {
    // Greedy takes (0,0)=0.1 and leaves row 1 with only 0.9 (over the limit).
    const r = assign(
      [
        [0.1, 0.2],
        [0.15, 0.9],
      ],
      2,
      0.7,
    );
    expect(r).toEqual({
      matches: [
        [0, 1],
        [1, 0],
      ],
      unmatchedRows: [],
      unmatchedCols: [],
    });
  });

  it('prefers one good pair over two poor ones (cost limit, not maximum cardinality)', () => {
    const r = assign(
      [
        [0.1, 0.65],
        [0.65, Infinity],
      ],
      2,
      0.7,
    );
    expect(r).toEqual({ matches: [[0, 0]], unmatchedRows: [1], unmatchedCols: [1] });
  });

  it('never matches forbidden or over-limit pairs, and accepts a cost equal to the limit', () => {
    const r = assign([[Infinity, 0.71, 0.7]], 3, 0.7);
    expect(r).toEqual({ matches: [[0, 2]], unmatchedRows: [], unmatchedCols: [0, 1] });
  });

  it('works on rectangular problems', () => {
    const r = assign(
      [
        [0.5, 0.0, 0.3],
        [0.0, 0.4, 0.6],
        [0.6, 0.6, 0.6],
        [0.2, 0.1, 0.0],
      ],
      3,
      0.7,
    );
    expect(r.matches).toEqual([
      [0, 1],
      [1, 0],
      [3, 2],
    ]);
    expect(r.unmatchedRows).toEqual([2]);
    expect(r.unmatchedCols).toEqual([]);
  });
});
