// The operator console's live view and try-before-save against real parts: a real worker analyses a
// real clip served as a live HLS stream and publishes its live record and frame, which the API
// serves; then the API (sharing the worker's DATA_DIR, as in embedded mode) replays the worker's
// recording ring with the saved config and with an edited one through the real replay jobs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Worker } from 'bullmq';
import { iou } from '../../pipeline/geometry/geometry.js';
import { readRingIndex, ringDirOf } from '../../pipeline/source/recorder.js';
import { createReplayWorker, type ReplayJobData, type ReplayResult } from '../../api/replay/processor.js';
import { startWorker, type WorkerHandle } from '../../workers/worker.js';
import { LiveStore, type LiveRecord } from '../../infra/stores/live-store.js';
import { BULL_PREFIX, PREFIX, startHarness, type Harness } from '../api/harness.js';
import { parkedCarClip, parkedCarConfig, startHlsLoop, waitFor } from './helpers.js';

let h: Harness;
let worker: WorkerHandle | null = null;
let replayWorker: Worker<ReplayJobData, ReplayResult> | null = null;
let hls: Awaited<ReturnType<typeof startHlsLoop>> | null = null;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await worker?.drain();
  await replayWorker?.close();
  await hls?.stop();
  await h?.close();
});

const auth = (role: 'admin' | 'operator' | 'platform') => ({ Authorization: `Bearer ${h.keys[role]}` });
/** Where the car of dog.jpg stands in the 768 × 576 picture (test/workers/helpers.ts). */
const CAR = { x1: 466, y1: 78, x2: 692, y2: 172 };

type LiveBody = LiveRecord & { ageMs: number; frame: (NonNullable<LiveRecord['frame']> & { url: string }) | null };

describe('live view and try-before-save on a real worker', () => {
  it('publishes live records and frames from the real stream, and replays the ring with the saved and an edited config', async () => {
    const t0 = Date.now();
    const mark = (what: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);
    const clip = await parkedCarClip(60);
    hls = await startHlsLoop({ clip, loop: true });
    const config = parkedCarConfig('live-cam');
    const created = await request(h.app).post('/v1/cameras').set(auth('operator')).send({ id: 'live-cam', url: hls.url, config });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const dataDir = join(h.dir, 'data');
    worker = await startWorker({
      redisUrl: h.redisServer.url,
      prefix: PREFIX,
      dataDir,
      database: h.database,
      workerId: 'w-live',
      inferThreads: 1,
      liveFrameIntervalSec: 1,
      log: () => undefined,
    });

    // Nobody watches yet: the worker analyses the camera but publishes no live record (no encode).
    await waitFor('the camera analysing frames', async () => ((await h.deps.health.get('live-cam'))?.frames ?? 0) >= 3, 90_000);
    const store = new LiveStore(h.deps.redis, PREFIX);
    expect(await store.isWatched('live-cam')).toBe(false);
    expect(await store.get('live-cam')).toBeNull();
    expect(await store.getFrame('live-cam')).toBeNull();
    mark('analysing, no live record while unwatched');

    const live = async () => {
      // Each read marks the camera watched (LIVE_WATCH_SEC): its worker publishes from its next re-check.
      const r = await request(h.app).get('/v1/cameras/live-cam/live').set(auth('platform'));
      return r.status === 200 ? (r.body as LiveBody) : null;
    };
    const watchedAt = Date.now();
    await waitFor('a first live record once watched', live, 30_000);
    mark(`first live record ${((Date.now() - watchedAt) / 1000).toFixed(1)} s after the first read`);
    // The first record that judged the car in the kerb zone.
    const first = await waitFor(
      'a live record judging the car',
      async () => {
        const b = await live();
        return b && b.subjects.some((s) => s.classId === 'illegal_parking') ? b : null;
      },
      90_000,
    );
    mark('first live record');
    expect(first).toMatchObject({ cameraId: 'live-cam', configVersion: created.body.version, sourceWidth: 768, sourceHeight: 576 });
    expect(first.ageMs).toBeGreaterThanOrEqual(0);
    expect(first.ageMs).toBeLessThan(30_000);
    expect(first.zones).toEqual([{ id: 'kerb', name: 'kerb lane', type: 'no_parking', polygon: config.zones![0]!.polygon }]);
    // Detections are of this frame: the car where it stands in the picture (source pixels).
    const onCar = (b: [number, number, number, number]) => iou({ x1: b[0], y1: b[1], x2: b[2], y2: b[3] }, CAR);
    const VEHICLE = ['car', 'truck', 'bus'];
    const car = first.detections.find((d) => VEHICLE.includes(d.label) && onCar(d.box) > 0.7);
    expect(car, JSON.stringify(first.detections)).toBeDefined();
    const subject = first.subjects.find((s) => s.classId === 'illegal_parking')!;
    const track = first.tracks.find((t) => t.id === subject.trackId)!;
    expect(track, JSON.stringify(first.tracks)).toBeDefined();
    expect(onCar(track.box)).toBeGreaterThan(0.7);
    expect(track.state).toBe('confirmed');
    expect(track.ageSec).toBeGreaterThan(0);
    expect(subject).toMatchObject({ subject: `t${track.id}`, label: track.label, zoneId: 'kerb' });
    expect(VEHICLE).toContain(subject.label);
    // Before the tracker sees it still it is refused as not stationary; then a candidate; then confirmed.
    expect(['refused', 'candidate', 'confirmed']).toContain(subject.status);
    if (subject.status === 'refused') expect(subject.rule).toBe('not_stationary');

    const confirmed = await waitFor(
      'a live record with the confirmed car',
      async () => {
        const b = await live();
        const s = b?.subjects.find((x) => x.classId === 'illegal_parking' && x.status === 'confirmed');
        // A later record than the first: records keep coming while the view is watched.
        return b && s && b.frameIndex > first.frameIndex ? { b, s } : null;
      },
      60_000,
    );
    mark('confirmed in live record');
    expect(confirmed.s).toMatchObject({ zoneId: 'kerb', phase: expect.stringMatching(/^(confirmed|active)$/) });
    expect(confirmed.b.tracks.find((t) => t.id === confirmed.s.trackId)!.stationarySec).toBeGreaterThan(0);
    expect(confirmed.b.frameIndex).toBeGreaterThan(first.frameIndex);

    // The picture: a decodable JPEG of the analysed frame, the size the record says.
    const img = await request(h.app)
      .get('/v1/cameras/live-cam/live/frame')
      .set(auth('operator'))
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    expect(img.status).toBe(200);
    expect(img.headers['content-type']).toBe('image/jpeg');
    expect(img.headers['cache-control']).toBe('no-store');
    const meta = await sharp(img.body as Buffer).metadata();
    const rec = (await live())!;
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBeLessThanOrEqual(960);
    // yolox_nano's 416 × 416 input holds the 768 × 576 picture as 416 × 312 (letterbox padding cut off).
    expect([meta.width, meta.height]).toEqual([416, 312]);
    expect(rec.frame!.url).toBe('/v1/cameras/live-cam/live/frame');
    const stats = await sharp(img.body as Buffer).stats();
    expect(stats.channels[0]!.stdev).toBeGreaterThan(10); // a real picture, not a flat fill

    // What the JPEG encode costs, per record (wall time; the machine is shared).
    const samples: number[] = [];
    await waitFor(
      'five live records',
      async () => {
        const b = await live();
        if (b?.frame && !samples.includes(b.frame.encodeMs)) samples.push(b.frame.encodeMs);
        return samples.length >= 5;
      },
      30_000,
      400,
    );
    console.log(`live JPEG encode (416x312, q70): ${samples.map((s) => s.toFixed(1)).join(', ')} ms wall per record`);

    // Try before save, from the ring the worker recorded (the API shares its DATA_DIR).
    h.deps.dataDir = dataDir;
    await waitFor(
      '20 s of ring',
      async () => {
        const ring = await readRingIndex(ringDirOf(dataDir, 'live-cam'));
        return ring.reduce((s, r) => s + (r.endWall - r.startWall), 0) >= 20_000;
      },
      60_000,
      500,
    );
    mark('ring of 20 s');
    // The camera is switched off so its analysis does not compete with the replays for the one
    // inference slot (the ring stays on disk; the try reads it as it would on a running camera).
    expect((await request(h.app).patch('/v1/cameras/live-cam').set(auth('operator')).send({ enabled: false })).status).toBe(200);
    await waitFor('the worker to let the camera go', async () => !worker!.held().includes('live-cam'), 30_000);
    replayWorker = createReplayWorker({ connection: h.conn(), bullPrefix: BULL_PREFIX, evidence: h.deps.evidence });
    const edited = { ...config, classes: { illegal_parking: { ...config.classes!.illegal_parking, enabled: false } } };
    const tried = await request(h.app).post('/v1/cameras/live-cam/try').set(auth('operator')).send({ config: edited, minutes: 1 });
    expect(tried.status, JSON.stringify(tried.body)).toBe(202);
    expect(tried.body).toMatchObject({
      tryId: expect.stringMatching(/^try_[0-9a-f]{16}$/),
      saved: expect.stringMatching(/^rp_/),
      edited: expect.stringMatching(/^rp_/),
      minutes: 1,
      savedVersion: created.body.version + 1,
    });
    expect(tried.body.saved).not.toBe(tried.body.edited);
    // 20 s of segments; their wall spans overlap a little (HLS delivers segments in bursts).
    expect(tried.body.clip.seconds).toBeGreaterThanOrEqual(15);
    expect(tried.body.clip.seconds).toBeLessThanOrEqual(62);
    expect(tried.body.clip.segments).toBeGreaterThanOrEqual(5);
    const done = (id: string) =>
      waitFor(
        `replay ${id}`,
        async () => {
          const r = await request(h.app).get(`/v1/replays/${id}`).set(auth('operator'));
          if (r.body.state === 'failed') throw new Error(`replay ${id} failed: ${r.body.error}`);
          return r.body.state === 'completed' ? r.body : null;
        },
        120_000,
        500,
      );
    const [saved, ed] = await Promise.all([done(tried.body.saved), done(tried.body.edited)]);
    mark(`replays done (clip ${tried.body.clip.seconds} s)`);
    expect(saved.input).toMatch(/^ring of live-cam, .* \(saved config v\d+\)$/);
    expect(ed.input).toMatch(/\(edited config\)$/);
    // The saved config opens the parking case on the recorded minute; the edited one (class off) does not.
    expect(saved.result.cases.map((c: { classId: string; zoneId: string }) => `${c.classId}/${c.zoneId}`)).toEqual([
      'illegal_parking/kerb',
    ]);
    expect(ed.result.cases).toEqual([]);
    expect(ed.result.classStatus.find((c: { id: string }) => c.id === 'illegal_parking')).toMatchObject({ active: false });
    expect(saved.result.summary.frames).toBeGreaterThan(30);
    expect(ed.result.summary.frames).toBe(saved.result.summary.frames);
    // The worker's own case records the pixel size of its boxes, so the operator can reject it
    // with suppress: the suppression covers the car's footprint in normalised coordinates.
    const listed = await request(h.app).get('/v1/cases').query({ cameraId: 'live-cam' }).set(auth('operator'));
    const c = listed.body.items[0];
    expect(c.extras.boxSpace).toEqual({ width: 768, height: 576 });
    const rej = await request(h.app)
      .post(`/v1/cases/${c.id}/status`)
      .set(auth('operator'))
      .send({ state: 'rejected', reason: 'loading bay', suppress: true });
    expect(rej.status, JSON.stringify(rej.body)).toBe(200);
    const [[l, t], , [r, b]] = rej.body.suppression.polygon as [[number, number], [number, number], [number, number], [number, number]];
    expect(l).toBeLessThan(CAR.x1 / 768);
    expect(r).toBeGreaterThan(CAR.x2 / 768);
    expect(t).toBeLessThan(CAR.y1 / 576);
    expect(b).toBeGreaterThan(CAR.y2 / 576);
    expect((await h.deps.cameras.get('live-cam'))!.config.suppressions).toEqual([
      expect.objectContaining({ classId: 'illegal_parking', createdFrom: c.id }),
    ]);
    // Each job deleted its copy of the clip.
    for (const which of ['saved', 'edited']) expect(existsSync(join(h.deps.uploadDir, `${tried.body.tryId}-${which}.mp4`))).toBe(false);
  }, 300_000);
});
