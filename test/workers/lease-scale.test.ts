// Leases at scale, on a real Redis: one round trip renews every held camera; a free lease whose
// holder is alive is not taken; many cameras with slow starts (an RTSP server that accepts and never
// answers, so every connect probe hangs) lose no lease; two workers split the cameras evenly.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseManager } from '../../workers/lease.js';
import { CameraStore } from '../../infra/stores/camera-store.js';
import { startWorker, type WorkerHandle } from '../../workers/worker.js';
import { SHARED } from '../support/media.js';
import { parkedCarConfig, redisPerFile, tempDir, waitFor } from './helpers.js';

let redis: Redis;
let redisUrl: string;
redisPerFile('lease-scale', (r, url) => {
  redis = r;
  redisUrl = url;
});

async function evalCalls(): Promise<number> {
  const info = await redis.info('commandstats');
  const m = /cmdstat_eval:calls=(\d+)/.exec(info);
  return m ? Number(m[1]) : 0;
}

describe('LeaseManager', () => {
  it('renews 200 leases in one round trip, and recovers a lease that expired without being taken', async () => {
    const lm = new LeaseManager(redis, 'wa', 5000, 'ls1');
    const ids = Array.from({ length: 200 }, (_, i) => `c${i}`);
    for (const id of ids) expect(await lm.acquire(id)).toBe(true);
    const before = await evalCalls();
    const res = await lm.renewAll(ids);
    expect(await evalCalls()).toBe(before + 1);
    expect([...res.values()].every((v) => v === 'renewed')).toBe(true);
    // A late renewal: the lease key is gone but nobody took the camera and we were its holder.
    await redis.del(lm.leaseKey('c7'));
    expect((await lm.renewAll(['c7', 'c8'])).get('c7')).toBe('recovered');
    expect(await lm.owner('c7')).toBe('wa');
    // Taken by someone else: lost.
    await redis.set(lm.leaseKey('c9'), 'wb');
    expect((await lm.renewAll(['c9'])).get('c9')).toBe('lost');
  });

  it('does not take a free camera while its last holder is alive; takes it once the holder is gone', async () => {
    const a = new LeaseManager(redis, 'wa', 1000, 'ls2');
    const b = new LeaseManager(redis, 'wb', 1000, 'ls2');
    expect(await a.acquire('cam')).toBe(true);
    await a.renewAll(['cam']); // holder beat: alive for one ttl
    await redis.del(a.leaseKey('cam')); // the lease lapsed (a late renewal)
    expect(await b.acquire('cam')).toBe(false);
    // The holder stops beating (killed): its worker key expires with the ttl.
    await new Promise((r) => setTimeout(r, 1200));
    expect(await b.acquire('cam')).toBe(true);
    expect((await a.renewAll(['cam'])).get('cam')).toBe('lost');
    // A released camera is free at once.
    await b.release('cam');
    expect(await a.acquire('cam')).toBe(true);
  });
});

describe('workers with many cameras', () => {
  let hang: Server;
  const sockets = new Set<Socket>();
  let url: string;
  let dir: string;
  let cleanup: () => Promise<void>;
  const workers: WorkerHandle[] = [];
  const logs: { worker: string; msg: string; extra?: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('lease-scale-data'));
    // Accepts RTSP connections and never answers: every start waits for its connect to time out.
    hang = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    url = `rtsp://127.0.0.1:${(hang.address() as AddressInfo).port}/cam`;
  });
  afterAll(async () => {
    for (const w of workers) await w.drain().catch(() => undefined);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => hang.close(() => r()));
    await cleanup();
  });

  const start = (id: string, prefix: string) =>
    startWorker({
      redisUrl,
      prefix,
      workerId: id,
      dataDir: join(dir, id),
      leaseTtlMs: 3000,
      leasePollMs: 500,
      startConcurrency: 4,
      startStaggerMs: 50,
      connectWaitMs: 2000,
      inferThreads: 1,
      // Above the 40 cameras of the first test: this is about leases under slow starts, not the cap.
      maxCamerasPerWorker: 64,
      log: (msg, extra) => logs.push({ worker: id, msg, extra }),
    }).then((w) => (workers.push(w), w));

  it('40 cameras with slow starts on one worker: all held, no lease lost', async () => {
    process.env.MODEL_DIR ??= join(SHARED, 'models');
    const store = new CameraStore(redis, 'one');
    for (let i = 0; i < 40; i++) await store.create({ id: `cam${i}`, url, config: parkedCarConfig(`cam${i}`) });
    const w = await start('w-solo', 'one');
    await waitFor('all 40 cameras held', async () => w.held().length === 40, 60_000);
    // Keep going for several lease lifetimes while the starts keep timing out and retrying.
    await new Promise((r) => setTimeout(r, 8000));
    expect(w.held()).toHaveLength(40);
    expect(logs.filter((l) => l.worker === 'w-solo' && l.msg === 'camera stopping')).toEqual([]);
    const lm = new LeaseManager(redis, 'w-solo', 3000, 'one');
    for (let i = 0; i < 40; i++) expect(await lm.owner(`cam${i}`)).toBe('w-solo');
    await w.drain();
  }, 120_000);

  it('two workers share 40 cameras 20/20', async () => {
    const store = new CameraStore(redis, 'two');
    for (let i = 0; i < 40; i++) await store.create({ id: `cam${i}`, url, config: parkedCarConfig(`cam${i}`) });
    const [a, b] = await Promise.all([start('w-a', 'two'), start('w-b', 'two')]);
    await waitFor('all 40 cameras held', async () => a.held().length + b.held().length === 40 && a.held().length === 20, 60_000);
    await new Promise((r) => setTimeout(r, 4000));
    expect([a.held().length, b.held().length]).toEqual([20, 20]);
    expect(new Set([...a.held(), ...b.held()]).size).toBe(40);
    const lost = logs.filter(
      (l) => (l.worker === 'w-a' || l.worker === 'w-b') && l.msg === 'camera stopping' && /lease/.test(String(l.extra?.why)),
    );
    expect(lost).toEqual([]);
  }, 120_000);
});
