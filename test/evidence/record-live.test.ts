// Recording from live inputs, as production does: GStreamer's RTSP server plays a real H.264
// clip, the recorder stream-copies it into the segment ring, the server dies and comes back, and a
// clip is cut from the ring afterwards; an HLS playlist over HTTP is recorded the same way. File
// inputs are covered in pipeline/source/recorder.test.ts.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { assembleClip } from '../../pipeline/evidence/clip.js';
import { Recorder, type SegmentRecord } from '../../pipeline/source/recorder.js';
import { freePort, run, vtestH264, vtestH265 } from '../support/media.js';
import { FrameSource } from '../../pipeline/source/ffmpeg-source.js';
import { startRtspServer } from '../support/rtsp.js';
import { serveDir } from '../support/static-http.js';
import { probeDuration, probeFirstFrame } from './media.js';
import { waitFor as waitUntil } from '../support/wait.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cw-rec-live-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const waitFor = (cond: () => boolean, timeoutMs: number, what: string) => waitUntil(cond, { timeoutMs, what });

it('records an RTSP camera into keyframe-led segments on the wall clock, survives the camera dropping, and cuts a playable clip', async () => {
  const clip = await vtestH264(60);
  const port = await freePort();
  let server = await startRtspServer(clip, port);
  const dir = join(tmp, 'ring');
  const rec = new Recorder({
    cameraId: 'cam-live',
    input: server.url,
    dir,
    segmentSec: 2,
    maxBytes: 200e6,
    maxAgeSec: 3600,
    restartMinMs: 300,
    restartMaxMs: 1000,
  });
  const segments: SegmentRecord[] = [];
  const restarts: unknown[] = [];
  const errors: Error[] = [];
  rec.on('segment', (s) => segments.push(s));
  rec.on('restart', (r) => restarts.push(r));
  rec.on('error', (e) => errors.push(e));
  try {
    expect(rec.clock).toBe('wall');
    await rec.start();
    await waitFor(() => segments.length >= 3, 30_000, 'three segments');
    await server.stop();
    await waitFor(() => restarts.length >= 1, 30_000, 'a restart after the camera dropped');
    const beforeDrop = segments.length;
    server = await startRtspServer(clip, port);
    await waitFor(() => segments.length >= beforeDrop + 2, 40_000, 'segments after the camera came back');
  } finally {
    await rec.stop();
    await server.stop();
  }
  expect(errors).toEqual([]);

  const ring = rec.segments();
  expect(ring.length).toBeGreaterThanOrEqual(5);
  for (const [i, r] of ring.entries()) {
    expect(existsSync(join(dir, r.file))).toBe(true);
    expect(r.endWall).toBeGreaterThan(r.startWall);
    // Wall times are estimated from when ffmpeg lists a segment (arrival minus duration), so
    // neighbours may overlap by list latency, never by a whole segment.
    if (i > 0) {
      expect(r.startWall).toBeGreaterThan(ring[i - 1]!.startWall);
      expect(r.startWall).toBeGreaterThanOrEqual(ring[i - 1]!.endWall - 1500);
    }
    // Every segment must start on a keyframe or a clip cut there will not play.
    expect(await probeFirstFrame(join(dir, r.file))).toEqual({ keyFrame: 1, pictType: 'I' });
  }

  // The case window: the last two segments recorded after the camera came back.
  const last = ring.at(-1)!;
  const prev = ring.at(-2)!;
  const out = join(tmp, 'case.mp4');
  const res = await assembleClip({
    ringDir: dir,
    ring,
    request: { start: prev.startWall, end: last.endWall, clock: 'wall', preRollSec: 0, postRollSec: 0 },
    outPath: out,
  });
  expect(res.path).toBe(out);
  // Wall times are estimates, so the segment before may overlap the window by list latency and be
  // included too; the two asked for must be there, and nothing after them.
  const files = res.segments.map((s) => s.file);
  expect(files.slice(-2)).toEqual([prev.file, last.file]);
  expect(files.length).toBeLessThanOrEqual(3);
  const seconds = await probeDuration(out);
  const first = res.segments[0]!;
  expect(seconds).toBeGreaterThan(0.8 * ((last.endWall - prev.startWall) / 1000));
  expect(seconds).toBeLessThan(1.2 * ((last.endWall - first.startWall) / 1000) + 1);
  expect(await probeFirstFrame(out)).toEqual({ keyFrame: 1, pictType: 'I' });
}, 120_000);

it('records an HLS stream served over HTTP into keyframe-led segments', async () => {
  const hls = join(tmp, 'hls');
  await mkdir(hls, { recursive: true });
  await run('ffmpeg', [
    '-y',
    '-loglevel',
    'error',
    '-i',
    await vtestH264(12),
    '-c',
    'copy',
    '-f',
    'hls',
    '-hls_time',
    '2',
    '-hls_playlist_type',
    'vod',
    join(hls, 'index.m3u8'),
  ]);
  const server = await serveDir(hls);
  const dir = join(tmp, 'ring-hls');
  const rec = new Recorder({
    cameraId: 'cam-hls',
    input: `${server.base}/index.m3u8`,
    dir,
    segmentSec: 2,
    maxBytes: 200e6,
    maxAgeSec: 3600,
  });
  const errors: Error[] = [];
  rec.on('error', (e) => errors.push(e));
  // A live input never "ends": when the playlist runs out the recorder restarts it, so wait for one
  // playlist's worth of segments.
  const covered = () => rec.segments().reduce((s, r) => s + (r.endTime - r.startTime), 0);
  try {
    await rec.start();
    await waitFor(() => covered() >= 10, 60_000, '10 s of HLS recorded');
  } finally {
    await rec.stop();
    await server.close();
  }
  expect(errors).toEqual([]);
  const ring = rec.segments();
  expect(rec.clock).toBe('wall');
  for (const r of ring) expect(await probeFirstFrame(join(dir, r.file))).toEqual({ keyFrame: 1, pictType: 'I' });
}, 90_000);

it('an H.265 camera (as many city cameras are) is both decoded and recorded into playable segments', async () => {
  const clip = await vtestH265(20);
  const server = await startRtspServer(clip, await freePort(), '/hevc', 'h265');
  const dir = join(tmp, 'ring-hevc');
  const rec = new Recorder({
    cameraId: 'cam-hevc',
    input: server.url,
    dir,
    segmentSec: 2,
    maxBytes: 200e6,
    maxAgeSec: 3600,
    restartMinMs: 300,
  });
  const errors: Error[] = [];
  rec.on('error', (e) => errors.push(e));
  const src = new FrameSource({ input: server.url, width: 160, height: 160, fps: 2 });
  const times: number[] = [];
  try {
    await rec.start();
    for await (const f of src.frames()) {
      times.push(f.streamTime);
      if (times.length >= 10) break;
    }
    await waitFor(() => rec.segments().length >= 3, 30_000, 'three H.265 segments');
  } finally {
    await src.stop();
    await rec.stop();
    await server.stop();
  }
  expect(errors).toEqual([]);
  for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeCloseTo(0.5, 1);
  const ring = rec.segments();
  for (const r of ring) expect(await probeFirstFrame(join(dir, r.file))).toEqual({ keyFrame: 1, pictType: 'I' });
  const out = join(tmp, 'hevc-case.mp4');
  const res = await assembleClip({
    ringDir: dir,
    ring,
    request: { start: ring[0]!.startWall, end: ring.at(-1)!.endWall, clock: 'wall', preRollSec: 0, postRollSec: 0 },
    outPath: out,
  });
  expect(res.path).toBe(out);
  expect(await probeDuration(out)).toBeGreaterThan(3);
  // Tagged hvc1, the HEVC sample entry Apple's players accept (ffmpeg's default hev1 is refused).
  expect(
    (
      await run('ffprobe', [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=codec_name,codec_tag_string',
        '-of',
        'csv=p=0',
        out,
      ])
    ).trim(),
  ).toBe('hevc,hvc1');
}, 120_000);
