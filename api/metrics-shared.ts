// Counters that worker processes publish into Redis so the API's /metrics can expose them for the
// whole deployment (Prometheus scrapes one endpoint; workers come and go). One Redis hash per metric,
// one field per label set (JSON), HINCRBY / HINCRBYFLOAT only: concurrent workers add, never overwrite.
//
// Recording is fire-and-forget: a metrics hiccup must never slow or break analysis, so failures are
// swallowed (and counted in `failures`).
import type { Redis } from 'ioredis';
import { Keys } from '../workers/redis.js';

/** Inference latency histogram buckets, milliseconds (exposed in seconds). */
export const INFERENCE_BUCKETS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

export const SHARED_METRICS = {
  frames: 'frames_analysed',
  dropped: 'frames_dropped',
  inference: 'inference_ms',
  events: 'events',
  cases: 'cases',
  deliveries: 'delivery_attempts',
  replays: 'replays',
} as const;

export type Labels = Record<string, string>;

/** Stable field name for a label set (keys sorted, so {a,b} and {b,a} are one series). */
export function labelField(labels: Labels): string {
  return JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))));
}

export class MetricsRecorder {
  readonly keys: Keys;
  failures = 0;

  constructor(
    private readonly redis: Redis,
    prefix?: string,
  ) {
    this.keys = new Keys(prefix);
  }

  key(metric: string): string {
    return this.keys.k('metrics', metric);
  }

  private async exec(build: (p: ReturnType<Redis['pipeline']>) => void): Promise<void> {
    try {
      const p = this.redis.pipeline();
      build(p);
      await p.exec();
    } catch {
      this.failures++;
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
        p.hincrby(this.key(SHARED_METRICS.inference), labelField({ camera: cameraId, le: bucket < 0 ? '+Inf' : String(INFERENCE_BUCKETS_MS[bucket]) }), 1);
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

  /** One webhook delivery attempt and how it ended: success / retry / failed / dead_letter. */
  recordDelivery(result: string, type = 'case'): Promise<void> {
    return this.exec((p) => p.hincrby(this.key(SHARED_METRICS.deliveries), labelField({ result, type }), 1));
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
}

export async function readSharedMetric(redis: Redis, prefix: string | undefined, metric: string): Promise<SharedSeries[]> {
  const h = await redis.hgetall(new Keys(prefix).k('metrics', metric));
  return Object.entries(h).map(([field, v]) => ({ labels: JSON.parse(field) as Labels, value: Number(v) }));
}

// Process-wide default, so worker code can call `recordFrame(...)` without threading a recorder
// through every constructor. Calls before initSharedMetrics() are no-ops.
let shared: MetricsRecorder | null = null;

export function initSharedMetrics(redis: Redis, prefix?: string): MetricsRecorder {
  shared = new MetricsRecorder(redis, prefix);
  return shared;
}

export function sharedRecorder(): MetricsRecorder | null {
  return shared;
}

export const recordFrame = (cameraId: string, inferenceMs: number, dropped: number | boolean = 0) => shared?.recordFrame(cameraId, inferenceMs, dropped) ?? Promise.resolve();
export const recordDropped = (cameraId: string, count: number) => shared?.recordDropped(cameraId, count) ?? Promise.resolve();
export const recordEvent = (classId: string, transition?: string) => shared?.recordEvent(classId, transition) ?? Promise.resolve();
export const recordCase = (classId: string, outcome?: string) => shared?.recordCase(classId, outcome) ?? Promise.resolve();
export const recordDelivery = (result: string, type?: string) => shared?.recordDelivery(result, type) ?? Promise.resolve();
export const recordReplay = (result: string) => shared?.recordReplay(result) ?? Promise.resolve();
