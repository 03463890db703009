// Evidence assembly and upload, on its own BullMQ queue: a confirmed case's clip (from the camera's
// recording ring), an annotated snapshot and a manifest go to the evidence store, the case gets the
// references and only then is the case event delivered, with evidence links. Jobs are delayed by the
// post-roll so the ring holds the footage after the event when the clip is cut.
//
// The ring lives under DATA_DIR/rings/<camera>, on storage every worker mounts (one host, or a shared
// volume in compose), so any worker can assemble a clip and a camera's ring survives a failover.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { inputGuardArgs, parseInput } from '../pipeline/source/input-url.js';
import { join } from 'node:path';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { annotateImage } from '../pipeline/evidence/annotate.js';
import { scaleBoxes } from '../pipeline/geometry/box-space.js';
import { assembleClip, runFfmpeg } from '../pipeline/evidence/clip.js';
import { evidenceKey, type EvidenceStore } from '../pipeline/evidence/store.js';
import { toPixels } from '../pipeline/geometry/geometry.js';
import type { ClipClock, SegmentRecord } from '../pipeline/source/recorder.js';
import type { Box, EvidenceRef, NormPoint, ReasonRecord } from '../pipeline/types.js';
import type { DeliveryService, EventType } from '../infra/delivery/delivery.js';
import type { CaseRecord, CaseStore } from '../infra/stores/case-store.js';

export const EVIDENCE_QUEUE = 'evidence';

export type EvidencePurpose = 'case' | 'reappearance' | 'reopen';

export interface EvidenceJobData {
  caseId: string;
  cameraId: string;
  timezone: string;
  /** Event (or verification) id: names the evidence folder and the delivery key. */
  eventId: string;
  purpose: EvidencePurpose;
  clock: ClipClock;
  /** Window on `clock` (stream s or epoch ms) and the instant to snapshot. */
  start: number;
  end: number;
  snapshotAt: number;
  /** Epoch ms of the event (for the evidence key's date). */
  wallTime: number;
  boxes: Box[];
  /** Pixel size of the stream the boxes were found in (the analysis stream); null/absent = the clip's. */
  boxSpace?: { width: number; height: number } | null;
  zonePolygon: NormPoint[] | null;
  caption: string;
  ringDir: string;
  reason: ReasonRecord | null;
  preRollSec: number;
  postRollSec: number;
}

/**
 * A case as sent to the platform: the record (its `evidence` lists each file's key, kind, size and
 * sha256) plus the API URL that mints short-lived download links on demand. Webhook bodies carry no
 * presigned URLs: they would outlive their use in the receiver's logs and queues.
 */
export interface CasePayload extends CaseRecord {
  evidenceApiUrl: string;
}

export function casePayload(c: CaseRecord, apiBaseUrl: string | null | undefined): CasePayload {
  return { ...c, evidenceApiUrl: `${apiBaseUrl ?? ''}/v1/cases/${c.id}/evidence` };
}

const DELIVERY_FOR: Record<EvidencePurpose, EventType> = { case: 'case.created', reappearance: 'case.evidence_added', reopen: 'case.reopened' };

export function deliveryKey(purpose: EvidencePurpose, caseId: string, eventId: string): string {
  return purpose === 'case' ? `case.created:${caseId}` : `${DELIVERY_FOR[purpose]}:${caseId}:${eventId}`;
}

async function readRing(ringDir: string): Promise<SegmentRecord[]> {
  try {
    return JSON.parse(await readFile(join(ringDir, 'index.json'), 'utf8')) as SegmentRecord[];
  } catch {
    return [];
  }
}

export interface EvidenceServiceOptions {
  connection: Redis;
  bullPrefix: string;
  store: EvidenceStore;
  cases: CaseStore;
  delivery: DeliveryService;
  scratchDir: string;
  presignExpirySec: number;
  /** Base URL of the API for evidence links in webhook bodies (null: a path relative to the API). */
  publicApiUrl?: string | null;
  segmentSec: number;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export class EvidenceService {
  readonly queue: Queue<EvidenceJobData>;
  private worker: Worker<EvidenceJobData> | null = null;

  constructor(private readonly o: EvidenceServiceOptions) {
    this.queue = new Queue<EvidenceJobData>(EVIDENCE_QUEUE, { connection: o.connection, prefix: o.bullPrefix });
    // Connection errors during a Redis restart are expected; the connection retries by itself.
    this.queue.on('error', () => undefined);
  }

  /** Queues evidence for an event, after the post-roll has been recorded. Idempotent per (purpose, event). */
  async enqueue(data: EvidenceJobData, readyInMs: number): Promise<void> {
    await this.queue.add('assemble', data, {
      jobId: `${data.purpose}_${data.caseId}_${data.eventId}`.replace(/[^A-Za-z0-9_.-]/g, '_'),
      delay: Math.max(0, Math.round(readyInMs)),
      attempts: 4,
      backoff: { type: 'exponential', delay: 3000 },
      removeOnComplete: { age: 24 * 3600, count: 5000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
    });
  }

  startWorker(connection: Redis, concurrency = 1): Worker<EvidenceJobData> {
    this.worker = new Worker<EvidenceJobData>(EVIDENCE_QUEUE, (job) => this.process(job), { connection, prefix: this.o.bullPrefix, concurrency });
    this.worker.on('error', () => undefined);
    return this.worker;
  }

  private async process(job: Job<EvidenceJobData>): Promise<void> {
    const d = job.data;
    let refs: EvidenceRef[] = [];
    let status: CaseRecord['evidenceStatus'] = 'ready';
    // Never overwrite evidence a case already references: a second job for the same event id (an
    // episode resumed on another worker after a kill -9 numbers its events again) would cut a
    // different clip under the same keys while the case keeps the first checksums (the chaos suite
    // found this). The stored files stay; this job reuses their references.
    const folder = evidenceKey({ cameraId: d.cameraId, eventId: d.eventId, wallTime: d.wallTime, name: 'x', timeZone: d.timezone }).slice(0, -1);
    const stored = (await this.o.cases.get(d.caseId))?.evidence.filter((e) => e.key.startsWith(folder)) ?? [];
    try {
      if (stored.length > 0) {
        refs = stored;
        this.o.log?.('evidence for this event already stored; not overwritten', { caseId: d.caseId, eventId: d.eventId, files: stored.map((r) => r.key) });
      } else refs = await this.assemble(d);
      if (!refs.some((r) => r.file.kind === 'clip')) status = 'missing';
    } catch (err) {
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      this.o.log?.('evidence attempt failed', { caseId: d.caseId, attempt: job.attemptsMade + 1, error: (err as Error).message });
      if (!last) throw err;
      // The case must reach the platform even when its footage cannot be had.
      status = 'failed';
    }
    const c = await this.o.cases.addEvidence(d.caseId, refs, status);
    await this.o.delivery.enqueue({
      type: DELIVERY_FOR[d.purpose],
      idempotencyKey: deliveryKey(d.purpose, d.caseId, d.eventId),
      data: { case: casePayload(c, this.o.publicApiUrl), eventId: d.eventId, evidence: refs },
    });
    this.o.log?.('evidence stored', { caseId: d.caseId, purpose: d.purpose, files: refs.map((r) => r.key), status });
  }

  /** Cuts the clip, snapshots and uploads; returns the references (clip may be absent if the ring had nothing). */
  async assemble(d: EvidenceJobData): Promise<EvidenceRef[]> {
    const work = await mkdtemp(join(this.o.scratchDir, 'ev-'));
    try {
      const ring = await readRing(d.ringDir);
      const clipPath = join(work, 'clip.mp4');
      const clip = await assembleClip({
        ringDir: d.ringDir,
        ring,
        request: { start: d.start, end: d.end, clock: d.clock, preRollSec: d.preRollSec, postRollSec: d.postRollSec },
        outPath: clipPath,
      });
      const key = (name: string) => evidenceKey({ cameraId: d.cameraId, eventId: d.eventId, wallTime: d.wallTime, name, timeZone: d.timezone });
      const meta = { 'case-id': d.caseId, 'camera-id': d.cameraId, 'event-id': d.eventId };
      const refs: EvidenceRef[] = [];
      if (clip.path) {
        refs.push(await this.o.store.put(key('clip.mp4'), clip.path, { contentType: 'video/mp4', kind: 'clip', metadata: meta }));
        const unit = d.clock === 'stream' ? 1 : 1000;
        const dur = await clipDuration(clip.path);
        const offset = Math.min(Math.max(0, (d.snapshotAt - clip.coverage.actual![0]) / unit), Math.max(0, dur - 0.2));
        const frame = join(work, 'frame.png');
        await runFfmpeg(['-hide_banner', '-nostdin', '-loglevel', 'error', '-ss', offset.toFixed(3), '-i', clip.path, '-frames:v', '1', '-y', frame]);
        const png = await readFile(frame);
        const { width, height } = await pngSize(png);
        const jpg = await annotateImage(png, {
          boxes: scaleBoxes(d.boxes, d.boxSpace, { width, height }).map((box) => ({ box, label: d.caption })),
          polygons: d.zonePolygon ? [{ points: toPixels(d.zonePolygon, width, height).map(([x, y]) => [x, y] as [number, number]) }] : [],
          caption: d.caption,
        });
        refs.push(await this.o.store.put(key('snapshot.jpg'), jpg, { contentType: 'image/jpeg', kind: 'snapshot', metadata: meta }));
      }
      const manifest = {
        caseId: d.caseId,
        cameraId: d.cameraId,
        eventId: d.eventId,
        purpose: d.purpose,
        window: { clock: d.clock, start: d.start, end: d.end },
        coverage: clip.coverage,
        segments: clip.segments.map((s) => s.file),
        reason: d.reason,
        files: refs.map((r) => ({ key: r.key, ...r.file })),
      };
      refs.push(await this.o.store.put(key('manifest.json'), Buffer.from(JSON.stringify(manifest, null, 2)), { contentType: 'application/json', kind: 'manifest', metadata: meta }));
      return refs;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}

async function clipDuration(file: string): Promise<number> {
  const { execFile } = await import('node:child_process');
  const spec = parseInput(file);
  return new Promise((resolve) => {
    execFile('ffprobe', ['-v', 'error', ...inputGuardArgs(spec), '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', spec.ffmpegInput], (err, out) => {
      const v = Number(String(out).trim());
      resolve(err || !Number.isFinite(v) ? 0 : v);
    });
  });
}

async function pngSize(png: Buffer): Promise<{ width: number; height: number }> {
  // IHDR: width and height are big-endian u32 at bytes 16 and 20.
  if (png.length < 24) throw new Error('snapshot frame is not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
