// Gathers the evidence of one violation event from a camera's recording ring and puts it in an
// evidence store: clip with pre/post-roll, annotated snapshots at first-seen and at the event, a clean
// crop, and a manifest listing every file with its sha256. Missing pieces (ring already pruned, not
// yet recorded) are reported in the manifest's coverage rather than failing the event.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClipClock, SegmentRecord } from '../source/recorder.js';
import type { EvidenceRef, NormPoint, ViolationEvent } from '../types.js';
import { assembleClip, type ClipCoverage } from './clip.js';
import { buildManifest, type EvidenceManifest, type ModelInfo } from './manifest.js';
import { extractFrame, renderSnapshot } from './snapshot.js';
import { evidenceKey, type EvidenceStore } from './store.js';

export interface CollectOptions {
  ringDir: string;
  ring: readonly SegmentRecord[];
  /** Clock of the ring the event's times are compared on (Recorder.clock). */
  clock: ClipClock;
  store: EvidenceStore;
  models: ModelInfo[];
  classLabel: string;
  zones?: { polygon: readonly NormPoint[]; label?: string }[];
  timeZone?: string;
  preRollSec?: number;
  postRollSec?: number;
  workDir?: string;
}

export interface CollectedEvidence {
  refs: EvidenceRef[];
  manifest: EvidenceManifest;
  manifestRef: EvidenceRef;
  coverage: ClipCoverage;
  /** Snapshot moments that the ring could not supply. */
  missingSnapshots: string[];
}

/** Event times on the ring's clock: stream seconds, or epoch ms derived from the event's wall time. */
function eventTimes(event: ViolationEvent, clock: ClipClock): { first: number; at: number; end: number } {
  if (clock === 'stream') return { first: event.start, at: event.streamTime, end: event.end ?? event.streamTime };
  const toWall = (t: number) => event.wallTime - (event.streamTime - t) * 1000;
  return { first: toWall(event.start), at: event.wallTime, end: event.end !== null ? toWall(event.end) : event.wallTime };
}

export async function collectEvidence(event: ViolationEvent, opts: CollectOptions): Promise<CollectedEvidence> {
  const work = await mkdtemp(join(opts.workDir ?? tmpdir(), 'cw-evidence-'));
  try {
    const t = eventTimes(event, opts.clock);
    const key = (name: string) => evidenceKey({ cameraId: event.cameraId, eventId: event.id, wallTime: event.wallTime, name, timeZone: opts.timeZone });
    const meta = { camera: event.cameraId, event: event.id, episode: event.episodeId, class: event.classId };
    const refs: EvidenceRef[] = [];

    const clip = await assembleClip({
      ringDir: opts.ringDir,
      ring: opts.ring,
      request: { start: t.first, end: t.end, clock: opts.clock, preRollSec: opts.preRollSec, postRollSec: opts.postRollSec },
      outPath: join(work, 'clip.mp4'),
    });
    if (clip.path) refs.push(await opts.store.put(key('clip.mp4'), clip.path, { contentType: 'video/mp4', kind: 'clip', metadata: meta }));

    const missingSnapshots: string[] = [];
    const moments: { name: string; time: number; stage: string; wall: number }[] = [
      { name: 'first_seen', time: t.first, stage: '首次发现 first seen', wall: opts.clock === 'wall' ? t.first : event.wallTime - (event.streamTime - event.start) * 1000 },
      { name: event.transition, time: t.at, stage: event.transition === 'confirmed' ? '确认 confirmed' : event.transition, wall: event.wallTime },
    ];
    let cropped = false;
    for (const m of moments) {
      const frame = await extractFrame({ ringDir: opts.ringDir, ring: opts.ring, time: m.time, clock: opts.clock });
      if (!frame) {
        missingSnapshots.push(m.name);
        continue;
      }
      const shot = await renderSnapshot(frame.png, { boxes: event.boxes, zones: opts.zones, classLabel: opts.classLabel, cameraId: event.cameraId, stage: m.stage, wallTime: m.wall, timeZone: opts.timeZone });
      refs.push(await opts.store.put(key(`${m.name}.jpg`), shot.annotated, { contentType: 'image/jpeg', kind: 'snapshot', metadata: meta }));
      // The crop comes from the event moment (boxes belong to it); first-seen only if that is all we have.
      if (shot.crop && (m.name !== 'first_seen' || !cropped)) {
        const put = await opts.store.put(key('crop.jpg'), shot.crop, { contentType: 'image/jpeg', kind: 'crop', metadata: meta });
        if (!cropped) refs.push(put);
        else refs[refs.findIndex((r) => r.key === put.key)] = put;
        cropped = true;
      }
    }

    const manifest = buildManifest({ event, models: opts.models, files: refs, clipCoverage: clip.coverage });
    const body = Buffer.from(JSON.stringify({ ...manifest, missingSnapshots }, null, 2));
    await writeFile(join(work, 'manifest.json'), body);
    const manifestRef = await opts.store.put(key('manifest.json'), body, { contentType: 'application/json', kind: 'manifest', metadata: meta });
    return { refs, manifest, manifestRef, coverage: clip.coverage, missingSnapshots };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
