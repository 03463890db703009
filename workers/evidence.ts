// Evidence assembly and upload, on its own BullMQ queue: a confirmed case's clip (from the camera's
// recording ring), an annotated snapshot and a manifest go to the evidence store, the case gets the
// references and only then is the case event delivered, with evidence links. Jobs are delayed by the
// post-roll so the ring holds the footage after the event when the clip is cut.
//
// The ring lives under DATA_DIR/rings/<camera>, on storage every worker mounts (one host, or a shared
// volume in compose), so any worker can assemble a clip and a camera's ring survives a failover.
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { backoffDelay, type Backoff } from '../pipeline/backoff.js';
import { collectEvidence, type SnapshotMoment } from '../pipeline/evidence/collect.js';
import type { ModelInfo } from '../pipeline/evidence/manifest.js';
import { evidenceKey, type EvidenceStore } from '../pipeline/evidence/store.js';
import { readRingIndex, type ClipClock } from '../pipeline/source/recorder.js';
import type { Box, EvidenceRef, NormPoint, ReasonRecord } from '../pipeline/types.js';
import { SpoolFullError } from '../infra/adapters/spool-store.js';
import type { DeliveryService, EventType } from '../infra/delivery/delivery.js';
import type { CaseRecord, CaseStore } from '../infra/stores/case-store.js';

export const EVIDENCE_QUEUE = 'evidence';

/** Retries of an evidence job: 3 s, 6 s, 12 s (±20 %), while S3 or the disk recovers. */
const EVIDENCE_BACKOFF: Backoff = { initialMs: 3000, maxMs: 60_000 };

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
  zoneLabel?: string;
  /** Bilingual class name for box labels and captions, e.g. "占道经营 street_vending". */
  classLabel: string;
  /** Camera name for the captions. */
  cameraLabel?: string;
  /** Models that analysed the camera (name + sha256), for the manifest. */
  models: ModelInfo[];
  /** Episode and class behind the evidence (absent for a verification window). */
  episodeId?: string;
  classId?: string;
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

const DELIVERY_FOR: Record<EvidencePurpose, EventType> = {
  case: 'case.created',
  reappearance: 'case.evidence_added',
  reopen: 'case.reopened',
};

export function deliveryKey(purpose: EvidencePurpose, caseId: string, eventId: string): string {
  return purpose === 'case' ? `case.created:${caseId}` : `${DELIVERY_FOR[purpose]}:${caseId}:${eventId}`;
}

/** What the second snapshot is named and captioned, per purpose (the first is always first-seen). */
const MOMENT: Record<EvidencePurpose, Pick<SnapshotMoment, 'name' | 'stage'>> = {
  case: { name: 'confirmed', stage: '确认 confirmed' },
  reappearance: { name: 'reappeared', stage: '再次出现 reappeared' },
  reopen: { name: 'reopened', stage: '复核未整改 reopened' },
};

export interface EvidenceServiceOptions {
  connection: Redis;
  bullPrefix: string;
  store: EvidenceStore;
  cases: CaseStore;
  delivery: DeliveryService;
  scratchDir: string;
  /** Base URL of the API for evidence links in webhook bodies (null: a path relative to the API). */
  publicApiUrl?: string | null;
  /**
   * How long the ring keeps footage (RING_MAX_AGE_SEC). While the evidence spool is full (the store is
   * unreachable and the local spool budget is used up) the job waits for space — without spending
   * its attempts — as long as the ring still holds the clip window; after that it fails as before.
   */
  ringRetainSec?: number;
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
      backoff: { type: 'jitter-exp' },
      removeOnComplete: { age: 24 * 3600, count: 5000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
    });
  }

  startWorker(connection: Redis, concurrency = 1): Worker<EvidenceJobData> {
    this.worker = new Worker<EvidenceJobData>(EVIDENCE_QUEUE, (job, token) => this.process(job, token), {
      connection,
      prefix: this.o.bullPrefix,
      concurrency,
      settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(attemptsMade, EVIDENCE_BACKOFF) },
    });
    this.worker.on('error', () => undefined);
    return this.worker;
  }

  private async process(job: Job<EvidenceJobData>, token?: string): Promise<void> {
    const d = job.data;
    let refs: EvidenceRef[] = [];
    let status: CaseRecord['evidenceStatus'] = 'ready';
    // Never overwrite evidence a case already references: a second job for the same event id (an
    // episode resumed on another worker after a kill -9 numbers its events again) would cut a
    // different clip under the same keys while the case keeps the first checksums (the chaos suite
    // found this). The stored files stay; this job reuses their references.
    const folder = evidenceKey({ cameraId: d.cameraId, eventId: d.eventId, wallTime: d.wallTime, name: 'x', timeZone: d.timezone }).slice(
      0,
      -1,
    );
    const stored = (await this.o.cases.get(d.caseId))?.evidence.filter((e) => e.key.startsWith(folder)) ?? [];
    try {
      if (stored.length > 0) {
        refs = stored;
        this.o.log?.('evidence for this event already stored; not overwritten', {
          caseId: d.caseId,
          eventId: d.eventId,
          files: stored.map((r) => r.key),
        });
      } else refs = await this.assemble(d);
      if (!refs.some((r) => r.file.kind === 'clip')) status = 'missing';
    } catch (err) {
      const wait = spoolWait(err, d.wallTime, Date.now(), this.o.ringRetainSec ?? 0, job.attemptsStarted);
      if (wait !== null && token) {
        this.o.log?.('evidence waiting for spool space', { caseId: d.caseId, retryInMs: wait, error: (err as Error).message });
        await job.moveToDelayed(Date.now() + wait, token);
        throw new DelayedError();
      }
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

  /** Cuts the clip, snapshots and uploads (pipeline/evidence collect); returns the references, manifest last (no clip if the ring had nothing). */
  async assemble(d: EvidenceJobData): Promise<EvidenceRef[]> {
    const wallAt = (t: number) => (d.clock === 'wall' ? t : d.wallTime - (d.snapshotAt - t) * 1000);
    const got = await collectEvidence(
      {
        caseId: d.caseId,
        purpose: d.purpose,
        cameraId: d.cameraId,
        eventId: d.eventId,
        wallTime: d.wallTime,
        ...(d.episodeId ? { episodeId: d.episodeId } : {}),
        ...(d.classId ? { classId: d.classId } : {}),
        clock: d.clock,
        start: d.start,
        end: d.end,
        reason: d.reason,
        moments: [
          { name: 'first_seen', time: d.start, stage: '首次发现 first seen', wall: wallAt(d.start) },
          { ...MOMENT[d.purpose], time: d.snapshotAt, wall: wallAt(d.snapshotAt) },
        ],
        boxes: d.boxes,
        boxSpace: d.boxSpace,
        zones: d.zonePolygon ? [{ polygon: d.zonePolygon, ...(d.zoneLabel ? { label: d.zoneLabel } : {}) }] : [],
        classLabel: d.classLabel,
        ...(d.cameraLabel ? { cameraLabel: d.cameraLabel } : {}),
        timeZone: d.timezone,
        preRollSec: d.preRollSec,
        postRollSec: d.postRollSec,
      },
      { ringDir: d.ringDir, ring: await readRingIndex(d.ringDir), store: this.o.store, models: d.models ?? [], workDir: this.o.scratchDir },
    );
    return got.refs;
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}

/**
 * When a full spool should delay the evidence job instead of failing it: the footage must still be in
 * the ring at the retry (with a minute's margin for cutting the clip). The wait grows with each try
 * (5 s doubling, capped at 60 s) so a long store outage costs few retries. null: fail as usual.
 */
export function spoolWait(err: unknown, eventWallTime: number, now: number, ringRetainSec: number, tries: number): number | null {
  if (!(err instanceof SpoolFullError)) return null;
  const wait = backoffDelay(Math.max(1, tries), SPOOL_WAIT_BACKOFF);
  const footageUntil = eventWallTime + ringRetainSec * 1000 - 60_000;
  return now + wait < footageUntil ? wait : null;
}
const SPOOL_WAIT_BACKOFF: Backoff = { initialMs: 5000, maxMs: 60_000, jitter: 0 };
