// A tester's replay through the API (upload → BullMQ job → worker → result) reports the same events
// as `citywatch analyze` on the same clip and config, plus would-be cases, snapshots and P/R.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReplayWorker } from '../../api/replay/processor.js';
import type { ViolationEvent } from '../../pipeline/types.js';
import sharp from 'sharp';
import { dogClip, REPO_ROOT, run, TEST_CACHE } from '../support/media.js';
import { serveDir } from '../support/static-http.js';
import { mkdir } from 'node:fs/promises';
import { BULL_PREFIX, startHarness, type Harness } from './harness.js';

let h: Harness;
let worker: ReturnType<typeof createReplayWorker>;
beforeAll(async () => {
  h = await startHarness({ replayMediaDirs: [TEST_CACHE] });
  worker = createReplayWorker({ connection: h.conn(), bullPrefix: BULL_PREFIX, evidence: h.deps.evidence });
});
afterAll(async () => {
  await worker?.close();
  await h?.close();
});

// The parked car of darknet's dog.jpg (a real photo held as a 20 s clip) in a no-parking zone over
// the whole frame, with a 3 s dwell: a real detection that confirms within the clip. (vtest.avi's
// walkers no longer make a crowd: a gathering needs people standing still together.)
const config = {
  camera: { id: 'replay-cam' },
  analysis: { fps: 2 },
  zones: [
    {
      id: 'lane',
      type: 'no_parking',
      polygon: [
        [0, 0],
        [1, 0],
        [1, 1],
        [0, 1],
      ],
    },
  ],
  classes: { illegal_parking: { minDwellSec: 3 } },
};

function cliAnalyze(clip: string, cfg: string): Promise<ViolationEvent[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'citywatch.mjs'), 'analyze', clip, '--config', cfg], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`analyze exited ${code}: ${err}`));
      resolve(
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .filter((l) => l.type === 'event')
          .map(({ type: _t, ...e }) => e as ViolationEvent),
      );
    });
  });
}

const comparable = (e: ViolationEvent) => ({
  id: e.id,
  episodeId: e.episodeId,
  classId: e.classId,
  transition: e.transition,
  streamTime: e.streamTime,
  start: e.start,
  end: e.end,
  zoneId: e.reason.zoneId,
  trackIds: e.reason.trackIds,
  boxes: e.boxes.map((b) => [b.x1, b.y1, b.x2, b.y2].map((v) => Math.round(v * 100) / 100)),
});

describe('replay through the API', () => {
  it('returns the same events as the CLI analyze, the would-be cases with annotated snapshots, and precision/recall against ground truth', async () => {
    const clip = await dogClip(20);
    const cfgFile = path.join(h.dir, 'crowd.json');
    await writeFile(cfgFile, JSON.stringify(config));
    const cliEvents = await cliAnalyze(clip, cfgFile);
    expect(
      cliEvents.some((e) => e.transition === 'confirmed'),
      'the CLI must confirm the parked car on this clip',
    ).toBe(true);

    const groundTruth = {
      version: 1,
      clip: 'dog-20s.mp4',
      camera: config,
      episodes: [{ classId: 'illegal_parking', zoneId: 'lane', start: 0, end: 20, note: 'the car is parked for the whole clip' }],
      negatives: [{ classId: 'crowd_gathering' }],
    };
    const submitted = await request(h.app)
      .post('/v1/replays/upload')
      .set('Authorization', `Bearer ${h.keys.tester}`)
      .field('config', JSON.stringify(config))
      .field('groundTruth', JSON.stringify(groundTruth))
      .attach('clip', clip, { filename: 'street.bin', contentType: 'application/octet-stream' });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const id = submitted.body.id as string;

    let body: {
      state: string;
      progress: unknown;
      error: string | null;
      result: {
        events: ViolationEvent[];
        cases: { snapshot: { url: string } | null; classId: string; zoneId: string; confirmedAt: number }[];
        evaluation: { classes: { classId: string; precision: number; recall: number; tp: number }[] };
        summary: { frames: number };
      } | null;
    } = { state: 'waiting', progress: null, error: null, result: null };
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const res = await request(h.app).get(`/v1/replays/${id}`).set('Authorization', `Bearer ${h.keys.tester}`);
      expect(res.status).toBe(200);
      body = res.body;
      if (body.state === 'completed' || body.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(body.error).toBeNull();
    expect(body.state).toBe('completed');
    const result = body.result!;

    expect(result.events.map(comparable)).toEqual(cliEvents.map(comparable));
    expect(result.summary.frames).toBe(40);
    expect(body.progress).toMatchObject({ percent: 100 });

    const confirmed = cliEvents.filter((e) => e.transition === 'confirmed');
    expect(result.cases).toHaveLength(confirmed.length);
    expect(result.cases[0]).toMatchObject({ classId: 'illegal_parking', zoneId: 'lane', confirmedAt: confirmed[0]!.streamTime });
    const snap = await request(h.app).get(result.cases[0]!.snapshot!.url).set('Authorization', `Bearer ${h.keys.tester}`).buffer(true);
    expect(snap.status).toBe(200);
    expect(snap.headers['content-type']).toBe('image/jpeg');
    expect((snap.body as Buffer).subarray(0, 2).toString('hex')).toBe('ffd8');

    const parking = result.evaluation.classes.find((c) => c.classId === 'illegal_parking')!;
    expect(parking).toMatchObject({ tp: 1, precision: 1, recall: 1 });
    const crowd = result.evaluation.classes.find((c) => c.classId === 'crowd_gathering');
    expect(crowd?.precision ?? null).toBeNull(); // nothing predicted

    // The worker deleted the uploaded clip once the job ran.
    expect(existsSync(path.join(h.deps.uploadDir))).toBe(true);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(h.deps.uploadDir)).toEqual([]);
  });
});

describe('camera preview', () => {
  it('grabs a frame from the camera stream, runs the detector and returns a JPEG with zones and detections drawn', async () => {
    const www = path.join(h.dir, 'www');
    await mkdir(www, { recursive: true });
    await run('ffmpeg', [
      '-y',
      '-loglevel',
      'error',
      '-i',
      await dogClip(),
      '-c',
      'copy',
      '-f',
      'hls',
      '-hls_time',
      '1',
      '-hls_list_size',
      '0',
      path.join(www, 'cam.m3u8'),
    ]);
    const srv = await serveDir(www);
    try {
      const admin = { Authorization: `Bearer ${h.keys.admin}` };
      const created = await request(h.app)
        .post('/v1/cameras')
        .set(admin)
        .send({
          id: 'cam-hls',
          url: `${srv.base}/cam.m3u8`,
          config: {
            zones: [
              {
                id: 'kerb',
                type: 'no_parking',
                polygon: [
                  [0.05, 0.6],
                  [0.95, 0.6],
                  [0.95, 0.98],
                  [0.05, 0.98],
                ],
              },
            ],
          },
        });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const res = await request(h.app).get('/v1/cameras/cam-hls/preview').set(admin).buffer(true);
      expect(res.status, String(res.body)).toBe(200);
      expect(res.headers['content-type']).toBe('image/jpeg');
      // dog.jpg (768x576) shows a bicycle, a car (truck) and a dog.
      expect(res.headers['x-detections']!.split(',')).toEqual(expect.arrayContaining(['bicycle', 'dog']));
      const meta = await sharp(res.body as Buffer).metadata();
      expect([meta.format, meta.width! > 300, meta.height! > 200]).toEqual(['jpeg', true, true]);
    } finally {
      await srv.close();
    }
  });
});

describe('replay of a server path', () => {
  it('accepts a clip inside an allowed media folder and refuses paths that escape it', async () => {
    const clip = await dogClip();
    const tester = { Authorization: `Bearer ${h.keys.tester}` };
    const cfg = {
      zones: [
        {
          id: 'kerb',
          type: 'no_parking',
          polygon: [
            [0.05, 0.6],
            [0.95, 0.6],
            [0.95, 0.98],
            [0.05, 0.98],
          ],
        },
      ],
    };
    for (const p of ['../../../../etc/passwd', '/etc/hostname', 'no-such-clip.mp4']) {
      const res = await request(h.app).post('/v1/replays').set(tester).send({ path: p, config: cfg });
      expect(res.status, p).toBe(400);
      expect(res.body.error.field).toBe('path');
    }
    const ok = await request(h.app)
      .post('/v1/replays')
      .set(tester)
      .send({ path: path.basename(clip), config: cfg });
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
    let state = '';
    for (let i = 0; i < 100 && state !== 'completed' && state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 300));
      const res = await request(h.app).get(`/v1/replays/${ok.body.id}`).set(tester);
      state = res.body.state;
      if (state === 'completed') {
        expect(res.body.input).toBe(path.basename(clip));
        expect(res.body.result.summary.frames).toBe(6);
      }
    }
    expect(state).toBe('completed');
    // The worker deletes uploads only; a server clip stays.
    expect(existsSync(clip)).toBe(true);
  });
});
