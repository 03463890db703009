// Counters that worker processes publish into Redis so the API's /metrics can expose them for the
// whole deployment (Prometheus scrapes one endpoint; workers come and go). One Redis hash per metric,
// one field per label set (JSON), HINCRBY / HINCRBYFLOAT only: concurrent workers add, never overwrite.
//
// Recording is fire-and-forget: a metrics hiccup must never slow or break analysis, so failures are
// swallowed (and counted in `failures`).
import type { Redis } from 'ioredis';
import { Keys } from './redis.js';

/** Inference latency histogram buckets, milliseconds (exposed in seconds). */
export const INFERENCE_BUCKETS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

/** Frame age histogram buckets (capture → decision), seconds. */
export const FRAME_AGE_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32] as const;

/** Gauges older than this are left out of /metrics (their worker is gone or the camera moved). */
export const GAUGE_STALE_MS = 60_000;

export const SHARED_METRICS = {
  frames: 'frames_analysed',
  dropped: 'frames_dropped',
  inference: 'inference_ms',
  events: 'events',
  cases: 'cases',
  deliveries: 'delivery_attempts',
  replays: 'replays',
  frameAge: 'frame_age_s',
  leaseLosses: 'lease_losses',
  /** Gauges: field = labels incl. "metric", value = "<value>|<epoch ms>" (last write wins). */
  gauges: 'gauges',
} as const;

export type Labels = Record<string, string>;

/** Stable field name for a label set (keys sorted, so {a,b} and {b,a} are one series). */
export function labelField(labels: Labels): string {
  return JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))));
}

/** The Redis hash writes a metric makes; gathered in a Batch and sent in one pipeline. */
interface MetricOps {
  hincrby(key: string, field: string, n: number): void;
  hincrbyfloat(key: string, field: string, n: number): void;
  hset(key: string, fields: Record<string, string>): void;
}

/**
 * Writes gathered between two flushes, already summed: a worker analysing 32 frames a second used to
 * send two pipelines per frame; now it sends one a flush, with one HINCRBY per series. Increments
 * add up and HSET keeps the last value, so the result in Redis is the same as writing each call.
 */
class Batch implements MetricOps {
  readonly ints = new Map<string, Map<string, number>>();
  readonly floats = new Map<string, Map<string, number>>();
  readonly sets = new Map<string, Record<string, string>>();
  /** Settles the promise of every call gathered here, once sent. */
  settle?: () => void;
  timer?: NodeJS.Timeout;
  private static add(m: Map<string, Map<string, number>>, key: string, field: string, n: number): void {
    let h = m.get(key);
    if (!h) m.set(key, (h = new Map()));
    h.set(field, (h.get(field) ?? 0) + n);
  }
  hincrby(key: string, field: string, n: number): void {
    Batch.add(this.ints, key, field, n);
  }
  hincrbyfloat(key: string, field: string, n: number): void {
    Batch.add(this.floats, key, field, n);
  }
  hset(key: string, fields: Record<string, string>): void {
    this.sets.set(key, { ...this.sets.get(key), ...fields });
  }
  get empty(): boolean {
    return this.ints.size === 0 && this.floats.size === 0 && this.sets.size === 0;
  }
  write(p: ReturnType<Redis['pipeline']>): void {
    for (const [k, h] of this.ints) for (const [f, n] of h) p.hincrby(k, f, n);
    for (const [k, h] of this.floats) for (const [f, n] of h) p.hincrbyfloat(k, f, n);
    for (const [k, fields] of this.sets) p.hset(k, fields);
  }
}

export interface MetricsRecorderOptions {
  /**
   * Milliseconds writes are gathered before one pipeline sends them (0: until the current tick
   * ends). Workers use 1000: /metrics then lags at most a second, and a crash loses at most that.
   */
  batchMs?: number;
}

export class MetricsRecorder {
  readonly keys: Keys;
  failures = 0;
  private batch = new Batch();
  private flushing: Promise<void> | null = null;
  private readonly batchMs: number;

  constructor(
    private readonly redis: Redis,
    prefix?: string,
    opts: MetricsRecorderOptions = {},
  ) {
    this.keys = new Keys(prefix);
    this.batchMs = opts.batchMs ?? 0;
  }

  key(metric: string): string {
    return this.keys.k('metrics', metric);
  }

  /** Gathers one call's writes; the promise settles when the flush that sends them is done. */
  private exec(build: (p: MetricOps) => void): Promise<void> {
    build(this.batch);
    if (!this.flushing) {
      this.flushing = new Promise<void>((resolve) => {
        this.batch.settle = resolve;
        const go = () => void this.flush();
        if (this.batchMs > 0) this.batch.timer = setTimeout(go, this.batchMs).unref();
        else setImmediate(go);
      });
    }
    return this.flushing;
  }

  /** Sends what is gathered now (also called on shutdown). Never throws: failures are counted. */
  async flush(): Promise<void> {
    const b = this.batch;
    this.batch = new Batch();
    this.flushing = null;
    if (b.timer) clearTimeout(b.timer);
    try {
      if (!b.empty) {
        const p = this.redis.pipeline();
        b.write(p);
        await p.exec();
      }
    } catch {
      this.failures++;
    } finally {
      b.settle?.();
    }
  }

  /** One analysed frame: its inference time, plus frames the source dropped since the last call. */
  recordFrame(cameraId: string, inferenceMs: number, dropped: number | boolean = 0): Promise<void> {
    const cam = labelField({ camera: cameraId });
    const drops = typeof dropped === 'boolean' ? Number(dropped) : Math.max(0, Math.floor(dropped));
    const bucket = INFERENCE_BUCKETS_MS.findIndex((b) => inferenceMs <= b);
    return this.exec((p) => {
      p.hincrby(this.key(SHARED_METRICS.frames), cam, 1);
      if (drops > 0) p.hincrby(this.key(SHARED_METRICS.dropped), cam, drops);
      if (Number.isFinite(inferenceMs) && inferenceMs >= 0) {
        // Buckets are stored non-cumulative (index or +Inf); /metrics accumulates them.
        p.hincrby(
          this.key(SHARED_METRICS.inference),
          labelField({ camera: cameraId, le: bucket < 0 ? '+Inf' : String(INFERENCE_BUCKETS_MS[bucket]) }),
          1,
        );
        p.hincrbyfloat(this.key(SHARED_METRICS.inference), labelField({ camera: cameraId, stat: 'sum' }), inferenceMs);
        p.hincrby(this.key(SHARED_METRICS.inference), labelField({ camera: cameraId, stat: 'count' }), 1);
      }
    });
  }

  /** Frames dropped without an analysed frame to attach them to (e.g. a stalled consumer). */
  recordDropped(cameraId: string, count: number): Promise<void> {
    if (!(count > 0)) return Promise.resolve();
    return this.exec((p) => p.hincrby(this.key(SHARED_METRICS.dropped), labelField({ camera: cameraId }), Math.floor(count)));
  }

  /** A violation event (one debounce transition). */
  recordEvent(classId: string, transition = 'confirmed'): Promise<void> {
    return this.exec((p) => p.hincrby(this.key(SHARED_METRICS.events), labelField({ class: classId, transition }), 1));
  }

  /** A case store outcome: created / merged / existing. */
  recordCase(classId: string, outcome: string = 'created'): Promise<void> {
    return this.exec((p) => p.hincrby(this.key(SHARED_METRICS.cases), labelField({ class: classId, outcome }), 1));
  }

  /** One webhook delivery attempt and how it ended: success / retry / failed (4xx, not retried) / dead_letter (attempts used up). */
  recordDelivery(result: string, type = 'case'): Promise<void> {
    return this.exec((p) => p.hincrby(this.key(SHARED_METRICS.deliveries), labelField({ result, type }), 1));
  }

  /** Age of an analysed frame at its decision (capture wall time → rules done), seconds. */
  recordFrameAge(cameraId: string, ageSec: number): Promise<void> {
    if (!Number.isFinite(ageSec)) return Promise.resolve();
    const age = Math.max(0, ageSec);
    const bucket = FRAME_AGE_BUCKETS_S.findIndex((b) => age <= b);
    return this.exec((p) => {
      p.hincrby(
        this.key(SHARED_METRICS.frameAge),
        labelField({ camera: cameraId, le: bucket < 0 ? '+Inf' : String(FRAME_AGE_BUCKETS_S[bucket]) }),
        1,
      );
      p.hincrbyfloat(this.key(SHARED_METRICS.frameAge), labelField({ camera: cameraId, stat: 'sum' }), age);
      p.hincrby(this.key(SHARED_METRICS.frameAge), labelField({ camera: cameraId, stat: 'count' }), 1);
    });
  }

  /** Per-camera gauges (written by the camera's holder only, so last write wins). */
  setCameraGauges(cameraId: string, g: { fps: number; skippedFps: number; decode: string | null }): Promise<void> {
    const now = Date.now();
    return this.exec((p) =>
      p.hset(this.key(SHARED_METRICS.gauges), {
        [labelField({ metric: 'camera_fps', camera: cameraId })]: `${g.fps}|${now}`,
        [labelField({ metric: 'camera_skipped_fps', camera: cameraId })]: `${g.skippedFps}|${now}`,
        [labelField({ metric: 'camera_keyframe_decode', camera: cameraId })]: `${g.decode === 'keyframes' ? 1 : 0}|${now}`,
      }),
    );
  }

  /** Cameras one worker holds (written every lease round). */
  setWorkerCameras(workerId: string, cameras: number): Promise<void> {
    return this.exec((p) =>
      p.hset(this.key(SHARED_METRICS.gauges), { [labelField({ metric: 'worker_cameras', worker: workerId })]: `${cameras}|${Date.now()}` }),
    );
  }

  /** A camera lease this worker lost while analysing (someone else took it, or it expired). */
  recordLeaseLoss(workerId: string, why: string): Promise<void> {
    return this.exec((p) => p.hincrby(this.key(SHARED_METRICS.leaseLosses), labelField({ worker: workerId, why }), 1));
  }

  /** A finished replay job: completed / failed. */
  recordReplay(result: string): Promise<void> {
    return this.exec((p) => p.hincrby(this.key(SHARED_METRICS.replays), labelField({ result }), 1));
  }
}

/** One series read back from Redis. */
export interface SharedSeries {
  labels: Labels;
  value: number;
  /** The stored string (gauges carry "<value>|<epoch ms>"). */
  raw?: string;
}

export async function readSharedMetric(redis: Redis, prefix: string | undefined, metric: string): Promise<SharedSeries[]> {
  const h = await redis.hgetall(new Keys(prefix).k('metrics', metric));
  return Object.entries(h).map(([field, v]) => ({ labels: JSON.parse(field) as Labels, value: Number(v), raw: v }));
}

// Process-wide default, so worker code can call `recordFrame(...)` without threading a recorder
// through every constructor. Calls before initSharedMetrics() are no-ops.
let shared: MetricsRecorder | null = null;

export function initSharedMetrics(redis: Redis, prefix?: string, opts?: MetricsRecorderOptions): MetricsRecorder {
  shared = new MetricsRecorder(redis, prefix, opts);
  return shared;
}

/** Sends the process-wide recorder's pending writes (a worker calls it when it stops). */
export const flushSharedMetrics = () => shared?.flush() ?? Promise.resolve();

export const recordFrame = (cameraId: string, inferenceMs: number, dropped: number | boolean = 0) =>
  shared?.recordFrame(cameraId, inferenceMs, dropped) ?? Promise.resolve();
export const recordDropped = (cameraId: string, count: number) => shared?.recordDropped(cameraId, count) ?? Promise.resolve();
export const recordEvent = (classId: string, transition?: string) => shared?.recordEvent(classId, transition) ?? Promise.resolve();
export const recordCase = (classId: string, outcome?: string) => shared?.recordCase(classId, outcome) ?? Promise.resolve();
export const recordDelivery = (result: string, type?: string) => shared?.recordDelivery(result, type) ?? Promise.resolve();
export const recordReplay = (result: string) => shared?.recordReplay(result) ?? Promise.resolve();
export const recordFrameAge = (cameraId: string, ageSec: number) => shared?.recordFrameAge(cameraId, ageSec) ?? Promise.resolve();
export const setCameraGauges = (cameraId: string, g: { fps: number; skippedFps: number; decode: string | null }) =>
  shared?.setCameraGauges(cameraId, g) ?? Promise.resolve();
export const setWorkerCameras = (workerId: string, cameras: number) => shared?.setWorkerCameras(workerId, cameras) ?? Promise.resolve();
export const recordLeaseLoss = (workerId: string, why: string) => shared?.recordLeaseLoss(workerId, why) ?? Promise.resolve();

/** Current gauges by metric name (stale ones dropped). */
export async function readGauges(redis: Redis, prefix: string | undefined, now = Date.now()): Promise<Map<string, SharedSeries[]>> {
  const out = new Map<string, SharedSeries[]>();
  for (const s of await readSharedMetric(redis, prefix, SHARED_METRICS.gauges)) {
    const { metric, ...labels } = s.labels;
    if (!metric) continue;
    const raw = s.raw ?? '';
    const [v, at] = raw.split('|');
    if (!(now - Number(at) <= GAUGE_STALE_MS)) continue;
    const list = out.get(metric) ?? [];
    list.push({ labels, value: Number(v) });
    out.set(metric, list);
  }
  return out;
}
