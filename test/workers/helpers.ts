// Shared set-up for the worker integration tests: a real redis-server per test file, clips derived
// from the real dog.jpg photo (a parked car at the top right), and the camera config around it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOG_JPG, derivedClip, requireFile } from '../support/media.js';
import { startLocalRedis, type LocalRedis } from '../../workers/redis-server.js';
import type { CameraConfigInput } from '../../pipeline/rules/config-schema.js';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { closeRedis, createRedis } from '../../infra/redis.js';
import { waitFor as waitUntil } from '../support/wait.js';

export { startHlsLoop } from '../../demo/hls-loop.js';

export async function tempDir(tag: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `citywatch-${tag}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function testRedis(dir: string): Promise<LocalRedis> {
  return startLocalRedis({ dir: join(dir, 'redis') });
}

/**
 * A real redis-server for the whole test file: started before the first test, stopped (and its
 * data removed) after the last. `ready` receives a connection and the server URL.
 */
export function redisPerFile(tag: string, ready: (redis: Redis, url: string) => void): void {
  let server: LocalRedis;
  let redis: Redis;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const t = await tempDir(tag);
    cleanup = t.cleanup;
    server = await testRedis(t.dir);
    redis = createRedis(server.url);
    ready(redis, server.url);
  });
  afterAll(async () => {
    await closeRedis(redis);
    await server.stop();
    await cleanup();
  });
}

/** dog.jpg as an H.264 clip, 10 fps, keyframe every second (so HLS cuts at 1 s granularity). */
export function parkedCarClip(seconds = 60): Promise<string> {
  requireFile(DOG_JPG, 'apt-get install darknet');
  return derivedClip(
    `dog-parked-${seconds}s.mp4`,
    ['-loop', '1', '-i', DOG_JPG, '-t', String(seconds), '-r', '10'],
    ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '10', '-an'],
  );
}

/** Same photo, but from `leaveAt` seconds the car is painted over (the violation is gone). */
export function carLeavesClip(leaveAt: number, seconds = 80): Promise<string> {
  requireFile(DOG_JPG, 'apt-get install darknet');
  return derivedClip(
    `dog-car-leaves-${leaveAt}of${seconds}s.mp4`,
    ['-loop', '1', '-i', DOG_JPG, '-t', String(seconds), '-r', '10'],
    [
      '-vf',
      `drawbox=x=440:y=50:w=290:h=150:color=0x6f7f6a:t=fill:enable='gte(t,${leaveAt})'`,
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-pix_fmt',
      'yuv420p',
      '-g',
      '10',
      '-an',
    ],
  );
}

/**
 * The car in dog.jpg sits at about (466,78)-(692,172) of 768x576; its footprint (0.75, 0.30) is in
 * this no-parking zone. Dwell thresholds are short so the tests take seconds, not minutes.
 */
export function parkedCarConfig(id: string): CameraConfigInput {
  return {
    camera: { id, name: `test camera ${id}` },
    analysis: { fps: 2 },
    zones: [
      {
        id: 'kerb',
        name: 'kerb lane',
        type: 'no_parking',
        polygon: [
          [0.55, 0.15],
          [0.98, 0.15],
          [0.98, 0.42],
          [0.55, 0.42],
        ],
      },
    ],
    classes: { illegal_parking: { minDwellSec: 2, minHits: 3, window: 5, maxGapSec: 3, mergeWindowSec: 120 } },
  };
}

/** The shared waitFor (test/support/wait.ts) in the argument order the worker tests use. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  return (await waitUntil(fn, { timeoutMs, intervalMs: everyMs, what })) as T;
}

/** A valid reason record (a parked car confirmed in zone kerb), for case-store tests that need one. */
export const PARKING_REASON = {
  classId: 'illegal_parking',
  zoneId: 'kerb',
  zoneType: 'no_parking',
  subject: 't1',
  trackIds: [1],
  dwellSec: 5,
  hits: 4,
  window: 5,
  medianScore: 0.8,
  thresholds: {},
  firstSeen: 0,
  lastSeen: 5,
  frameTimes: [],
};
