// The live debug record (pure builder), the live JPEG (sharp, on a real photo), and the publisher's
// gating on the "watched" mark (real Redis).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RulesEngine, type SubjectDecision } from '../pipeline/rules/engine.js';
import type { Frame, FrameDetections, Track } from '../pipeline/types.js';
import { cameraConfigSchema } from '../pipeline/rules/config-schema.js';
import { createRedis, closeRedis } from '../infra/redis.js';
import { settingsFromEnv } from '../infra/settings.js';
import { LiveStore, liveWatchMs } from '../infra/stores/live-store.js';
import type { CameraRecord } from '../infra/stores/camera-store.js';
import { DOG_JPG, requireFile } from '../test/support/media.js';
import { buildLiveRecord, encodeLiveJpeg, liveSubject, LivePublisher, type LiveOptions } from './live.js';
import { freeTcpPort, startLocalRedis, type LocalRedis } from './redis-server.js';

const config = cameraConfigSchema.parse({
  camera: { id: 'c1' },
  zones: [
    {
      id: 'kerb',
      name: 'kerb lane',
      type: 'no_parking',
      polygon: [
        [0.5, 0],
        [1, 0],
        [1, 0.5],
        [0.5, 0.5],
      ],
    },
  ],
});
const track = (id: number, lastSeen: number, over: Partial<Track> = {}): Track => ({
  id,
  label: 'car',
  box: { x1: 10.04, y1: 20.06, x2: 110.14, y2: 80 },
  score: 0.81234,
  scores: [0.8],
  state: 'confirmed',
  hits: 9,
  firstSeen: 2,
  lastSeen,
  stationary: false,
  ...over,
});
const decision = (over: Partial<SubjectDecision>): SubjectDecision => ({
  subject: 't1',
  trackId: 1,
  label: 'car',
  classId: 'illegal_parking',
  zoneId: 'kerb',
  hit: true,
  phase: 'candidate',
  ...over,
});

describe('live record', () => {
  it('maps decisions to candidate / confirmed / refused with the rule', () => {
    expect(liveSubject(decision({}))).toEqual({
      trackId: 1,
      subject: 't1',
      label: 'car',
      classId: 'illegal_parking',
      zoneId: 'kerb',
      status: 'candidate',
      phase: 'candidate',
    });
    expect(liveSubject(decision({ phase: 'warning' })).status).toBe('candidate');
    expect(liveSubject(decision({ phase: 'confirmed' })).status).toBe('confirmed');
    expect(liveSubject(decision({ phase: 'active' })).status).toBe('confirmed');
    expect(
      liveSubject(decision({ hit: false, phase: null, rule: 'not_stationary', detail: 'the tracker does not see it standing still' })),
    ).toEqual({
      trackId: 1,
      subject: 't1',
      label: 'car',
      classId: 'illegal_parking',
      zoneId: 'kerb',
      status: 'refused',
      phase: null,
      rule: 'not_stationary',
      detail: 'the tracker does not see it standing still',
    });
    expect(
      liveSubject(
        decision({
          subject: 'zone',
          trackId: null,
          memberIds: [3, 4],
          label: 'person',
          classId: 'crowd_gathering',
          hit: false,
          phase: null,
          rule: 'cluster',
          detail: 'largest standing cluster 2 < 6',
        }),
      ),
    ).toMatchObject({ trackId: null, memberIds: [3, 4], status: 'refused', rule: 'cluster' });
  });

  it('holds this frame only: its detections, the tracks seen in it, the zones of the config version', () => {
    const det: FrameDetections = {
      frameIndex: 7,
      streamTime: 12.5,
      wallTime: 1_700_000_000_000,
      sourceWidth: 768,
      sourceHeight: 576,
      detections: [
        {
          label: 'car',
          classId: 2,
          score: 0.81234,
          box: { x1: 10.04, y1: 20.06, x2: 110.14, y2: 80 },
          frameTime: 12.5,
          model: 'yolox_nano',
        },
      ],
    };
    const tracks = [
      track(1, 12.5, { stationary: true, stationarySince: 4.25 }),
      track(2, 11, { state: 'lost' }),
      track(3, 12.5, { state: 'tentative', firstSeen: 12 }),
    ];
    const rec = buildLiveRecord({ id: 'c1', version: 4, config }, det, tracks, [decision({})]);
    expect(rec).toEqual({
      cameraId: 'c1',
      configVersion: 4,
      frameIndex: 7,
      streamTime: 12.5,
      wallTime: 1_700_000_000_000,
      sourceWidth: 768,
      sourceHeight: 576,
      detections: [{ label: 'car', score: 0.812, box: [10, 20.1, 110.1, 80] }],
      tracks: [
        { id: 1, label: 'car', score: 0.812, box: [10, 20.1, 110.1, 80], state: 'confirmed', ageSec: 10.5, stationarySec: 8.25 },
        { id: 3, label: 'car', score: 0.812, box: [10, 20.1, 110.1, 80], state: 'tentative', ageSec: 0.5 },
      ],
      subjects: [
        { trackId: 1, subject: 't1', label: 'car', classId: 'illegal_parking', zoneId: 'kerb', status: 'candidate', phase: 'candidate' },
      ],
      zones: [
        {
          id: 'kerb',
          name: 'kerb lane',
          type: 'no_parking',
          polygon: [
            [0.5, 0],
            [1, 0],
            [1, 0.5],
            [0.5, 0.5],
          ],
        },
      ],
    });
  });

  it('encodes the picture as JPEG at the source aspect, at most maxWidth wide', async () => {
    const { data, info } = await sharp(requireFile(DOG_JPG, 'apt-get install darknet'))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    // As BGR, as a stretched model input would hand it over (768x576 photo squeezed to 416x416).
    const bgr = Buffer.from(data);
    for (let i = 0; i < bgr.length; i += 3) [bgr[i], bgr[i + 2]] = [data[i + 2]!, data[i]!];
    const squeezed = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
      .resize(416, 416, { fit: 'fill' })
      .raw()
      .toBuffer();
    const a = await encodeLiveJpeg({ raw: squeezed, width: 416, height: 416, pixelFormat: 'rgb24', aspect: 768 / 576 }, 960, 70);
    expect([a.width, a.height]).toEqual([416, 312]);
    expect(await sharp(a.jpeg).metadata()).toMatchObject({ format: 'jpeg', width: 416, height: 312 });
    const b = await encodeLiveJpeg(
      { raw: bgr, width: info.width, height: info.height, pixelFormat: 'bgr24', aspect: info.width / info.height },
      320,
      70,
    );
    expect([b.width, b.height]).toEqual([320, 240]);
    // BGR was swapped back: the picture's mean colour matches the RGB original's.
    const [orig, enc] = await Promise.all([
      sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).stats(),
      sharp(b.jpeg).stats(),
    ]);
    for (const c of [0, 1, 2]) expect(Math.abs(enc.channels[c]!.mean - orig.channels[c]!.mean)).toBeLessThan(3);
    expect(b.encodeMs).toBeGreaterThan(0);
  });
});

describe('live publisher: only while the camera is watched', () => {
  let dir: string;
  let server: LocalRedis;
  let redis: Redis;
  let store: LiveStore;
  let frame: Frame;
  const engine = new RulesEngine(config, { availableLabels: new Set(['car', 'person']) });
  const camera = (id: string) => ({ id, version: 3, config }) as CameraRecord;
  const det = (i: number): FrameDetections => ({
    frameIndex: i,
    streamTime: i * 2,
    wallTime: Date.now(),
    sourceWidth: 768,
    sourceHeight: 576,
    detections: [],
  });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'citywatch-live-'));
    server = await startLocalRedis({ dir: path.join(dir, 'redis') });
    redis = createRedis(server.url);
    store = new LiveStore(redis, 'lvt');
    const { data, info } = await sharp(requireFile(DOG_JPG, 'apt-get install darknet'))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const [w, h] = [info.width, info.height];
    frame = {
      data,
      pixelFormat: 'rgb24',
      letterbox: { scale: 1, srcWidth: w, srcHeight: h, scaledWidth: w, scaledHeight: h, padX: 0, padY: 0, dstWidth: w, dstHeight: h },
      index: 0,
      streamTime: 0,
      wallTime: Date.now(),
    } as Frame;
  });
  afterAll(async () => {
    if (redis) await closeRedis(redis);
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const publisher = (opts: Partial<LiveOptions> = {}, log: (m: string, e?: Record<string, unknown>) => void = () => undefined) =>
    new LivePublisher(store, { intervalSec: 1, watchSec: 30, watchRecheckMs: 2000, ...opts }, log);
  /** Lets the publisher's background mark check and publish finish. */
  const settled = (p: LivePublisher, published: number) =>
    vi.waitFor(
      () => {
        expect(p.idle).toBe(true);
        expect(p.stats.published).toBe(published);
      },
      { timeout: 5000, interval: 5 },
    );

  it('encodes nothing for an unwatched camera, publishes once watched, stops when the mark expires', async () => {
    const id = 'gate-cam';
    const p = publisher();
    // Nobody watches: no copy, no encode, nothing in Redis; one mark check per watchRecheckMs, not per frame.
    p.offer(camera(id), frame, det(0), engine, 0);
    await settled(p, 0);
    for (let i = 1; i <= 5; i++) p.offer(camera(id), frame, det(i), engine, 1000 + i * 150);
    await settled(p, 0);
    expect(p.stats).toMatchObject({ published: 0, encodeMs: 0, watchChecks: 1, skippedUnwatched: 6 });
    expect(await store.get(id)).toBeNull();
    expect(await store.getFrame(id)).toBeNull();

    // The console opens the view: the next re-check sees the mark; the frame after it is published.
    await store.watch(id, liveWatchMs(30));
    p.offer(camera(id), frame, det(6), engine, 2000);
    await settled(p, 0);
    expect(p.stats.watchChecks).toBe(2);
    p.offer(camera(id), frame, det(7), engine, 3000);
    await settled(p, 1);
    const rec = (await store.get(id))!;
    expect(rec).toMatchObject({ cameraId: id, configVersion: 3, frameIndex: 7, sourceWidth: 768, sourceHeight: 576 });
    expect(rec.frame).toMatchObject({ width: 768, height: 576 });
    expect(await sharp((await store.getFrame(id))!).metadata()).toMatchObject({ format: 'jpeg', width: 768, height: 576 });
    expect(p.stats.encodeMs).toBeGreaterThan(0);

    // The view is closed and the mark expires: at most one more record (the re-check's frame), then none.
    await store.watch(id, 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(await store.isWatched(id)).toBe(false);
    p.offer(camera(id), frame, det(8), engine, 5000);
    await settled(p, 2);
    for (let i = 9; i < 15; i++) p.offer(camera(id), frame, det(i), engine, 6000 + (i - 9) * 2000);
    await settled(p, 2);
    expect((await store.get(id))!.frameIndex).toBe(8);
  });

  it('LIVE_WATCH_SEC=0 publishes every due frame without asking Redis', async () => {
    const id = 'always-cam';
    const p = publisher({ watchSec: 0 });
    p.offer(camera(id), frame, det(0), engine, 0);
    await settled(p, 1);
    p.offer(camera(id), frame, det(1), engine, 500); // before intervalSec: not due
    p.offer(camera(id), frame, det(2), engine, 1000);
    await settled(p, 2);
    expect(p.stats).toMatchObject({ watchChecks: 0, skippedUnwatched: 0 });
    expect((await store.get(id))!.frameIndex).toBe(2);
    expect(await store.isWatched(id)).toBe(false);
  });

  it('an unreadable mark counts as not watched and is logged once per hundred failures', async () => {
    // A client that never connects: every command fails at once, as during a Redis outage.
    const dead = new Redis({
      port: await freeTcpPort(),
      host: '127.0.0.1',
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    dead.on('error', () => undefined);
    const logs: string[] = [];
    const p = new LivePublisher(new LiveStore(dead, 'lvt'), { intervalSec: 1, watchSec: 30, watchRecheckMs: 2000 }, (m) => logs.push(m));
    for (let i = 0; i < 250; i++) {
      p.offer(camera('dead-cam'), frame, det(i), engine, i * 2000);
      await settled(p, 0);
    }
    expect(p.stats).toMatchObject({ watchChecks: 250, published: 0, encodeMs: 0 });
    expect(logs).toEqual(['live watch mark not readable', 'live watch mark not readable', 'live watch mark not readable']);
    dead.disconnect();
  });

  it('the API marks a camera watched for LIVE_WATCH_SEC; 0 (always publish) still marks for the default', async () => {
    expect(liveWatchMs(undefined)).toBe(30_000);
    expect(liveWatchMs(0)).toBe(30_000);
    expect(liveWatchMs(5)).toBe(5000);
    await store.watch('ttl-cam', 5000);
    expect(await store.isWatched('ttl-cam')).toBe(true);
    const ttl = await store.watchTtlMs('ttl-cam');
    expect(ttl).toBeGreaterThan(4000);
    expect(ttl).toBeLessThanOrEqual(5000);
    expect(await redis.get('lvt:live-watch:ttl-cam')).toBe('1');
  });

  it('LIVE_WATCH_SEC: default 30, 0 allowed (always publish), a negative value refused naming it', () => {
    expect(settingsFromEnv({}).liveWatchSec).toBe(30);
    expect(settingsFromEnv({ LIVE_WATCH_SEC: '0' }).liveWatchSec).toBe(0);
    expect(settingsFromEnv({ LIVE_WATCH_SEC: '12.5' }).liveWatchSec).toBe(12.5);
    for (const bad of ['-1', 'soon']) expect(() => settingsFromEnv({ LIVE_WATCH_SEC: bad })).toThrow(/LIVE_WATCH_SEC/);
  });
});
