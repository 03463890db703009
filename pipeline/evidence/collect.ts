// Gathers the evidence of one violation event (or one verification window of a case) from a
// camera's recording ring and puts it in an evidence store: the clip with pre/post-roll, annotated
// snapshots at first-seen and at the event, a clean crop of the subject, and a manifest listing the
// models (with sha256) and every file with its sha256. Missing pieces (ring already pruned, not yet
// recorded) are reported in the manifest (`clip.coverage`, `missingSnapshots`) rather than failing.
// The one evidence path: the evidence worker (workers/evidence.ts) and the tests both run this.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SegmentRecord } from '../source/recorder.js';
import type { Box, EvidenceRef, NormPoint, ViolationEvent } from '../types.js';
import { scaleBoxes, type PixelSize } from '../geometry/box-space.js';
import { assembleClip, type ClipCoverage } from './clip.js';
import { buildManifest, type EvidenceManifest, type ManifestSubject, type ModelInfo } from './manifest.js';
import { extractFrame, renderSnapshot } from './snapshot.js';
import { evidenceKey, type EvidenceStore } from './store.js';

/** A moment to snapshot, on the ring's clock. */
export interface SnapshotMoment {
  /** File name stem: first_seen, confirmed, … */
  name: string;
  time: number;
  /** Stage shown in the caption, e.g. "首次发现 first seen". */
  stage: string;
  /** Epoch ms shown in the caption. */
  wall: number;
}

export interface EvidenceRequest extends ManifestSubject {
  /** Snapshot moments in time order; the crop comes from the latest one the ring holds. */
  moments: SnapshotMoment[];
  /** Subject boxes in `boxSpace` pixels (the analysed stream); the first is cropped. */
  boxes: Box[];
  /** Pixel size of the stream the boxes were found in; null/absent: the recorded stream's. */
  boxSpace?: PixelSize | null;
  zones?: { polygon: readonly NormPoint[]; label?: string }[];
  /** Bilingual class name for box labels and the caption, e.g. "占道经营 street_vending". */
  classLabel: string;
  /** Shown in the caption instead of the camera id (e.g. the camera's name). */
  cameraLabel?: string;
  /** Time zone of the evidence key's date and the captions (default Asia/Shanghai). */
  timeZone?: string;
  preRollSec?: number;
  postRollSec?: number;
}

export interface CollectOptions {
  ringDir: string;
  ring: readonly SegmentRecord[];
  store: EvidenceStore;
  models: ModelInfo[];
  workDir?: string;
}

export interface CollectedEvidence {
  /** Every stored file, the manifest last. */
  refs: EvidenceRef[];
  manifest: EvidenceManifest;
  manifestRef: EvidenceRef;
  coverage: ClipCoverage;
  /** Snapshot moments that the ring could not supply. */
  missingSnapshots: string[];
}

/** Pure: the evidence request for a violation event, its times put on the ring's clock. */
export function eventEvidenceRequest(
  event: ViolationEvent,
  clock: ManifestSubject['clock'],
  rest: Pick<EvidenceRequest, 'classLabel' | 'zones' | 'timeZone' | 'preRollSec' | 'postRollSec' | 'boxSpace' | 'cameraLabel'>,
): EvidenceRequest {
  const wallOf = (t: number) => event.wallTime - (event.streamTime - t) * 1000;
  const on = (t: number) => (clock === 'stream' ? t : wallOf(t));
  const end = event.end ?? event.streamTime;
  return {
    cameraId: event.cameraId,
    eventId: event.id,
    wallTime: event.wallTime,
    episodeId: event.episodeId,
    classId: event.classId,
    transition: event.transition,
    streamTime: event.streamTime,
    clock,
    start: on(event.start),
    end: on(end),
    reason: event.reason,
    ...(event.extras ? { extras: event.extras } : {}),
    moments: [
      { name: 'first_seen', time: on(event.start), stage: '首次发现 first seen', wall: wallOf(event.start) },
      {
        name: event.transition,
        time: on(event.streamTime),
        stage: event.transition === 'confirmed' ? '确认 confirmed' : event.transition,
        wall: event.wallTime,
      },
    ],
    boxes: event.boxes,
    ...rest,
  };
}

export async function collectEvidence(req: EvidenceRequest, opts: CollectOptions): Promise<CollectedEvidence> {
  const work = await mkdtemp(join(opts.workDir ?? tmpdir(), 'cw-evidence-'));
  try {
    const key = (name: string) =>
      evidenceKey({ cameraId: req.cameraId, eventId: req.eventId, wallTime: req.wallTime, name, timeZone: req.timeZone });
    // S3 user metadata: ASCII values only (ids are).
    const meta: Record<string, string> = { 'camera-id': req.cameraId, 'event-id': req.eventId };
    if (req.caseId) meta['case-id'] = req.caseId;
    if (req.episodeId) meta['episode-id'] = req.episodeId;
    if (req.classId) meta['class-id'] = req.classId;
    const refs: EvidenceRef[] = [];

    const clip = await assembleClip({
      ringDir: opts.ringDir,
      ring: opts.ring,
      request: { start: req.start, end: req.end, clock: req.clock, preRollSec: req.preRollSec, postRollSec: req.postRollSec },
      outPath: join(work, 'clip.mp4'),
    });
    if (clip.path) refs.push(await opts.store.put(key('clip.mp4'), clip.path, { contentType: 'video/mp4', kind: 'clip', metadata: meta }));

    const missingSnapshots: string[] = [];
    let crop: Buffer | null = null;
    for (const m of req.moments) {
      const frame = await extractFrame({ ringDir: opts.ringDir, ring: opts.ring, time: m.time, clock: req.clock });
      if (!frame) {
        missingSnapshots.push(m.name);
        continue;
      }
      const shot = await renderSnapshot(frame.png, {
        boxes: scaleBoxes(req.boxes, req.boxSpace, frame),
        zones: req.zones,
        classLabel: req.classLabel,
        cameraId: req.cameraLabel ?? req.cameraId,
        stage: m.stage,
        wallTime: m.wall,
        timeZone: req.timeZone,
      });
      refs.push(
        await opts.store.put(key(`${m.name}.jpg`), shot.annotated, { contentType: 'image/jpeg', kind: 'snapshot', metadata: meta }),
      );
      // The boxes belong to the event moment (the last); an earlier moment's crop only if that is all there is.
      crop = shot.crop ?? crop;
    }
    if (crop) refs.push(await opts.store.put(key('crop.jpg'), crop, { contentType: 'image/jpeg', kind: 'crop', metadata: meta }));

    const manifest = buildManifest({
      subject: req,
      models: opts.models,
      files: refs,
      clip: { coverage: clip.coverage, segments: clip.segments.map((s) => s.file) },
      missingSnapshots,
    });
    const body = Buffer.from(JSON.stringify(manifest, null, 2));
    const manifestRef = await opts.store.put(key('manifest.json'), body, {
      contentType: 'application/json',
      kind: 'manifest',
      metadata: meta,
    });
    refs.push(manifestRef);
    return { refs, manifest, manifestRef, coverage: clip.coverage, missingSnapshots };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
