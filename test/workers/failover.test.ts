// Two real worker processes share two live HLS cameras. kill -9 one: its camera must resume on the
// other within 30 s, and no episode may yield two cases (the surviving worker's re-detection of the
// same parked car joins the existing case instead of opening a second one).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { closeRedis, createRedis } from '../../infra/redis.js';
import type { LocalRedis } from '../../workers/redis-server.js';
import { CameraStore } from '../../infra/stores/camera-store.js';
import { CaseStore } from '../../infra/stores/case-store.js';
import { HealthStore } from '../../infra/stores/health-store.js';
import { sql } from 'kysely';
import { openDatabase, type Database } from '../../infra/db/db.js';
import { REPO_ROOT, SHARED } from '../support/media.js';
import { startPostgres, type LocalPostgres } from '../support/postgres.js';
import { parkedCarClip, parkedCarConfig, startHlsLoop, tempDir, testRedis, waitFor } from './helpers.js';

type Hls = Awaited<ReturnType<typeof startHlsLoop>>;
let server: LocalRedis;
// Two worker processes share one system of record: a real PostgreSQL (PGlite is one process only).
let pgServer: LocalPostgres;
let database: Database;
let redis: Redis;
let dir: string;
let cleanup: () => Promise<void>;
const streams: Hls[] = [];
const workers: ChildProcess[] = [];

function spawnWorker(id: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'workers', 'main.ts')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      REDIS_URL: server.url,
      DATABASE_URL: pgServer.url,
      WORKER_ID: id,
      DATA_DIR: join(dir, 'data'),
      INFER_THREADS: '1',
      MODEL_DIR: process.env.MODEL_DIR ?? join(SHARED, 'models'),
      CLIP_POSTROLL_SEC: '2',
      CLIP_PREROLL_SEC: '2',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so cleanup can also reach the ffmpeg children a kill -9 orphans.
    detached: true,
  });
  child.stdout!.resume();
  child.stderr!.resume();
  workers.push(child);
  return child;
}

beforeAll(async () => {
  const t = await tempDir('failover');
  dir = t.dir;
  cleanup = t.cleanup;
  server = await testRedis(dir);
  redis = createRedis(server.url);
  pgServer = await startPostgres();
  database = await openDatabase({ url: pgServer.url });
}, 60_000);
afterAll(async () => {
  for (const w of workers) {
    try {
      process.kill(-w.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const s of streams) await s.stop();
  await closeRedis(redis);
  await database?.close();
  await pgServer?.destroy();
  await server.stop();
  await cleanup();
});

describe('camera leases across worker processes', () => {
  it('moves a killed worker’s camera to the survivor within 30 s without duplicating cases', async () => {
    const clip = await parkedCarClip(60);
    const cameras = new CameraStore(redis);
    const cases = new CaseStore(database.db);
    const health = new HealthStore(redis);
    for (const id of ['camA', 'camB']) {
      const hls = await startHlsLoop({ clip, loop: true });
      streams.push(hls);
      await cameras.create({ id, url: hls.url, config: parkedCarConfig(id) });
    }
    const w1 = spawnWorker('w1');
    spawnWorker('w2');
    const leaseOf = (cam: string) => redis.get(`cw:lease:${cam}`);
    // Fair share: one camera each.
    const owners = await waitFor(
      'both cameras leased by different workers',
      async () => {
        const o = [await leaseOf('camA'), await leaseOf('camB')];
        return o[0] && o[1] && o[0] !== o[1] ? o : null;
      },
      60_000,
    );
    const victimCam = owners[0] === 'w1' ? 'camA' : 'camB';
    const first = await waitFor(`a case on ${victimCam}`, async () => (await cases.list({ cameraId: victimCam })).items[0], 60_000);

    const killedAt = Date.now();
    process.kill(w1.pid!, 'SIGKILL');
    const resumed = await waitFor(
      'frames from the survivor',
      async () => {
        const h = await health.get(victimCam);
        return (await leaseOf(victimCam)) === 'w2' && h?.workerId === 'w2' && h.lastFrameAt !== null && h.lastFrameAt > killedAt ? h : null;
      },
      40_000,
    );
    const failoverMs = resumed.lastFrameAt! - killedAt;
    console.log(`failover: frames of ${victimCam} resumed on w2 ${failoverMs} ms after kill -9 of w1`);
    expect(failoverMs).toBeLessThan(30_000);

    // The survivor re-detects the same parked car: it must land in the same case.
    const merged = await waitFor(
      're-detection merged into the case',
      async () => {
        const c = await cases.get(first.id);
        return c && c.episodeKeys.length >= 2 ? c : null;
      },
      40_000,
    );
    expect(merged.reappearances).toBeGreaterThanOrEqual(1);
    const all = (await cases.list({}, { limit: 500 })).items;
    expect(all.filter((c) => c.cameraId === victimCam)).toHaveLength(1);
    // Every episode key maps to exactly one case, and each case lists its keys once.
    const keys = all.flatMap((c) => c.episodeKeys);
    expect(new Set(keys).size).toBe(keys.length);
    for (const c of all) for (const k of c.episodeKeys) expect((await cases.getByEpisode(k))?.id).toBe(c.id);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from case_episodes`.execute(database.db);
    expect(rows[0]!.n).toBe(keys.length);
  });
});
