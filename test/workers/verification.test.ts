// Verification (核查) on live streams: two cameras show the same parked car; on one the car is gone
// (painted over) from 20 s, on the other it stays. Both cases are marked handled as soon as they
// appear; the worker then watches each zone and records verified vs reopened (with fresh evidence).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { closeRedis, createRedis } from '../../infra/redis.js';
import type { LocalRedis } from '../../workers/redis-server.js';
import { startWorker, type WorkerHandle } from '../../workers/worker.js';
import { carLeavesClip, parkedCarClip, parkedCarConfig, startHlsLoop, tempDir, testRedis, waitFor } from './helpers.js';

type Hls = Awaited<ReturnType<typeof startHlsLoop>>;
let server: LocalRedis;
let redis: Redis;
let dir: string;
let cleanup: () => Promise<void>;
let worker: WorkerHandle | null = null;
const streams: Hls[] = [];

beforeAll(async () => {
  const t = await tempDir('verify');
  dir = t.dir;
  cleanup = t.cleanup;
  server = await testRedis(dir);
  redis = createRedis(server.url);
});
afterAll(async () => {
  await worker?.drain();
  for (const s of streams) await s.stop();
  await closeRedis(redis);
  await server.stop();
  await cleanup();
});

describe('verification after handling', () => {
  it('verifies a case whose violation left and reopens one whose violation stayed', async () => {
    const [stays, leaves] = await Promise.all([parkedCarClip(60), carLeavesClip(20, 80)]);
    worker = await startWorker({
      redisUrl: server.url,
      dataDir: join(dir, 'data'),
      workerId: 'wv',
      inferThreads: 1,
      // Observe from 25 s after the handled mark for 10 s: the car on camLeaves is gone by then
      // (it leaves 20 s into its stream, and the case cannot be handled before the stream starts).
      verifyDelaySec: 25,
      verifyWindowSec: 10,
      preRollSec: 2,
      postRollSec: 2,
      log: () => undefined,
    });
    for (const [id, clip, loop] of [
      ['camStays', stays, true],
      ['camLeaves', leaves, false],
    ] as const) {
      const hls = await startHlsLoop({ clip, loop });
      streams.push(hls);
      // Both decode modes: the camera whose car stays is decoded keyframes-only (1 keyframe/s here),
      // so its reopen evidence is cut from a ring recorded by the same ffmpeg run in that mode.
      const cfg = parkedCarConfig(id);
      if (id === 'camStays') cfg.analysis = { fps: 2, decode: 'keyframes' };
      await worker.cameras.create({ id, url: hls.url, config: cfg });
    }
    const handled = async (cam: string) => {
      const c = await waitFor(`case on ${cam}`, async () => (await worker!.cases.list({ cameraId: cam })).items[0], 60_000);
      await worker!.cases.transition(c.id, 'dispatched', { actor: 'test' });
      return worker!.cases.transition(c.id, 'handled', { actor: 'test', reason: 'crew reports done' });
    };
    const [a, b] = await Promise.all([handled('camStays'), handled('camLeaves')]);
    expect((await worker.health.get('camStays'))?.decode).toBe('keyframes');

    const settled = (id: string) =>
      waitFor(
        `verification of ${id}`,
        async () => {
          const c = await worker!.cases.get(id);
          return c && c.state !== 'handled' ? c : null;
        },
        70_000,
      );
    const [stayed, left] = await Promise.all([settled(a.id), settled(b.id)]);
    console.log(
      `stays: ${stayed.verification?.present}/${stayed.verification?.total} present; leaves: ${left.verification?.present}/${left.verification?.total}`,
    );
    expect(left.state).toBe('verified');
    expect(left.verification!.total).toBeGreaterThan(5);
    expect(left.verification!.present).toBe(0);
    expect(stayed.state).toBe('reopened');
    expect(stayed.verification!.present! / stayed.verification!.total!).toBeGreaterThanOrEqual(0.5);
    expect(stayed.history.at(-1)).toMatchObject({ from: 'handled', to: 'reopened', actor: 'camera:camStays' });

    // Reopening brings fresh evidence of the verification window.
    const withFresh = await waitFor(
      'reopen evidence',
      async () => {
        const c = await worker!.cases.get(stayed.id);
        return c && c.evidence.filter((e) => e.file.kind === 'clip').length >= 2 ? c : null;
      },
      40_000,
    );
    const clips = withFresh.evidence.filter((e) => e.file.kind === 'clip');
    expect(clips[1]!.key).toMatch(/\/v\d+\/clip\.mp4$/);
    const round = (c: typeof stayed) => `v${c.history.filter((h) => h.to === 'handled').at(-1)!.at}`;
    // The evidence job attaches the clip, then queues the delivery: wait for it rather than race it.
    expect(
      await waitFor('reopened delivery', () => worker!.delivery.get(`case.reopened:${stayed.id}:${round(stayed)}`), 15_000),
    ).toMatchObject({ type: 'case.reopened' });
    expect(await waitFor('verified delivery', () => worker!.delivery.get(`case.verified:${left.id}:${round(left)}`), 15_000)).toMatchObject(
      { type: 'case.verified' },
    );
  });
});
