// Redis connections and key names. Every durable record of the workers lives under one prefix so
// several deployments can share a Redis and a test can wipe its own data.
import { Redis, type RedisOptions } from 'ioredis';
import { backoffDelay } from '../pipeline/backoff.js';

export const DEFAULT_PREFIX = 'cw';

/**
 * A connection that waits out Redis restarts instead of failing commands: with AOF on, Redis comes
 * back with every acknowledged write, so queueing commands until it does is the right thing for the
 * workers (BullMQ requires maxRetriesPerRequest: null anyway).
 */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => backoffDelay(times, { initialMs: 200, maxMs: 2000 }),
    ...extra,
  });
}

/** Key builder bound to a prefix. */
export class Keys {
  constructor(readonly prefix: string = DEFAULT_PREFIX) {
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(prefix)) throw new Error(`redis key prefix must be 1–32 of A-Z a-z 0-9 _ . -, got "${prefix}"`);
  }
  k(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }
}

/** Closes a connection without throwing when it is already gone. */
export async function closeRedis(r: Redis): Promise<void> {
  try {
    await r.quit();
  } catch {
    r.disconnect();
  }
}
