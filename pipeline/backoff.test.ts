import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  const b = { initialMs: 1000, maxMs: 30_000 };
  it('doubles from the initial delay up to the ceiling (no spread at the middle of the jitter)', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, b, () => 0.5))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(backoffDelay(0, b, () => 0.5)).toBe(1000);
  });
  it('spreads by ±jitter (default 20 %), never past the ceiling', () => {
    expect(backoffDelay(2, b, () => 0)).toBe(1600);
    expect(backoffDelay(2, b, () => 1)).toBe(2400);
    expect(backoffDelay(9, b, () => 1)).toBe(30_000);
    expect(backoffDelay(9, b, () => 0)).toBe(24_000);
    expect(backoffDelay(1, { ...b, jitter: 0.5 }, () => 0)).toBe(500);
    expect(backoffDelay(3, { ...b, jitter: 0 }, () => 0)).toBe(4000);
  });
  it('takes another growth factor', () => {
    expect([1, 2, 3].map((a) => backoffDelay(a, { initialMs: 100, maxMs: 10_000, factor: 3, jitter: 0 }))).toEqual([100, 300, 900]);
  });
});
