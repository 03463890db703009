// Camera leases: exactly one worker analyses a camera at a time.
//
// Why an explicit lease key and not a long-running BullMQ job per camera: a BullMQ processor cannot
// be interrupted when its job lock is lost (a GC pause, a Redis restart longer than the lock), so the
// old processor would keep analysing while the job is re-run elsewhere — two workers on one camera.
// With `SET lease NX PX ttl` + a compare-and-renew script the holder learns at its next heartbeat that
// it lost the camera and stops at once; a dead holder's key simply expires and another worker takes
// the camera at its next poll (worst case ttl + poll interval, 15 s + 2 s by default, < 30 s).
import type { Redis } from 'ioredis';
import { Keys } from './redis.js';

// KEYS: lease key. ARGV: owner, ttl ms. 1 = renewed, 0 = held by someone else or gone.
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export class LeaseManager {
  readonly keys: Keys;

  constructor(
    private readonly redis: Redis,
    readonly workerId: string,
    readonly ttlMs: number,
    prefix?: string,
  ) {
    this.keys = new Keys(prefix);
    if (!(ttlMs >= 1000)) throw new Error(`lease ttl must be at least 1000 ms, got ${ttlMs}`);
  }

  leaseKey(cameraId: string): string {
    return this.keys.k('lease', cameraId);
  }
  private get workers(): string {
    return this.keys.k('workers');
  }

  async acquire(cameraId: string): Promise<boolean> {
    return (await this.redis.set(this.leaseKey(cameraId), this.workerId, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  async renew(cameraId: string): Promise<boolean> {
    return ((await this.redis.eval(RENEW_LUA, 1, this.leaseKey(cameraId), this.workerId, String(this.ttlMs))) as number) === 1;
  }

  async release(cameraId: string): Promise<void> {
    await this.redis.eval(RELEASE_LUA, 1, this.leaseKey(cameraId), this.workerId);
  }

  async owner(cameraId: string): Promise<string | null> {
    return this.redis.get(this.leaseKey(cameraId));
  }

  /** Announces this worker as alive (for fair sharing of cameras). */
  async beat(info: Record<string, unknown>): Promise<void> {
    const now = Date.now();
    await this.redis
      .multi()
      .zadd(this.workers, now, this.workerId)
      .set(this.keys.k('worker', this.workerId), JSON.stringify({ ...info, at: now }), 'PX', this.ttlMs)
      .zremrangebyscore(this.workers, '-inf', now - 10 * this.ttlMs)
      .exec();
  }

  /** Workers that beat within the lease ttl (at least 1: this one). */
  async liveWorkers(): Promise<number> {
    const n = await this.redis.zcount(this.workers, Date.now() - this.ttlMs, '+inf');
    return Math.max(1, n);
  }

  async leave(): Promise<void> {
    await this.redis.multi().zrem(this.workers, this.workerId).del(this.keys.k('worker', this.workerId)).exec();
  }
}

/** How many cameras one worker should hold: an even share, never above the configured cap. */
export function fairShare(enabledCameras: number, liveWorkers: number, cap: number): number {
  return Math.min(cap, Math.ceil(enabledCameras / Math.max(1, liveWorkers)));
}
