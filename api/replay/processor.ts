// Replay jobs for testers: one BullMQ job analyses one clip (an upload or a stream URL) with one
// camera config through `replayClip` — the function `citywatch analyze` calls — so an API replay and
// the CLI report the same events. The result adds what a tester wants on top: the cases the clip
// would have opened, annotated snapshots of each confirmation (in the evidence store), and per-class
// precision/recall when a ground-truth file was attached.
import { rm } from 'node:fs/promises';
import { parseInput } from '../../pipeline/source/input-url.js';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { groundTruthSchema, type GroundTruth } from '../../pipeline/eval/ground-truth.js';
import { sharedSession, type ModelSession } from '../../pipeline/detect/session.js';
import { computeMetrics, type ClassMetrics } from '../../pipeline/eval/metrics.js';
import { matchClip, predictedEpisodes, type TruthEpisode } from '../../pipeline/eval/match.js';
import { annotateFrame } from '../../pipeline/evidence/annotate.js';
import type { EvidenceStore } from '../../pipeline/evidence/store.js';
import { getClass } from '../../pipeline/rules/catalog.js';
import { parseCameraConfig } from '../../pipeline/rules/zones.js';
import { replayClip, type ReplaySummary } from '../../pipeline/replay.js';
import type { ClassStatus } from '../../pipeline/rules/class-status.js';
import type { Box, Frame, ViolationEvent } from '../../pipeline/types.js';

export const REPLAY_QUEUE = 'replays';

export interface ReplayJobData {
  replayId: string;
  /** File path (uploads, allow-listed media) or an rtsp(s)/HLS URL. */
  input: string;
  inputKind: 'upload' | 'path' | 'url';
  /**
   * URL inputs: `input` is pinned to the address the API's policy checked (DNS rebinding cannot
   * move it), and this is the original host for the HTTP Host header.
   */
  hostHeader?: string;
  /** Name shown to the tester (upload file name or redacted URL); never the raw URL. */
  inputDisplay: string;
  /** Camera config as sent (validated again here: the job may outlive a schema change). */
  config: unknown;
  groundTruth?: unknown;
  fps?: number;
  /** Live inputs: stop after this many stream seconds. */
  maxSeconds?: number;
  submittedBy?: string;
  submittedAt: number;
}

/** Progress of a running replay as stored on its job (percent: 0..100 when the duration is known). */
export const replayProgressSchema = z.object({
  seconds: z.number(),
  duration: z.number().nullable(),
  percent: z.number().nullable(),
  frames: z.number(),
  events: z.number(),
});
export type ReplayProgress = z.infer<typeof replayProgressSchema>;

/** A case the clip would have opened: one per confirmed episode. */
export interface WouldBeCase {
  episodeId: string;
  classId: string;
  nameZh: string;
  nameEn: string;
  zoneId: string | null;
  start: number;
  confirmedAt: number;
  end: number | null;
  boxes: Box[];
  snapshot: { key: string; store: string; bytes: number; sha256: string } | null;
}

export interface ReplayEvaluation {
  classes: ClassMetrics[];
  total: ClassMetrics;
  /** How truth episodes were matched (for a reader of the numbers). */
  method: string;
}

export interface ReplayResult {
  replayId: string;
  input: string;
  summary: ReplaySummary;
  classStatus: Pick<ClassStatus, 'id' | 'nameZh' | 'nameEn' | 'active' | 'reason'>[];
  events: ViolationEvent[];
  cases: WouldBeCase[];
  evaluation: ReplayEvaluation | null;
}

/** The result as GET /v1/replays/:id answers it: each snapshot with the path that serves it. */
export type ReplayResultView = Omit<ReplayResult, 'cases'> & {
  cases: (Omit<WouldBeCase, 'snapshot'> & { snapshot: (NonNullable<WouldBeCase['snapshot']> & { url: string }) | null })[];
};

export function snapshotKey(replayId: string, eventId: string): string {
  return `replays/${replayId}/${eventId}.jpg`;
}

/** The analysed frame (letterbox padding cropped) with the event's zone and boxes drawn. */
function annotateEventFrame(
  frame: Frame,
  event: ViolationEvent,
  polygon: readonly (readonly [number, number])[] | undefined,
): Promise<Buffer> {
  const def = getClass(event.classId);
  return annotateFrame(frame, {
    zones: polygon ? [{ polygon, label: event.reason.zoneId ?? undefined }] : [],
    boxes: event.boxes.map((box) => ({ box, label: `${def.nameZh} ${def.id}` })),
    caption: `${def.nameZh} ${def.nameEn} · ${event.transition} · t=${event.streamTime.toFixed(1)}s`,
  });
}

/** Ground-truth episodes in the matcher's terms: early/end tolerances bound the match window. */
export function truthEpisodes(gt: GroundTruth): TruthEpisode[] {
  const tol = gt.tolerance;
  return gt.episodes.map((e) => ({
    classId: e.classId,
    zoneId: e.zoneId,
    start: e.start,
    end: e.end,
    toleranceBeforeSec: tol?.earlyStartSec ?? 2,
    toleranceAfterSec: tol?.endSec ?? 15,
    lateStartSec: tol?.lateStartSec ?? 20,
  }));
}

export function evaluate(events: readonly ViolationEvent[], clipEnd: number, gt: GroundTruth): ReplayEvaluation {
  const match = matchClip(predictedEpisodes(events, clipEnd), truthEpisodes(gt), gt.negatives);
  const m = computeMetrics([match]);
  return {
    classes: m.classes,
    total: m.total,
    method:
      'pipeline/eval matchClip: one-to-one, same class and zone, intervals overlapping within the truth file tolerances; precision counts duplicate cases against the system',
  };
}

export interface ReplayRunDeps {
  evidence: EvidenceStore;
  /** Model session by name (default: the process-wide shared session). */
  session?: (model: string) => Promise<ModelSession>;
}

/** Runs one replay to completion (no BullMQ here: the worker below wraps it). */
export async function runReplay(
  data: ReplayJobData,
  deps: ReplayRunDeps,
  onProgress?: (p: ReplayProgress) => void,
  signal?: AbortSignal,
): Promise<ReplayResult> {
  const config = parseCameraConfig(data.config);
  const gt = data.groundTruth === undefined || data.groundTruth === null ? null : groundTruthSchema.parse(data.groundTruth);
  const session = await (deps.session ?? ((m) => sharedSession(m, { offThread: true })))(config.analysis.model);
  const snapshots = new Map<string, WouldBeCase['snapshot']>();
  let frames = 0;
  let events = 0;
  let lastReport = 0;
  const result = await replayClip({
    input: data.input,
    ...(data.inputKind === 'url'
      ? { spec: { ...parseInput(data.input, { allowFiles: false, hostHeader: data.hostHeader }), display: data.inputDisplay } }
      : {}),
    config,
    session,
    fps: data.fps,
    allowFiles: data.inputKind !== 'url',
    maxSeconds: data.maxSeconds,
    signal,
    onEvent: () => void events++,
    onFrame: async (frame, r) => {
      frames++;
      for (const e of r.events.filter((x) => x.transition === 'confirmed')) {
        const zone = config.zones.find((z) => z.id === e.reason.zoneId);
        const jpeg = await annotateEventFrame(frame, e, zone?.polygon);
        const ref = await deps.evidence.put(snapshotKey(data.replayId, e.id), jpeg, {
          contentType: 'image/jpeg',
          kind: 'snapshot',
          metadata: { replay: data.replayId, event: e.id },
        });
        snapshots.set(e.episodeId, { key: ref.key, store: ref.store, bytes: ref.file.bytes, sha256: ref.file.sha256 });
      }
    },
    onProgress: (seconds, duration) => {
      const now = Date.now();
      if (now - lastReport < 500) return;
      lastReport = now;
      onProgress?.({
        seconds,
        duration,
        percent: duration ? Math.min(100, Math.round((seconds / duration) * 1000) / 10) : null,
        frames,
        events,
      });
    },
  });
  const clipEnd = result.summary.seconds;
  const cases: WouldBeCase[] = predictedEpisodes(result.events, clipEnd).map((p) => {
    const def = getClass(p.classId);
    const confirmed = result.events.find((e) => e.episodeId === p.episodeId && e.transition === 'confirmed')!;
    const cleared = result.events.find((e) => e.episodeId === p.episodeId && e.transition === 'cleared');
    return {
      episodeId: p.episodeId,
      classId: p.classId,
      nameZh: def.nameZh,
      nameEn: def.nameEn,
      zoneId: p.zoneId,
      start: p.start,
      confirmedAt: p.confirmedAt,
      end: cleared?.end ?? null,
      boxes: confirmed.boxes,
      snapshot: snapshots.get(p.episodeId) ?? null,
    };
  });
  onProgress?.({ seconds: clipEnd, duration: clipEnd, percent: 100, frames, events });
  return {
    replayId: data.replayId,
    input: data.inputDisplay,
    summary: result.summary,
    classStatus: result.classStatus.map(({ id, nameZh, nameEn, active, reason }) => ({ id, nameZh, nameEn, active, reason })),
    events: result.events,
    cases,
    evaluation: gt ? evaluate(result.events, clipEnd, gt) : null,
  };
}

export interface ReplayWorkerOptions extends ReplayRunDeps {
  connection: Redis;
  bullPrefix?: string;
  /** Replays are CPU-bound; one at a time per process by default. */
  concurrency?: number;
  onFinished?: (result: 'completed' | 'failed') => void;
}

/** Consumes the `replays` queue. Uploaded clips are deleted once their job has run. */
export function createReplayWorker(opts: ReplayWorkerOptions): Worker<ReplayJobData, ReplayResult> {
  const worker = new Worker<ReplayJobData, ReplayResult>(
    REPLAY_QUEUE,
    async (job: Job<ReplayJobData, ReplayResult>) => {
      try {
        return await runReplay(job.data, opts, (p) => void job.updateProgress(p as unknown as object).catch(() => undefined));
      } finally {
        if (job.data.inputKind === 'upload') await rm(job.data.input, { force: true });
      }
    },
    { connection: opts.connection, prefix: opts.bullPrefix, concurrency: opts.concurrency ?? 1 },
  );
  worker.on('completed', () => opts.onFinished?.('completed'));
  worker.on('failed', () => opts.onFinished?.('failed'));
  return worker;
}

export function createReplayQueue(connection: Redis, bullPrefix?: string): Queue<ReplayJobData, ReplayResult> {
  return new Queue<ReplayJobData, ReplayResult>(REPLAY_QUEUE, {
    connection,
    prefix: bullPrefix,
    // A failed replay is reported, not retried: the same clip and config fail the same way.
    defaultJobOptions: {
      attempts: 1,
      removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
    },
  });
}
