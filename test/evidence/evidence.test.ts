import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleClip, planClip } from '../../pipeline/evidence/clip.js';
import { collectEvidence, eventEvidenceRequest } from '../../pipeline/evidence/collect.js';
import { cropRect, extractFrame, renderSnapshot } from '../../pipeline/evidence/snapshot.js';
import { Recorder, type SegmentRecord } from '../../pipeline/source/recorder.js';
import type { ViolationEvent } from '../../pipeline/types.js';
import { FsEvidenceStore } from '../../infra/adapters/fs-store.js';
import { S3EvidenceStore } from '../../infra/adapters/s3-store.js';
import { startS3Server } from '../support/s3-server.js';
import { makeCameraClip, probeDuration, probeFirstFrame } from './media.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('planClip (pure)', () => {
  const ring: SegmentRecord[] = [0, 2, 4, 8, 10].map((s) => ({
    file: `${s}.ts`,
    startTime: s,
    endTime: s + 2,
    startWall: 1e6 + s * 1000,
    endWall: 1e6 + (s + 2) * 1000,
    bytes: 1,
  }));
  it('chooses whole overlapping segments and reports coverage and holes', () => {
    const p = planClip(ring, { start: 3, end: 9, clock: 'stream', preRollSec: 0.5, postRollSec: 0.5 });
    expect(p.segments.map((s) => s.file)).toEqual(['2.ts', '4.ts', '8.ts']);
    expect(p.coverage).toEqual({ clock: 'stream', requested: [2.5, 9.5], actual: [2, 10], missingBefore: 0, missingAfter: 0, gapSec: 2 });
  });
  it('says how much of the window the ring lacks on either side, on the wall clock too', () => {
    const p = planClip(ring, { start: 1e6 + 1000, end: 1e6 + 11_000, clock: 'wall' });
    expect(p.coverage).toMatchObject({
      requested: [1e6 - 9000, 1e6 + 21_000],
      actual: [1e6, 1e6 + 12_000],
      missingBefore: 9,
      missingAfter: 9,
    });
    expect(planClip(ring, { start: 100, end: 101, clock: 'stream', preRollSec: 1, postRollSec: 1 }).coverage).toMatchObject({
      actual: null,
      missingBefore: 3,
    });
    expect(() => planClip(ring, { start: 5, end: 4, clock: 'stream' })).toThrow(/before start/);
  });
});

describe('evidence from a real recording ring', () => {
  let tmp: string;
  let src: string;
  let ringDir: string;
  let ring: SegmentRecord[];

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'cw-evid-'));
    src = await makeCameraClip(tmp, { seconds: 30, gopSec: 2 });
    ringDir = join(tmp, 'ring');
    const rec = new Recorder({ cameraId: 'cam-01', input: src, dir: ringDir, segmentSec: 2, maxBytes: 50e6, maxAgeSec: 3600 });
    const ended = new Promise<void>((r) => rec.once('end', () => r()));
    await rec.start();
    await ended;
    ring = rec.segments();
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('assembles a stream-copied faststart MP4 for [start − 10 s, end + 10 s], within one segment, starting on a keyframe', async () => {
    const out = join(tmp, 'clip-a.mp4');
    const r = await assembleClip({ ringDir, ring, request: { start: 12, end: 15, clock: 'stream' }, outPath: out });
    expect(r.path).toBe(out);
    expect(r.coverage).toMatchObject({ requested: [2, 25], missingBefore: 0, missingAfter: 0, gapSec: 0 });
    const dur = await probeDuration(out);
    expect(Math.abs(dur - 23)).toBeLessThanOrEqual(2);
    expect(await probeFirstFrame(out)).toEqual({ keyFrame: 1, pictType: 'I' });
    // Stream copy: same codec and size as the source, and 'moov' before 'mdat' (faststart).
    const head = (await readFile(out)).subarray(0, 4096).toString('latin1');
    expect(head.indexOf('moov')).toBeGreaterThan(0);
    expect(head.indexOf('moov')).toBeLessThan(head.indexOf('mdat') === -1 ? Infinity : head.indexOf('mdat'));
    const probe = spawnSync('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=codec_name,width,height',
      '-of',
      'csv=p=0',
      out,
    ])
      .stdout.toString()
      .trim();
    expect(probe).toBe('h264,768,576');
    console.log(`clip: requested 23 s, got ${dur.toFixed(2)} s, ${r.segments.length} segments, ${r.bytes} B`);
  });

  it('reports what it could not cover instead of failing: past the end, pruned start, vanished segment, nothing at all', async () => {
    const late = await assembleClip({ ringDir, ring, request: { start: 24, end: 27, clock: 'stream' }, outPath: join(tmp, 'clip-b.mp4') });
    expect(late.coverage.missingAfter).toBeCloseTo(37 - ring[ring.length - 1]!.endTime, 3);
    expect(Math.abs((await probeDuration(late.path!)) - (ring[ring.length - 1]!.endTime - late.segments[0]!.startTime))).toBeLessThan(0.5);

    const pruned = ring.slice(5); // what the index says after the oldest five were pruned
    const early = await assembleClip({
      ringDir,
      ring: pruned,
      request: { start: 8, end: 12, clock: 'stream' },
      outPath: join(tmp, 'clip-c.mp4'),
    });
    expect(early.coverage.missingBefore).toBeCloseTo(pruned[0]!.startTime + 2, 3);

    const copy = join(tmp, 'ring-copy');
    await cp(ringDir, copy, { recursive: true });
    await rm(join(copy, ring[6]!.file));
    const holed = await assembleClip({
      ringDir: copy,
      ring,
      request: { start: 12, end: 15, clock: 'stream' },
      outPath: join(tmp, 'clip-d.mp4'),
    });
    expect(holed.segments.map((s) => s.file)).not.toContain(ring[6]!.file);
    expect(holed.coverage.gapSec).toBeCloseTo(ring[6]!.endTime - ring[6]!.startTime, 3);
    expect(await probeFirstFrame(holed.path!)).toEqual({ keyFrame: 1, pictType: 'I' });

    const none = await assembleClip({
      ringDir,
      ring,
      request: { start: 100, end: 110, clock: 'stream' },
      outPath: join(tmp, 'clip-e.mp4'),
    });
    expect(none).toMatchObject({ path: null, segments: [], coverage: { actual: null } });
  });

  it('extracts the frame at a stream time from the ring at source resolution, matching the source at that time', async () => {
    const f = await extractFrame({ ringDir, ring, time: 12.3, clock: 'stream' });
    expect(f).not.toBeNull();
    expect([f!.width, f!.height]).toEqual([768, 576]);
    const direct = spawnSync(
      'ffmpeg',
      ['-v', 'error', '-i', src, '-ss', '12.3', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
      { maxBuffer: 1e8 },
    ).stdout;
    const ours = await sharp(f!.png).removeAlpha().raw().toBuffer();
    const other = spawnSync(
      'ffmpeg',
      ['-v', 'error', '-i', src, '-ss', '20', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
      { maxBuffer: 1e8 },
    ).stdout;
    const mad = (a: Buffer, b: Buffer) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
    expect(mad(ours, direct)).toBeLessThan(1);
    expect(mad(ours, other)).toBeGreaterThan(mad(ours, direct) + 1);
    expect(await extractFrame({ ringDir, ring, time: 99, clock: 'stream' })).toBeNull();
  });

  it('takes the frame half a second earlier when a time lies past the last frame its segment holds', async () => {
    // Segment bounds come from the list and arrival times; a listed end later than the last frame
    // (B-frame delay, a short last GOP) must not lose the snapshot.
    const seg = ring[Math.floor(ring.length / 2)]!;
    const stretched = { ...seg, endTime: seg.endTime + 0.4 };
    const time = stretched.endTime - 0.05;
    const f = await extractFrame({ ringDir, ring: [stretched], time, clock: 'stream' });
    expect(f).not.toBeNull();
    expect([f!.width, f!.height]).toEqual([768, 576]);
    expect(f!.offsetSec).toBeCloseTo(time - seg.startTime - 0.5, 6);
  });

  it('renders an annotated snapshot and a clean crop of the subject', async () => {
    const f = (await extractFrame({ ringDir, ring, time: 12.3, clock: 'stream' }))!;
    const box = { x1: 300, y1: 200, x2: 360, y2: 360 };
    const shot = await renderSnapshot(f.png, {
      boxes: [box],
      classLabel: '占道经营 street_vending',
      cameraId: 'cam-01',
      stage: '确认 confirmed',
      wallTime: Date.UTC(2024, 4, 1, 4, 0, 0),
      zones: [
        {
          polygon: [
            [0.1, 0.3],
            [0.9, 0.3],
            [0.9, 0.95],
            [0.1, 0.95],
          ],
          label: '禁止摆摊 no_vending',
        },
      ],
    });
    expect((await sharp(shot.annotated).metadata()).width).toBe(768);
    const rect = cropRect(box, 768, 576, 0.15);
    expect(rect).toEqual({ left: 291, top: 176, width: 78, height: 208 });
    const crop = await sharp(shot.crop!).metadata();
    expect([crop.width, crop.height]).toEqual([78, 208]);
    // The crop is clean: identical (up to JPEG noise) to the same region of the unannotated frame.
    const cleanRegion = await sharp(f.png).extract(rect).removeAlpha().raw().toBuffer();
    const cropPixels = await sharp(shot.crop!).raw().toBuffer();
    expect(cleanRegion.reduce((s, v, i) => s + Math.abs(v - cropPixels[i]!), 0) / cleanRegion.length).toBeLessThan(4);
  });

  const event = (): ViolationEvent => ({
    id: 'ev-20240501-0001',
    episodeId: 'ep-1',
    cameraId: 'cam-01',
    classId: 'street_vending',
    transition: 'confirmed',
    streamTime: 16,
    wallTime: Date.UTC(2024, 4, 1, 4, 0, 16),
    start: 11,
    end: null,
    boxes: [{ x1: 300, y1: 200, x2: 360, y2: 360 }],
    reason: {
      classId: 'street_vending',
      zoneId: 'z1',
      zoneType: 'no_vending',
      subject: 'person',
      trackIds: [7],
      dwellSec: 5,
      hits: 9,
      window: 10,
      medianScore: 0.71,
      thresholds: { minDwellSec: 5 },
      firstSeen: 11,
      lastSeen: 16,
      frameTimes: [11, 12, 13, 14, 15, 16],
    },
  });
  const models = [{ name: 'yolox_nano', sha256: 'a'.repeat(64) }];

  it('collects clip, snapshots, crop and a manifest into the filesystem store, checksums matching', async () => {
    const store = new FsEvidenceStore(join(tmp, 'store'));
    const got = await collectEvidence(
      eventEvidenceRequest(event(), 'stream', { classLabel: '占道经营 street_vending', timeZone: 'Asia/Shanghai' }),
      { ringDir, ring, store, models },
    );
    const prefix = 'cam-01/2024-05-01/ev-20240501-0001/';
    expect(await store.list(prefix)).toEqual(
      ['clip.mp4', 'confirmed.jpg', 'crop.jpg', 'first_seen.jpg', 'manifest.json'].map((n) => prefix + n),
    );
    const manifest = JSON.parse((await store.get(prefix + 'manifest.json')).toString());
    expect(manifest).toMatchObject({
      eventId: 'ev-20240501-0001',
      episodeId: 'ep-1',
      classId: 'street_vending',
      cameraId: 'cam-01',
      models,
      reason: event().reason,
      window: { clock: 'stream', start: 11, end: 16 },
      clip: { coverage: { requested: [1, 26], missingBefore: 0, missingAfter: 0 } },
      missingSnapshots: [],
    });
    expect(manifest.clip.segments.length).toBeGreaterThan(0);
    expect(manifest.files.map((f: { name: string }) => f.name)).toEqual(['clip.mp4', 'first_seen.jpg', 'confirmed.jpg', 'crop.jpg']);
    expect(got.refs.map((r) => r.file.name)).toEqual(['clip.mp4', 'first_seen.jpg', 'confirmed.jpg', 'crop.jpg', 'manifest.json']);
    for (const f of manifest.files as { key: string; sha256: string; bytes: number }[]) {
      const body = await store.get(f.key);
      expect([sha(body), body.length]).toEqual([f.sha256, f.bytes]);
    }
    expect(got.missingSnapshots).toEqual([]);
    expect(await store.presign(prefix + 'clip.mp4', 60)).toMatch(/^file:\/\//);
  });

  it('collects the same evidence into S3 through the same port, fetchable by presigned URL', async () => {
    const server = await startS3Server();
    try {
      const store = await S3EvidenceStore.open({
        endPoint: server.endPoint,
        port: server.port,
        accessKey: server.accessKey,
        secretKey: server.secretKey,
        bucket: 'evidence',
      });
      const got = await collectEvidence(eventEvidenceRequest(event(), 'stream', { classLabel: '占道经营 street_vending' }), {
        ringDir,
        ring,
        store,
        models,
      });
      const clipRef = got.refs.find((r) => r.file.kind === 'clip')!;
      const res = await fetch((await store.presign(clipRef.key, 300))!);
      expect(res.headers.get('content-type')).toBe('video/mp4');
      expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(clipRef.file.sha256);
      expect(got.manifestRef.key).toBe('cam-01/2024-05-01/ev-20240501-0001/manifest.json');
    } finally {
      await server.dispose();
    }
  });
});
