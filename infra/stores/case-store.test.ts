import { describe, expect, it } from 'vitest';
import { groupIdsByCamera } from './case-store.js';

describe('groupIdsByCamera', () => {
  it('gives every camera asked for its ids in row order, an empty list when it has none', () => {
    const rows = [
      { camera_id: 'a', id: 'case_1' },
      { camera_id: 'a', id: 'case_3' },
      { camera_id: 'c', id: 'case_2' },
    ];
    const m = groupIdsByCamera(['c', 'b', 'a'], rows);
    expect([...m]).toEqual([
      ['c', ['case_2']],
      ['b', []],
      ['a', ['case_1', 'case_3']],
    ]);
  });

  it('ignores rows of cameras not asked for and gives an empty map for no cameras', () => {
    expect([...groupIdsByCamera(['a'], [{ camera_id: 'x', id: 'case_9' }])]).toEqual([['a', []]]);
    expect(groupIdsByCamera([], [{ camera_id: 'x', id: 'case_9' }]).size).toBe(0);
  });
});
