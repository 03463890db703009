import { expect, it } from 'vitest';
import { median } from './stats.js';

it('median: middle value, mean of the middle two, null when empty; input left unsorted', () => {
  const xs = [5, 1, 3];
  expect(median(xs)).toBe(3);
  expect(xs).toEqual([5, 1, 3]);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(median([])).toBeNull();
});
