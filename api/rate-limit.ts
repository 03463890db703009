// Request rate limits per API key (per client address for requests without a valid key), counted in
// Redis so the limit holds across API processes. rate-limiter-flexible does the counting; an
// in-memory limiter takes over while Redis is unreachable so an outage does not turn into no limit.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface RateLimitOptions {
  /** Requests allowed per window per key (default 600). */
  points: number;
  /** Window length in seconds (default 60). */
  durationSec: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { points: 600, durationSec: 60 };

/** API_RATE_LIMIT="600/60" (requests/seconds), "0" to turn limiting off. */
export function rateLimitFromEnv(text: string | undefined): RateLimitOptions | null {
  if (text === undefined || text.trim() === '') return DEFAULT_RATE_LIMIT;
  if (/^\s*0\s*$/.test(text)) return null;
  const m = /^\s*(\d{1,7})\s*(?:\/\s*(\d{1,6}))?\s*$/.exec(text);
  if (!m || Number(m[1]) < 1) throw new Error(`API_RATE_LIMIT must be "<requests>/<seconds>" such as 600/60, or 0; got "${text}"`);
  return { points: Number(m[1]), durationSec: Number(m[2] ?? 60) };
}

export type RateDecision = { ok: true; remaining: number } | { ok: false; retryAfterSec: number };

export class RateLimiter {
  private readonly limiter: RateLimiterRedis;
  constructor(
    redis: Redis,
    prefix: string,
    readonly options: RateLimitOptions,
  ) {
    this.limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}:ratelimit`,
      points: options.points,
      duration: options.durationSec,
      insuranceLimiter: new RateLimiterMemory({ points: options.points, duration: options.durationSec }),
    });
  }

  async consume(subject: string): Promise<RateDecision> {
    try {
      const r = await this.limiter.consume(subject, 1);
      return { ok: true, remaining: r.remainingPoints };
    } catch (err) {
      if (err instanceof RateLimiterRes) return { ok: false, retryAfterSec: Math.max(1, Math.ceil(err.msBeforeNext / 1000)) };
      throw err;
    }
  }
}
