// Camera leases: exactly one worker analyses a camera at a time.
//
// Why an explicit lease key and not a long-running BullMQ job per camera: a BullMQ processor cannot
// be interrupted when its job lock is lost (a GC pause, a Redis restart longer than the lock), so the
// old processor would keep analysing while the job is re-run elsewhere — two workers on one camera.
// With a lease key (PX ttl) + a compare-and-renew script the holder learns at its next heartbeat that
// it lost the camera and stops at once; a dead holder's key simply expires and another worker takes
// the camera at its next poll (worst case ttl + poll interval, 15 s + 2 s by default, < 30 s).
// A camera is taken over only when its holder is gone: the holder's worker key (refreshed by every
// renewal round) must have expired too, so a live worker whose renewal came late keeps its cameras.
import type { Redis } from 'ioredis';
import { Keys } from '../infra/redis.js';

// Batched renewal: one round trip per lease round for every camera a worker holds, which also
// announces the worker as alive. KEYS: workers zset, worker key, then lease key and holder key per
// camera. ARGV: owner, ttl ms, now ms, worker info json, holder ttl ms.
// Per camera: 1 = renewed; 2 = the lease had expired but nobody took it and we were its last holder,
// so it is ours again (a late renewal, e.g. after a long GC pause or Redis failover); 0 = lost.
const RENEW_ALL_LUA = `
local owner, ttl, now, info, holderTtl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
redis.call('ZADD', KEYS[1], now, owner)
redis.call('SET', KEYS[2], info, 'PX', ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 10 * ttl)
local out = {}
for i = 3, #KEYS, 2 do
  local cur = redis.call('GET', KEYS[i])
  if cur == owner then
    redis.call('PEXPIRE', KEYS[i], ttl)
    redis.call('SET', KEYS[i + 1], owner, 'PX', holderTtl)
    out[#out + 1] = 1
  elseif not cur and redis.call('GET', KEYS[i + 1]) == owner then
    redis.call('SET', KEYS[i], owner, 'PX', ttl)
    redis.call('SET', KEYS[i + 1], owner, 'PX', holderTtl)
    out[#out + 1] = 2
  else
    out[#out + 1] = 0
  end
end
return out
`;

// Take a free camera, but not one whose last holder is still alive: a free lease with a live holder
// means that holder's renewal is late, not that it is gone. KEYS: lease key, holder key.
// ARGV: owner, ttl ms, holder ttl ms, worker key prefix. 1 = acquired.
const ACQUIRE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local prev = redis.call('GET', KEYS[2])
if prev and prev ~= ARGV[1] and redis.call('EXISTS', ARGV[4] .. prev) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
redis.call('SET', KEYS[2], ARGV[1], 'PX', tonumber(ARGV[3]))
return 1
`;

const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return redis.call('DEL', KEYS[1])
end
return 0
`;

export type RenewOutcome = 'renewed' | 'recovered' | 'lost';

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
  /** Who held the camera last; outlives the lease by 2 × ttl so a late renewal can tell it was us. */
  holderKey(cameraId: string): string {
    return this.keys.k('leaseholder', cameraId);
  }
  private get workers(): string {
    return this.keys.k('workers');
  }
  private workerKey(id: string): string {
    return this.keys.k('worker', id);
  }

  async acquire(cameraId: string): Promise<boolean> {
    const r = (await this.redis.eval(
      ACQUIRE_LUA,
      2,
      this.leaseKey(cameraId),
      this.holderKey(cameraId),
      this.workerId,
      String(this.ttlMs),
      String(3 * this.ttlMs),
      this.workerKey(''),
    )) as number;
    return r === 1;
  }

  async renew(cameraId: string): Promise<boolean> {
    return (await this.renewAll([cameraId])).get(cameraId) !== 'lost';
  }

  /**
   * Renews every lease in `cameraIds` and beats (this worker is alive), in one round trip whatever
   * the number of cameras, so renewals never queue behind per-camera traffic.
   */
  async renewAll(cameraIds: readonly string[], info: Record<string, unknown> = {}): Promise<Map<string, RenewOutcome>> {
    const now = Date.now();
    const keys = [this.workers, this.workerKey(this.workerId)];
    for (const id of cameraIds) keys.push(this.leaseKey(id), this.holderKey(id));
    const res = (await this.redis.eval(
      RENEW_ALL_LUA,
      keys.length,
      ...keys,
      this.workerId,
      String(this.ttlMs),
      String(now),
      JSON.stringify({ ...info, at: now }),
      String(3 * this.ttlMs),
    )) as number[];
    const out = new Map<string, RenewOutcome>();
    cameraIds.forEach((id, i) => out.set(id, res[i] === 1 ? 'renewed' : res[i] === 2 ? 'recovered' : 'lost'));
    return out;
  }

  async release(cameraId: string): Promise<void> {
    await this.redis.eval(RELEASE_LUA, 2, this.leaseKey(cameraId), this.holderKey(cameraId), this.workerId);
  }

  async owner(cameraId: string): Promise<string | null> {
    return this.redis.get(this.leaseKey(cameraId));
  }

  /** Announces this worker as alive (for fair sharing of cameras); renewAll() does this too. */
  async beat(info: Record<string, unknown>): Promise<void> {
    await this.renewAll([], info);
  }

  /** Workers that beat within the lease ttl (at least 1: this one). */
  async liveWorkers(): Promise<number> {
    const n = await this.redis.zcount(this.workers, Date.now() - this.ttlMs, '+inf');
    return Math.max(1, n);
  }

  async leave(): Promise<void> {
    await this.redis.multi().zrem(this.workers, this.workerId).del(this.workerKey(this.workerId)).exec();
  }
}

/** How many cameras one worker should hold: an even share, never above the configured cap. */
export function fairShare(enabledCameras: number, liveWorkers: number, cap: number): number {
  return Math.min(cap, Math.ceil(enabledCameras / Math.max(1, liveWorkers)));
}
