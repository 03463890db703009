import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMIT, rateLimitFromEnv } from './rate-limit.js';

describe('API_RATE_LIMIT', () => {
  it('parses requests/seconds, a bare count per minute, 0 = off, and refuses junk', () => {
    expect(rateLimitFromEnv(undefined)).toEqual(DEFAULT_RATE_LIMIT);
    expect(rateLimitFromEnv('')).toEqual(DEFAULT_RATE_LIMIT);
    expect(rateLimitFromEnv('120/10')).toEqual({ points: 120, durationSec: 10 });
    expect(rateLimitFromEnv(' 300 ')).toEqual({ points: 300, durationSec: 60 });
    expect(rateLimitFromEnv('0')).toBeNull();
    expect(() => rateLimitFromEnv('lots')).toThrow(/API_RATE_LIMIT must be/);
    expect(() => rateLimitFromEnv('-5/10')).toThrow(/API_RATE_LIMIT must be/);
  });
});
