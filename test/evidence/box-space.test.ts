// Stream roles: boxes are found on the camera's substream (here half the main stream's size) and
// drawn on a snapshot of the recorded main stream. The evidence job carries the boxes' pixel space,
// so the box lands where the object is on the main stream, not at its substream coordinates.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Recorder } from '../../pipeline/source/recorder.js';
import { FsEvidenceStore } from '../../infra/adapters/fs-store.js';
import { DeliveryService } from '../../infra/delivery/delivery.js';
import { EvidenceService } from '../../workers/evidence.js';
import { createRedis, closeRedis } from '../../infra/redis.js';
import { CaseStore } from '../../infra/stores/case-store.js';
import { openDatabase } from '../../infra/db/db.js';
import { redisPerFile } from '../workers/helpers.js';
import { makeCameraClip } from './media.js';

let redis: Redis;
let url: string;
redisPerFile('box-space', (r, u) => {
  redis = r;
  url = u;
});
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cw-boxspace-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

it('draws boxes from a 384x288 substream at their place on the 768x576 main stream snapshot', async () => {
  const clip = await makeCameraClip(tmp, { seconds: 8, gopSec: 2 });
  const ringDir = join(tmp, 'ring');
  const rec = new Recorder({ cameraId: 'cam', input: clip, dir: ringDir, segmentSec: 2, maxBytes: 50e6, maxAgeSec: 3600 });
  const ended = new Promise<void>((r) => rec.once('end', () => r()));
  await rec.start();
  await ended;
  await mkdir(join(tmp, 'scratch'), { recursive: true });
  const conns = [createRedis(url), createRedis(url)];
  const database = await openDatabase({});
  const delivery = new DeliveryService(database.db, {
    bullPrefix: 'cw-bull',
    connection: conns[0]!,
    webhook: null,
    backoff: { maxAttempts: 1, baseMs: 10, maxMs: 10 },
  });
  const store = new FsEvidenceStore(join(tmp, 'evidence'));
  const ev = new EvidenceService({
    connection: conns[1]!,
    bullPrefix: 'cw-bull',
    store,
    cases: new CaseStore(database.db, { redis }),
    delivery,
    scratchDir: join(tmp, 'scratch'),
  });
  try {
    const refs = await ev.assemble({
      caseId: 'case_x',
      cameraId: 'cam',
      timezone: 'UTC',
      eventId: 'ev1',
      purpose: 'case',
      clock: 'stream',
      start: 2,
      end: 4,
      snapshotAt: 3,
      wallTime: Date.now(),
      boxes: [{ x1: 200, y1: 100, x2: 350, y2: 200 }],
      boxSpace: { width: 384, height: 288 },
      zonePolygon: null,
      classLabel: 'x',
      models: [{ name: 'yolox_nano', sha256: 'a'.repeat(64) }],
      ringDir,
      reason: null,
      preRollSec: 0,
      postRollSec: 0,
    });
    // The evidence worker runs the one evidence path: clip, first-seen and event snapshots, crop, manifest with the model's sha256.
    expect(refs.map((r) => r.file.name)).toEqual(['clip.mp4', 'first_seen.jpg', 'confirmed.jpg', 'crop.jpg', 'manifest.json']);
    const manifest = JSON.parse((await store.get(refs[refs.length - 1]!.key)).toString());
    expect(manifest).toMatchObject({
      caseId: 'case_x',
      purpose: 'case',
      eventId: 'ev1',
      models: [{ name: 'yolox_nano', sha256: 'a'.repeat(64) }],
      missingSnapshots: [],
    });
    expect(manifest.files.map((f: { sha256: string }) => f.sha256)).toEqual(refs.slice(0, -1).map((r) => r.file.sha256));
    const snap = refs.find((r) => r.file.name === 'confirmed.jpg')!;
    const { data, info } = await sharp(join(tmp, 'evidence', ...snap.key.split('/')))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([768, 576]);
    const px = (x: number, y: number) =>
      Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    const isRed = ([r, g, b]: number[]) => r! > 170 && g! < 120 && b! < 120;
    // The 2 px stroke straddles the edge and JPEG softens it: look within ±2 px.
    const red = (x: number, y: number) => [-2, -1, 0, 1, 2].some((d) => isRed(px(x + (y === -1 ? 0 : d), y)) || isRed(px(x, y + d)));
    // Edges of the scaled box (400..700, 200..400), mid-way along each side.
    expect(red(400, 300)).toBe(true);
    expect(red(700, 300)).toBe(true);
    expect(red(550, 400)).toBe(true);
    // Where the unscaled box's left and bottom edges would have been: no box.
    expect(red(200, 150)).toBe(false);
    expect(red(275, 200)).toBe(false);
  } finally {
    await ev.close();
    await delivery.close();
    await database.close();
    for (const c of conns) await closeRedis(c);
  }
}, 240_000);
