import { describe, expect, it } from 'vitest';
import { SpoolFullError } from '../infra/adapters/spool-store.js';
import { spoolWait } from './evidence.js';

describe('spoolWait (evidence job while the spool is full)', () => {
  const t0 = 1_800_000_000_000;
  const full = new SpoolFullError('evidence spool full');
  it('waits 5 s doubling to 60 s while the ring still holds the footage', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => spoolWait(full, t0, t0, 900, n))).toEqual([5000, 10_000, 20_000, 40_000, 60_000, 60_000]);
  });
  it('gives up once the retry would land within a minute of the footage leaving the ring', () => {
    // 900 s retention − 60 s margin = 840 s after the event: a 60 s wait at 779 s lands at 839 s (ok), at 780 s it does not.
    expect(spoolWait(full, t0, t0 + 779_000, 900, 9)).toBe(60_000);
    expect(spoolWait(full, t0, t0 + 780_000, 900, 9)).toBeNull();
  });
  it('other errors take the normal attempts', () => {
    expect(spoolWait(new Error('ffmpeg failed'), t0, t0, 900, 1)).toBeNull();
    expect(spoolWait(full, t0, t0, 0, 1)).toBeNull();
  });
});
