// One connection per camera: a frame source with an attached recorder reads the camera once and
// produces both the analysis frames and the segment ring. GStreamer's RTSP server counts the
// sessions; the decode mode is chosen from the probed GOP and re-chosen on every reconnect.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { assembleClip } from '../pipeline/evidence/clip.js';
import { FrameSource, type DecodeDecision } from '../pipeline/source/ffmpeg-source.js';
import { Recorder, type SegmentRecord } from '../pipeline/source/recorder.js';
import type { Frame } from '../pipeline/types.js';
import { probeDuration, probeFirstFrame } from './evidence/media.js';
import { freePort, vtestGop2 } from './support/media.js';
import { startRtspServer, type RtspServer } from './support/rtsp.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cw-one-conn-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Cam {
  src: FrameSource;
  rec: Recorder;
  frames: Frame[];
  segments: SegmentRecord[];
  decisions: DecodeDecision[];
  errors: Error[];
  pump: Promise<void>;
}

function camera(url: string, dir: string, fps: number): Cam {
  const rec = new Recorder({
    cameraId: dir,
    input: url,
    dir: join(tmp, dir),
    segmentSec: 2,
    maxBytes: 200e6,
    maxAgeSec: 3600,
    attached: true,
  });
  const src = new FrameSource({
    input: url,
    width: 160,
    height: 160,
    fps,
    decode: 'auto',
    recorder: rec,
    stallTimeoutSec: 4,
    connectTimeoutSec: 8,
    backoff: { initialMs: 300, maxMs: 1000 },
  });
  const cam: Cam = { src, rec, frames: [], segments: [], decisions: [], errors: [], pump: Promise.resolve() };
  rec.on('segment', (s) => cam.segments.push(s));
  rec.on('error', (e) => cam.errors.push(e));
  src.on('decode', (d: DecodeDecision) => cam.decisions.push(d));
  return cam;
}

it('one RTSP session per camera feeds both the ring and the analysis, in either decode mode, across a camera outage', async () => {
  const clip = await vtestGop2(120);
  const port = await freePort();
  let server: RtspServer = await startRtspServer(clip, port, '/cam', 'h264', 2);
  // Camera 0 analyses 0.5 fps (= its keyframe rate: keyframes only); camera 1 analyses 2 fps (full decode).
  const cams = [camera(server.urls[0]!, 'c0', 0.5), camera(server.urls[1]!, 'c1', 2)];
  let maxSessions = 0;
  const watch = setInterval(() => (maxSessions = Math.max(maxSessions, server.stats().sessions)), 100);
  try {
    for (const c of cams) {
      await c.rec.start();
      c.pump = (async () => {
        for await (const f of c.src.frames()) c.frames.push(f);
      })();
    }
    await waitFor(() => cams.every((c) => c.frames.length >= 4 && c.segments.length >= 3), 60_000, 'frames and segments from both cameras');
    // Steady state: one session per camera (the connect probe's short session is over by now).
    expect(server.stats().sessions).toBe(2);
    maxSessions = 0;
    await new Promise((r) => setTimeout(r, 3000));
    expect(maxSessions).toBe(2);

    expect(cams[0]!.decisions[0]).toMatchObject({ mode: 'keyframes', keyframeInterval: 2, effectiveFps: 0.5 });
    expect(cams[1]!.decisions[0]).toMatchObject({ mode: 'full', keyframeInterval: 2, effectiveFps: 2 });
    const gaps = (c: Cam) => c.frames.slice(1).map((f, i) => f.streamTime - c.frames[i]!.streamTime);
    for (const g of gaps(cams[0]!)) expect(g).toBeCloseTo(2, 1);
    for (const g of gaps(cams[1]!)) expect(g).toBeCloseTo(0.5, 1);
    for (const c of cams) for (const f of c.frames) expect(f.captureWall!).toBeLessThanOrEqual(f.wallTime);

    // The camera drops and comes back: both outputs resume on one new session per camera, the
    // GOP is probed again.
    await server.stop();
    await waitFor(() => cams.every((c) => c.src.state.state !== 'online'), 20_000, 'sources notice the outage');
    const before = cams.map((c) => ({ frames: c.frames.length, segments: c.segments.length }));
    server = await startRtspServer(clip, port, '/cam', 'h264', 2);
    await waitFor(
      () => cams.every((c, i) => c.frames.length >= before[i]!.frames + 3 && c.segments.length >= before[i]!.segments + 2),
      60_000,
      'frames and segments after the outage',
    );
    expect(server.stats().sessions).toBe(2);
    for (const c of cams) {
      expect(c.decisions.length).toBeGreaterThanOrEqual(2);
      expect(c.src.stats.reconnects).toBeGreaterThanOrEqual(1);
      expect(c.rec.restarts).toBeGreaterThanOrEqual(1);
    }
  } finally {
    clearInterval(watch);
    for (const c of cams) {
      await c.src.stop();
      await c.pump.catch(() => undefined);
      await c.rec.stop();
    }
    await server.stop();
  }
  for (const c of cams) {
    expect(c.errors).toEqual([]);
    const ring = c.rec.segments();
    for (const r of ring) expect(await probeFirstFrame(join(c.rec.opts.dir, r.file))).toEqual({ keyFrame: 1, pictType: 'I' });
    // Clip alignment as with a separate recorder: segment wall times bracket the analysed frames.
    const last = c.frames.at(-1)!;
    const seg = ring.find((r) => r.startWall - 1500 <= last.wallTime && last.wallTime <= r.endWall + 1500);
    expect(seg).toBeDefined();
    const out = join(tmp, `${c.rec.opts.cameraId}.mp4`);
    const res = await assembleClip({
      ringDir: c.rec.opts.dir,
      ring,
      request: { start: ring.at(-3)!.startWall, end: ring.at(-1)!.endWall, clock: 'wall', preRollSec: 0, postRollSec: 0 },
      outPath: out,
    });
    expect(res.path).toBe(out);
    expect(await probeDuration(out)).toBeGreaterThan(3);
  }
}, 180_000);
