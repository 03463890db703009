import { describe, expect, it } from 'vitest';
import { stallVerdict } from './watchdog.js';

describe('stallVerdict', () => {
  const base = { timeoutMs: 10_000 };
  it('is ok while the last progress is within the timeout', () => {
    expect(stallVerdict({ ...base, now: 20_000, dueAt: 20_000, lastProgressAt: 10_000 })).toBe('ok');
    expect(stallVerdict({ ...base, now: 50_000, dueAt: 20_000, lastProgressAt: 45_000 })).toBe('ok');
  });
  it('is stalled when a timer on time finds no progress for longer than the timeout', () => {
    expect(stallVerdict({ ...base, now: 20_001, dueAt: 20_000, lastProgressAt: 10_000 })).toBe('stalled');
    expect(stallVerdict({ ...base, now: 21_000, dueAt: 20_000, lastProgressAt: 10_000 })).toBe('stalled');
  });
  it('does not judge ffmpeg when node itself ran the timer late', () => {
    expect(stallVerdict({ ...base, now: 21_001, dueAt: 20_000, lastProgressAt: 10_000 })).toBe('node-lagging');
    expect(stallVerdict({ ...base, now: 80_000, dueAt: 20_000, lastProgressAt: 0 })).toBe('node-lagging');
  });
  it('takes the lateness bound from the caller', () => {
    expect(stallVerdict({ ...base, now: 25_000, dueAt: 20_000, lastProgressAt: 0, maxLateMs: 5000 })).toBe('stalled');
    expect(stallVerdict({ ...base, now: 25_001, dueAt: 20_000, lastProgressAt: 0, maxLateMs: 5000 })).toBe('node-lagging');
  });
});
