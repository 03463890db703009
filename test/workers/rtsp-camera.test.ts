// A worker process on an RTSP camera, the way most city cameras are reached: GStreamer's RTSP
// server plays a real clip of a car parking (H.264 with B-frames, as many cameras send), the worker
// analyses it, opens the case and cuts its evidence clip from the segment ring it recorded.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CameraStore } from '../../infra/stores/camera-store.js';
import { CaseStore } from '../../infra/stores/case-store.js';
import { HealthStore } from '../../infra/stores/health-store.js';
import { openDatabase, type Database } from '../../infra/db/db.js';
import { freePort, REPO_ROOT, run, SHARED } from '../support/media.js';
import { startPostgres, type LocalPostgres } from '../support/postgres.js';
import { startRtspServer, type RtspServer } from '../support/rtsp.js';
import { parkedCarClip, parkedCarConfig, redisPerFile, tempDir, waitFor } from './helpers.js';

let redis: Redis;
let redisUrl: string;
redisPerFile('rtsp-camera', (r, url) => {
  redis = r;
  redisUrl = url;
});
let dir: string;
let cleanup: (() => Promise<void>) | null = null;
let camera: RtspServer | null = null;
let worker: ChildProcess | null = null;
// The worker is another process, so the test reads its cases from a real PostgreSQL.
let pgServer: LocalPostgres | null = null;
let database: Database | null = null;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('rtsp-camera-data'));
  pgServer = await startPostgres();
  database = await openDatabase({ url: pgServer.url });
}, 60_000);
afterAll(async () => {
  if (worker?.pid) {
    try {
      process.kill(-worker.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await camera?.stop();
  await database?.close();
  await pgServer?.destroy();
  await cleanup?.();
});

it('opens a case with a playable evidence clip from an RTSP camera', async () => {
  const clip = await parkedCarClip(90);
  camera = await startRtspServer(clip, await freePort(), '/cam', 'h264', 1);
  // 1 fps against a keyframe a second: decode 'auto' picks keyframes-only decoding.
  await new CameraStore(redis).create({
    id: 'gate',
    url: camera.url,
    config: { ...parkedCarConfig('gate'), analysis: { fps: 1, decode: 'auto' } },
  });
  // Stream roles: analysed from its "substream" (/cam0), recorded from the main stream (/cam).
  await new CameraStore(redis).create({ id: 'roles', url: camera.url, detectUrl: camera.urls[0]!, config: parkedCarConfig('roles') });
  worker = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'workers', 'main.ts')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      DATABASE_URL: pgServer!.url,
      WORKER_ID: 'w-rtsp',
      DATA_DIR: join(dir, 'data'),
      INFER_THREADS: '1',
      MODEL_DIR: process.env.MODEL_DIR ?? join(SHARED, 'models'),
      CLIP_POSTROLL_SEC: '2',
      CLIP_PREROLL_SEC: '2',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  worker.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  worker.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));

  const cases = new CaseStore(database!.db);
  const withClip = await waitFor(
    'a case whose evidence clip is ready',
    async () => {
      const c = (await cases.list({ cameraId: 'gate' })).items[0];
      return c && c.evidenceStatus !== 'pending' ? c : null;
    },
    90_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nworker log tail:\n${log.slice(-4000)}`);
  });
  expect(withClip.classId).toBe('illegal_parking');
  if (withClip.evidenceStatus !== 'ready') throw new Error(`evidence ${withClip.evidenceStatus}\nworker log tail:\n${log.slice(-6000)}`);
  // One session for the camera with one stream, two for the camera with a substream.
  await waitFor('three RTSP sessions', async () => camera!.stats().sessions === 3, 20_000);
  const roles = await waitFor(
    'a case with a clip on the camera with stream roles',
    async () => {
      const c = (await cases.list({ cameraId: 'roles' })).items[0];
      return c && c.evidenceStatus !== 'pending' ? c : null;
    },
    60_000,
  );
  expect(roles.evidenceStatus).toBe('ready');
  const health = await new HealthStore(redis).get('gate');
  expect(health).toMatchObject({ decode: 'keyframes', keyframeInterval: 1, effectiveFps: 1 });
  expect(withClip.evidenceStatus).toBe('ready');
  const ref = withClip.evidence.find((e) => e.file.kind === 'clip');
  expect(ref?.store).toBe('fs');
  const path = join(dir, 'data', 'evidence', ...ref!.key.split('/'));
  expect(existsSync(path)).toBe(true);
  const probe = JSON.parse(
    await run('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'format=duration:stream=codec_type,nb_read_frames',
      '-count_frames',
      '-of',
      'json',
      path,
    ]),
  ) as {
    format: { duration: string };
    streams: { codec_type: string; nb_read_frames: string }[];
  };
  expect(Number(probe.format.duration)).toBeGreaterThan(3);
  expect(Number(probe.streams.find((s) => s.codec_type === 'video')!.nb_read_frames)).toBeGreaterThan(30);
}, 150_000);
